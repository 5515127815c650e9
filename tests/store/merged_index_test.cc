// The per-shard merged index (docs/FORMAT.md "Merged index"): lookups find
// every chunk across many sealed packs with and without it; a damaged,
// truncated, foreign or stale one is never trusted (chunks are still found,
// never wrong bytes) and is rebuilt; a power cut while it is written loses
// nothing; prune and compaction keep it right; and opening a repository with
// one reads no idx file.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <set>

#include "../../store/src/format.h"
#include "chunkfs/check.h"
#include "fault_env.h"
#include "test_util.h"

namespace chunkfs::testutil {
namespace {

constexpr uint8_t kShard = 0x3a;

std::string MergedPath(const std::string& repo) { return ShardDir(repo, kShard) + "/merged.midx"; }

uint32_t U32(const std::string& b, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[off + i]);
  return v;
}
uint64_t U64(const std::string& b, size_t off) { return U32(b, off) | uint64_t{U32(b, off + 4)} << 32; }

// Pack ids in a merged index's pack table (parsed as FORMAT.md says).
std::set<uint64_t> MergedPacks(const std::string& bytes) {
  std::set<uint64_t> out;
  for (uint32_t i = 0; i < U32(bytes, 16); ++i) out.insert(U64(bytes, 64 + 40 * size_t{i}));
  return out;
}

std::set<uint64_t> DatIds(const std::string& repo) {
  std::set<uint64_t> out;
  for (const auto& p : ListFiles(ShardDir(repo, kShard), ".dat")) {
    out.insert(std::stoull(p.substr(p.size() - 20, 16), nullptr, 16));
  }
  return out;
}

// Counts opens of .idx files (mapped or read) and forwards everything.
class CountingEnv final : public Env {
 public:
  explicit CountingEnv(Env* base) : base_(base) {}
  std::atomic<int> idx_opens{0};

  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* o) override {
    return base_->NewAppendableFile(p, o);
  }
  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* o) override {
    return base_->NewWritableFile(p, o);
  }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* o) override {
    Count(p);
    return base_->NewRandomAccessFile(p, o);
  }
  Status NewMappedFile(const std::string& p, std::unique_ptr<MappedFile>* o) override {
    Count(p);
    return base_->NewMappedFile(p, o);
  }
  Status FileExists(const std::string& p, bool* e) override { return base_->FileExists(p, e); }
  Status IsDirectory(const std::string& p, bool* d) override { return base_->IsDirectory(p, d); }
  Status GetFileSize(const std::string& p, uint64_t* s) override { return base_->GetFileSize(p, s); }
  Status GetChildren(const std::string& d, std::vector<std::string>* n) override { return base_->GetChildren(d, n); }
  Status GetDirVersion(const std::string& d, uint64_t* v) override { return base_->GetDirVersion(d, v); }
  Status CreateDir(const std::string& d) override { return base_->CreateDir(d); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RenameFile(const std::string& f, const std::string& t) override { return base_->RenameFile(f, t); }
  Status Truncate(const std::string& p, uint64_t s) override { return base_->Truncate(p, s); }
  Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }
  Status LockFile(const std::string& p, std::unique_ptr<FileLock>* l, std::string* h) override {
    return base_->LockFile(p, l, h);
  }

 private:
  void Count(const std::string& p) {
    if (p.size() > 4 && p.compare(p.size() - 4, 4, ".idx") == 0) idx_opens++;
  }
  Env* base_;
};

class MergedIndexTest : public ::testing::Test {
 protected:
  std::string Repo() const { return dir_.Sub("repo"); }

  std::unique_ptr<Repository> Open(bool merged = true, bool read_only = false, Env* env = nullptr) {
    OpenOptions o;
    o.merged_index = merged;
    o.read_only = read_only;
    o.env = env;
    o.log = [this](const std::string& m) { log_.push_back(m); };
    std::unique_ptr<Repository> r;
    Status s = Repository::Open(Repo(), o, &r);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }

  // `n` chunks of shard kShard in 4 KiB packs (about 15 records a pack),
  // synced every 10 chunks so that full packs are sealed as they fill.
  void Fill(size_t n, bool merged = true, uint64_t seed = 0) {
    auto r = Open(merged);
    ASSERT_NE(r, nullptr);
    for (size_t i = 0; i < n; ++i) {
      chunks_.push_back(ContentInShard(kShard, 200 + i % 50, seed + i));
      PutOrDie(r.get(), chunks_.back());
      if (i % 10 == 9) {
        ASSERT_TRUE(r->Sync().ok());
      }
    }
    ASSERT_TRUE(r->Close().ok());
  }

  void ExpectAll(Repository* r) {
    for (const auto& c : chunks_) EXPECT_TRUE(HasChunk(r, c));
    for (uint64_t i = 0; i < 20; ++i) {
      EXPECT_FALSE(r->Contains(Sha256(ContentInShard(kShard, 300, 1000000 + i))));
    }
  }

  // Deletes every chunk not in `keep` (forced: most of them may go).
  static void PruneKeeping(Repository* r, std::vector<Digest> keep) {
    std::sort(keep.begin(), keep.end());
    PruneOptions po;
    po.force = true;
    PruneResult pr;
    Status s = r->Prune(keep, po, &pr);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void SetUp() override { CreateRepoOrDie(Repo(), SmallSettings(4096)); }

  TempDir dir_;
  std::vector<std::string> chunks_;
  std::vector<std::string> log_;
};

TEST_F(MergedIndexTest, FindsEveryChunkAcrossManySealedPacksWithAndWithout) {
  Fill(400);
  const std::string merged = ReadFileOrDie(MergedPath(Repo()));
  const auto packs = MergedPacks(merged);
  EXPECT_GE(packs.size(), 20u) << "most sealed packs are in the merged index";
  EXPECT_GE(DatIds(Repo()).size(), packs.size());
  for (bool with : {true, false}) {
    for (bool ro : {false, true}) {
      auto r = Open(with, ro);
      ExpectAll(r.get());
      EXPECT_EQ(r->GetStats().chunks, chunks_.size()) << "with=" << with << " read-only=" << ro;
    }
  }
}

TEST_F(MergedIndexTest, OpenReadsNoIdxFileAndOneGetReadsNone) {
  Fill(400);
  const auto covered = MergedPacks(ReadFileOrDie(MergedPath(Repo())));
  const size_t outside = DatIds(Repo()).size() - covered.size();
  CountingEnv env(Env::Default());
  {
    auto r = Open(true, false, &env);
    EXPECT_LE(env.idx_opens.load(), static_cast<int>(outside)) << "only packs outside the merged index";
    const int before = env.idx_opens.load();
    EXPECT_TRUE(HasChunk(r.get(), chunks_[7]));
    EXPECT_EQ(env.idx_opens.load(), before) << "a Get of a merged chunk opens no idx";
  }
  env.idx_opens = 0;
  auto old = Open(false, true, &env);  // the counter sees the old path's idx reads
  EXPECT_GE(env.idx_opens.load(), static_cast<int>(DatIds(Repo()).size()));
}

// What every damaged merged index must give: chunks found through the idx
// files, never wrong bytes, and a valid index after a writable open + Sync.
class MergedDamageTest : public MergedIndexTest {
 protected:
  void ExpectRecovered(const std::string& what) {
    SCOPED_TRACE(what);
    {
      auto ro = Open(true, true);
      ExpectAll(ro.get());
    }
    {
      auto r = Open();
      ExpectAll(r.get());
      ASSERT_TRUE(r->Sync().ok());
      ASSERT_TRUE(r->Close().ok());
    }
    CheckReport rep;
    ASSERT_TRUE(CheckRepository(Repo(), CheckOptions{}, &rep).ok());
    EXPECT_TRUE(rep.ok());
    for (const auto& n : rep.notes) EXPECT_EQ(n.find("merged.midx"), std::string::npos) << n;
    auto r = Open();
    ExpectAll(r.get());
  }
  std::string bytes_;
  std::vector<std::string> deleted_;
  void SetUp() override {
    MergedIndexTest::SetUp();
    Fill(300);
    bytes_ = ReadFileOrDie(MergedPath(Repo()));
  }
};

TEST_F(MergedDamageTest, ChecksumMismatchInAnEntry) {
  std::string b = bytes_;
  b[b.size() - 56 * 3 + 40] ^= 0x01;  // raw_len of an entry near the end
  WriteFileOrDie(MergedPath(Repo()), b);
  CheckReport rep;
  ASSERT_TRUE(CheckRepository(Repo(), CheckOptions{}, &rep).ok());
  bool noted = false;
  for (const auto& n : rep.notes) noted |= n.find("merged.midx") != std::string::npos;
  EXPECT_TRUE(noted) << "check reports the damaged merged index";
  ExpectRecovered("entry flip");
}

TEST_F(MergedDamageTest, ChecksumMismatchInTheFilter) {
  std::string b = bytes_;
  const size_t filter = 64 + 40 * size_t{U32(b, 16)} + 2048 + 4;
  b[filter + 5] ^= 0x40;
  WriteFileOrDie(MergedPath(Repo()), b);
  ExpectRecovered("filter flip");
}

void PutU32(std::string* b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[off + i] = static_cast<char>(v >> (8 * i));
}

// A merged index whose checksums are all good but whose entry for one chunk
// points at another record (as a bug in its builder would make it): the
// record read there does not match, so the chunk is looked up in the idx
// files and read right (Get and OpenChunk), the index is distrusted (said
// once) and a writer rebuilds it from the idx files, taking nothing from it.
TEST_F(MergedDamageTest, GoodChecksumsButAWrongOffset) {
  std::string b = bytes_;
  const size_t fanout = 64 + 40 * size_t{U32(b, 16)};
  const uint32_t count = U32(b, fanout + 4 * 255);
  ASSERT_GE(count, 2u);
  const size_t entries = b.size() - 56 * size_t{count};
  // Entry 0 (bucket 0 .. its digest's byte 1) gets entry 1's offset.
  std::memcpy(&b[entries + 32], &b[entries + 56 + 32], 8);
  ASSERT_NE(b, bytes_);
  unsigned bucket = 0;
  while (U32(b, fanout + 4 * bucket) == 0) bucket++;
  const uint32_t first = bucket ? U32(b, fanout + 4 * (bucket - 1)) : 0;
  const uint32_t end = U32(b, fanout + 4 * bucket);
  PutU32(&b, fanout + 1024 + 4 * bucket,
         format::Crc32(std::string_view(b).substr(entries + 56 * size_t{first}, 56 * size_t{end - first})));
  PutU32(&b, fanout + 2048, format::Crc32(std::string_view(b).substr(64, fanout + 2048 - 64)));
  WriteFileOrDie(MergedPath(Repo()), b);
  Digest moved;
  std::memcpy(moved.bytes.data(), &b[entries], 32);
  const std::string* content = nullptr;
  for (const auto& c : chunks_) {
    if (Sha256(c) == moved) content = &c;
  }
  ASSERT_NE(content, nullptr) << "entry 0 names one of the chunks";
  auto said = [this] {
    return std::count_if(log_.begin(), log_.end(),
                         [](const std::string& m) { return m.find("does not lead to the chunk") != std::string::npos; });
  };
  {
    auto ro = Open(true, true);
    std::unique_ptr<ChunkReader> reader;
    ASSERT_TRUE(ro->OpenChunk(moved, &reader).ok());
    std::string got;
    ASSERT_TRUE(reader->ReadBlock(0, &got).ok());
    EXPECT_TRUE(got == *content) << "OpenChunk found it through the idx files";
    EXPECT_EQ(said(), 1);
    ExpectAll(ro.get());
    EXPECT_EQ(ro->GetStats().corrupt_reads, 0u) << "a wrong cache entry is not damage of the chunk";
  }
  {
    auto r = Open();
    std::string got;
    ASSERT_TRUE(r->Get(moved, &got).ok());
    EXPECT_TRUE(got == *content) << "Get found it through the idx files";
    EXPECT_EQ(said(), 2) << "once per open";
    PutOrDie(r.get(), ContentInShard(kShard, 250, 777777));  // a write, so that the sync rebuilds what is due
    ASSERT_TRUE(r->Sync().ok());
    ASSERT_TRUE(r->Close().ok());
  }
  const std::string rebuilt = ReadFileOrDie(MergedPath(Repo()));
  EXPECT_NE(rebuilt, b) << "rebuilt";
  auto r = Open();
  std::string got;
  ASSERT_TRUE(r->Get(moved, &got).ok());
  EXPECT_TRUE(got == *content);
  EXPECT_EQ(said(), 2) << "the rebuilt index leads to the chunk";
  ExpectAll(r.get());
}

TEST_F(MergedDamageTest, TruncatedTail) {
  WriteFileOrDie(MergedPath(Repo()), bytes_.substr(0, bytes_.size() - 30));
  ExpectRecovered("truncated");
}

TEST_F(MergedDamageTest, BadMagicAndEmpty) {
  std::string b = bytes_;
  b[0] = 'X';
  WriteFileOrDie(MergedPath(Repo()), b);
  ExpectRecovered("bad magic");
  WriteFileOrDie(MergedPath(Repo()), "");
  ExpectRecovered("empty");
}

TEST_F(MergedDamageTest, NamesRemovedPacksAndMissesSealedOnes) {
  // Older code (the path without the merged index) prunes and compacts:
  // packs the merged index names go, new sealed packs appear outside it.
  {
    auto r = Open(false);
    std::vector<Digest> keep;
    std::vector<std::string> kept;
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (i % 3 != 0) continue;
      keep.push_back(Sha256(chunks_[i]));
      kept.push_back(chunks_[i]);
    }
    PruneKeeping(r.get(), keep);
    CompactResult cr;
    ASSERT_TRUE(r->Compact(CompactOptions{}, &cr).ok());
    EXPECT_GT(cr.packs_removed, 0u);
    ASSERT_TRUE(r->Close().ok());
    deleted_.assign(chunks_.begin(), chunks_.end());
    chunks_ = kept;
  }
  ASSERT_EQ(ReadFileOrDie(MergedPath(Repo())), bytes_) << "the old path leaves the file alone";
  const auto named = MergedPacks(bytes_);
  const auto present = DatIds(Repo());
  EXPECT_TRUE(std::any_of(named.begin(), named.end(), [&](uint64_t id) { return !present.count(id); }));
  {
    auto ro = Open(true, true);  // stale: names removed packs, misses the new ones
    ExpectAll(ro.get());
    for (const auto& c : deleted_) EXPECT_TRUE(NeverWrongBytes(ro.get(), c));
  }
  { auto r = Open(); }  // a writable open rebuilds it
  const auto now = MergedPacks(ReadFileOrDie(MergedPath(Repo())));
  for (uint64_t id : now) EXPECT_TRUE(present.count(id)) << "names only present packs: " << id;
  ExpectRecovered("stale");
}

TEST_F(MergedIndexTest, PruneAndCompactionKeepItRight) {
  Fill(300);
  std::vector<Digest> keep;
  std::vector<std::string> kept, gone;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    (i % 4 == 0 ? kept : gone).push_back(chunks_[i]);
    if (i % 4 == 0) keep.push_back(Sha256(chunks_[i]));
  }
  {
    auto r = Open();
    PruneKeeping(r.get(), keep);
    for (const auto& c : gone) EXPECT_FALSE(r->Contains(Sha256(c)));
    CompactResult cr;
    ASSERT_TRUE(r->Compact(CompactOptions{}, &cr).ok());
    EXPECT_GT(cr.packs_removed, 0u);
    for (const auto& c : kept) EXPECT_TRUE(HasChunk(r.get(), c));
    for (const auto& c : gone) EXPECT_FALSE(r->Contains(Sha256(c)));
    // Compaction rebuilt the merged index: it names no removed pack.
    const auto present = DatIds(Repo());
    for (uint64_t id : MergedPacks(ReadFileOrDie(MergedPath(Repo())))) EXPECT_TRUE(present.count(id)) << id;
    // Deleted chunks stored again are found (a new record, live).
    for (size_t i = 0; i < 5; ++i) PutOrDie(r.get(), gone[i]);
    ASSERT_TRUE(r->Close().ok());
  }
  chunks_ = kept;
  chunks_.insert(chunks_.end(), gone.begin(), gone.begin() + 5);
  for (bool with : {true, false}) {
    auto r = Open(with);
    ExpectAll(r.get());
    for (size_t i = 5; i < gone.size(); ++i) EXPECT_FALSE(r->Contains(Sha256(gone[i])));
  }
}

// Packs with nothing live are removed without any new pack: the merged
// index is rebuilt without them (it named packs that are gone).
TEST_F(MergedIndexTest, DeadPacksRemovedAreDroppedFromIt) {
  Fill(300);
  const auto before = MergedPacks(ReadFileOrDie(MergedPath(Repo())));
  std::vector<Digest> keep;
  for (size_t i = 150; i < chunks_.size(); ++i) keep.push_back(Sha256(chunks_[i]));
  auto r = Open();
  PruneKeeping(r.get(), keep);
  CompactOptions co;
  co.min_dead_share = 1.0;    // no rewrite: only packs with nothing live go
  co.small_pack_bytes = 1;
  CompactResult cr;
  ASSERT_TRUE(r->Compact(co, &cr).ok());
  EXPECT_GT(cr.packs_removed, 0u);
  EXPECT_EQ(cr.packs_written, 0u);
  const auto present = DatIds(Repo());
  const auto after = MergedPacks(ReadFileOrDie(MergedPath(Repo())));
  EXPECT_LT(after.size(), before.size());
  for (uint64_t id : after) EXPECT_TRUE(present.count(id)) << "names removed pack " << id;
  for (size_t i = 150; i < chunks_.size(); ++i) EXPECT_TRUE(HasChunk(r.get(), chunks_[i]));
  for (size_t i = 0; i < 150; ++i) EXPECT_FALSE(r->Contains(Sha256(chunks_[i])));
}

TEST_F(MergedIndexTest, RepositoryWithoutOneGetsOneAndOlderPathIgnoresIt) {
  Fill(200, /*merged=*/false);
  bool exists = true;
  ASSERT_TRUE(Env::Default()->FileExists(MergedPath(Repo()), &exists).ok());
  EXPECT_FALSE(exists) << "the old path writes none";
  { auto r = Open(); }
  EXPECT_FALSE(MergedPacks(ReadFileOrDie(MergedPath(Repo()))).empty()) << "a writable open built one";
  auto old = Open(false);
  ExpectAll(old.get());
}

// Found by the big-repository benchmark: reopening a shard whose active
// pack holds more chunks than its filter had room for grew the filter in
// the middle of resuming that pack, and the chunks added before the growth
// were never found again (Contains false, Get NotFound) until a restart.
TEST_F(MergedIndexTest, ResumedActivePackLargerThanTheFilterIsFound) {
  const std::string path = dir_.Sub("big-active");
  CreateRepoOrDie(path, SmallSettings(1 << 20));
  std::vector<std::string> chunks;
  {
    auto r = OpenOrDie(path);
    for (uint64_t i = 0; i < 1300; ++i) {
      chunks.push_back(ContentInShard(kShard, 64, 50000 + i));
      PutOrDie(r.get(), chunks.back());
    }
    ASSERT_TRUE(r->Close().ok());
  }
  auto r = OpenOrDie(path);
  size_t missing = 0;
  for (const auto& c : chunks) missing += !r->Contains(Sha256(c));
  EXPECT_EQ(missing, 0u);
}

// A power cut at every sync point of a workload that seals packs and
// rewrites the merged index: every acknowledged chunk is found after the
// restart, nothing is served wrong, and the index is valid again.
TEST_F(MergedIndexTest, PowerCutWhileWritingIt) {
  FaultEnv env;
  CreateRepoOrDie("/r", SmallSettings(4096), &env);
  std::vector<std::pair<int64_t, size_t>> acked;  // (sync count, chunks durable)
  std::vector<FaultEnv::Snapshot> snaps;
  {
    OpenOptions o;
    o.env = &env;
    std::unique_ptr<Repository> r;
    ASSERT_TRUE(Repository::Open("/r", o, &r).ok());
    env.SetSyncCallback([&](int64_t) { snaps.push_back(env.DurableSnapshot()); });
    for (size_t i = 0; i < 120; ++i) {
      chunks_.push_back(ContentInShard(kShard, 200 + i % 50, i));
      PutOrDie(r.get(), chunks_.back());
      if (i % 8 == 7) {
        ASSERT_TRUE(r->Sync().ok());
        acked.push_back({env.sync_count(), chunks_.size()});
      }
    }
    ASSERT_TRUE(r->Close().ok());
    env.SetSyncCallback(nullptr);
  }
  ASSERT_GT(snaps.size(), 40u);
  int with_merged = 0;
  for (size_t k = 0; k < snaps.size(); ++k) {
    SCOPED_TRACE("power cut after sync point " + std::to_string(k + 1));
    env.Restore(snaps[k]);
    size_t durable = 0;
    for (const auto& [at, n] : acked) {
      if (at <= static_cast<int64_t>(k + 1)) durable = n;
    }
    bool exists = false;
    ASSERT_TRUE(env.FileExists("/r/shards/3a/merged.midx", &exists).ok());
    with_merged += exists;
    for (bool ro : {true, false}) {
      OpenOptions o;
      o.env = &env;
      o.read_only = ro;
      std::unique_ptr<Repository> r;
      ASSERT_TRUE(Repository::Open("/r", o, &r).ok());
      for (size_t i = 0; i < chunks_.size(); ++i) {
        if (i < durable) ASSERT_TRUE(HasChunk(r.get(), chunks_[i])) << i;
        else ASSERT_TRUE(NeverWrongBytes(r.get(), chunks_[i])) << i;
      }
    }
  }
  EXPECT_GT(with_merged, 0) << "some cuts fell after a merged index was written";
}

}  // namespace
}  // namespace chunkfs::testutil
