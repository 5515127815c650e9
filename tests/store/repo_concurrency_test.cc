// SPEC §1's tests: many writers on one shard, several instances reading an
// unsealed pack, a reader that polls until it sees a writer's chunk, and a
// .dat without its .idx after a crash.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

constexpr uint8_t kShard = 0x5c;

// Calls Sync() every 20 ms until destroyed (like the mount's flusher).
class SyncUntilDone {
 public:
  explicit SyncUntilDone(Repository* repo)
      : thread_([this, repo] {
          while (!done_.load()) {
            EXPECT_TRUE(repo->Sync().ok());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        }) {}
  ~SyncUntilDone() {
    done_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Polls Get for up to 10 s: true once it returns `data`; never wrong bytes.
::testing::AssertionResult EventuallyHas(Repository* reader, const std::string& data) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    std::string got;
    Status s = reader->Get(Sha256(data), &got);
    if (s.ok() && got != data) return ::testing::AssertionFailure() << "WRONG BYTES";
    if (s.ok()) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionFailure() << "not visible after 10 s";
}

// Polls for up to 10 s (while a writer keeps syncing): true once published
// idx files of `repo` name every chunk of `chunks`. A read-only reader finds
// chunks even unpublished (it scans pack tails), so only this shows that
// Sync publishes.
::testing::AssertionResult EventuallyPublished(const std::string& repo, const std::vector<std::string>& chunks) {
  size_t missing = chunks.size();
  for (int attempt = 0; attempt < 1000 && missing > 0; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::set<Digest> published = PublishedDigests(repo);
    missing = 0;
    for (const auto& c : chunks) missing += published.count(Sha256(c)) == 0;
  }
  if (missing == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << missing << " of " << chunks.size() << " chunks not in a published idx after 10 s";
}

// Chunks for thread t: 40 own ones plus 10 shared by every thread.
std::vector<std::string> ThreadChunks(int t) {
  std::vector<std::string> out;
  for (int i = 0; i < 40; ++i) out.push_back(ContentInShard(kShard, 300 + i * 13, 1000 * (t + 1) + i));
  for (int i = 0; i < 10; ++i) out.push_back(ContentInShard(kShard, 200, 7 + i));
  return out;
}

TEST(RepoConcurrency, ManyThreadsWritingOneShard) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(8192));
  auto repo = OpenOrDie(dir.Sub("r"));
  constexpr int kThreads = 8;
  std::vector<std::vector<std::string>> chunks(kThreads);
  for (int t = 0; t < kThreads; ++t) chunks[t] = ThreadChunks(t);
  std::atomic<int> new_count{0}, failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (auto& c : chunks[t]) {
        PutResult r;
        if (!repo->Put(c, &r).ok() || r.digest != Sha256(c)) failures++;
        if (r.was_new) new_count++;
        std::string got;
        if (!repo->Get(r.digest, &got).ok() || got != c) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(new_count.load(), kThreads * 40 + 10) << "each distinct chunk is new exactly once";
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_GE(ListFiles(ShardDir(dir.Sub("r"), kShard), ".dat").size(), 3u);
  repo = OpenOrDie(dir.Sub("r"), true);
  std::vector<Digest> listed;
  auto it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) listed.push_back(it->digest());
  std::set<Digest> unique(listed.begin(), listed.end());
  EXPECT_EQ(unique.size(), listed.size()) << "duplicate digests stored";
  EXPECT_EQ(listed.size(), size_t{kThreads * 40 + 10});
  for (auto& list : chunks)
    for (auto& c : list) ASSERT_TRUE(HasChunk(repo.get(), c));
}

TEST(RepoConcurrency, ThreadsOnDifferentShardsAndReadersTogether) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(16384));
  auto repo = OpenOrDie(dir.Sub("r"));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string c = RandomBytes(100 + i, t * 100000 + i);
        PutResult r;
        if (!repo->Put(c, &r).ok()) failures++;
        if (i % 50 == 0 && !repo->Sync().ok()) failures++;
        std::string got;
        if (!repo->Get(Sha256(c), &got).ok() || got != c) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(RepoConcurrency, SeveralReadOnlyInstancesReadUnsealedPack) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(1 << 20));
  auto writer = OpenOrDie(dir.Sub("r"));
  std::vector<std::string> chunks;
  for (int i = 0; i < 20; ++i) {
    chunks.push_back(ContentInShard(kShard, 500, i));
    PutOrDie(writer.get(), chunks.back());
  }
  ASSERT_TRUE(writer->Sync().ok());
  // The pack is far from its limit: these chunks are in an unsealed pack.
  std::vector<std::unique_ptr<Repository>> readers;
  for (int r = 0; r < 3; ++r) readers.push_back(OpenOrDie(dir.Sub("r"), true));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (auto& reader : readers) {
    threads.emplace_back([&, r = reader.get()] {
      for (int round = 0; round < 5; ++round)
        for (auto& c : chunks)
          if (!HasChunk(r, c)) failures++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // Later writes become visible to readers opened before, once the writer
  // publishes its idx (at a Sync; publication may be rate-limited, so the
  // writer keeps syncing as the mount's flusher does).
  std::string later = ContentInShard(kShard, 500, 777);
  PutOrDie(writer.get(), later);
  SyncUntilDone flusher(writer.get());
  for (auto& reader : readers) {
    EXPECT_TRUE(EventuallyHas(reader.get(), later)) << "reader never saw a synced chunk";
    for (auto& c : chunks) EXPECT_TRUE(HasChunk(reader.get(), c));
  }
  chunks.push_back(later);
  EXPECT_TRUE(EventuallyPublished(dir.Sub("r"), chunks));
}

TEST(RepoConcurrency, ReaderRetriesUntilWritersChunkAppears) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(4096));
  auto writer = OpenOrDie(dir.Sub("r"));
  auto reader = OpenOrDie(dir.Sub("r"), true);
  std::vector<std::string> chunks;
  for (int i = 0; i < 40; ++i) chunks.push_back(ContentInShard(kShard, 400, 50 + i));
  std::atomic<int> published{0};
  std::thread write_thread([&] {
    for (auto& c : chunks) {
      PutOrDie(writer.get(), c);
      EXPECT_TRUE(writer->Sync().ok());
      published++;
    }
  });
  SyncUntilDone flusher(writer.get());  // publication may be rate-limited
  for (size_t i = 0; i < chunks.size(); ++i) {
    while (published.load() <= static_cast<int>(i)) std::this_thread::yield();
    EXPECT_TRUE(EventuallyHas(reader.get(), chunks[i])) << "chunk " << i << " never became visible";
  }
  EXPECT_TRUE(EventuallyPublished(dir.Sub("r"), chunks));
  write_thread.join();
}

// Puts chunks into a few shards, closes, and returns them.
std::vector<std::string> FillAndClose(const std::string& path, int n, uint64_t seed) {
  auto repo = OpenOrDie(path);
  std::vector<std::string> chunks;
  for (int i = 0; i < n; ++i) {
    chunks.push_back(ContentInShard(static_cast<uint8_t>(i % 3), 600, seed + i));
    PutOrDie(repo.get(), chunks.back());
  }
  EXPECT_TRUE(repo->Close().ok());
  return chunks;
}

void ExpectRecoveredAndWritable(const std::string& path, const std::vector<std::string>& chunks) {
  {
    auto repo = OpenOrDie(path);
    for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
    for (int i = 0; i < 30; ++i) PutOrDie(repo.get(), ContentInShard(static_cast<uint8_t>(i % 3), 600, 90000 + i));
    ASSERT_TRUE(repo->Close().ok());
  }
  for (bool ro : {false, true}) {
    auto repo = OpenOrDie(path, ro);
    for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(HasChunk(repo.get(), ContentInShard(static_cast<uint8_t>(i % 3), 600, 90000 + i)));
  }
}

TEST(RepoRecovery, DatWithoutIdxOfUnsealedPackRecovered) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(1 << 20));
  auto chunks = FillAndClose(dir.Sub("r"), 30, 1);
  auto idxs = AllPackFiles(dir.Sub("r"), ".idx");
  ASSERT_FALSE(idxs.empty());
  for (auto& f : idxs) fs::remove(f);
  ExpectRecoveredAndWritable(dir.Sub("r"), chunks);
}

TEST(RepoRecovery, DatWithoutIdxAcrossSealedPacksRecovered) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(4096));
  auto chunks = FillAndClose(dir.Sub("r"), 60, 2);
  auto idxs = AllPackFiles(dir.Sub("r"), ".idx");
  ASSERT_GE(idxs.size(), 6u);
  for (auto& f : idxs) fs::remove(f);
  ExpectRecoveredAndWritable(dir.Sub("r"), chunks);
}

TEST(RepoRecovery, NewPacksNeverReuseIdOfIdxlessDat) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(4096));
  auto chunks = FillAndClose(dir.Sub("r"), 30, 3);
  auto dats = ListFiles(ShardDir(dir.Sub("r"), 0), ".dat");
  ASSERT_FALSE(dats.empty());
  fs::remove(dats.back().substr(0, dats.back().size() - 4) + ".idx");
  {
    auto repo = OpenOrDie(dir.Sub("r"));
    for (int i = 0; i < 40; ++i) PutOrDie(repo.get(), ContentInShard(0, 600, 50000 + i));
    ASSERT_TRUE(repo->Close().ok());
  }
  auto repo = OpenOrDie(dir.Sub("r"), true);
  for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
}

TEST(RepoRecovery, StrayFilesInShardDirIgnored) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(4096));
  auto chunks = FillAndClose(dir.Sub("r"), 20, 4);
  WriteFileOrDie(ShardDir(dir.Sub("r"), 0) + "/notes.txt", "hello");
  WriteFileOrDie(ShardDir(dir.Sub("r"), 1) + "/pack-zzzz.dat", "junk");
  WriteFileOrDie(ShardDir(dir.Sub("r"), 2) + "/pack-00000000000000ff.idx.tmp", "half");
  ExpectRecoveredAndWritable(dir.Sub("r"), chunks);
  EXPECT_EQ(ReadFileOrDie(ShardDir(dir.Sub("r"), 0) + "/notes.txt"), "hello");
}

}  // namespace
}  // namespace chunkfs
