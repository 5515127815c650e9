// Blocked records in repositories made by earlier code (docs/FORMAT.md
// "Versions", "Blocked records"): the fixtures (tests/fixtures/repo-v1,
// repo-zstd) opened writable store a large chunk, their header becomes
// version 4 before that first blocked record (a version-3 program then
// refuses it as newer), and old and new chunks read back. Scans (recovery,
// check) accept blocked records.
#include <gtest/gtest.h>

#include "chunkfs/check.h"
#include "chunkfs/codec.h"
#include "blocked_util.h"
#include "codec_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using namespace codectest;
using namespace blocktest;

void ExpectCheckClean(const std::string& repo) {
  CheckOptions o;
  o.read_data = true;
  CheckReport r;
  ASSERT_TRUE(CheckRepository(repo, o, &r).ok());
  for (const auto& p : r.problems) ADD_FAILURE() << p.file << " @" << p.offset << ": " << p.what;
}

class BlockedCompat : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (std::string(GetParam()) == "repo-zstd" && !CodecBuiltIn(kCodecZstd)) GTEST_SKIP() << "zstd not built in";
    fs::copy(FixtureDir(GetParam()) + "/repo", Repo(), fs::copy_options::recursive);
    old_version_ = HeaderVersion(Repo());
    ASSERT_LT(old_version_, 4u);
  }
  std::string Repo() const { return dir_.Sub("r"); }
  TempDir dir_;
  uint32_t old_version_ = 0;
};

TEST_P(BlockedCompat, LargeChunkRaisesTheVersionAndEverythingReads) {
  OpenOptions o;
  o.max_chunk_size = kMaxChunk;  // repo-zstd was made with 1 MiB
  std::unique_ptr<Repository> repo;
  ASSERT_TRUE(Repository::Open(Repo(), o, &repo).ok());
  const size_t old_chunks = ReadAllChunks(repo.get());
  ASSERT_GT(old_chunks, 0u);
  // Small chunks keep the older version: older programs can still use it.
  const std::string small = TextBytes(100 << 10, 1);
  PutOrDie(repo.get(), small);
  EXPECT_LT(HeaderVersion(Repo()), 4u);
  const std::string big = TextBytes(3 * kBlockSize + 7, 2);
  const Digest db = PutOrDie(repo.get(), big);
  EXPECT_EQ(CodecOf(repo.get(), db), 3);
  EXPECT_EQ(HeaderVersion(Repo(), 0), 4u);
  EXPECT_EQ(HeaderVersion(Repo(), 1), 4u);
  EXPECT_EQ(ReadAllChunks(repo.get()), old_chunks + 2);
  // An old chunk through OpenChunk: one block, the whole chunk.
  auto it = repo->NewIterator();
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  std::string whole;
  ASSERT_TRUE(repo->Get(it->digest(), &whole).ok());
  EXPECT_EQ(ReadAllBlocks(repo.get(), it->digest()), whole);
  EXPECT_EQ(ReadAllBlocks(repo.get(), db), big);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo(), /*read_only=*/true);
  EXPECT_EQ(ReadAllChunks(repo.get()), old_chunks + 2);
  EXPECT_TRUE(HasChunk(repo.get(), big));
  repo.reset();
  ExpectCheckClean(Repo());
}

std::string FixtureName(const ::testing::TestParamInfo<const char*>& p) {
  return std::string(p.param) == "repo-v1" ? "V1" : "Zstd";
}
INSTANTIATE_TEST_SUITE_P(Fixtures, BlockedCompat, ::testing::Values("repo-v1", "repo-zstd"), FixtureName);

// Recovery rebuilds an idx by scanning the pack: a blocked record is an
// ordinary record to it.
TEST(BlockedScan, RecoveryRebuildsTheIdxOfABlockedRecord) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), BigSettings());
  const std::string big = RandomBytes(2 * kBlockSize + 3, 3);
  {
    auto repo = OpenOrDie(dir.Sub("r"));
    PutOrDie(repo.get(), big);
    ASSERT_TRUE(repo->Close().ok());
  }
  for (const auto& idx : AllPackFiles(dir.Sub("r"), ".idx")) fs::remove(idx);
  auto repo = OpenOrDie(dir.Sub("r"));
  EXPECT_TRUE(HasChunk(repo.get(), big));
  EXPECT_EQ(ReadAllBlocks(repo.get(), Sha256(big)), big);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(AllPackFiles(dir.Sub("r"), ".idx").size(), 1u);
  repo.reset();
  ExpectCheckClean(dir.Sub("r"));
}

}  // namespace
}  // namespace chunkfs
