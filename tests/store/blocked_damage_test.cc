// Damage to blocked records (docs/FORMAT.md "Blocked records", "Damage"):
// one small test per case of the block table, and a damaged block read
// through a repository (Corruption for that block, the others still read).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "../../store/src/block_table.h"
#include "../../store/src/codec.h"
#include "../../store/src/format.h"
#include "blocked_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using namespace blocktest;

// A payload of three blocks (text, random, text tail) and its chunk.
struct Payload {
  std::string raw, bytes;
  uint32_t count = 0;
};
Payload MakePayload() {
  Payload p;
  p.raw = TextBytes(kBlockSize, 1) + RandomBytes(kBlockSize, 2) + TextBytes(1000, 3);
  std::vector<EncodedBlock> blocks(3);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(EncodeBlock(std::string_view(p.raw).substr(i * kBlockSize, kBlockSize), kCodecZlib, 1, &blocks[i]).ok());
  }
  p.bytes = blocks::EncodePayload(blocks);
  p.count = 3;
  return p;
}
Status Decode(const Payload& p, std::string* out) {
  return codec::Decode(format::kCodecBlocks, p.bytes, static_cast<uint32_t>(p.raw.size()), out);
}
size_t EntryOff(uint32_t i) { return 8 + 44 * size_t{i}; }
::testing::AssertionResult CorruptionSaying(const Status& s, const std::string& words) {
  if (s.IsCorruption() && s.message().find(words) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "want Corruption with \"" << words << "\", got " << s.ToString();
}

TEST(BlockedPayload, DecodesToTheChunk) {
  Payload p = MakePayload();
  std::string out;
  ASSERT_TRUE(Decode(p, &out).ok());
  EXPECT_EQ(out, p.raw);
}

// A block whose bytes decode to other content than its hash (the table and
// its CRC intact): the block's SHA-256 catches it.
TEST(BlockedPayload, BlockHashMismatch) {
  Payload p = MakePayload();
  const size_t block1 = blocks::TableSize(p.count) + GetLE32(p.bytes, EntryOff(0) + 8);  // raw block 1's first byte
  ASSERT_EQ(p.bytes[EntryOff(1)], 0) << "block 1 is stored raw";
  p.bytes[block1 + 100] ^= 1;
  std::string out = "x";
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "block 1 of 3"));
  EXPECT_TRUE(out.empty()) << "never wrong bytes";
}

// A table that claims more entries than the payload holds.
TEST(BlockedPayload, TruncatedBlockTable) {
  Payload p = MakePayload();
  PutLE32(&p.bytes, 4, 1u << 26);
  std::string out;
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "truncated block table"));
  // And a payload cut inside the table.
  p = MakePayload();
  p.bytes.resize(EntryOff(2));
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "truncated block table"));
}

// A count that does not fit the chunk's size and the block size (table CRC
// rewritten, so only the count check can tell).
TEST(BlockedPayload, BadBlockCount) {
  Payload p = MakePayload();
  PutLE32(&p.bytes, 0, kBlockSize * 2);  // 2 MiB blocks: 2 blocks, not 3
  FixTableCrc(&p.bytes, 0, p.count);
  std::string out;
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "bad block count"));
  p = MakePayload();
  PutLE32(&p.bytes, 0, 0);  // block size 0
  FixTableCrc(&p.bytes, 0, p.count);
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "bad block count"));
}

// Lengths in the table that disagree with the record's raw_len or with
// the payload's size (table CRC rewritten).
TEST(BlockedPayload, BlockLengthsDisagreeWithRecord) {
  Payload p = MakePayload();
  PutLE32(&p.bytes, EntryOff(2) + 4, 999);  // the last block's raw_len
  FixTableCrc(&p.bytes, 0, p.count);
  std::string out;
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "block lengths disagree"));
  p = MakePayload();
  PutLE32(&p.bytes, EntryOff(0) + 8, GetLE32(p.bytes, EntryOff(0) + 8) - 1);  // a stored_len
  FixTableCrc(&p.bytes, 0, p.count);
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "block lengths disagree"));
}

TEST(BlockedPayload, TableChecksumMismatch) {
  Payload p = MakePayload();
  p.bytes[EntryOff(0) + 20] ^= 1;  // a hash byte
  std::string out;
  EXPECT_TRUE(CorruptionSaying(Decode(p, &out), "block table checksum"));
}

// ---- a damaged block in a repository ----------------------------------------

class BlockedDamage : public ::testing::Test {
 protected:
  // A chunk of 4 raw blocks; its block 2 damaged (record CRC rewritten,
  // so that only the block's hash can tell, as a reader of one block
  // never sees the record CRC).
  void SetUp() override {
    CreateRepoOrDie(Repo(), BigSettings());
    auto repo = OpenOrDie(Repo());
    data_ = RandomBytes(4 * kBlockSize - 5, 20);
    d_ = PutOrDie(repo.get(), data_);
    ASSERT_TRUE(repo->Close().ok());
    DamageRawBlock(Repo(), d_, data_, 2, /*fix_record_crc=*/true);
  }
  std::string Repo() const { return dir_.Sub("r"); }
  TempDir dir_;
  std::string data_;
  Digest d_;
};

TEST_F(BlockedDamage, ReadBlockOfADamagedBlockIsCorruptionTheOthersRead) {
  auto repo = OpenOrDie(Repo(), /*read_only=*/true);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo->OpenChunk(d_, &r).ok());
  std::string got = "x";
  Status s = r->ReadBlock(2, &got);
  EXPECT_TRUE(CorruptionSaying(s, "block 2 of 4"));
  EXPECT_NE(s.message().find(d_.ToHex()), std::string::npos) << s.ToString();
  EXPECT_TRUE(got.empty()) << "never wrong bytes";
  for (uint32_t i : {0u, 1u, 3u}) {
    ASSERT_TRUE(r->ReadBlock(i, &got).ok()) << i;
    EXPECT_EQ(got, data_.substr(size_t{i} * kBlockSize, kBlockSize));
  }
  EXPECT_TRUE(repo->Get(d_, &got).IsCorruption());
  EXPECT_TRUE(got.empty());
}

// A damaged block found through a reader is reported like a damaged Get:
// counted, and the next Put of the content stores the chunk again (a dedup
// hit would keep the damaged copy for ever). Also after the reader
// outlives the repository, it reports to nobody.
TEST_F(BlockedDamage, DamagedBlockReadIsStoredAgainByThePut) {
  auto repo = OpenOrDie(Repo());
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo->OpenChunk(d_, &r).ok());
  std::string got;
  ASSERT_TRUE(r->ReadBlock(2, &got).IsCorruption());
  EXPECT_EQ(repo->GetStats().corrupt_reads, 1u);
  PutResult pr;
  ASSERT_TRUE(repo->Put(data_, &pr).ok());
  EXPECT_TRUE(pr.was_new) << "a Put after the damage was seen must store the chunk again";
  EXPECT_EQ(ReadAllBlocks(repo.get(), d_), data_);
  ASSERT_TRUE(repo->Close().ok());
  repo.reset();
  EXPECT_TRUE(r->ReadBlock(2, &got).IsCorruption());  // the old reader, its repository gone
}

// A raw block is read straight into the caller's buffer: a pack cut short
// inside it (the file truncated under an open reader) is Corruption naming
// the block, the buffer emptied, never the short bytes.
TEST_F(BlockedDamage, RawBlockCutShortIsCorruption) {
  uint64_t rec = 0;
  const std::string dat = DatOf(Repo(), d_, &rec);
  DamageRawBlock(Repo(), d_, data_, 2, /*fix_record_crc=*/true);  // undo SetUp's damage: flips back
  auto repo = OpenOrDie(Repo(), /*read_only=*/true);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo->OpenChunk(d_, &r).ok());
  std::string got;
  ASSERT_TRUE(r->ReadBlock(0, &got).ok());  // the table is loaded before the cut
  ASSERT_EQ(::truncate(dat.c_str(), static_cast<off_t>(std::filesystem::file_size(dat) - kBlockSize / 2)), 0);
  got = "x";
  Status s = r->ReadBlock(3, &got);
  EXPECT_TRUE(CorruptionSaying(s, "block 3 of 4")) << s.ToString();
  EXPECT_TRUE(got.empty()) << "never the short bytes";
  ASSERT_TRUE(r->ReadBlock(1, &got).ok());
  EXPECT_EQ(got, data_.substr(kBlockSize, kBlockSize));
}

// A damaged table: every block of the chunk is Corruption (the offsets
// cannot be trusted), never wrong bytes.
TEST_F(BlockedDamage, DamagedTableMakesEveryBlockCorruption) {
  uint64_t rec = 0;
  const std::string dat = DatOf(Repo(), d_, &rec);
  std::string b = ReadFileOrDie(dat);
  b[rec + kRecordHeader + 8 + 44 + 5] ^= 1;  // block 1's raw_len
  WriteFileOrDie(dat, b);
  auto repo = OpenOrDie(Repo(), /*read_only=*/true);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo->OpenChunk(d_, &r).ok());
  std::string got;
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(CorruptionSaying(r->ReadBlock(i, &got), "block table checksum")) << i;
}

}  // namespace
}  // namespace chunkfs
