// Record codecs in every build (docs/FORMAT.md "Codecs"): zlib round trips
// and damage, the header's codec byte and version, the codec choice at
// Create and Open, and the older fixture (codec byte 0 = zlib). zstd:
// codec_zstd_test.cc; a zlib-only build: codec_nozstd_test.cc.
#include <gtest/gtest.h>

#include "../../store/src/codec.h"
#include "../../store/src/format.h"
#include "chunkfs/codec.h"
#include "codec_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using namespace codectest;

// Encode then Decode: the same bytes, and the codec Encode chose.
uint8_t RoundTrip(const std::string& raw, uint8_t codec, int level = 1) {
  std::string compressed, back;
  uint8_t used = codec::Encode(raw, codec, level, &compressed);
  std::string_view stored = used == format::kCodecRaw ? std::string_view(raw) : std::string_view(compressed);
  Status s = codec::Decode(used, stored, static_cast<uint32_t>(raw.size()), &back);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(back == raw) << "round trip changed " << raw.size() << " bytes";
  if (used != format::kCodecRaw) {
    EXPECT_LT(compressed.size(), raw.size());
  }
  return used;
}

TEST(CodecZlib, RoundTripsEmptySmallLargeAndIncompressible) {
  EXPECT_EQ(RoundTrip("", kCodecZlib), format::kCodecRaw);
  EXPECT_EQ(RoundTrip(TextBytes(300, 1), kCodecZlib), kCodecZlib);
  EXPECT_EQ(RoundTrip(TextBytes(1 << 20, 2), kCodecZlib), kCodecZlib);
  EXPECT_EQ(RoundTrip(TextBytes(16 << 20, 3), kCodecZlib, 9), kCodecZlib);
  EXPECT_EQ(RoundTrip(RandomBytes(100, 4), kCodecZlib), format::kCodecRaw);
  EXPECT_EQ(RoundTrip(RandomBytes(1 << 20, 5), kCodecZlib), format::kCodecRaw);
  EXPECT_EQ(RoundTrip(TextBytes(1 << 20, 6), kCodecZlib, /*level=*/0), format::kCodecRaw);
}

TEST(CodecZlib, DamagedOrMislabelledPayloadIsCorruptionNeverOtherBytes) {
  const std::string raw = TextBytes(64 << 10, 7);
  std::string z, out = "stale";
  ASSERT_EQ(codec::Encode(raw, kCodecZlib, 1, &z), kCodecZlib);
  const uint32_t n = static_cast<uint32_t>(raw.size());
  EXPECT_TRUE(codec::Decode(kCodecZlib, z, n - 1, &out).IsCorruption());
  EXPECT_TRUE(codec::Decode(kCodecZlib, z, n + 1, &out).IsCorruption());
  EXPECT_TRUE(codec::Decode(kCodecZlib, z.substr(0, z.size() - 1), n, &out).IsCorruption());
  std::string flipped = z;
  flipped[flipped.size() / 2] ^= 0x40;
  EXPECT_TRUE(codec::Decode(kCodecZlib, flipped, n, &out).IsCorruption());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(codec::Decode(7, z, n, &out).IsCorruption());  // an unknown codec byte
  EXPECT_TRUE(codec::Decode(format::kCodecRaw, z, n, &out).IsCorruption());
}

TEST(CodecNames, ParseAndPrint) {
  EXPECT_EQ(CodecFromName("zlib"), kCodecZlib);
  EXPECT_EQ(CodecFromName("zstd"), kCodecZstd);
  EXPECT_EQ(CodecFromName("lz4"), 0);
  EXPECT_STREQ(CodecName(0), "raw");
  EXPECT_STREQ(CodecName(kCodecZlib), "zlib");
  EXPECT_STREQ(CodecName(kCodecZstd), "zstd");
  EXPECT_EQ(CodecMaxLevel(kCodecZlib), 9);
  EXPECT_TRUE(CodecBuiltIn(kCodecZlib));
  EXPECT_TRUE(CodecBuiltIn(DefaultCodec()));
}

class CodecRepoTest : public ::testing::Test {
 protected:
  std::string Repo() const { return dir_.Sub("r"); }
  RepoSettings Settings(uint8_t codec) {
    RepoSettings s = SmallSettings(1 << 20);
    s.codec = codec;
    return s;
  }
  TempDir dir_;
};

TEST_F(CodecRepoTest, ZlibRepositoryKeepsVersion2AndNamesItsCodec) {
  CreateRepoOrDie(Repo(), Settings(kCodecZlib));
  EXPECT_EQ(HeaderVersion(Repo(), 0), 2u);
  EXPECT_EQ(HeaderVersion(Repo(), 1), 2u);
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff, 0), kCodecZlib);
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff, 1), kCodecZlib);
  auto repo = OpenOrDie(Repo());
  EXPECT_EQ(repo->settings().codec, kCodecZlib);
  const Digest d = PutOrDie(repo.get(), TextBytes(100 << 10, 8));
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, kCodecZlib);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersion(Repo()), 2u);  // a version-2 program can still use it
}

TEST_F(CodecRepoTest, BadCodecOrLevelRefusedClearly) {
  RepoSettings s = Settings(7);
  Status st = Repository::Create(Repo(), s);
  EXPECT_TRUE((st.code() == Status::Code::kInvalidArgument)) << st.ToString();
  EXPECT_NE(st.message().find("codec"), std::string::npos) << st.ToString();
  s = Settings(kCodecZlib);
  s.compression_level = 10;
  st = Repository::Create(Repo(), s);
  EXPECT_TRUE((st.code() == Status::Code::kInvalidArgument)) << st.ToString();
  EXPECT_NE(st.message().find("0 (off) to 9 for zlib"), std::string::npos) << st.ToString();

  CreateRepoOrDie(Repo(), Settings(kCodecZlib));
  OpenOptions o;
  o.codec = 7;
  std::unique_ptr<Repository> repo;
  st = Repository::Open(Repo(), o, &repo);
  EXPECT_TRUE((st.code() == Status::Code::kInvalidArgument)) << st.ToString();
  o.codec = kCodecZlib;
  o.compression_level = 12;
  st = Repository::Open(Repo(), o, &repo);
  EXPECT_TRUE((st.code() == Status::Code::kInvalidArgument)) << st.ToString();
}

TEST_F(CodecRepoTest, UnknownCodecInHeaderIsRefusedNotGuessed) {
  CreateRepoOrDie(Repo(), Settings(kCodecZlib));
  PatchHeaderByte(Repo(), format::kRepoCodecOff, 9);
  std::unique_ptr<Repository> repo;
  Status st = Repository::Open(Repo(), OpenOptions{}, &repo);
  EXPECT_EQ(st.code(), Status::Code::kNotSupported) << st.ToString();
  EXPECT_NE(st.message().find("codec 9"), std::string::npos) << st.ToString();
}

// A header written before codecs were a setting has 0 there: zlib, and a
// plain writable open leaves it as it was (version 1 here).
TEST_F(CodecRepoTest, OlderFixtureReadsAsZlibAndStaysAsItWas) {
  fs::copy(FixtureDir("repo-v1") + "/repo", Repo(), fs::copy_options::recursive);
  ASSERT_EQ(HeaderByte(Repo(), format::kRepoCodecOff), 0);
  auto repo = OpenOrDie(Repo());
  EXPECT_EQ(repo->settings().codec, kCodecZlib);
  EXPECT_GE(ReadAllChunks(repo.get()), 30u);
  const Digest d = PutOrDie(repo.get(), TextBytes(50 << 10, 9));
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, kCodecZlib);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(HeaderVersion(Repo()), 1u);
  EXPECT_EQ(HeaderByte(Repo(), format::kRepoCodecOff), 0);
}

}  // namespace
}  // namespace chunkfs
