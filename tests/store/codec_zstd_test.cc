// The zstd codec (built only with libzstd, CHUNKFS_ZSTD): round trips,
// damage, repositories written with one codec and opened with the other,
// the version-3 header, and the repo-zstd fixture.
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

std::string ZstdPayload(const std::string& raw) {
  std::string z;
  EXPECT_EQ(codec::Encode(raw, kCodecZstd, 1, &z), kCodecZstd);
  return z;
}

TEST(CodecZstd, RoundTripsEmptySmallLargeAndIncompressible) {
  for (int level : {1, 3, 19}) {
    for (const std::string& raw : {TextBytes(300, 1), TextBytes(1 << 20, 2)}) {
      std::string z, back;
      ASSERT_EQ(codec::Encode(raw, kCodecZstd, level, &z), kCodecZstd) << level;
      EXPECT_LT(z.size(), raw.size());
      ASSERT_TRUE(codec::Decode(kCodecZstd, z, static_cast<uint32_t>(raw.size()), &back).ok());
      EXPECT_TRUE(back == raw);
    }
  }
  std::string z;
  EXPECT_EQ(codec::Encode("", kCodecZstd, 1, &z), format::kCodecRaw);
  EXPECT_EQ(codec::Encode(RandomBytes(100, 3), kCodecZstd, 1, &z), format::kCodecRaw);
  EXPECT_EQ(codec::Encode(RandomBytes(1 << 20, 4), kCodecZstd, 1, &z), format::kCodecRaw);
  EXPECT_TRUE(z.empty());
  EXPECT_EQ(codec::Encode(TextBytes(1 << 20, 5), kCodecZstd, 0, &z), format::kCodecRaw);
  const std::string big = TextBytes(16 << 20, 6);
  std::string back;
  ASSERT_TRUE(codec::Decode(kCodecZstd, ZstdPayload(big), static_cast<uint32_t>(big.size()), &back).ok());
  EXPECT_TRUE(back == big);
}

// The payload is one standard frame (magic 28 b5 2f fd) of exactly raw_len.
TEST(CodecZstd, PayloadIsOneStandardFrame) {
  const std::string z = ZstdPayload(TextBytes(10000, 7));
  ASSERT_GE(z.size(), 4u);
  EXPECT_EQ(z.substr(0, 4), std::string("\x28\xb5\x2f\xfd", 4));
}

TEST(CodecZstd, DamagedOrMislabelledPayloadIsCorruptionNeverOtherBytes) {
  const std::string raw = TextBytes(64 << 10, 8);
  const std::string z = ZstdPayload(raw);
  const uint32_t n = static_cast<uint32_t>(raw.size());
  std::string out = "stale";
  EXPECT_TRUE(codec::Decode(kCodecZstd, z, n - 1, &out).IsCorruption());
  EXPECT_TRUE(codec::Decode(kCodecZstd, z, n + 1, &out).IsCorruption());
  EXPECT_TRUE(codec::Decode(kCodecZstd, z.substr(0, z.size() - 1), n, &out).IsCorruption());
  EXPECT_TRUE(codec::Decode(kCodecZstd, z + z, n, &out).IsCorruption());  // two frames
  EXPECT_TRUE(codec::Decode(kCodecZstd, z + "x", n, &out).IsCorruption());
  std::string bad_magic = z;
  bad_magic[0] ^= 1;
  EXPECT_TRUE(codec::Decode(kCodecZstd, bad_magic, n, &out).IsCorruption());
  EXPECT_TRUE(out.empty());
  // The codec byte says which decoder runs: each refuses the other's payload.
  EXPECT_TRUE(codec::Decode(kCodecZlib, z, n, &out).IsCorruption());
  std::string zl;
  ASSERT_EQ(codec::Encode(raw, kCodecZlib, 1, &zl), kCodecZlib);
  EXPECT_TRUE(codec::Decode(kCodecZstd, zl, n, &out).IsCorruption());
}

class CodecZstdRepoTest : public ::testing::Test {
 protected:
  std::string Repo() const { return dir_.Sub("r"); }
  void Create(uint8_t codec) {
    RepoSettings s = SmallSettings(1 << 20);
    s.codec = codec;
    CreateRepoOrDie(Repo(), s);
  }
  std::unique_ptr<Repository> OpenWith(uint8_t codec, bool read_only = false) {
    OpenOptions o;
    o.codec = codec;
    o.read_only = read_only;
    std::unique_ptr<Repository> repo;
    Status s = Repository::Open(Repo(), o, &repo);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return repo;
  }
  static uint8_t CodecOf(Repository* repo, const Digest& d) {
    ChunkInfo info;
    EXPECT_TRUE(repo->Stat(d, &info).ok());
    return info.codec;
  }
  static void ExpectCheckClean(const std::string& repo) {
    CheckOptions o;
    o.read_data = true;
    CheckReport r;
    ASSERT_TRUE(CheckRepository(repo, o, &r).ok());
    for (const auto& p : r.problems) ADD_FAILURE() << p.file << " @" << p.offset << ": " << p.what;
  }
  TempDir dir_;
};

TEST_F(CodecZstdRepoTest, DefaultIsZstdWithAVersion3Header) {
  EXPECT_EQ(DefaultCodec(), kCodecZstd);
  Create(0);
  EXPECT_EQ(HeaderVersion(Repo(), 0), format::kRepoVersionZstd);
  EXPECT_EQ(HeaderVersion(Repo(), 1), format::kRepoVersionZstd);
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff), kCodecZstd);
  auto repo = OpenOrDie(Repo());
  EXPECT_EQ(repo->settings().codec, kCodecZstd);
  EXPECT_EQ(CodecOf(repo.get(), PutOrDie(repo.get(), TextBytes(70000, 1))), kCodecZstd);
  EXPECT_EQ(CodecOf(repo.get(), PutOrDie(repo.get(), RandomBytes(70000, 2))), format::kCodecRaw);
}

// Written with zlib, then written with zstd by an open that overrides the
// codec: both read; the header becomes version 3 (a version-2 program
// would take zstd records for damage) and keeps zlib as its setting.
TEST_F(CodecZstdRepoTest, ZlibRepositoryWrittenByAZstdOpenReadsBoth) {
  Create(kCodecZlib);
  const std::string a = TextBytes(200 << 10, 3), b = TextBytes(200 << 10, 4);
  auto repo = OpenOrDie(Repo());
  const Digest da = PutOrDie(repo.get(), a);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenWith(kCodecZstd, /*read_only=*/true);  // a reader writes nothing
  ASSERT_TRUE(repo);
  EXPECT_EQ(HeaderVersion(Repo()), 2u);
  repo = OpenWith(kCodecZstd);
  ASSERT_TRUE(repo);
  EXPECT_EQ(HeaderVersion(Repo()), format::kRepoVersionZstd);
  const Digest db = PutOrDie(repo.get(), b);
  EXPECT_EQ(CodecOf(repo.get(), da), kCodecZlib);
  EXPECT_EQ(CodecOf(repo.get(), db), kCodecZstd);
  EXPECT_TRUE(HasChunk(repo.get(), a));
  EXPECT_TRUE(HasChunk(repo.get(), b));
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersion(Repo(), 1), format::kRepoVersionZstd);
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff), kCodecZlib);
  repo = OpenOrDie(Repo());  // the header's codec again
  EXPECT_EQ(repo->settings().codec, kCodecZlib);
  EXPECT_EQ(ReadAllChunks(repo.get()), 2u);
  ASSERT_TRUE(repo->Close().ok());
  ExpectCheckClean(Repo());
}

TEST_F(CodecZstdRepoTest, ZstdRepositoryWrittenByAZlibOpenReadsBoth) {
  Create(kCodecZstd);
  const std::string a = TextBytes(300 << 10, 5), b = TextBytes(300 << 10, 6);
  auto repo = OpenOrDie(Repo());
  const Digest da = PutOrDie(repo.get(), a);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenWith(kCodecZlib);
  ASSERT_TRUE(repo);
  const Digest db = PutOrDie(repo.get(), b);
  EXPECT_EQ(CodecOf(repo.get(), da), kCodecZstd);
  EXPECT_EQ(CodecOf(repo.get(), db), kCodecZlib);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo(), /*read_only=*/true);
  EXPECT_TRUE(HasChunk(repo.get(), a));
  EXPECT_TRUE(HasChunk(repo.get(), b));
  EXPECT_EQ(CodecCounts(repo.get()), (std::vector<size_t>{0, 1, 1}));
  ExpectCheckClean(Repo());
}

TEST_F(CodecZstdRepoTest, OlderFixtureWrittenWithZstdReadsEverything) {
  fs::copy(FixtureDir("repo-v1") + "/repo", Repo(), fs::copy_options::recursive);
  auto repo = OpenWith(kCodecZstd);
  ASSERT_TRUE(repo);
  const size_t before = ReadAllChunks(repo.get());
  EXPECT_GE(before, 30u);
  EXPECT_EQ(CodecOf(repo.get(), PutOrDie(repo.get(), TextBytes(90000, 7))), kCodecZstd);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersion(Repo()), format::kRepoVersionZstd);
  repo = OpenOrDie(Repo());
  EXPECT_EQ(ReadAllChunks(repo.get()), before + 1);
  ASSERT_TRUE(repo->Close().ok());
  ExpectCheckClean(Repo());
}

// A payload byte changed and the record CRC made to match (damage the CRC
// cannot see): the read fails, never returns other bytes, and check names it.
TEST_F(CodecZstdRepoTest, DamagedZstdPayloadIsAnErrorNeverWrongBytes) {
  Create(kCodecZstd);
  const std::string a = TextBytes(100 << 10, 8);
  auto repo = OpenOrDie(Repo());
  const Digest d = PutOrDie(repo.get(), a);
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  ASSERT_EQ(info.codec, kCodecZstd);
  ASSERT_TRUE(repo->Close().ok());
  const auto dats = AllPackFiles(Repo(), ".dat");
  ASSERT_EQ(dats.size(), 1u);
  std::string pack = ReadFileOrDie(dats[0]);
  const size_t rec = format::kPackHeaderSize, payload = rec + format::kRecordHeaderSize;
  ASSERT_GE(pack.size(), payload + info.stored_size + 4);
  pack[payload + info.stored_size / 2] ^= 0x10;
  const uint32_t crc = format::Crc32(std::string_view(pack).substr(rec, format::kRecordHeaderSize + info.stored_size));
  format::PutU32(&pack[payload + info.stored_size], crc);
  WriteFileOrDie(dats[0], pack);

  repo = OpenOrDie(Repo(), /*read_only=*/true);
  std::string got = "stale";
  Status s = repo->Get(d, &got);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(got.empty() || got == a);
  EXPECT_TRUE(NeverWrongBytes(repo.get(), a));
  CheckOptions o;
  o.read_data = true;
  CheckReport r;
  ASSERT_TRUE(CheckRepository(Repo(), o, &r).ok());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].what.find(d.ToHex()), std::string::npos) << r.problems[0].what;
}

// tests/fixtures/repo-zstd (tests/fixtures/make-repo-zstd.sh): zstd and raw
// records as this format writes them, to be read by every later version.
TEST_F(CodecZstdRepoTest, ZstdFixtureReadsAndChecksClean) {
  fs::copy(FixtureDir("repo-zstd") + "/repo", Repo(), fs::copy_options::recursive);
  EXPECT_EQ(HeaderVersion(Repo()), format::kRepoVersionZstd);
  auto repo = OpenOrDie(Repo(), /*read_only=*/true);
  const std::vector<size_t> counts = CodecCounts(repo.get());
  EXPECT_GT(counts[0], 0u);
  EXPECT_GT(counts[2], 0u);
  EXPECT_EQ(ReadAllChunks(repo.get()), counts[0] + counts[1] + counts[2]);
  ExpectCheckClean(Repo());
}

}  // namespace
}  // namespace chunkfs
