// Damage on disk, one named test per case: whatever is damaged, Get never
// returns wrong bytes, other chunks stay readable and writing goes on.
//
// Layout used (docs/FORMAT.md, all integers little-endian):
//   record: magic u32 | codec u8 | 3 reserved | raw_len u32 | stored_len u32 |
//           digest[32] | payload | crc32 of everything before it
//   idx:    header (count u32 at offset 24) | fanout u32[256] | entries[56]
//           (digest[32], offset u64, raw_len u32, stored_len u32, ...) |
//           crc32 of everything before it
#include <gtest/gtest.h>
#include <zlib.h>

#include <map>

#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

constexpr size_t kRecordHeader = 48;
constexpr size_t kIdxEntry = 56;
constexpr uint8_t kShard = 0x3a;

uint32_t Crc(const std::string& s, size_t off, size_t len) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data() + off), len));
}
void PutU32(std::string* s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * i));
}
// Offset of the first idx entry: the entries end 4 bytes before the end.
size_t IdxEntriesOff(const std::string& idx) {
  uint32_t count = 0;
  for (int i = 3; i >= 0; --i) count = (count << 8) | static_cast<uint8_t>(idx[24 + i]);
  EXPECT_GE(count, 2u);
  return idx.size() - 4 - size_t{count} * kIdxEntry;
}

struct Location {
  std::string dat;
  uint64_t payload = 0;  // offset of the payload in the .dat
};

class DamageTest : public ::testing::Test {
 protected:
  // Fills shard kShard with `n` raw (random) chunks of 700 bytes and closes.
  void Fill(uint64_t pack_limit, int n) {
    CreateRepoOrDie(Repo(), SmallSettings(pack_limit));
    auto repo = OpenOrDie(Repo());
    for (int i = 0; i < n; ++i) {
      chunks_.push_back(ContentInShard(kShard, 700, 10 + i));
      PutOrDie(repo.get(), chunks_.back());
    }
    ASSERT_TRUE(repo->Close().ok());
  }
  std::string Repo() const { return dir_.Sub("r"); }
  std::vector<std::string> Dats() const { return ListFiles(ShardDir(Repo(), kShard), ".dat"); }
  std::vector<std::string> Idxs() const { return ListFiles(ShardDir(Repo(), kShard), ".idx"); }
  static std::string IdxOf(const std::string& dat) { return dat.substr(0, dat.size() - 4) + ".idx"; }

  Location Locate(const std::string& chunk) const {
    for (auto& dat : Dats()) {
      std::string content = ReadFileOrDie(dat);
      size_t pos = content.find(chunk);
      if (pos != std::string::npos) return {dat, pos};
    }
    ADD_FAILURE() << "chunk not found in any pack";
    return {};
  }
  // Chunks stored in packs other than `dat`.
  std::vector<std::string> ChunksOutside(const std::string& dat) const {
    std::vector<std::string> out;
    for (auto& c : chunks_)
      if (Locate(c).dat != dat) out.push_back(c);
    return out;
  }

  void ExpectNoWrongBytes(Repository* repo) const {
    for (auto& c : chunks_) EXPECT_TRUE(NeverWrongBytes(repo, c));
  }
  void ExpectAllReadable(Repository* repo, const std::vector<std::string>& chunks) const {
    for (auto& c : chunks) EXPECT_TRUE(HasChunk(repo, c));
  }
  // Writing to the damaged shard goes on, and survives a reopen.
  void ExpectWritesGoOn() const {
    std::vector<std::string> more;
    {
      auto repo = OpenOrDie(Repo());
      ASSERT_NE(repo, nullptr);
      for (int i = 0; i < 12; ++i) {
        more.push_back(ContentInShard(kShard, 700, 5000 + i));
        PutOrDie(repo.get(), more.back());
      }
      ASSERT_TRUE(repo->Close().ok());
    }
    auto repo = OpenOrDie(Repo(), true);
    ExpectAllReadable(repo.get(), more);
  }
  // After damage to one idx: a read-only open never serves wrong bytes and
  // serves the other packs; a writable open rebuilds the idx from its .dat.
  void ExpectIdxDamageHandled(const std::string& dat) const {
    {
      auto ro = OpenOrDie(Repo(), true);
      ASSERT_NE(ro, nullptr);
      ExpectNoWrongBytes(ro.get());
      ExpectAllReadable(ro.get(), ChunksOutside(dat));
    }
    {
      auto rw = OpenOrDie(Repo());
      ASSERT_NE(rw, nullptr);
      ExpectNoWrongBytes(rw.get());
      ExpectAllReadable(rw.get(), chunks_);  // rebuilt from the .dat
    }
    ExpectWritesGoOn();
  }

  TempDir dir_;
  std::vector<std::string> chunks_;
};

TEST_F(DamageTest, RecordChecksumMismatch) {
  Fill(4096, 20);
  Location loc = Locate(chunks_[1]);
  FlipByte(loc.dat, loc.payload + 100);
  auto repo = OpenOrDie(Repo());
  std::string out;
  Status s = repo->Get(Sha256(chunks_[1]), &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (i != 1) {
      EXPECT_TRUE(HasChunk(repo.get(), chunks_[i])) << i;
    }
  }
  EXPECT_GE(repo->GetStats().corrupt_reads, 1u);
  repo.reset();
  ExpectWritesGoOn();
}

TEST_F(DamageTest, RecordChecksumMismatchReadOnlyUnsealedPack) {
  Fill(1 << 20, 8);
  Location loc = Locate(chunks_[3]);
  FlipByte(loc.dat, loc.payload + 10);
  auto repo = OpenOrDie(Repo(), true);
  std::string out;
  EXPECT_TRUE(repo->Get(Sha256(chunks_[3]), &out).IsCorruption());
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (i != 3) {
      EXPECT_TRUE(HasChunk(repo.get(), chunks_[i])) << i;
    }
  }
}

// A flipped bit in the middle of the active pack must not make recovery cut
// off the good, synced records after it.
TEST_F(DamageTest, RecordChecksumMismatchInUnsealedPackKeepsLaterChunks) {
  Fill(1 << 20, 8);
  Location loc = Locate(chunks_[3]);
  FlipByte(loc.dat, loc.payload + 10);
  auto repo = OpenOrDie(Repo());
  EXPECT_TRUE(NeverWrongBytes(repo.get(), chunks_[3]));
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (i != 3) {
      EXPECT_TRUE(HasChunk(repo.get(), chunks_[i])) << "chunk " << i << " lost";
    }
  }
}

// Same without an idx (or with damage past the last published idx): the
// scan meets the bad record first and must still not cut the later ones.
TEST_F(DamageTest, RecordChecksumMismatchInUnsealedPackWithoutIdxKeepsLaterChunks) {
  Fill(1 << 20, 8);
  Location loc = Locate(chunks_[3]);
  for (auto& idx : Idxs()) fs::remove(idx);
  FlipByte(loc.dat, loc.payload + 10);
  uint64_t size = FileSize(loc.dat);
  {
    auto repo = OpenOrDie(Repo());
    EXPECT_TRUE(NeverWrongBytes(repo.get(), chunks_[3]));
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (i != 3) {
        EXPECT_TRUE(HasChunk(repo.get(), chunks_[i])) << "chunk " << i << " lost";
      }
    }
  }
  EXPECT_EQ(FileSize(loc.dat), size) << "a damaged pack must be left as it is for repair";
  ExpectWritesGoOn();
}

TEST_F(DamageTest, RecordBadMagic) {
  Fill(4096, 20);
  Location loc = Locate(chunks_[2]);
  FlipByte(loc.dat, loc.payload - kRecordHeader);
  auto repo = OpenOrDie(Repo());
  std::string out;
  EXPECT_FALSE(repo->Get(Sha256(chunks_[2]), &out).ok());
  ExpectAllReadable(repo.get(), ChunksOutside(loc.dat));
  ExpectNoWrongBytes(repo.get());
}

TEST_F(DamageTest, PackHeaderBadMagic) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  FlipByte(dat, 0);
  for (bool ro : {true, false}) {
    auto repo = OpenOrDie(Repo(), ro);
    ASSERT_NE(repo, nullptr);
    ExpectNoWrongBytes(repo.get());
    ExpectAllReadable(repo.get(), ChunksOutside(dat));
  }
  ExpectWritesGoOn();
}

TEST_F(DamageTest, UnsealedPackHeaderBadMagic) {
  Fill(1 << 20, 6);
  std::string dat = Dats().front();
  FlipByte(dat, 1);
  auto repo = OpenOrDie(Repo());
  ASSERT_NE(repo, nullptr);
  ExpectNoWrongBytes(repo.get());
  repo.reset();
  ExpectWritesGoOn();
}

TEST_F(DamageTest, TornTailGarbageAppended) {
  Fill(1 << 20, 6);
  std::string dat = Dats().back();
  uint64_t size = FileSize(dat);
  WriteFileOrDie(dat, ReadFileOrDie(dat) + RandomBytes(100, 99));
  {
    auto ro = OpenOrDie(Repo(), true);
    ExpectAllReadable(ro.get(), chunks_);
  }
  auto repo = OpenOrDie(Repo());
  ExpectAllReadable(repo.get(), chunks_);
  ASSERT_TRUE(repo->Close().ok());
  EXPECT_EQ(FileSize(dat), size) << "garbage tail not cut";
  ExpectWritesGoOn();
  repo = OpenOrDie(Repo(), true);
  ExpectAllReadable(repo.get(), chunks_);
}

TEST_F(DamageTest, TornTailLastRecordCutMidway) {
  Fill(1 << 20, 6);
  std::string dat = Dats().back();
  fs::resize_file(dat, FileSize(dat) - 300);
  std::vector<std::string> intact(chunks_.begin(), chunks_.end() - 1);
  {
    auto ro = OpenOrDie(Repo(), true);  // idx still names the lost record
    ExpectNoWrongBytes(ro.get());
    ExpectAllReadable(ro.get(), intact);
  }
  auto repo = OpenOrDie(Repo());
  ExpectAllReadable(repo.get(), intact);
  std::string out;
  EXPECT_FALSE(repo->Get(Sha256(chunks_.back()), &out).ok());
  EXPECT_FALSE(repo->Contains(Sha256(chunks_.back())));
  PutResult r;
  ASSERT_TRUE(repo->Put(chunks_.back(), &r).ok());
  EXPECT_TRUE(r.was_new) << "the cut record must not count as stored";
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie(Repo(), true);
  ExpectAllReadable(repo.get(), chunks_);
}

TEST_F(DamageTest, TruncatedIdx) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  fs::resize_file(IdxOf(dat), FileSize(IdxOf(dat)) / 2);
  ExpectIdxDamageHandled(dat);
}

TEST_F(DamageTest, EmptyIdx) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  fs::resize_file(IdxOf(dat), 0);
  ExpectIdxDamageHandled(dat);
}

TEST_F(DamageTest, IdxBadCrc) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  FlipByte(IdxOf(dat), IdxEntriesOff(ReadFileOrDie(IdxOf(dat))) + kIdxEntry + 40);  // raw_len of entry 1
  ExpectIdxDamageHandled(dat);
}

TEST_F(DamageTest, IdxOutOfOrder) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  std::string idx = ReadFileOrDie(IdxOf(dat));
  const size_t entries_off = IdxEntriesOff(idx);
  std::string e0 = idx.substr(entries_off, kIdxEntry);
  std::string e1 = idx.substr(entries_off + kIdxEntry, kIdxEntry);
  idx.replace(entries_off, kIdxEntry, e1);
  idx.replace(entries_off + kIdxEntry, kIdxEntry, e0);
  PutU32(&idx, idx.size() - 4, Crc(idx, 0, idx.size() - 4));  // a valid CRC
  WriteFileOrDie(IdxOf(dat), idx);
  ExpectIdxDamageHandled(dat);
}

TEST_F(DamageTest, IdxOffsetsSwappedWithValidCrc) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  std::string idx = ReadFileOrDie(IdxOf(dat));
  const size_t entries_off = IdxEntriesOff(idx);
  // Entries stay sorted but point at each other's records.
  std::string o0 = idx.substr(entries_off + 32, 8);
  std::string o1 = idx.substr(entries_off + kIdxEntry + 32, 8);
  idx.replace(entries_off + 32, 8, o1);
  idx.replace(entries_off + kIdxEntry + 32, 8, o0);
  PutU32(&idx, idx.size() - 4, Crc(idx, 0, idx.size() - 4));
  WriteFileOrDie(IdxOf(dat), idx);
  for (bool ro : {true, false}) {
    auto repo = OpenOrDie(Repo(), ro);
    ExpectNoWrongBytes(repo.get());
    ExpectAllReadable(repo.get(), ChunksOutside(dat));
  }
}

TEST_F(DamageTest, IdxOffsetPastEndOfPack) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  std::string idx = ReadFileOrDie(IdxOf(dat));
  const size_t entries_off = IdxEntriesOff(idx);
  for (int i = 0; i < 8; ++i) idx[entries_off + 32 + i] = static_cast<char>(0x7f);
  PutU32(&idx, idx.size() - 4, Crc(idx, 0, idx.size() - 4));
  WriteFileOrDie(IdxOf(dat), idx);
  for (bool ro : {true, false}) {
    auto repo = OpenOrDie(Repo(), ro);
    ExpectNoWrongBytes(repo.get());
    ExpectAllReadable(repo.get(), ChunksOutside(dat));
  }
}

// Replaces chunk `i`'s payload with `other` (same length) and fixes the
// record CRC, so only the digest check can catch it.
void CraftDigestMismatch(const Location& loc, const std::string& other) {
  std::string content = ReadFileOrDie(loc.dat);
  content.replace(loc.payload, other.size(), other);
  size_t start = loc.payload - kRecordHeader;
  size_t crc_off = loc.payload + other.size();
  PutU32(&content, crc_off, Crc(content, start, crc_off - start));
  WriteFileOrDie(loc.dat, content);
}

TEST_F(DamageTest, DigestMismatchInSealedPack) {
  Fill(4096, 20);
  Location loc = Locate(chunks_[1]);
  std::string impostor = RandomBytes(700, 4242);
  CraftDigestMismatch(loc, impostor);
  for (bool ro : {true, false}) {
    auto repo = OpenOrDie(Repo(), ro);
    std::string out;
    Status s = repo->Get(Sha256(chunks_[1]), &out);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_FALSE(repo->Get(Sha256(impostor), &out).ok());
    for (size_t i = 0; i < chunks_.size(); ++i) {
      if (i != 1) {
      EXPECT_TRUE(HasChunk(repo.get(), chunks_[i]));
    }
    }
  }
}

TEST_F(DamageTest, DigestMismatchCopiedFromAnotherRecord) {
  Fill(1 << 20, 6);
  Location from = Locate(chunks_[4]);
  Location to = Locate(chunks_[2]);
  CraftDigestMismatch(to, ReadFileOrDie(from.dat).substr(from.payload, 700));
  for (bool ro : {true, false}) {
    auto repo = OpenOrDie(Repo(), ro);
    std::string out;
    Status s = repo->Get(Sha256(chunks_[2]), &out);
    EXPECT_FALSE(s.ok()) << "served chunk 4's bytes as chunk 2";
    EXPECT_TRUE(HasChunk(repo.get(), chunks_[4]));
    EXPECT_TRUE(HasChunk(repo.get(), chunks_[0]));
  }
}

TEST_F(DamageTest, StrayFilesAndDirectoriesDoNotBreakOpen) {
  Fill(4096, 10);
  WriteFileOrDie(Repo() + "/shards/README", "x");
  fs::create_directory(Repo() + "/shards/zz");
  fs::create_directory(ShardDir(Repo(), kShard) + "/pack-0000000000000099.dat");
  auto repo = OpenOrDie(Repo());
  ASSERT_NE(repo, nullptr);
  ExpectAllReadable(repo.get(), chunks_);
}

}  // namespace
}  // namespace chunkfs

namespace chunkfs {
namespace {
using namespace testutil;
namespace fs = std::filesystem;

// A chunk may itself hold pack bytes (backups of chunkfs repositories): a
// torn append of such a chunk must be cut like any torn tail, and the valid
// records inside its payload must not be taken for records of the pack.
TEST(TornTailOfChunkHoldingPackBytes, IsCutAndNeverCrashesRecovery) {
  TempDir dir;
  // Repository A holds X (raw, incompressible) in shard 0x11.
  CreateRepoOrDie(dir.Sub("a"), SmallSettings(1 << 20));
  std::string x = ContentInShard(0x11, 4096, 1);
  {
    auto a = OpenOrDie(dir.Sub("a"));
    PutOrDie(a.get(), x);
  }
  std::string pack_a = ReadFileOrDie(ListFiles(ShardDir(dir.Sub("a"), 0x11), ".dat").front());
  std::string record_x = pack_a.substr(32);  // header of 32 bytes, then X's record
  // Repository B holds Y = random + X's record + random, in another shard.
  std::string y = ContentInShard(0x22, 1000, 2) + record_x + RandomBytes(1000, 3);
  while (Sha256(y).shard() == 0x11) y += "!";
  std::string other = ContentInShard(Sha256(y).shard(), 3000, 4);
  CreateRepoOrDie(dir.Sub("b"), SmallSettings(1 << 20));
  {
    auto b = OpenOrDie(dir.Sub("b"));
    PutOrDie(b.get(), other);
    PutOrDie(b.get(), y);
  }
  std::string dat = ListFiles(ShardDir(dir.Sub("b"), Sha256(y).shard()), ".dat").front();
  fs::resize_file(dat, FileSize(dat) - 500);  // torn inside Y's trailing random bytes
  for (auto& idx : ListFiles(ShardDir(dir.Sub("b"), Sha256(y).shard()), ".idx")) fs::remove(idx);
  {
    auto ro = OpenOrDie(dir.Sub("b"), true);
    ASSERT_NE(ro, nullptr);
    EXPECT_TRUE(HasChunk(ro.get(), other));
    EXPECT_FALSE(ro->Contains(Sha256(x))) << "a record inside a chunk's payload was indexed";
  }
  auto b = OpenOrDie(dir.Sub("b"));
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(HasChunk(b.get(), other));
  EXPECT_FALSE(b->Contains(Sha256(y)));
  EXPECT_FALSE(b->Contains(Sha256(x)));
  PutOrDie(b.get(), y);  // writes go on; Y stored again
  EXPECT_TRUE(HasChunk(b.get(), y));
}

}  // namespace
}  // namespace chunkfs
