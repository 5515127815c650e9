// Large chunks read block by block through a real mount (issue 9;
// docs/MOUNT.md "Reading large chunks"): whole reads equal the bytes, a read
// of one block in the middle reads about that block only, a damaged block is
// EIO for its range alone.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "chunkfs/repository.h"
#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

constexpr size_t kMiB = 1 << 20;

class BlocksTest : public MountTest {
 protected:
  // Stores `data` with the mount down (the next mount starts with nothing cached).
  void Store(const std::string& data) {
    Unmount();
    std::unique_ptr<Repository> repo;
    Status s = Repository::Open(repo_, OpenOptions(), &repo);
    ASSERT_TRUE(s.ok()) << s.ToString();
    PutResult r;
    s = repo->Put(data, &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(repo->Close().ok());
  }
  // pread of [off, off + n) through a fresh descriptor; errno in *err.
  std::string Pread(const std::string& path, size_t off, size_t n, int* err) {
    *err = 0;
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) {
      *err = errno;
      return "";
    }
    std::string buf(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd, buf.data() + got, n - got, static_cast<off_t>(off + got));
      if (r < 0) {
        *err = errno;
        break;
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    ::close(fd);
    buf.resize(got);
    return buf;
  }
  int64_t Stat(const std::string& field) { return StatsField(ReadFile(mnt_ + "/.stats"), field); }
};

TEST_F(BlocksTest, CatOfA16MiBChunkEqualsItsBytes) {
  std::string data = TextBytes(8 * kMiB, 1) + RandomBytes(8 * kMiB, 2);
  Store(data);
  Mount();
  std::string hex = Sha256Hex(data);
  ASSERT_EQ(Sh("cat " + Q(ChunkPath(hex)) + " > " + Q(work_ + "/out")), 0);
  EXPECT_TRUE(ReadFile(work_ + "/out") == data);
  std::string sum;
  ASSERT_EQ(ShOut("sha256sum < " + Q(ChunkPath(hex)), &sum), 0);
  EXPECT_EQ(sum.substr(0, 64), hex);
  EXPECT_EQ(Stat("block_loads"), 16);  // each block once (the second read: the page cache)
  EXPECT_EQ(Stat("read_errors"), 0);
}

TEST_F(BlocksTest, DdOfOneBlockInTheMiddleReadsAboutThatBlock) {
  std::string data = RandomBytes(16 * kMiB, 3);
  Store(data);
  Mount();
  std::string hex = Sha256Hex(data);
  std::string out;
  ASSERT_EQ(ShOut("dd if=" + Q(ChunkPath(hex)) + " bs=1M skip=7 count=1 status=none", &out), 0);
  EXPECT_TRUE(out == data.substr(7 * kMiB, kMiB));
  // Block 7, and what the kernel's and the mount's read-ahead add; never the whole chunk.
  int64_t loads = Stat("block_loads");
  EXPECT_GE(loads, 1);
  EXPECT_LE(loads, 5);
}

TEST_F(BlocksTest, ADamagedBlockIsEioForItsRangeOnly) {
  std::string data = RandomBytes(16 * kMiB, 4);
  Store(data);
  ASSERT_TRUE(FlipStoredByte(repo_, data.substr(5 * kMiB + 4096, 64)));
  Mount();
  std::string path = ChunkPath(Sha256Hex(data));
  int err = 0;
  std::string got = Pread(path, 5 * kMiB + 8192, 4096, &err);
  EXPECT_EQ(err, EIO);
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(Pread(path, 1 * kMiB, kMiB, &err) == data.substr(1 * kMiB, kMiB));
  EXPECT_EQ(err, 0);
  EXPECT_TRUE(Pread(path, 12 * kMiB, kMiB, &err) == data.substr(12 * kMiB, kMiB));
  EXPECT_EQ(err, 0);
  // Again: not cached, EIO again; the whole chunk is EIO (cat fails).
  Pread(path, 5 * kMiB, 4096, &err);
  EXPECT_EQ(err, EIO);
  EXPECT_NE(Sh("cat " + Q(path) + " > /dev/null 2>&1"), 0);
  EXPECT_GE(Stat("read_errors"), 2);
  EXPECT_NE(Log().find("reading chunk " + Sha256Hex(data) + " failed"), std::string::npos) << Log();
}

class BlocksPruneTest : public BlocksTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"compact=off"}; }
  int Ctl(const std::string& args, std::string* out) const {
    return ShOut(std::string(CHUNKCTL_BINARY) + " " + args, out, true);
  }
};

TEST_F(BlocksPruneTest, AChunkPrunedAndCompactedWhileOpenKeepsReading) {
  std::string data = RandomBytes(8 * kMiB, 5);
  std::string hex = Sha256Hex(data);
  WriteFile(Incoming() + "/big", data);
  WriteFile(Incoming() + "/kept", "kept");
  ASSERT_EQ(Sh("sync -f " + Q(Incoming())), 0);
  int fd = ::open(ChunkPath(hex).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string head(4096, '\0');
  ASSERT_EQ(::pread(fd, head.data(), head.size(), 0), 4096);  // opens the chunk in the store
  EXPECT_TRUE(head == data.substr(0, 4096));
  WriteFile(work_ + "/keep", Sha256Hex("kept") + "\n");
  std::string out;
  ASSERT_EQ(Ctl("prune " + Q(mnt_) + " --keep " + Q(work_ + "/keep"), &out), 0) << out;
  ASSERT_EQ(Ctl("compact " + Q(mnt_), &out), 0) << out;
  int err = 0;
  EXPECT_EQ(Pread(ChunkPath(hex), 0, 1, &err), "");  // gone for a new open
  EXPECT_EQ(err, ENOENT);
  // The open file reads on: blocks far from the first (not read yet).
  std::string tail(3 * kMiB, '\0');
  ASSERT_EQ(::pread(fd, tail.data(), tail.size(), 5 * kMiB), static_cast<ssize_t>(tail.size())) << std::strerror(errno);
  EXPECT_TRUE(tail == data.substr(5 * kMiB));
  ::close(fd);
}

}  // namespace
}  // namespace chunkfs::fs::testing
