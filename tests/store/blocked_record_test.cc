// Blocked records (docs/FORMAT.md "Blocked records"): EncodeBlock, PutBlocks,
// Put of large chunks, OpenChunk / ChunkReader, round trips.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "chunkfs/blocks.h"
#include "chunkfs/codec.h"
#include "chunkfs/repository.h"
#include "blocked_util.h"
#include "../../store/src/format.h"
#include "prune_util.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;
using namespace blocktest;

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

// The CRC-32 of the stored bytes comes with the block (computed where it is
// encoded, so that PutBlocks need not read the bytes again).
TEST(EncodeBlock, GivesTheCrcOfItsStoredBytes) {
  for (const std::string& raw : {TextBytes(kBlockSize, 11), RandomBytes(70000, 12)}) {
    EncodedBlock b;
    ASSERT_TRUE(EncodeBlock(raw, kCodecZlib, 1, &b).ok());
    ASSERT_TRUE(b.crc.has_value());
    EXPECT_EQ(*b.crc, format::Crc32(b.bytes));
  }
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

// zstd is written exactly when this build has it (CHUNKFS_ZSTD); a build
// without it refuses, never stores something else. Asserts in both builds.
TEST(EncodeBlock, ZstdIsRefusedExactlyWhenNotBuiltIn) {
  EncodedBlock b;
  Status s = EncodeBlock("abc", kCodecZstd, 1, &b);
  if (CodecBuiltIn(kCodecZstd)) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  } else {
    EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
  }
}

// ---- Put / Get / OpenChunk round trips --------------------------------------

enum class Content { kText, kRandom, kMixed };

std::string MakeContent(Content c, size_t size, uint64_t seed) {
  if (c == Content::kText) return TextBytes(size, seed);
  if (c == Content::kRandom) return RandomBytes(size, seed);
  std::string out;  // text and random blocks in turn (half a block each at the seams)
  for (uint64_t i = 0; out.size() < size; ++i) {
    out += i % 2 == 0 ? TextBytes(kBlockSize / 2 * 3, seed + i) : RandomBytes(kBlockSize, seed + i);
  }
  out.resize(size);
  return out;
}

struct RoundTripCase {
  uint8_t codec;
  Content content;
  size_t size;
};

class BlockedRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

TEST_P(BlockedRoundTrip, PutGetAndEveryBlock) {
  const RoundTripCase c = GetParam();
  if (!CodecBuiltIn(c.codec)) GTEST_SKIP() << "codec not built in";
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), BigSettings(c.codec));
  auto repo = OpenOrDie(dir.Sub("r"));
  const std::string data = MakeContent(c.content, c.size, c.size + c.codec);
  const Digest d = PutOrDie(repo.get(), data);
  EXPECT_TRUE(HasChunk(repo.get(), data));
  EXPECT_EQ(CodecOf(repo.get(), d) == 3, c.size > kBlockSize) << "blocked record iff over one block";
  EXPECT_EQ(ReadAllBlocks(repo.get(), d), data);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo->OpenChunk(d, &r).ok());
  EXPECT_EQ(r->block_count(), c.size > kBlockSize ? (c.size + kBlockSize - 1) / kBlockSize : 1);
  // After a reopen (records read from the pack, the idx rebuilt or loaded).
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(dir.Sub("r"), /*read_only=*/true);
  EXPECT_TRUE(HasChunk(repo.get(), data));
  EXPECT_EQ(ReadAllBlocks(repo.get(), d), data);
}

std::vector<RoundTripCase> RoundTripCases() {
  std::vector<RoundTripCase> v;
  for (uint8_t codec : {kCodecZlib, kCodecZstd}) {
    for (Content content : {Content::kText, Content::kRandom, Content::kMixed}) {
      for (size_t size : {size_t{1}, size_t{kBlockSize - 1}, size_t{kBlockSize}, size_t{kBlockSize + 1},
                          size_t{kMaxChunk}}) {
        v.push_back({codec, content, size});
      }
    }
  }
  return v;
}

std::string CaseName(const ::testing::TestParamInfo<RoundTripCase>& info) {
  static const char* const kContent[] = {"text", "random", "mixed"};
  return std::string(CodecName(info.param.codec)) + "_" + kContent[static_cast<int>(info.param.content)] + "_" +
         std::to_string(info.param.size);
}

INSTANTIATE_TEST_SUITE_P(Sizes, BlockedRoundTrip, ::testing::ValuesIn(RoundTripCases()), CaseName);

class BlockedRepo : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateRepoOrDie(Repo(), BigSettings());
    repo_ = OpenOrDie(Repo());
  }
  std::string Repo() const { return dir_.Sub("r"); }
  std::vector<EncodedBlock> Encode(const std::string& data, uint8_t codec) {
    std::vector<EncodedBlock> blocks;
    for (size_t off = 0; off < data.size(); off += kBlockSize) {
      blocks.emplace_back();
      EXPECT_TRUE(EncodeBlock(std::string_view(data).substr(off, kBlockSize), codec, 1, &blocks.back()).ok());
    }
    return blocks;
  }
  TempDir dir_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(BlockedRepo, PutBlocksStoresABlockedRecordAndDedups) {
  const std::string data = MakeContent(Content::kMixed, 5 * kBlockSize + 77, 1);
  const Digest d = Sha256(data);
  PutResult r;
  ASSERT_TRUE(repo_->PutBlocks(d, Encode(data, kCodecZlib), &r).ok());
  EXPECT_TRUE(r.was_new);
  EXPECT_EQ(r.digest, d);
  EXPECT_EQ(CodecOf(repo_.get(), d), 3);
  EXPECT_TRUE(HasChunk(repo_.get(), data));
  EXPECT_EQ(ReadAllBlocks(repo_.get(), d), data);
  ASSERT_TRUE(repo_->PutBlocks(d, Encode(data, kCodecZlib), &r).ok());
  EXPECT_FALSE(r.was_new);
  ASSERT_TRUE(repo_->Put(data, &r).ok());
  EXPECT_FALSE(r.was_new);
  RepoStats st = repo_->GetStats();
  EXPECT_EQ(st.puts, 1u);
  EXPECT_EQ(st.dedup_hits, 2u);
  EXPECT_EQ(st.chunks, 1u);
  EXPECT_EQ(st.bytes_raw, data.size());
}

// Written from the blocks' own buffers with their CRCs combined, a blocked
// record is byte for byte what a CRC computed over the joined payload gives
// (blocks without a CRC), and check finds it whole.
TEST_F(BlockedRepo, PutBlocksWritesTheSameBytesWithOrWithoutBlockCrcs) {
  const std::string data = MakeContent(Content::kMixed, 3 * kBlockSize + 1234, 5);
  const Digest d = Sha256(data);
  std::vector<EncodedBlock> without = Encode(data, kCodecZlib);
  for (auto& b : without) b.crc.reset();
  TempDir other;
  CreateRepoOrDie(other.Sub("r"), BigSettings());
  auto repo2 = OpenOrDie(other.Sub("r"));
  PutResult r;
  ASSERT_TRUE(repo_->PutBlocks(d, Encode(data, kCodecZlib), &r).ok());
  ASSERT_TRUE(repo2->PutBlocks(d, std::move(without), &r).ok());
  ASSERT_TRUE(repo_->Close().ok());
  ASSERT_TRUE(repo2->Close().ok());
  const auto packs = AllPackFiles(Repo(), ".dat");
  const auto packs2 = AllPackFiles(other.Sub("r"), ".dat");
  ASSERT_EQ(packs.size(), 1u);
  ASSERT_EQ(packs2.size(), 1u);
  EXPECT_EQ(FileHash(packs[0]), FileHash(packs2[0]));
  ExpectCheckClean(Repo(), nullptr);
}

TEST_F(BlockedRepo, PutThenPutBlocksOfTheSameContentIsADedupHit) {
  const std::string data = TextBytes(2 * kBlockSize + 5, 2);
  PutResult r;
  ASSERT_TRUE(repo_->Put(data, &r).ok());
  ASSERT_TRUE(r.was_new);
  ASSERT_TRUE(repo_->PutBlocks(Sha256(data), Encode(data, kCodecZlib), &r).ok());
  EXPECT_FALSE(r.was_new);
}

TEST_F(BlockedRepo, PutBlocksOfOneBlockIsAPlainRecord) {
  const std::string data = TextBytes(300000, 3);
  std::vector<EncodedBlock> blocks = Encode(data, kCodecZlib);
  ASSERT_EQ(blocks.size(), 1u);
  const size_t stored = blocks[0].bytes.size();
  PutResult r;
  ASSERT_TRUE(repo_->PutBlocks(Sha256(data), std::move(blocks), &r).ok());
  ChunkInfo info;
  ASSERT_TRUE(repo_->Stat(r.digest, &info).ok());
  EXPECT_EQ(info.codec, kCodecZlib);
  EXPECT_EQ(info.stored_size, stored);
  EXPECT_TRUE(HasChunk(repo_.get(), data));
  // The same bytes as Put would have written: a dedup hit.
  ASSERT_TRUE(repo_->Put(data, &r).ok());
  EXPECT_FALSE(r.was_new);
}

TEST_F(BlockedRepo, PutBlocksOfNoBlockIsTheEmptyChunk) {
  PutResult r;
  ASSERT_TRUE(repo_->PutBlocks(Sha256(""), {}, &r).ok());
  EXPECT_TRUE(HasChunk(repo_.get(), ""));
  EXPECT_EQ(ReadAllBlocks(repo_.get(), r.digest), "");
}

TEST_F(BlockedRepo, PutBlocksRefusesBadInput) {
  const std::string data = TextBytes(2 * kBlockSize + 5, 4);
  PutResult r;
  // One block whose hash is not the digest given.
  Status s = repo_->PutBlocks(Sha256("other"), Encode(data.substr(0, 1000), kCodecZlib), &r);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  // A short block before the last.
  std::vector<EncodedBlock> blocks = Encode(data, kCodecZlib);
  std::swap(blocks[1], blocks[2]);
  s = repo_->PutBlocks(Sha256(data), std::move(blocks), &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  // A raw block whose bytes do not match its length.
  blocks = Encode(RandomBytes(2 * kBlockSize, 5), kCodecZlib);
  blocks[0].bytes.pop_back();
  s = repo_->PutBlocks(Sha256(data), std::move(blocks), &r);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  // Over the maximum chunk size.
  s = repo_->PutBlocks(Sha256(data), Encode(TextBytes(kMaxChunk + 1, 6), kCodecZlib), &r);
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  EXPECT_EQ(repo_->GetStats().chunks, 0u);
}

TEST_F(BlockedRepo, OpenChunkOfAPlainRecordIsOneBlock) {
  const std::string data = TextBytes(5000, 7);
  const Digest d = PutOrDie(repo_.get(), data);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo_->OpenChunk(d, &r).ok());
  EXPECT_EQ(r->size(), data.size());
  EXPECT_EQ(r->block_count(), 1u);
  EXPECT_EQ(r->block_size(), data.size());
  std::string got;
  ASSERT_TRUE(r->ReadBlock(0, &got).ok());
  EXPECT_EQ(got, data);
}

TEST_F(BlockedRepo, OpenChunkOfAnAbsentChunkIsNotFound) {
  std::unique_ptr<ChunkReader> r;
  EXPECT_TRUE(repo_->OpenChunk(Sha256("absent"), &r).IsNotFound());
}

TEST_F(BlockedRepo, BlocksReadInAnyOrder) {
  const std::string data = MakeContent(Content::kMixed, 4 * kBlockSize + 3, 8);
  const Digest d = PutOrDie(repo_.get(), data);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo_->OpenChunk(d, &r).ok());
  ASSERT_EQ(r->block_count(), 5u);
  for (uint32_t i : {4u, 0u, 2u, 2u, 1u, 3u}) {
    std::string got;
    ASSERT_TRUE(r->ReadBlock(i, &got).ok());
    EXPECT_EQ(got, data.substr(size_t{i} * kBlockSize, kBlockSize)) << i;
  }
}

// One reader, several threads at once (the mount loads a block for a read
// while its read-ahead loads the next): every block right in every thread.
TEST_F(BlockedRepo, BlocksReadConcurrentlyFromSeveralThreads) {
  const std::string data = MakeContent(Content::kMixed, 6 * kBlockSize + 11, 12);
  const Digest d = PutOrDie(repo_.get(), data);
  std::unique_ptr<ChunkReader> r;
  ASSERT_TRUE(repo_->OpenChunk(d, &r).ok());  // the table is loaded by the first ReadBlock, in some thread
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      std::string got;
      for (uint32_t k = 0; k < 7; k++) {
        const uint32_t i = (k + static_cast<uint32_t>(t) * 2) % 7;
        if (!r->ReadBlock(i, &got).ok() || got != data.substr(size_t{i} * kBlockSize, kBlockSize)) wrong[t]++;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; t++) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

// A reader keeps its pack open: a prune of its chunk and the compaction
// that removes the chunk's pack leave it reading.
TEST_F(BlockedRepo, ReaderSurvivesPruneAndRemovalOfItsPack) {
  const std::string a = RandomBytes(3 * kBlockSize + 10, 9), b = RandomBytes(3 * kBlockSize, 10);
  const Digest da = PutOrDie(repo_.get(), a);
  const Digest db = PutOrDie(repo_.get(), b);
  ASSERT_EQ(da.shard() == db.shard(), false) << "pick other seeds";
  ASSERT_TRUE(repo_->Sync().ok());
  std::unique_ptr<ChunkReader> ra, rb;
  ASSERT_TRUE(repo_->OpenChunk(da, &ra).ok());
  ASSERT_TRUE(repo_->OpenChunk(db, &rb).ok());
  uint64_t off = 0;
  const std::string old_pack = DatOf(Repo(), da, &off);
  // Prune b (its pack goes), then compact: a's pack is small, rewritten.
  ASSERT_EQ(PruneAllBut(repo_.get(), {da}), 1u);
  CompactOptions co;
  co.small_pack_bytes = 64ull << 20;
  CompactResult cr;
  ASSERT_TRUE(repo_->Compact(co, &cr).ok());
  EXPECT_GE(cr.packs_removed, 1u);
  std::string got;
  EXPECT_TRUE(repo_->Get(db, &got).IsNotFound());
  ExpectBlocks(rb.get(), b);
  ExpectBlocks(ra.get(), a);
  EXPECT_TRUE(HasChunk(repo_.get(), a));
  EXPECT_EQ(ReadAllBlocks(repo_.get(), da), a);
  (void)old_pack;
}

// Compaction copies a blocked record as bytes into a new pack and removes
// the old one: the copy reads block by block, and a reader opened before
// goes on reading the old pack.
TEST(BlockedCompaction, CopiesBlockedRecordsAndKeepsReadersReading) {
  TempDir dir;
  RepoSettings settings = BigSettings();
  settings.pack_size_limit = 1 << 20;  // the large record fills the pack: sealed at the next Sync
  CreateRepoOrDie(dir.Sub("r"), settings);
  auto repo = OpenOrDie(dir.Sub("r"));
  const std::string a = RandomBytes(3 * kBlockSize + 10, 11);
  const Digest da = Sha256(a);
  for (int i = 0; i < 8; ++i) PutOrDie(repo.get(), ContentInShard(da.shard(), 4000, 100 + i));
  PutOrDie(repo.get(), a);
  ASSERT_TRUE(repo->Sync().ok());
  uint64_t off = 0;
  const std::string before = DatOf(dir.Sub("r"), da, &off);
  std::unique_ptr<ChunkReader> reader;
  ASSERT_TRUE(repo->OpenChunk(da, &reader).ok());
  ASSERT_EQ(PruneAllBut(repo.get(), {da}), 8u);
  CompactOptions co;
  co.min_dead_share = 0.001;
  CompactResult cr;
  ASSERT_TRUE(repo->Compact(co, &cr).ok());
  EXPECT_GE(cr.packs_written, 1u);
  EXPECT_EQ(CodecOf(repo.get(), da), 3);
  EXPECT_EQ(ReadAllBlocks(repo.get(), da), a);
  ExpectBlocks(reader.get(), a);
  reader.reset();  // the old pack's last reader: its files go now
  EXPECT_FALSE(fs::exists(before));
  EXPECT_NE(DatOf(dir.Sub("r"), da, &off), before);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(dir.Sub("r"));
  EXPECT_TRUE(HasChunk(repo.get(), a));
}

// A read-only reader's pack removed by the writer (another Repository, as
// another process would be), and its descriptor evicted from the file cache
// meanwhile: the reader holds the open file, not a path.
TEST(BlockedCompaction, ReadOnlyReaderSurvivesTheWriterRemovingItsPack) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), BigSettings());
  auto writer = OpenOrDie(dir.Sub("r"));
  const std::string a = RandomBytes(2 * kBlockSize + 10, 12);
  const Digest da = PutOrDie(writer.get(), a);
  const std::string c = ContentInShard(static_cast<uint8_t>(da.shard() + 1), 100, 13);
  const Digest dc = PutOrDie(writer.get(), c);
  ASSERT_TRUE(writer->Close().ok());  // publishes the idx files
  writer = OpenOrDie(dir.Sub("r"));
  OpenOptions ro;
  ro.read_only = true;
  ro.max_open_files = 1;
  std::unique_ptr<Repository> reader_repo;
  ASSERT_TRUE(Repository::Open(dir.Sub("r"), ro, &reader_repo).ok());
  std::unique_ptr<ChunkReader> reader;
  ASSERT_TRUE(reader_repo->OpenChunk(da, &reader).ok());
  uint64_t off = 0;
  const std::string pack = DatOf(dir.Sub("r"), da, &off);
  ASSERT_EQ(PruneAllBut(writer.get(), {dc}), 1u);
  CompactResult cr;
  ASSERT_TRUE(writer->Compact(CompactOptions{}, &cr).ok());
  ASSERT_FALSE(fs::exists(pack));
  EXPECT_TRUE(HasChunk(reader_repo.get(), c));  // takes the cache's one descriptor
  ExpectBlocks(reader.get(), a);
}

TEST(BlockedVersion, NewRepositoryForLargeChunksIsVersion4) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("big"), BigSettings(kCodecZlib));
  EXPECT_EQ(ReadFileOrDie(dir.Sub("big") + "/chunkfs.repo")[8], 4);
  // Chunks of at most one block never make blocked records: the version stays.
  RepoSettings small = SmallSettings(1 << 20, kBlockSize);
  small.codec = kCodecZlib;
  CreateRepoOrDie(dir.Sub("small"), small);
  EXPECT_EQ(ReadFileOrDie(dir.Sub("small") + "/chunkfs.repo")[8], 2);
}

}  // namespace
}  // namespace chunkfs
