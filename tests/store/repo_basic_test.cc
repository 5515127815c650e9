// Put/Get/Stat, sizes, codecs, dedup, reopen, sealing and the iterator.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "chunkfs/codec.h"
#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

class RepoBasicTest : public ::testing::Test {
 protected:
  void SetUp() override { CreateRepoOrDie(Repo(), SmallSettings(64 << 10, 64 << 10)); }
  std::string Repo() const { return dir_.Sub("repo"); }
  uint64_t DatBytes() const {
    uint64_t total = 0;
    for (auto& f : AllPackFiles(Repo(), ".dat")) total += FileSize(f);
    return total;
  }
  TempDir dir_;
};

TEST_F(RepoBasicTest, ZeroLengthChunk) {
  auto repo = OpenOrDie(Repo());
  Digest d = PutOrDie(repo.get(), "");
  EXPECT_EQ(d.ToHex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(HasChunk(repo.get(), ""));
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.raw_size, 0u);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo());
  EXPECT_TRUE(HasChunk(repo.get(), ""));
}

TEST_F(RepoBasicTest, OneByteChunk) {
  auto repo = OpenOrDie(Repo());
  PutOrDie(repo.get(), "x");
  EXPECT_TRUE(HasChunk(repo.get(), "x"));
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo(), true);
  EXPECT_TRUE(HasChunk(repo.get(), "x"));
}

TEST_F(RepoBasicTest, ExactlyMaxChunkSizeAccepted) {
  auto repo = OpenOrDie(Repo());
  std::string data = RandomBytes(64 << 10, 1);
  PutOrDie(repo.get(), data);
  EXPECT_TRUE(HasChunk(repo.get(), data));
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo());
  EXPECT_TRUE(HasChunk(repo.get(), data));
}

TEST_F(RepoBasicTest, OneByteOverMaxRefusedAndNothingStored) {
  auto repo = OpenOrDie(Repo());
  std::string data = RandomBytes((64 << 10) + 1, 2);
  uint64_t before = DatBytes();
  PutResult r;
  Status s = repo->Put(data, &r);
  EXPECT_TRUE(s.IsTooLarge()) << s.ToString();
  EXPECT_FALSE(repo->Contains(Sha256(data)));
  ASSERT_TRUE(repo->Sync().ok());
  EXPECT_EQ(DatBytes(), before);
  std::unique_ptr<DigestIterator> it = repo->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo());
  EXPECT_FALSE(repo->Contains(Sha256(data)));
}

TEST_F(RepoBasicTest, OpenOptionMaxChunkOverrideApplies) {
  OpenOptions options;
  options.max_chunk_size = 100;
  std::unique_ptr<Repository> repo;
  ASSERT_TRUE(Repository::Open(Repo(), options, &repo).ok());
  PutResult r;
  EXPECT_TRUE(repo->Put(std::string(100, 'a'), &r).ok());
  EXPECT_TRUE(repo->Put(std::string(101, 'a'), &r).IsTooLarge());
}

TEST_F(RepoBasicTest, IncompressibleStoredRaw) {
  auto repo = OpenOrDie(Repo());
  std::string data = RandomBytes(32 << 10, 3);
  Digest d = PutOrDie(repo.get(), data);
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, 0);
  EXPECT_EQ(info.raw_size, data.size());
  EXPECT_EQ(info.stored_size, data.size());
  EXPECT_TRUE(HasChunk(repo.get(), data));
}

TEST_F(RepoBasicTest, CompressibleStoredCompressedAndSmaller) {
  auto repo = OpenOrDie(Repo());
  std::string data = TextBytes(32 << 10, 4);
  Digest d = PutOrDie(repo.get(), data);
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, DefaultCodec());  // zstd if built in (codec_test.cc covers both codecs)
  EXPECT_EQ(info.raw_size, data.size());
  EXPECT_LT(info.stored_size, data.size() / 2);
  EXPECT_TRUE(HasChunk(repo.get(), data));
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo(), true);
  EXPECT_TRUE(HasChunk(repo.get(), data));
}

TEST(RepoCompressionLevel, LevelZeroStoresEverythingRaw) {
  TempDir dir;
  RepoSettings settings = SmallSettings();
  settings.compression_level = 0;
  CreateRepoOrDie(dir.Sub("r"), settings);
  auto repo = OpenOrDie(dir.Sub("r"));
  std::string data = TextBytes(8000, 5);
  Digest d = PutOrDie(repo.get(), data);
  ChunkInfo info;
  ASSERT_TRUE(repo->Stat(d, &info).ok());
  EXPECT_EQ(info.codec, 0);
  EXPECT_EQ(info.stored_size, data.size());
}

TEST_F(RepoBasicTest, DedupWritesNothingNew) {
  auto repo = OpenOrDie(Repo());
  std::string data = TextBytes(10000, 6);
  PutResult first, second;
  ASSERT_TRUE(repo->Put(data, &first).ok());
  EXPECT_TRUE(first.was_new);
  ASSERT_TRUE(repo->Sync().ok());
  auto before = TreeHashes(Repo() + "/shards");
  ASSERT_TRUE(repo->Put(data, &second).ok());
  EXPECT_FALSE(second.was_new);
  EXPECT_EQ(second.digest, first.digest);
  ASSERT_TRUE(repo->Sync().ok());
  EXPECT_EQ(TreeHashes(Repo() + "/shards"), before);
  EXPECT_EQ(repo->GetStats().dedup_hits, 1u);
}

TEST_F(RepoBasicTest, DedupAfterReopen) {
  std::string data = RandomBytes(5000, 7);
  {
    auto repo = OpenOrDie(Repo());
    PutOrDie(repo.get(), data);
  }
  auto repo = OpenOrDie(Repo());
  uint64_t before = DatBytes();
  PutResult r;
  ASSERT_TRUE(repo->Put(data, &r).ok());
  EXPECT_FALSE(r.was_new);
  ASSERT_TRUE(repo->Sync().ok());
  EXPECT_EQ(DatBytes(), before);
}

TEST_F(RepoBasicTest, WrongExpectedDigestRefusedNothingStored) {
  auto repo = OpenOrDie(Repo());
  std::string data = "the real content";
  Digest wrong = Sha256("other content");
  PutResult r;
  Status s = repo->Put(data, &r, &wrong);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_FALSE(repo->Contains(Sha256(data)));
  EXPECT_FALSE(repo->Contains(wrong));
  Digest right = Sha256(data);
  EXPECT_TRUE(repo->Put(data, &r, &right).ok());
  EXPECT_TRUE(HasChunk(repo.get(), data));
}

TEST_F(RepoBasicTest, GetAndStatOfAbsentDigestAreNotFound) {
  auto repo = OpenOrDie(Repo());
  PutOrDie(repo.get(), "present");
  std::string out;
  EXPECT_TRUE(repo->Get(Sha256("absent"), &out).IsNotFound());
  ChunkInfo info;
  EXPECT_TRUE(repo->Stat(Sha256("absent"), &info).IsNotFound());
  EXPECT_FALSE(repo->Contains(Sha256("absent")));
}

TEST_F(RepoBasicTest, ReopenKeepsEverythingAcrossSeals) {
  std::vector<std::string> chunks;
  {
    auto repo = OpenOrDie(Repo());
    for (int i = 0; i < 400; ++i) {
      chunks.push_back(i % 3 ? RandomBytes(100 + i * 37 % 9000, i) : TextBytes(i * 41 % 20000, i));
      PutOrDie(repo.get(), chunks.back());
    }
    ASSERT_TRUE(repo->Close().ok());
  }
  for (bool read_only : {false, true, false}) {
    auto repo = OpenOrDie(Repo(), read_only);
    for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
  }
}

TEST(RepoSealing, SealedPacksReadableAndNeverChange) {
  TempDir dir;
  std::string path = dir.Sub("r");
  CreateRepoOrDie(path, SmallSettings(4096));
  auto repo = OpenOrDie(path);
  std::vector<std::string> chunks;
  for (int i = 0; i < 30; ++i) {
    chunks.push_back(ContentInShard(0x11, 700, i));
    PutOrDie(repo.get(), chunks.back());
  }
  ASSERT_TRUE(repo->Sync().ok());
  auto dats = ListFiles(ShardDir(path, 0x11), ".dat");
  auto idxs = ListFiles(ShardDir(path, 0x11), ".idx");
  ASSERT_GE(dats.size(), 4u) << "pack_size_limit 4096 must force seals";
  // All but the newest pack are sealed.
  std::vector<std::pair<std::string, std::string>> sealed;
  for (size_t i = 0; i + 1 < dats.size(); ++i) sealed.emplace_back(dats[i], FileHash(dats[i]));
  for (size_t i = 0; i + 1 < idxs.size(); ++i) sealed.emplace_back(idxs[i], FileHash(idxs[i]));
  for (int i = 30; i < 60; ++i) {
    chunks.push_back(ContentInShard(0x11, 700, i));
    PutOrDie(repo.get(), chunks.back());
  }
  for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(path);
  PutOrDie(repo.get(), ContentInShard(0x11, 700, 999));
  ASSERT_TRUE(repo->Close().ok());
  for (auto& [file, hash] : sealed) EXPECT_EQ(FileHash(file), hash) << file << " changed after seal";
  repo = OpenOrDie(path, true);
  for (auto& c : chunks) ASSERT_TRUE(HasChunk(repo.get(), c));
}

TEST(RepoSealing, PackSizeLimitIsRespected) {
  TempDir dir;
  std::string path = dir.Sub("r");
  CreateRepoOrDie(path, SmallSettings(4096));
  auto repo = OpenOrDie(path);
  for (int i = 0; i < 40; ++i) PutOrDie(repo.get(), ContentInShard(0x22, 500, i));
  ASSERT_TRUE(repo->Close().ok());
  auto dats = ListFiles(ShardDir(path, 0x22), ".dat");
  ASSERT_GE(dats.size(), 4u);
  // A pack is sealed once it reaches the limit: it may exceed it by at most
  // one record plus header and trailer.
  for (auto& f : dats) EXPECT_LE(FileSize(f), 4096u + 500 + 200) << f;
}

TEST(RepoIterator, AllDigestsSortedAndSeekWorks) {
  TempDir dir;
  std::string path = dir.Sub("r");
  CreateRepoOrDie(path, SmallSettings(8192));
  auto repo = OpenOrDie(path);
  std::set<Digest> expected;
  for (int i = 0; i < 500; ++i) expected.insert(PutOrDie(repo.get(), RandomBytes(i % 300, i)));
  ASSERT_TRUE(repo->Sync().ok());
  for (bool reopen : {false, true}) {
    if (reopen) {
      ASSERT_TRUE(repo->Close().ok());
      repo = OpenOrDie(path, true);
    }
    std::vector<Digest> got;
    auto it = repo->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) got.push_back(it->digest());
    EXPECT_TRUE(it->status().ok());
    EXPECT_EQ(got, std::vector<Digest>(expected.begin(), expected.end()));
    // Seek to an existing digest, to a gap, before the first, after the last.
    auto mid = std::next(expected.begin(), 250);
    it->Seek(*mid);
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->digest(), *mid);
    Digest gap = *mid;
    gap.bytes[31] ^= 1;
    if (expected.count(gap) == 0) {
      it->Seek(gap);
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->digest(), *expected.lower_bound(gap));
    }
    it->Seek(Digest{});
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->digest(), *expected.begin());
    Digest top;
    top.bytes.fill(0xff);
    it->Seek(top);
    EXPECT_FALSE(it->Valid());
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->digest(), *expected.begin());
  }
}

TEST(RepoIterator, EmptyRepositoryIteratesNothing) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  auto repo = OpenOrDie(dir.Sub("r"), true);
  auto it = repo->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(RepoIterator, SeesUnsyncedWritesOfItsOwnInstance) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  auto repo = OpenOrDie(dir.Sub("r"));
  Digest d = PutOrDie(repo.get(), "fresh");
  auto it = repo->NewIterator();
  it->Seek(d);
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->digest(), d);
}

TEST(RepoStats, CountsChunksAndBytes) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  auto repo = OpenOrDie(dir.Sub("r"));
  PutOrDie(repo.get(), RandomBytes(1000, 1));
  PutOrDie(repo.get(), RandomBytes(2000, 2));
  RepoStats st = repo->GetStats();
  EXPECT_EQ(st.chunks, 2u);
  EXPECT_EQ(st.bytes_raw, 3000u);
  EXPECT_EQ(st.puts, 2u);
}

}  // namespace
}  // namespace chunkfs
