// A build without zstd (CHUNKFS_ZSTD=OFF): zlib is the default; zstd is
// refused where it is asked for; a repository holding zstd records opens,
// serves its other chunks, and refuses the zstd ones with an error naming
// zstd (never other bytes); check reports them, repair refuses to run.
#include <gtest/gtest.h>

#include "../../store/src/codec.h"
#include "../../store/src/format.h"
#include "chunkfs/check.h"
#include "chunkfs/codec.h"
#include "codec_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using namespace codectest;

TEST(CodecNoZstd, DefaultIsZlibAndZstdIsNotBuiltIn) {
  EXPECT_EQ(DefaultCodec(), kCodecZlib);
  EXPECT_FALSE(CodecBuiltIn(kCodecZstd));
  std::string z;
  EXPECT_EQ(codec::Encode(TextBytes(1 << 20, 1), kCodecZstd, 1, &z), format::kCodecRaw);
  std::string out = "stale";
  Status s = codec::Decode(kCodecZstd, "\x28\xb5\x2f\xfd", 10, &out);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_NE(s.message().find("zstd"), std::string::npos) << s.ToString();
  EXPECT_TRUE(out.empty());
}

class CodecNoZstdRepoTest : public ::testing::Test {
 protected:
  std::string Repo() const { return dir_.Sub("r"); }
  TempDir dir_;
};

TEST_F(CodecNoZstdRepoTest, ZstdAskedForIsRefusedClearly) {
  RepoSettings rs = SmallSettings(1 << 20);
  rs.codec = kCodecZstd;
  Status s = Repository::Create(Repo(), rs);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_NE(s.message().find("zstd"), std::string::npos) << s.ToString();
  CreateRepoOrDie(Repo(), SmallSettings(1 << 20));
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff), kCodecZlib);
  EXPECT_EQ(HeaderVersion(Repo()), 2u);
  OpenOptions o;
  o.codec = kCodecZstd;
  std::unique_ptr<Repository> repo;
  s = Repository::Open(Repo(), o, &repo);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_EQ(HeaderVersion(Repo()), 2u);
}

// The repo-zstd fixture (written by a build with zstd): its raw chunks are
// served, its zstd chunks refused with NotSupported naming zstd, new
// chunks are stored with zlib (and said so in the log).
TEST_F(CodecNoZstdRepoTest, ZstdRecordsRefusedOtherChunksServed) {
  fs::copy(FixtureDir("repo-zstd") + "/repo", Repo(), fs::copy_options::recursive);
  std::vector<std::string> log;
  OpenOptions o;
  o.log = [&log](const std::string& line) { log.push_back(line); };
  std::unique_ptr<Repository> repo;
  ASSERT_TRUE(Repository::Open(Repo(), o, &repo).ok());
  bool said = false;
  for (const auto& l : log) said |= l.find("zstd") != std::string::npos && l.find("zlib") != std::string::npos;
  EXPECT_TRUE(said);
  size_t refused = 0, served = 0;
  auto it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ChunkInfo info;
    ASSERT_TRUE(repo->Stat(it->digest(), &info).ok());
    std::string got = "stale";
    Status s = repo->Get(it->digest(), &got);
    if (info.codec == kCodecZstd) {
      EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
      EXPECT_NE(s.message().find("zstd"), std::string::npos) << s.ToString();
      EXPECT_TRUE(got.empty());
      refused++;
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(Sha256(got), it->digest());
      served++;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(served, 0u);
  const std::string text = TextBytes(80000, 2);
  const Digest d = PutOrDie(repo.get(), text);
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, kCodecZlib);
  EXPECT_TRUE(HasChunk(repo.get(), text));
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersion(Repo()), format::kRepoVersionZstd);

  CheckOptions co;
  co.read_data = true;
  CheckReport r;
  ASSERT_TRUE(CheckRepository(Repo(), co, &r).ok());
  EXPECT_EQ(r.problems.size(), refused);
  for (const auto& p : r.problems) EXPECT_NE(p.what.find("built without zstd"), std::string::npos) << p.what;
  RepairReport rr;
  Status s = RepairRepository(Repo(), nullptr, &rr);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  EXPECT_TRUE(rr.quarantined.empty());
}

}  // namespace
}  // namespace chunkfs
