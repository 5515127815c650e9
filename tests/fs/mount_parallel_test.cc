// 8 parallel writers with parallel readers through one mount: every file is
// stored whole, every chunk read back matches its digest, equal content
// from different writers is stored once. A lister stats and lists the names
// meanwhile (attributes and the name table read while commits change them:
// tools/run-sanitizers runs this under ThreadSanitizer).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class ParallelTest : public MountTest {
  // A small write buffer, so that some uploads spill while others stay in
  // memory.
  std::vector<std::string> MountOptions() const override { return {"write_buffer=8M"}; }
};

TEST_F(ParallelTest, EightWritersWithReaders) {
  constexpr int kWriters = 8;
  constexpr int kFilesEach = 24;
  constexpr int kReaders = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<std::string, std::string>> written;  // digest, content
  bool done = false;
  std::atomic<int> write_failures{0}, read_failures{0}, reads{0};

  auto writer = [&](int w) {
    std::string dir = Incoming() + "/w" + std::to_string(w);
    if (::mkdir(dir.c_str(), 0755) != 0) {
      write_failures++;
      return;
    }
    for (int i = 0; i < kFilesEach; i++) {
      uint64_t seed = static_cast<uint64_t>(w * 1000 + i);
      // Every fourth file has content shared by all writers (dedup).
      if (i % 4 == 0) seed = static_cast<uint64_t>(i);
      size_t size = 1000 + (seed * 7919) % (2 << 20);
      std::string data = (i % 2) ? RandomBytes(size, seed) : TextBytes(size, seed);
      std::string path = dir + "/f" + std::to_string(i);
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) {
        write_failures++;
        continue;
      }
      size_t off = 0;
      bool ok = true;
      while (off < data.size()) {  // odd-sized writes
        size_t n = std::min<size_t>(data.size() - off, 100000 + (i * 4093) % 200000);
        if (::write(fd, data.data() + off, n) != static_cast<ssize_t>(n)) ok = false;
        off += n;
      }
      if (::close(fd) != 0 || !ok) {
        write_failures++;
        continue;
      }
      std::string hex = Sha256Hex(data);
      if (DigestXattr(path) != hex) write_failures++;
      std::lock_guard<std::mutex> l(mu);
      written.emplace_back(hex, std::move(data));
      cv.notify_all();
    }
  };
  auto reader = [&] {
    while (true) {
      std::pair<std::string, std::string> item;
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return done || !written.empty(); });
        if (written.empty()) return;
        item = std::move(written.front());
        written.pop_front();
      }
      std::string got;
      int err = 0;
      if (!ReadFileChecked(ChunkPath(item.first), &got, &err) || got != item.second) {
        read_failures++;
      }
      reads++;
    }
  };
  std::atomic<bool> writing{true};
  std::atomic<int> list_failures{0}, listed{0};
  auto lister = [&] {
    while (writing.load()) {
      for (int w = 0; w < kWriters; w++) {
        std::string dir = Incoming() + "/w" + std::to_string(w);
        DIR* d = ::opendir(dir.c_str());
        if (!d) continue;  // not made yet
        while (struct dirent* e = ::readdir(d)) {
          struct stat st;
          std::string path = dir + "/" + e->d_name;
          if (::stat(path.c_str(), &st) != 0 && errno != ENOENT) list_failures++;
          listed++;
        }
        ::closedir(d);
      }
      ReadFile(mnt_ + "/.stats");
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; r++) threads.emplace_back(reader);
  std::thread list_thread(lister);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) writers.emplace_back(writer, w);
  for (auto& t : writers) t.join();
  writing = false;
  list_thread.join();
  {
    std::lock_guard<std::mutex> l(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(write_failures.load(), 0) << Log();
  EXPECT_EQ(read_failures.load(), 0) << Log();
  EXPECT_EQ(reads.load(), kWriters * kFilesEach);
  EXPECT_EQ(list_failures.load(), 0);
  EXPECT_GT(listed.load(), 0);
  std::string stats = ReadFile(mnt_ + "/.stats");
  // 6 shared contents + 18 own files per writer.
  EXPECT_EQ(StatsField(stats, "chunks"), 6 + kWriters * 18) << stats;
  EXPECT_EQ(StatsField(stats, "commits"), kWriters * kFilesEach) << stats;
  EXPECT_EQ(StatsField(stats, "commit_errors"), 0) << stats;
  EXPECT_LE(StatsField(stats, "uploads.memory_bytes"), 8 << 20) << stats;
  // All closed: the memory goes back once the kernel's RELEASEs (sent after
  // close() returned) are handled.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (StatsField(stats, "uploads.memory_bytes") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stats = ReadFile(mnt_ + "/.stats");
  }
  EXPECT_EQ(StatsField(stats, "uploads.memory_bytes"), 0) << stats;
  // Whole trees read back through the names as well.
  std::string out;
  ASSERT_EQ(ShOut("cat " + Q(Incoming()) + "/w*/f* | wc -c", &out), 0);
  EXPECT_GT(std::stoll(out), 0);
}

// Many readers of one chunk at once, with different read sizes.
TEST_F(ParallelTest, ConcurrentReadersOfOneChunk) {
  std::string data = RandomBytes(6 << 20, 99);
  WriteFile(Incoming() + "/big", data);
  std::string hex = Sha256Hex(data);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; rep++) {
        int fd = ::open(ChunkPath(hex).c_str(), O_RDONLY);
        if (fd < 0) {
          bad++;
          return;
        }
        size_t bs = size_t{4096} << (t % 9);  // 4 KiB .. 1 MiB
        std::string got;
        std::string buf(bs, '\0');
        ssize_t n;
        while ((n = ::read(fd, buf.data(), bs)) > 0) got.append(buf.data(), static_cast<size_t>(n));
        ::close(fd);
        if (got != data) bad++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  std::string stats = ReadFile(mnt_ + "/.stats");
  // Decompressed once per open at most (never per read() call).
  EXPECT_LE(StatsField(stats, "chunk_loads"), 24) << stats;
}

}  // namespace
}  // namespace chunkfs::fs::testing
