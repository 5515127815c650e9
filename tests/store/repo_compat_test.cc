// A repository written by the format-1 program (tests/fixtures/repo-v1,
// made by tests/fixtures/make-repo-v1.sh with chunkctl of commit 6bb0486)
// is read, checked, written and pruned by this one; its header becomes
// version 2 at the first deletion only (docs/FORMAT.md "Versions").
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "chunkfs/check.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

struct FixtureChunk {
  Digest digest;
  std::string content;
};

// MANIFEST lines: "<sha256>  <size>  inputs/NN.bin".
std::vector<FixtureChunk> LoadManifest(const std::string& dir) {
  std::vector<FixtureChunk> out;
  std::istringstream in(ReadFileOrDie(dir + "/MANIFEST"));
  std::string hex, file;
  uint64_t size = 0;
  while (in >> hex >> size >> file) {
    FixtureChunk c;
    EXPECT_TRUE(Digest::FromHex(hex, &c.digest)) << hex;
    c.content = ReadFileOrDie(dir + "/" + file);
    EXPECT_EQ(c.content.size(), size) << file;
    EXPECT_EQ(Sha256(c.content), c.digest) << file;
    out.push_back(std::move(c));
  }
  return out;
}

// The format version of each of the header's two copies.
std::pair<uint32_t, uint32_t> HeaderVersions(const std::string& repo) {
  std::string h = ReadFileOrDie(repo + "/chunkfs.repo");
  EXPECT_EQ(h.size(), 128u);
  auto u32 = [&](size_t off) {
    return uint32_t(uint8_t(h[off])) | uint32_t(uint8_t(h[off + 1])) << 8 | uint32_t(uint8_t(h[off + 2])) << 16 |
           uint32_t(uint8_t(h[off + 3])) << 24;
  };
  return {u32(8), u32(64 + 8)};
}

std::vector<Digest> Listed(Repository* repo) {
  std::vector<Digest> out;
  auto it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) out.push_back(it->digest());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

void ExpectCheckClean(const std::string& repo, uint64_t records) {
  CheckOptions o;
  o.read_data = true;
  CheckReport r;
  ASSERT_TRUE(CheckRepository(repo, o, &r).ok());
  for (const auto& p : r.problems) ADD_FAILURE() << p.file << " @" << p.offset << ": " << p.what;
  EXPECT_EQ(r.records, records);
}

class RepoV1Compat : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(std::string(CHUNKFS_FIXTURES_DIR) + "/repo-v1/repo", Path(), fs::copy_options::recursive);
    chunks_ = LoadManifest(std::string(CHUNKFS_FIXTURES_DIR) + "/repo-v1");
    ASSERT_GE(chunks_.size(), 30u);
    for (const auto& c : chunks_) all_.push_back(c.digest);
    std::sort(all_.begin(), all_.end());
  }
  std::string Path() const { return dir_.Sub("r"); }
  void ExpectAllChunks(Repository* repo, const std::set<Digest>& deleted = {}) {
    for (const auto& c : chunks_) {
      if (deleted.count(c.digest)) {
        std::string got;
        EXPECT_TRUE(repo->Get(c.digest, &got).IsNotFound()) << c.digest.ToHex();
      } else {
        EXPECT_TRUE(HasChunk(repo, c.content)) << c.digest.ToHex();
      }
    }
  }
  TempDir dir_;
  std::vector<FixtureChunk> chunks_;
  std::vector<Digest> all_;
};

TEST_F(RepoV1Compat, FixtureIsVersion1WithSealedAndActivePacks) {
  EXPECT_EQ(HeaderVersions(Path()), std::make_pair(1u, 1u));
  size_t sealed = 0, unsealed = 0;
  for (const auto& dat : AllPackFiles(Path(), ".dat")) {
    std::string b = ReadFileOrDie(dat);
    (b.size() > 32 && b.compare(b.size() - 32, 8, "CHUNKEND") == 0 ? sealed : unsealed)++;
  }
  EXPECT_GE(sealed, 3u);
  EXPECT_GE(unsealed, 3u);
}

TEST_F(RepoV1Compat, ReadOnlyOpenReadsEveryChunkAndWritesNothing) {
  auto before = TreeHashes(Path());
  {
    auto repo = OpenOrDie(Path(), /*read_only=*/true);
    ExpectAllChunks(repo.get());
    EXPECT_EQ(Listed(repo.get()), all_);
    EXPECT_EQ(repo->settings().pack_size_limit, 4096u);
  }
  EXPECT_EQ(TreeHashes(Path()), before);
}

TEST_F(RepoV1Compat, CheckIsClean) { ExpectCheckClean(Path(), chunks_.size()); }

TEST_F(RepoV1Compat, WritableOpenReadsPutsAndStaysVersion1WithoutDeletions) {
  std::vector<std::string> added;
  {
    auto repo = OpenOrDie(Path());
    ExpectAllChunks(repo.get());
    EXPECT_EQ(Listed(repo.get()), all_);
    // New chunks, some in the shards that hold an active pack of the fixture.
    for (int i = 0; i < 6; ++i) added.push_back(ContentInShard(all_[i * 5].bytes[0], 900 + 100 * i, 77 + i));
    for (const auto& a : added) PutOrDie(repo.get(), a);
    PutResult dup;
    ASSERT_TRUE(repo->Put(chunks_[0].content, &dup).ok());
    EXPECT_FALSE(dup.was_new);
    ASSERT_TRUE(repo->Close().ok());
  }
  EXPECT_EQ(HeaderVersions(Path()), std::make_pair(1u, 1u));  // a version-1 program can still use it
  auto repo = OpenOrDie(Path());
  ExpectAllChunks(repo.get());
  for (const auto& a : added) EXPECT_TRUE(HasChunk(repo.get(), a));
  EXPECT_EQ(Listed(repo.get()).size(), all_.size() + added.size());
  ASSERT_TRUE(repo->Close().ok());
  ExpectCheckClean(Path(), chunks_.size() + added.size());
}

TEST_F(RepoV1Compat, PruneWritesVersion2AndDeletesDurably) {
  std::set<Digest> deleted;
  std::vector<Digest> keep;
  for (size_t i = 0; i < all_.size(); ++i) {
    if (i % 3 == 0) deleted.insert(all_[i]);
    else keep.push_back(all_[i]);
  }
  const std::string added = ContentInShard(all_[1].bytes[0], 1500, 99);
  {
    auto repo = OpenOrDie(Path());
    const Digest a = PutOrDie(repo.get(), added);
    keep.push_back(a);
    std::sort(keep.begin(), keep.end());
    PruneResult r;
    ASSERT_TRUE(repo->Prune(keep, PruneOptions{}, &r).ok());
    EXPECT_EQ(r.chunks_deleted, deleted.size());
    EXPECT_EQ(HeaderVersions(Path()), std::make_pair(2u, 2u));  // before Prune returned
    ExpectAllChunks(repo.get(), deleted);
    EXPECT_EQ(Listed(repo.get()), keep);
    ASSERT_TRUE(repo->Close().ok());
  }
  ExpectCheckClean(Path(), chunks_.size() + 1);  // deleted records are still stored until compaction
  {
    auto repo = OpenOrDie(Path(), /*read_only=*/true);
    ExpectAllChunks(repo.get(), deleted);
    EXPECT_EQ(Listed(repo.get()), keep);
  }
  auto repo = OpenOrDie(Path());
  ExpectAllChunks(repo.get(), deleted);
  EXPECT_TRUE(HasChunk(repo.get(), added));
  CompactResult cr;
  ASSERT_TRUE(repo->Compact(CompactOptions{}, &cr).ok());
  EXPECT_GT(cr.bytes_reclaimed, 0u);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Path());
  ExpectAllChunks(repo.get(), deleted);
  EXPECT_TRUE(HasChunk(repo.get(), added));
  EXPECT_EQ(Listed(repo.get()), keep);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersions(Path()), std::make_pair(2u, 2u));
}

}  // namespace
}  // namespace chunkfs
