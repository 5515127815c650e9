// Blocked records (docs/FORMAT.md "Blocked records"): EncodeBlock, PutBlocks,
// Put of large chunks, OpenChunk / ChunkReader, round trips.
#include <gtest/gtest.h>

#include "chunkfs/blocks.h"
#include "chunkfs/codec.h"
#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using testutil::RandomBytes;
using testutil::TextBytes;

TEST(EncodeBlock, TextIsCompressedAndHashed) {
  std::string raw = TextBytes(kBlockSize, 1);
  EncodedBlock b;
  ASSERT_TRUE(EncodeBlock(raw, kCodecZlib, 1, &b).ok());
  EXPECT_EQ(b.codec, kCodecZlib);
  EXPECT_EQ(b.raw_len, kBlockSize);
  EXPECT_EQ(b.hash, Sha256(raw));
  EXPECT_LT(b.bytes.size(), raw.size());
}

TEST(EncodeBlock, RandomDataStaysRaw) {
  std::string raw = RandomBytes(100000, 2);
  EncodedBlock b;
  ASSERT_TRUE(EncodeBlock(raw, DefaultCodec(), 1, &b).ok());
  EXPECT_EQ(b.codec, 0);
  EXPECT_EQ(b.bytes, raw);
  EXPECT_EQ(b.hash, Sha256(raw));
}

TEST(EncodeBlock, LevelZeroStoresRaw) {
  std::string raw = TextBytes(5000, 3);
  EncodedBlock b;
  ASSERT_TRUE(EncodeBlock(raw, kCodecZlib, 0, &b).ok());
  EXPECT_EQ(b.codec, 0);
  EXPECT_EQ(b.bytes, raw);
}

TEST(EncodeBlock, RefusesEmptyAndOversizedBlocks) {
  EncodedBlock b;
  EXPECT_TRUE(EncodeBlock("", kCodecZlib, 1, &b).code() == Status::Code::kInvalidArgument);
  EXPECT_TRUE(EncodeBlock(TextBytes(kBlockSize + 1, 4), kCodecZlib, 1, &b).code() == Status::Code::kInvalidArgument);
  EXPECT_TRUE(EncodeBlock("abc", 9, 1, &b).code() == Status::Code::kInvalidArgument);
}

TEST(EncodeBlock, CodecThisBuildLacksIsNotSupported) {
  if (CodecBuiltIn(kCodecZstd)) GTEST_SKIP() << "zstd is built in";
  EncodedBlock b;
  EXPECT_TRUE(EncodeBlock("abc", kCodecZstd, 1, &b).code() == Status::Code::kNotSupported);
}

}  // namespace
}  // namespace chunkfs
