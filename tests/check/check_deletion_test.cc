// check and repair with deletion logs (docs/FORMAT.md "Deletion log"): a
// damaged log is reported precisely, deleted records are counted (and still
// verified with --read-data), and repair never brings a deleted chunk back.
#include <gtest/gtest.h>

#include "check_util.h"

namespace chunkfs::checktest {
namespace {

constexpr size_t kLogHeader = 32;
constexpr size_t kLogEntry = 56;

class DeletionCheckTest : public RepoTest {
 protected:
  // 20 chunks in kShard (4 sealed packs of 6, the last one active) and 4
  // elsewhere; then chunks `victims` (indexes) are pruned.
  void FillAndPrune(const std::vector<size_t>& victims) {
    Fill(4096, 20);
    std::vector<Digest> keep;
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (std::find(victims.begin(), victims.end(), i) == victims.end()) keep.push_back(Sha256(chunks_[i]));
      else deleted_.insert(Sha256(chunks_[i]));
    }
    std::sort(keep.begin(), keep.end());
    auto repo = OpenOrDie(Repo());
    PruneResult r;
    ASSERT_TRUE(repo->Prune(keep, PruneOptions{}, &r).ok());
    ASSERT_EQ(r.chunks_deleted, victims.size());
    ASSERT_TRUE(repo->Close().ok());
    ASSERT_EQ(FileSize(Log()), kLogHeader + victims.size() * kLogEntry);
  }
  std::string Log() const { return ShardDir(Repo(), kShard) + "/deleted.log"; }
  std::string LogRel() const { return Rel(Repo(), Log()); }
  // The digest the log's entry `i` deletes.
  Digest EntryDigest(size_t i) const {
    std::string log = ReadFileOrDie(Log());
    Digest d;
    std::copy(log.begin() + static_cast<long>(kLogHeader + i * kLogEntry + 20),
              log.begin() + static_cast<long>(kLogHeader + i * kLogEntry + 52), d.bytes.begin());
    return d;
  }
  // Every chunk but `except` reads back (deleted ones NotFound, the others
  // with their bytes) through a writable open, then a read-only one.
  void ExpectDeletedStayDeleted(const std::set<Digest>& except = {}) {
    for (bool read_only : {false, true}) {
      auto repo = OpenOrDie(Repo(), read_only);
      ASSERT_NE(repo, nullptr);
      for (const auto& c : chunks_) {
        const Digest d = Sha256(c);
        std::string got;
        if (except.count(d)) EXPECT_TRUE(NeverWrongBytes(repo.get(), c));
        else if (deleted_.count(d)) EXPECT_TRUE(repo->Get(d, &got).IsNotFound()) << "deleted chunk back: " << d.ToHex();
        else EXPECT_TRUE(HasChunk(repo.get(), c)) << d.ToHex();
      }
    }
  }
  std::set<Digest> deleted_;
};

bool HasNote(const CheckReport& r, const std::string& text) {
  return std::any_of(r.notes.begin(), r.notes.end(), [&](const std::string& n) { return n.find(text) != n.npos; });
}

TEST_F(DeletionCheckTest, CleanLogIsCountedNotReported) {
  FillAndPrune({1, 2, 8});
  CheckReport r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.deletion_logs, 1u);
  EXPECT_EQ(r.deleted_records, 3u);
  EXPECT_EQ(r.deleted_bytes, 3u * (48 + 700 + 4));
  EXPECT_EQ(r.records, chunks_.size());  // deleted records are still stored
  EXPECT_TRUE(HasNote(r, "3 deleted record(s) of 2256 bytes")) << Describe(r);
  // After compaction the log names packs that are gone: still clean.
  {
    auto repo = OpenOrDie(Repo());
    CompactResult cr;
    ASSERT_TRUE(repo->Compact(CompactOptions{}, &cr).ok());
    ASSERT_GT(cr.packs_removed, 0u);
    ASSERT_TRUE(repo->Close().ok());
  }
  r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.deleted_records, 0u);
  EXPECT_EQ(r.records, chunks_.size() - 3);
}

TEST_F(DeletionCheckTest, DeletionLogBadMagic) {
  FillAndPrune({1, 2, 8});
  FlipByte(Log(), 0);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, LogRel(), 0);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_NE(p->what.find("bad magic"), std::string::npos) << p->what;
  EXPECT_EQ(r.problems.size(), 1u) << Describe(r);
  EXPECT_EQ(r.deleted_records, 3u) << "entries of a log with a damaged header are still read";
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_TRUE(rep.lost.empty());
  EXPECT_EQ(ReadFileOrDie(Repo() + "/quarantine/3a-deleted.log").size(), kLogHeader + 3 * kLogEntry);
  CheckReport after = CheckOrDie(Repo(), true);
  EXPECT_TRUE(after.ok()) << Describe(after);
  EXPECT_EQ(after.deleted_records, 3u);
  ExpectDeletedStayDeleted();
}

TEST_F(DeletionCheckTest, DeletionLogEntryChecksumMismatch) {
  FillAndPrune({1, 2, 8});
  const Digest damaged = EntryDigest(1), after_it = EntryDigest(2);
  FlipByte(Log(), kLogHeader + kLogEntry + 30);  // in entry 1's digest
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, LogRel(), kLogHeader + kLogEntry);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_NE(p->what.find("1 damaged entry (entry checksum mismatch)"), std::string::npos) << p->what;
  EXPECT_EQ(r.problems.size(), 1u) << Describe(r);
  EXPECT_EQ(r.deleted_records, 2u) << "the intact entries, before and after the damaged one";
  // Repair keeps entry 2 (the store's open alone would keep entry 0 only);
  // the chunk of the damaged entry cannot be known to be deleted.
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_TRUE(rep.lost.empty());
  EXPECT_TRUE(deleted_.count(after_it));
  CheckReport fixed = CheckOrDie(Repo(), true);
  EXPECT_TRUE(fixed.ok()) << Describe(fixed);
  EXPECT_EQ(fixed.deleted_records, 2u);
  ExpectDeletedStayDeleted({damaged});
}

TEST_F(DeletionCheckTest, DeletionLogTruncatedTail) {
  FillAndPrune({1, 2, 8});
  const uint64_t size = FileSize(Log());
  const Digest torn = EntryDigest(2);
  fs::resize_file(Log(), size - 20);  // an append cut short: not damage
  CheckReport r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_TRUE(HasNote(r, LogRel() + ": torn tail of 36 bytes at offset " + std::to_string(kLogHeader + 2 * kLogEntry)))
      << Describe(r);
  EXPECT_EQ(r.deleted_records, 2u);
  // The store's open cuts it; the two intact deletions stay.
  deleted_.erase(torn);
  ExpectDeletedStayDeleted();
  EXPECT_EQ(FileSize(Log()), kLogHeader + 2 * kLogEntry);
  r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok() && !HasNote(r, "torn tail")) << Describe(r);
}

TEST_F(DeletionCheckTest, RepairDoesNotResurrectDeletedChunks) {
  FillAndPrune({1, 2});  // both in the first sealed pack of kShard
  auto [dat, rec3] = Locate(3);
  auto [dat1, rec1] = Locate(1);
  ASSERT_EQ(dat, dat1);
  const Digest live = Sha256(chunks_[3]);
  FlipByte(dat, rec3.begin + kRecordHeader + 100);  // a live chunk's record
  FlipByte(dat, rec1.begin + kRecordHeader + 100);  // a deleted one's
  CheckReport r = CheckOrDie(Repo(), true);
  const Problem* p3 = FindProblem(r, Rel(Repo(), dat), rec3.begin);
  const Problem* p1 = FindProblem(r, Rel(Repo(), dat), rec1.begin);
  ASSERT_TRUE(p3 != nullptr && p1 != nullptr) << Describe(r);
  EXPECT_EQ(p3->affected, std::vector<Digest>{live});
  EXPECT_TRUE(p1->affected.empty()) << "a deleted chunk is not affected by damage";
  EXPECT_EQ(r.deleted_records, 1u) << "chunk 2's record (chunk 1's is damaged)";
  EXPECT_FALSE(HasNote(r, "where no record is")) << Describe(r);
  EXPECT_EQ(r.problems.size(), 3u) << "the two records and the pack checksum:\n" << Describe(r);
  // Repair quarantines the pack and copies back its readable live chunks,
  // not chunk 2 (deleted, intact) and not chunk 1 (deleted, damaged).
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_EQ(rep.lost, std::vector<Digest>{live});
  EXPECT_EQ(rep.rescued.size(), 6u - 3u) << "chunks 0, 4, 5";
  for (const Digest& d : rep.rescued) EXPECT_FALSE(deleted_.count(d)) << "deleted chunk rescued: " << d.ToHex();
  ExpectDeletedStayDeleted({live});
  CheckReport after = CheckOrDie(Repo(), true);
  EXPECT_TRUE(after.ok()) << Describe(after);
  auto before = DataTree(Repo());
  RepairReport again = RepairOrDie(Repo());
  EXPECT_TRUE(again.actions.empty()) << again.actions.front();
  EXPECT_EQ(DataTree(Repo()), before);
}

}  // namespace
}  // namespace chunkfs::checktest
