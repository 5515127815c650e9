// Acknowledged means stored: a Sync() that returns OK covers every chunk Put
// before it, whatever failed in between (FaultEnv models Linux fsync
// failure: the dirty bytes of a file whose fsync failed never become durable
// through it, and a retried fsync may succeed anyway).
#include <gtest/gtest.h>

#include <cerrno>

#include "fault_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using AckTest = FaultRepoTest;

// The model itself: after a failed fsync a retried one succeeds, yet the
// bytes it failed to write are not what a power cut leaves.
TEST(FaultEnvFsyncModel, RetriedFsyncSucceedsButFailedBytesAreLost) {
  FaultEnv env;
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env.NewWritableFile("/f", &f).ok());
  ASSERT_TRUE(f->Append("abc").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(env.SyncDir("/").ok());
  ASSERT_TRUE(f->Append("def").ok());
  env.InjectError(FaultOp::kSync, EIO);
  EXPECT_FALSE(f->Sync().ok());
  EXPECT_TRUE(f->Sync().ok()) << "Linux lets a retried fsync succeed";
  std::string now;
  ASSERT_TRUE(env.ReadFileToString("/f", &now).ok());
  EXPECT_EQ(now, "abcdef") << "readers still see the bytes (page cache)";
  ASSERT_TRUE(f->Append("ghi").ok());  // written after the failure: durable at the next fsync
  ASSERT_TRUE(f->Sync().ok());
  env.PowerCut();
  std::string after;
  ASSERT_TRUE(env.ReadFileToString("/f", &after).ok());
  EXPECT_EQ(after, std::string("abc\0\0\0ghi", 9));
}

// Put X; its pack's fsync fails and X cannot even be read back to be copied
// to a new pack: X is gone. Every later Sync must fail until X is stored
// again (an OK would acknowledge X, e.g. to a FUSE fsync()).
TEST_F(AckTest, LostChunkFailsEverySyncUntilStoredAgain) {
  CreateRepo(1 << 20);
  auto repo = Open();
  const std::string x = ContentInShard(7, 2000, 1);
  const Digest dx = PutOrDie(repo.get(), x);
  env_.InjectError(FaultOp::kSync, EIO);
  env_.InjectError(FaultOp::kRead, EIO, 0, -1);  // the read-back for the copy fails
  EXPECT_FALSE(repo->Sync().ok());
  env_.ClearFaults();
  EXPECT_FALSE(repo->Contains(dx)) << "a lost chunk must not be found (a Put would deduplicate against it)";
  for (int i = 0; i < 3; ++i) {
    Status s = repo->Sync();
    EXPECT_FALSE(s.ok()) << "Sync " << i << " acknowledged a lost chunk";
    EXPECT_EQ(s.err(), EIO) << s.ToString();
  }
  PutResult r;
  ASSERT_TRUE(repo->Put(x, &r).ok());
  EXPECT_TRUE(r.was_new);
  ASSERT_TRUE(repo->Sync().ok());
  env_.PowerCut();
  repo.reset();
  auto reopened = Open();
  EXPECT_TRUE(HasChunk(reopened.get(), x));
}

// The first Sync fails; the second returns OK without any chunk being put
// again, so it must have made them all durable. A store that merely retried
// the fsync on the same pack would lose them here (the FaultEnv model).
TEST_F(AckTest, SyncAfterFailedFsyncMakesEveryChunkDurable) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 6, 1);
  env_.InjectError(FaultOp::kSync, EIO);
  EXPECT_FALSE(repo->Sync().ok());
  ASSERT_TRUE(repo->Sync().ok());
  for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
  env_.PowerCut();
  repo.reset();
  auto reopened = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(reopened.get(), c)) << "acknowledged, then lost by a power cut";
}

// Sealing happens in Sync: a seal that fails is reported by that Sync (not
// swallowed inside a Put), and the next Sync finishes it.
TEST_F(AckTest, FailedSealIsReportedBySyncAndRetried) {
  CreateRepo(4096);
  auto repo = Open();
  std::vector<std::string> chunks;
  for (int i = 0; i < 4; ++i) {  // 4 x 1500 bytes: the pack of shard 0 is full
    chunks.push_back(ContentInShard(0, 1500, i));
    PutOrDie(repo.get(), chunks.back());
  }
  ASSERT_EQ(repo->GetStats().packs_sealed, 0u) << "a Put must not seal (disk I/O under the shard lock)";
  env_.InjectError(FaultOp::kRename, EIO);  // the idx rename of the seal
  EXPECT_FALSE(repo->Sync().ok());
  ASSERT_TRUE(repo->Sync().ok());
  EXPECT_GE(repo->GetStats().packs_sealed, 1u);
  env_.PowerCut();
  repo.reset();
  auto reopened = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(reopened.get(), c));
}

// A Sync whose fsync fails after a chunk was deduplicated against an
// unsynced record: the dedup caller's Sync must not succeed unless the
// chunk is durable.
TEST_F(AckTest, DedupHitOnLostRecordIsNotAcknowledged) {
  CreateRepo(1 << 20);
  auto repo = Open();
  const std::string x = ContentInShard(9, 1200, 5);
  PutOrDie(repo.get(), x);
  PutResult r;
  ASSERT_TRUE(repo->Put(x, &r).ok());
  EXPECT_FALSE(r.was_new);
  env_.InjectError(FaultOp::kSync, EIO);
  env_.InjectError(FaultOp::kRead, EIO, 0, -1);
  EXPECT_FALSE(repo->Sync().ok());
  env_.ClearFaults();
  EXPECT_FALSE(repo->Sync().ok());
}

// A listing that could not read an index says so (DigestIterator::status)
// instead of silently skipping a shard.
TEST_F(AckTest, ListingReportsAnIndexReadError) {
  CreateRepo(1 << 20);
  auto writer = Open();
  PutMany(writer.get(), 6, 1);
  ASSERT_TRUE(writer->Sync().ok());
  auto reader = Open(/*read_only=*/true);
  PutMany(writer.get(), 6, 100);  // the reader must look at the shard folders again
  ASSERT_TRUE(writer->Close().ok());
  env_.InjectError(FaultOp::kList, EIO, 0, -1);
  auto it = reader->NewIterator();
  while (it->Valid()) it->Next();
  EXPECT_FALSE(it->status().ok()) << "a shard folder could not be read, yet the listing looked complete";
  EXPECT_EQ(it->status().err(), EIO);
  env_.ClearFaults();
  it = reader->NewIterator();
  size_t n = 0;
  for (; it->Valid(); it->Next()) ++n;
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  EXPECT_EQ(n, 12u);
}

}  // namespace
}  // namespace chunkfs
