// Prune and compaction through the store API (SPEC §7): what is deleted,
// what a token protects, what compaction gives back.
#include <gtest/gtest.h>

#include <algorithm>

#include "../../store/src/deletion_log.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

std::vector<Digest> Sorted(std::vector<Digest> v) {
  std::sort(v.begin(), v.end());
  return v;
}

uint64_t DiskUsage(const std::string& dir) {
  uint64_t total = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override { CreateRepoOrDie(Path(), SmallSettings(64 << 10)); }
  std::string Path() const { return dir_.Sub("r"); }
  // n chunks of about `size` bytes; their digests.
  std::vector<Digest> PutN(Repository* repo, int n, size_t size, uint64_t seed) {
    std::vector<Digest> out;
    for (int i = 0; i < n; ++i) {
      chunks_[seed + i] = RandomBytes(size, seed + i);
      out.push_back(PutOrDie(repo, chunks_[seed + i]));
    }
    return out;
  }
  // Prunes every other digest of `d` (a half spread over every pack).
  static PruneResult PruneEveryOther(Repository* repo, const std::vector<Digest>& d) {
    std::vector<Digest> keep;
    for (size_t i = 0; i < d.size(); i += 2) keep.push_back(d[i]);
    PruneOptions o;
    o.max_delete_share = 0.6;
    PruneResult r;
    EXPECT_TRUE(repo->Prune(Sorted(keep), o, &r).ok());
    return r;
  }
  TempDir dir_;
  std::map<uint64_t, std::string> chunks_;
};

TEST_F(PruneTest, DeletesWhatIsNotKeptDurablyAndAtOnce) {
  auto repo = OpenOrDie(Path());
  auto d = PutN(repo.get(), 10, 3000, 1);
  std::vector<Digest> keep(d.begin(), d.begin() + 6);
  PruneResult r;
  PruneOptions o;
  ASSERT_TRUE(repo->Prune(Sorted(keep), o, &r).ok());
  EXPECT_EQ(r.chunks_before, 10u);
  EXPECT_EQ(r.chunks_deleted, 4u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(repo->Contains(d[i]), i < 6) << i;
  EXPECT_EQ(repo->GetStats().chunks, 6u);
  size_t listed = 0;
  for (auto it = repo->NewIterator(); it->Valid(); it->Next()) {
    EXPECT_TRUE(std::find(keep.begin(), keep.end(), it->digest()) != keep.end());
    ++listed;
  }
  EXPECT_EQ(listed, 6u);
  repo.reset();
  for (bool ro : {false, true}) {
    auto again = OpenOrDie(Path(), ro);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(again->Contains(d[i]), i < 6) << i << " read_only " << ro;
  }
}

TEST_F(PruneTest, RefusesLikelyMistakesUnlessForcedAndDryRunChangesNothing) {
  auto repo = OpenOrDie(Path());
  auto d = PutN(repo.get(), 10, 2000, 1);
  PruneResult r;
  PruneOptions o;
  EXPECT_EQ(repo->Prune({}, o, &r).code(), Status::Code::kInvalidArgument) << "empty keep list";
  std::vector<Digest> keep{d[0], d[1]};  // would delete 80 %
  Status s = repo->Prune(Sorted(keep), o, &r);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("force"), std::string::npos) << s.ToString();
  for (auto& x : d) EXPECT_TRUE(repo->Contains(x));
  o.force = true;
  o.dry_run = true;
  ASSERT_TRUE(repo->Prune(Sorted(keep), o, &r).ok());
  EXPECT_EQ(r.chunks_deleted, 8u);
  for (auto& x : d) EXPECT_TRUE(repo->Contains(x)) << "dry run deleted";
  o.dry_run = false;
  ASSERT_TRUE(repo->Prune(Sorted(keep), o, &r).ok());
  EXPECT_EQ(repo->GetStats().chunks, 2u);
}

TEST_F(PruneTest, TokenProtectsWhatIsStoredDeduplicatedOrTouchedAfterIt) {
  auto repo = OpenOrDie(Path());
  auto old = PutN(repo.get(), 6, 2000, 1);
  PruneToken t;
  ASSERT_TRUE(repo->BeginPrune(&t).ok());
  auto fresh = PutN(repo.get(), 1, 2000, 100);  // stored after the token
  PutResult pr;
  ASSERT_TRUE(repo->Put(chunks_[1], &pr).ok());  // old[0]: a dedup hit after the token
  EXPECT_FALSE(pr.was_new);
  ASSERT_TRUE(repo->Touch(old[1]).ok());
  EXPECT_TRUE(repo->Touch(Sha256("not stored")).IsNotFound());
  PruneOptions o;
  o.since = &t;
  o.force = true;
  PruneResult r;
  ASSERT_TRUE(repo->Prune({}, o, &r).ok());  // keep nothing: only the token protects
  EXPECT_EQ(r.protected_chunks, 3u);
  EXPECT_TRUE(repo->Contains(fresh[0]));
  EXPECT_TRUE(repo->Contains(old[0]));
  EXPECT_TRUE(repo->Contains(old[1]));
  for (int i = 2; i < 6; ++i) EXPECT_FALSE(repo->Contains(old[i])) << i;
  EXPECT_FALSE(repo->Prune({}, o, &r).ok()) << "a token is used up by its prune";
}

TEST_F(PruneTest, TokenOfAnotherOpenIsRefused) {
  PruneToken t;
  {
    auto repo = OpenOrDie(Path());
    PutN(repo.get(), 4, 2000, 1);
    ASSERT_TRUE(repo->BeginPrune(&t).ok());
  }
  auto repo = OpenOrDie(Path());
  PruneOptions o;
  o.since = &t;
  o.force = true;
  PruneResult r;
  Status s = repo->Prune({}, o, &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("remount"), std::string::npos) << s.ToString();
  EXPECT_EQ(repo->GetStats().chunks, 4u);
  PruneToken parsed;
  ASSERT_TRUE(PruneToken::Parse(t.ToString(), &parsed));
  EXPECT_EQ(parsed.instance, t.instance);
  EXPECT_EQ(parsed.generation, t.generation);
  EXPECT_FALSE(PruneToken::Parse("nonsense", &parsed));
}

TEST_F(PruneTest, ChunkStoredAgainAfterItsDeletionIsLive) {
  auto repo = OpenOrDie(Path());
  auto d = PutN(repo.get(), 4, 2000, 1);
  PruneOptions o;
  o.force = true;
  PruneResult r;
  ASSERT_TRUE(repo->Prune(Sorted({d[1], d[2], d[3]}), o, &r).ok());
  ASSERT_FALSE(repo->Contains(d[0]));
  PutResult pr;
  ASSERT_TRUE(repo->Put(chunks_[1], &pr).ok());
  EXPECT_TRUE(pr.was_new) << "a deleted chunk must be stored again, not deduplicated";
  ASSERT_TRUE(repo->Sync().ok());
  repo.reset();
  auto again = OpenOrDie(Path());
  EXPECT_TRUE(HasChunk(again.get(), chunks_[1]));
}

TEST_F(PruneTest, CompactionGivesTheSpaceBackAndKeepsEveryKeptChunk) {
  std::vector<Digest> d;
  {
    auto repo = OpenOrDie(Path());
    d = PutN(repo.get(), 400, 3000, 1);  // ~1.2 MB in 64 KiB packs
    ASSERT_TRUE(repo->Sync().ok());
  }
  const uint64_t before = DiskUsage(Path());
  auto repo = OpenOrDie(Path());
  EXPECT_EQ(PruneEveryOther(repo.get(), d).chunks_deleted, 200u);
  EXPECT_GE(repo->GetStats().dead_bytes, 200u * 3000);
  CompactResult c;
  ASSERT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
  EXPECT_GT(c.packs_removed, 0u);
  EXPECT_EQ(repo->GetStats().dead_bytes, 0u);
  const uint64_t after = DiskUsage(Path());
  EXPECT_LT(after, before * 6 / 10) << "before " << before << " after " << after;
  for (int s = 0; s < 256; ++s) {  // the packs are gone, so is what the logs said of them
    std::string log = ShardDir(Path(), static_cast<uint8_t>(s)) + "/deleted.log";
    if (fs::exists(log)) {
      EXPECT_EQ(FileSize(log), 32u) << log;
    }
  }
  for (size_t i = 0; i < d.size(); ++i) {
    if (i % 2 == 0) EXPECT_TRUE(HasChunk(repo.get(), chunks_[1 + i])) << i;
    else EXPECT_FALSE(repo->Contains(d[i])) << i;
  }
  repo.reset();
  auto again = OpenOrDie(Path());
  for (size_t i = 0; i < d.size(); ++i) EXPECT_EQ(again->Contains(d[i]), i % 2 == 0) << i;
  EXPECT_EQ(again->GetStats().chunks, 200u);
}

TEST_F(PruneTest, CompactionOfASmallRepositoryRewritesItsActivePacks) {
  TempDir big;
  CreateRepoOrDie(big.Sub("r"), SmallSettings(64 << 20));  // everything stays in active packs
  auto repo = OpenOrDie(big.Sub("r"));
  auto d = PutN(repo.get(), 300, 4000, 1);
  ASSERT_TRUE(repo->Sync().ok());
  const uint64_t before = DiskUsage(big.Sub("r"));
  std::vector<Digest> keep(d.begin(), d.begin() + 150);
  PruneOptions o;
  o.max_delete_share = 0.6;
  PruneResult r;
  ASSERT_TRUE(repo->Prune(Sorted(keep), o, &r).ok());
  CompactResult c;
  ASSERT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
  const uint64_t after = DiskUsage(big.Sub("r"));
  EXPECT_LT(after, before * 6 / 10) << "before " << before << " after " << after;
  for (size_t i = 0; i < 150; ++i) EXPECT_TRUE(HasChunk(repo.get(), chunks_[1 + i])) << i;
}

// A read-only instance (chunkctl beside a mount) that loaded a pack before
// the writer compacted it away finds the chunk in its new pack.
TEST_F(PruneTest, ReaderOpenedBeforeCompactionFindsMovedChunks) {
  auto writer = OpenOrDie(Path());
  auto d = PutN(writer.get(), 200, 3000, 1);
  ASSERT_TRUE(writer->Sync().ok());
  auto reader = OpenOrDie(Path(), /*read_only=*/true);
  EXPECT_EQ(PruneEveryOther(writer.get(), d).chunks_deleted, 100u);
  CompactResult c;
  ASSERT_TRUE(writer->Compact(CompactOptions{}, &c).ok());
  ASSERT_GT(c.packs_removed, 0u);
  for (size_t i = 0; i < d.size(); i += 2) EXPECT_TRUE(HasChunk(reader.get(), chunks_[1 + i])) << i;
}

// Each entry of a deletion log has its own CRC: a damaged entry costs that
// one deletion, never the deletions logged after it.
TEST_F(PruneTest, DamagedLogEntryKeepsTheDeletionsAfterIt) {
  auto repo = OpenOrDie(Path());
  std::vector<std::string> c;
  for (int i = 0; i < 3; ++i) c.push_back(ContentInShard(4, 2000, i));
  std::vector<Digest> d;
  for (auto& x : c) d.push_back(PutOrDie(repo.get(), x));
  PruneOptions o;
  o.force = true;
  PruneResult r;
  ASSERT_TRUE(repo->Prune(Sorted({d[1], d[2]}), o, &r).ok());  // entry 1: c[0]
  ASSERT_TRUE(repo->Prune(Sorted({d[2]}), o, &r).ok());        // entry 2: c[1]
  repo.reset();
  const std::string log = ShardDir(Path(), 4) + "/deleted.log";
  ASSERT_EQ(FileSize(log), 32u + 2 * 56u);
  FlipByte(log, 32 + 30);  // inside the first entry's digest
  repo = OpenOrDie(Path());
  EXPECT_FALSE(repo->Contains(d[1])) << "an intact deletion after a damaged entry was dropped";
  EXPECT_TRUE(HasChunk(repo.get(), c[2]));
}

// A deletion entry names a record by place and digest: if the record it
// named never reached the disk and another took its offset, the entry
// deletes nothing.
TEST_F(PruneTest, LogEntryForAnotherDigestAtTheSameOffsetDeletesNothing) {
  const std::string x = ContentInShard(6, 2000, 1);
  Digest dx;
  {
    auto repo = OpenOrDie(Path());
    dx = PutOrDie(repo.get(), x);
    ASSERT_TRUE(repo->Close().ok());
  }
  auto dats = ListFiles(ShardDir(Path(), 6), ".dat");
  ASSERT_EQ(dats.size(), 1u);
  const uint64_t pack_id = std::stoull(dats[0].substr(dats[0].size() - 20, 16), nullptr, 16);
  DeletionEntry other{1 /* kDelRecord */, pack_id, 32, Sha256("the record that never became durable")};
  WriteFileOrDie(ShardDir(Path(), 6) + "/deleted.log",
                 deletion_log::Encode(6, {other}));
  auto repo = OpenOrDie(Path());
  EXPECT_TRUE(HasChunk(repo.get(), x)) << "an entry naming another digest deleted this record";
}

}  // namespace
}  // namespace chunkfs
