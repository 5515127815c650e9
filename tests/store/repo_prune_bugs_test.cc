// Defects found by the issue 8 crash tests, reproduced deterministically.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fault_util.h"
#include "prune_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

using PruneBugTest = FaultRepoTest;

// repository.h: Prune is "durable on return". Prune ends with Sync(), but
// Sync() returns at once when no Put came since the last round
// (RepositoryImpl::Sync: mine <= synced_appends_), so the deletion log is
// not fsynced: after a power cut the deleted chunks are back.
TEST_F(PruneBugTest, PruneWithNoPutSinceTheLastSyncIsDurableOnReturn) {
  CreateRepo(4096);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 12, 1);
  ASSERT_TRUE(repo->Close().ok());  // nothing left to publish either (Sync would not skip a pending publication)
  repo = Open();
  std::vector<Digest> keep;
  for (size_t i = 0; i < chunks.size(); i += 2) keep.push_back(Sha256(chunks[i]));
  std::sort(keep.begin(), keep.end());
  PruneResult r;
  ASSERT_TRUE(repo->Prune(keep, Forced(), &r).ok());
  ASSERT_EQ(r.chunks_deleted, 6u);
  // The power fails now (a snapshot: the dead process must not write on).
  FaultEnv::Snapshot cut = env_.DurableSnapshot();
  repo.reset();
  env_.Restore(cut);
  repo = Open();
  for (size_t i = 1; i < chunks.size(); i += 2) {
    EXPECT_FALSE(repo->Contains(Sha256(chunks[i]))) << "chunk " << i << " deleted by a returned prune is back";
  }
}


// Compaction's commit logs the source packs dead (applied in memory at once)
// and only after the fsync of the log adds the new pack to what lookups see:
// meanwhile the kept chunks it moved are NotFound (a Put then stores them
// again; a prune check or a reader gets NotFound). Checked at every fsync
// of a deletion log during a compaction.
TEST_F(PruneBugTest, KeptChunksStayFoundThroughoutACompaction) {
  CreateRepo(4096);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 36, 1);
  std::vector<Digest> keep;
  for (size_t i = 0; i < chunks.size(); i += 2) keep.push_back(Sha256(chunks[i]));
  std::sort(keep.begin(), keep.end());
  PruneResult r;
  ASSERT_TRUE(repo->Prune(keep, Forced(), &r).ok());
  int checked = 0;
  env_.SetBeforeSyncHook([&](const std::string& path) {
    if (path.find("deleted.log") == std::string::npos) return;
    checked++;
    for (size_t i = 0; i < chunks.size(); i += 2) {
      EXPECT_TRUE(HasChunk(repo.get(), chunks[i])) << "kept chunk " << i << " at deletion log fsync " << checked;
    }
  });
  CompactResult c;
  ASSERT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
  env_.SetBeforeSyncHook(nullptr);
  EXPECT_GT(c.packs_written, 0u);
  EXPECT_GT(checked, 0);
}

// A chunk deleted and stored again while its first record is in the active
// pack: the pack holds two records of one digest, the first deleted by
// (pack, offset). After a power cut the recovery rebuilds the pack's
// entries by scanning (its idx is published without fsync): the live
// record must win.
TEST_F(PruneBugTest, ChunkStoredAgainInTheSamePackSurvivesACut) {
  CreateRepo(1 << 20);
  auto repo = Open();
  auto chunks = PutMany(repo.get(), 6, 1);
  ASSERT_TRUE(repo->Sync().ok());
  std::vector<Digest> keep;
  for (size_t i = 1; i < chunks.size(); ++i) keep.push_back(Sha256(chunks[i]));
  std::sort(keep.begin(), keep.end());
  PruneResult r;
  ASSERT_TRUE(repo->Prune(keep, Forced(), &r).ok());
  PutResult pr;
  ASSERT_TRUE(repo->Put(chunks[0], &pr).ok());
  ASSERT_TRUE(pr.was_new);
  ASSERT_TRUE(repo->Sync().ok());
  FaultEnv::Snapshot cut = env_.DurableSnapshot();
  ASSERT_TRUE(repo->Close().ok());
  repo.reset();
  ASSERT_NO_FATAL_FAILURE(ExpectCheckClean(kFaultRepo, &env_));
  env_.Restore(cut);
  repo = Open();
  for (auto& c : chunks) EXPECT_TRUE(HasChunk(repo.get(), c));
  ASSERT_TRUE(repo->Close().ok());
  repo.reset();
  ASSERT_NO_FATAL_FAILURE(ExpectCheckClean(kFaultRepo, &env_));
}

}  // namespace
}  // namespace chunkfs
