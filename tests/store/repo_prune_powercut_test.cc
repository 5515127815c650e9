// Power cuts during prunes and compactions (issue 8, SPEC §7), through
// FaultEnv: a cut at every sync point of two prunes (one with a token that
// protects a new, a re-stored and a touched chunk) and two compactions, on 3
// shards with sealed and active packs and some compressible chunks; and from
// each of those states, a cut at every sync point of the recovery (open and
// first Sync).
// Every state: open succeeds; kept and acknowledged chunks are whole; chunks
// deleted by a prune that returned are NotFound and not listed; chunks of a
// prune in flight are whole or NotFound; never wrong bytes; compaction and
// writes go on; check finds no damage; a further cut loses nothing.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <set>

#include "fault_util.h"
#include "prune_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

struct Cut {
  FaultEnv::Snapshot snapshot;
  PruneBook book;
  std::string phase;
};

class PrunePowerCutTest : public FaultRepoTest {
 protected:
  // The workload; a snapshot at every sync point while `phase_` is set.
  void RunWorkload(std::vector<Cut>* cuts) {
    CreateRepo(4096);
    env_.SetSyncCallback([&](int64_t) {
      if (!phase_.empty()) cuts->push_back({env_.DurableSnapshot(), book_, phase_});
    });
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    for (int i = 0; i < 36; ++i) Put(repo.get(), &book_, i);
    ASSERT_TRUE(repo->Sync().ok());
    book_.AckAll();
    for (int i = 36; i < 40; ++i) Put(repo.get(), &book_, i);  // not synced yet
    PruneResult r;
    Phase("prune");
    ASSERT_TRUE(repo->Prune(book_.BeginPrune([](size_t i) { return i % 3 != 1; }), Forced(), &r).ok());
    book_.EndPrune();
    Phase("");
    for (int i = 40; i < 46; ++i) Put(repo.get(), &book_, i);
    ASSERT_TRUE(repo->Sync().ok());
    book_.AckAll();
    CompactResult c;
    Phase("compaction");
    ASSERT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
    ASSERT_GT(c.packs_written, 0u);
    Phase("");
    // A prune with a token: chunk 46 is new after it, 8 stored again and 5
    // touched; the keep list names none of them.
    PruneToken token;
    ASSERT_TRUE(repo->BeginPrune(&token).ok());
    Put(repo.get(), &book_, 46);
    PutOrDie(repo.get(), book_.chunks[8]);
    ASSERT_TRUE(repo->Touch(Sha256(book_.chunks[5])).ok());
    Phase("prune with a token");
    auto keep = book_.BeginPrune([](size_t i) { return i % 3 == 0; }, {5, 8, 46});
    ASSERT_TRUE(repo->Prune(keep, Forced(&token), &r).ok());
    EXPECT_EQ(r.protected_chunks, 3u);
    book_.EndPrune();
    Phase("compaction of empty packs");
    ASSERT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
    Phase("");
    ASSERT_TRUE(repo->Close().ok());
    env_.SetSyncCallback(nullptr);
    ExpectBook(OpenOrDie(kFaultRepo, true, &env_).get(), book_);
  }

  static void Put(Repository* repo, PruneBook* book, uint64_t seed) {
    PutOrDie(repo, book->chunks[book->Add(Chunk(seed))]);
  }

  void Phase(const std::string& p) {
    phase_ = p;
    if (!p.empty()) counts_[p];
  }

  // From the cut state in the env: the recovering open agrees with `book`,
  // then compaction and writes go on, check is clean, and a further cut
  // loses nothing.
  void ExpectRecovers(PruneBook book, uint64_t seed) {
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
    CompactResult c;
    Status s = repo->Compact(CompactOptions{}, &c);
    ASSERT_TRUE(s.ok()) << "compaction after recovery: " << s.ToString();
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
    for (int i = 0; i < 4; ++i) Put(repo.get(), &book, seed + i);
    ASSERT_TRUE(repo->Sync().ok());
    for (size_t i = book.chunks.size() - 4; i < book.chunks.size(); ++i) book.acked.insert(i);
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
    ASSERT_TRUE(repo->Close().ok());
    ASSERT_NO_FATAL_FAILURE(ExpectCheckClean(kFaultRepo, &env_));
    env_.PowerCut();
    repo = Open();
    ASSERT_NE(repo, nullptr);
    ASSERT_NO_FATAL_FAILURE(ExpectBook(repo.get(), book));
  }

  PruneBook book_;
  CompactResult compacted_;
  std::string phase_;
  std::map<std::string, int> counts_;
};

TEST_F(PrunePowerCutTest, CutAtEverySyncPointOfPruneCompactionAndTheRecoveryAfter) {
  std::vector<Cut> cuts;
  ASSERT_NO_FATAL_FAILURE(RunWorkload(&cuts));
  for (auto& c : cuts) counts_[c.phase]++;
  ASSERT_GT(cuts.size(), 20u);
  size_t verified = 0, recovery_points = 0;
  for (size_t k = 0; k < cuts.size(); ++k) {
    SCOPED_TRACE("cut " + std::to_string(k) + " (" + cuts[k].phase + ")");
    env_.Restore(cuts[k].snapshot);
    ASSERT_NO_FATAL_FAILURE(ExpectRecovers(cuts[k].book, 100000 + k * 100));
    verified++;
    // A cut at every sync point of the recovery of this state: the open and
    // its first Sync (none so far: they write nothing), then, for every 6th
    // state, the first compaction after it.
    std::vector<FaultEnv::Snapshot> during;
    env_.Restore(cuts[k].snapshot);
    env_.SetSyncCallback([&](int64_t) { during.push_back(env_.DurableSnapshot()); });
    {
      auto repo = Open();
      ASSERT_NE(repo, nullptr);
      Status s = repo->Sync();
      if (s.ok() && k % 6 == 0) s = repo->Compact(CompactOptions{}, &compacted_);
      env_.SetSyncCallback(nullptr);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    recovery_points += during.size();
    for (size_t j = 0; j < during.size(); ++j) {
      SCOPED_TRACE("then cut " + std::to_string(j) + " of the recovery");
      env_.Restore(during[j]);
      ASSERT_NO_FATAL_FAILURE(ExpectRecovers(cuts[k].book, 200000 + k * 100 + j * 10));
      verified++;
    }
  }
  std::string by_phase;
  for (auto& [p, n] : counts_) by_phase += " " + p + ": " + std::to_string(n) + ";";
  printf("[ power cuts ] sync points:%s %zu sync points of the recoveries (open, first Sync, and compaction after "
         "every 6th); %zu states verified\n",
         by_phase.c_str(), recovery_points, verified);
}

// Every file of a folder (full paths).
std::set<std::string> FilesIn(FaultEnv* env, const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(env->GetChildren(dir, &names).ok());
  std::set<std::string> out;
  for (auto& n : names) out.insert(dir + "/" + n);
  return out;
}

// A prune during a compaction deletes the copies in the pack being written:
// the log names them by (new pack id, offset). The compaction then fails and
// removes its pack; the entries stay in the log. At the next open, pack ids
// are allocated from the files present, so the next pack of the shard gets
// the removed pack's id, and the old entries delete the records at those
// offsets: chunks stored (and acknowledged) after the reopen are NotFound.
// (A power cut before the new pack's name is durable leaves the same state.)
// Fixed by 056f695.
TEST_F(PrunePowerCutTest, PackIdOfAnAbandonedCompactionIsNotReusedUnderItsDeletions) {
  CreateRepo(4096);
  std::vector<std::string> c;
  for (int i = 0; i < 12; ++i) c.push_back(ContentInShard(0, 700, i));
  {
    auto repo = Open();
    for (auto& x : c) PutOrDie(repo.get(), x);
    ASSERT_TRUE(repo->Close().ok());
  }
  auto repo = Open();
  std::vector<Digest> evens;
  for (int i = 0; i < 12; i += 2) evens.push_back(Sha256(c[i]));
  std::sort(evens.begin(), evens.end());
  PruneResult r;
  ASSERT_TRUE(repo->Prune(evens, Forced(), &r).ok());
  const std::set<std::string> before = FilesIn(&env_, ShardDir(kFaultRepo, 0));
  bool fired = false;
  env_.SetBeforeSyncHook([&](const std::string& path) {
    if (fired || before.count(path) || path.size() < 4 || path.compare(path.size() - 4, 4, ".dat") != 0) return;
    fired = true;  // the first fsync of the pack compaction writes: prune all but c[10], and fail that fsync
    PruneResult pr;
    EXPECT_TRUE(repo->Prune({Sha256(c[10])}, Forced(), &pr).ok());
    env_.InjectError(FaultOp::kSync, EIO, 0, 1);
  });
  CompactResult cr;
  EXPECT_FALSE(repo->Compact(CompactOptions{}, &cr).ok());
  env_.SetBeforeSyncHook(nullptr);
  ASSERT_TRUE(fired);
  ASSERT_TRUE(repo->Close().ok());
  repo = Open();
  ASSERT_NE(repo, nullptr);
  ASSERT_TRUE(HasChunk(repo.get(), c[10]));
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(repo->Contains(Sha256(c[i]))) << "deleted chunk " << i << " is back";
  std::vector<std::string> fresh;
  for (int i = 0; i < 4; ++i) {
    fresh.push_back(ContentInShard(0, 700, 100 + i));
    PutOrDie(repo.get(), fresh.back());
  }
  ASSERT_TRUE(repo->Sync().ok());
  for (size_t i = 0; i < fresh.size(); ++i) EXPECT_TRUE(HasChunk(repo.get(), fresh[i])) << "fresh chunk " << i;
  ASSERT_TRUE(repo->Close().ok());
  env_.PowerCut();
  repo = Open();
  for (size_t i = 0; i < fresh.size(); ++i) EXPECT_TRUE(HasChunk(repo.get(), fresh[i])) << "acknowledged chunk " << i;
}

}  // namespace
}  // namespace chunkfs
