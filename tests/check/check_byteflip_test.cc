// Corruption containment: a single flipped byte (XOR 0x5a) at a sample of
// offsets in each kind of file (sealed .dat, sealed .idx, unsealed .dat,
// repository header), each on a fresh copy of the same repository. For every
// flip:
//  - read-only and writable opens succeed; every chunk is served with exactly
//    its bytes or refused (never wrong bytes); every chunk outside the damaged
//    record is served (outside the damaged pack for a flip in the pack
//    header: the store leaves such a pack untouched, FORMAT recovery rule 2);
//    writing goes on;
//  - check --read-data reports damage (every byte of every file kind is under
//    a CRC, including the reserved and padding bytes, so no flip may go
//    unreported);
//  - repair leaves a repository that checks clean, reports as lost only
//    chunks of the damaged record, and serves every chunk it did not report
//    lost.
// The number of flips per kind is printed.
#include <gtest/gtest.h>

#include <cstdio>

#include "check_util.h"

namespace chunkfs::checktest {
namespace {

class ByteFlipTest : public RepoTest {
 protected:
  void SetUp() override {
    // Shard 3a: packs 1 and 2 sealed (6 records each), pack 3 unsealed (2).
    Fill(4096, 14);
    auto dats = Dats();
    ASSERT_EQ(dats.size(), 3u);
    sealed_dat_ = Rel(Repo(), dats[0]);
    unsealed_dat_ = Rel(Repo(), dats[2]);
    pristine_ = DataTree(Repo());
  }

  std::string Work() const { return dir_.Sub("w"); }
  std::string Work2() const { return dir_.Sub("w2"); }
  static void CopyTree(const std::string& from, const std::string& to) {
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
  }

  // Offsets spread over `size` plus the structural ones given.
  static std::vector<uint64_t> Sample(uint64_t size, std::vector<uint64_t> fixed, int spread) {
    for (int i = 0; i < spread; ++i) fixed.push_back(size * (2 * i + 1) / (2 * spread));
    std::vector<uint64_t> out;
    for (uint64_t o : fixed) {
      if (o < size && std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::vector<uint64_t> DatOffsets(const std::string& dat, bool sealed) {
    auto recs = ParseRecords(dat);
    std::vector<uint64_t> f = {0, 7, 8, 12, 16, 24, 28, 31};  // pack header, its zero word and CRC
    for (size_t i : {size_t{0}, recs.size() - 1}) {
      const RecordSpan& r = recs[i];
      for (uint64_t d : {0, 3, 4, 5, 6, 8, 12, 16, 47, 48, 100}) f.push_back(r.begin + d);  // magic..payload
      f.push_back(r.end - 4);  // record CRC
      f.push_back(r.end - 1);
    }
    if (sealed) {
      for (uint64_t d : {32, 25, 24, 20, 16, 8, 4, 1}) f.push_back(dat.size() - d);  // trailer fields
    }
    return Sample(dat.size(), f, 12);
  }
  static std::vector<uint64_t> IdxOffsets(const std::string& idx) {
    const uint64_t e = kIdxHeader + 1024;
    std::vector<uint64_t> f = {0, 8, 12, 16, 24, 28, 32, 40, 44, 47,              // header
                               48, 48 + 4 * 0x3a, 48 + 4 * 0x80, 48 + 4 * 255 + 3,  // fanout
                               e, e + 1, e + 31, e + 32, e + 40, e + 44, e + 48, e + 49, e + 55,
                               e + kIdxEntry + 5, e + kIdxEntry + 36,  // entries
                               idx.size() - 4, idx.size() - 1};     // CRC
    return Sample(idx.size(), f, 10);
  }

  // Chunks (indexes into chunks_) that a flip at `off` of `rel` may cost.
  std::set<Digest> MayLose(const std::string& rel, uint64_t off) const {
    std::set<Digest> out;
    if (rel.size() < 4 || rel.compare(rel.size() - 4, 4, ".dat") != 0) return out;
    for (auto& r : ParseRecords(ReadFileOrDie(Repo() + "/" + rel))) {
      if (off < kPackHeader || (off >= r.begin && off < r.end)) out.insert(r.digest);
    }
    return out;
  }

  void ExpectServes(const std::string& repo_path, bool read_only, const std::set<Digest>& may_lose,
                    const std::string& what) {
    std::unique_ptr<Repository> repo;
    OpenOptions o;
    o.read_only = read_only;
    Status s = Repository::Open(repo_path, o, &repo);
    ASSERT_TRUE(s.ok()) << what << ": open (read_only=" << read_only << "): " << s.ToString();
    for (auto& c : chunks_) {
      ASSERT_TRUE(NeverWrongBytes(repo.get(), c)) << what;
      if (!may_lose.count(Sha256(c))) {
        ASSERT_TRUE(HasChunk(repo.get(), c)) << what << " read_only=" << read_only;
      }
    }
    if (!read_only) {
      std::string more = ContentInShard(kShard, 700, 31337);
      PutOrDie(repo.get(), more);
      ASSERT_TRUE(repo->Close().ok()) << what;
      auto ro = OpenOrDie(repo_path, true);
      ASSERT_TRUE(HasChunk(ro.get(), more)) << what << ": writing does not go on";
    }
  }

  // Runs every flip of `offsets` in `rel`; returns how many were tried.
  int FlipAll(const std::string& rel, const std::vector<uint64_t>& offsets) {
    int tried = 0, undetected = 0;
    for (uint64_t off : offsets) {
      const std::string what = rel + " byte " + std::to_string(off);
      SCOPED_TRACE(what);
      CopyTree(Repo(), Work());
      FlipByte(Work() + "/" + rel, off);
      const std::set<Digest> may_lose = MayLose(rel, off);
      tried++;
      CheckReport r = CheckOrDie(Work(), true);
      if (r.ok()) {
        undetected++;
        ADD_FAILURE() << what << ": check --read-data found nothing";
      }
      CopyTree(Work(), Work2());
      ExpectServes(Work(), true, may_lose, what);
      ExpectServes(Work2(), false, may_lose, what);
      if (HasFatalFailure()) return tried;
      // Repair on the untouched damaged copy.
      RepairReport rep;
      Status s = RepairRepository(Work(), nullptr, &rep);
      EXPECT_TRUE(s.ok()) << what << ": repair: " << s.ToString();
      std::set<Digest> lost(rep.lost.begin(), rep.lost.end());
      for (const Digest& d : lost) EXPECT_TRUE(may_lose.count(d)) << what << ": repair lost an undamaged chunk";
      CheckReport after = CheckOrDie(Work(), true);
      EXPECT_TRUE(after.ok()) << what << ": check after repair:\n" << Describe(after);
      auto repo = OpenOrDie(Work(), true);
      if (repo == nullptr) return tried;
      for (auto& c : chunks_) {
        if (lost.count(Sha256(c))) {
          EXPECT_TRUE(NeverWrongBytes(repo.get(), c)) << what;
          EXPECT_FALSE(repo->Contains(Sha256(c))) << what << ": reported lost but still there";
        } else {
          EXPECT_TRUE(HasChunk(repo.get(), c)) << what << ": not reported lost but unreadable";
        }
      }
      if (HasFailure()) return tried;
    }
    EXPECT_EQ(DataTree(Repo()), pristine_) << "the pristine repository was modified";
    printf("[ byte flips ] %s: %d flips tried, %d undetected by check\n", rel.c_str(), tried, undetected);
    return tried;
  }

  std::string sealed_dat_, unsealed_dat_;
  std::vector<std::pair<std::string, std::string>> pristine_;
};

TEST_F(ByteFlipTest, SealedPack) {
  std::string dat = ReadFileOrDie(Repo() + "/" + sealed_dat_);
  EXPECT_GE(FlipAll(sealed_dat_, DatOffsets(dat, true)), 30);
}

TEST_F(ByteFlipTest, SealedIdx) {
  std::string rel = sealed_dat_.substr(0, sealed_dat_.size() - 4) + ".idx";
  EXPECT_GE(FlipAll(rel, IdxOffsets(ReadFileOrDie(Repo() + "/" + rel))), 30);
}

TEST_F(ByteFlipTest, UnsealedPack) {
  std::string dat = ReadFileOrDie(Repo() + "/" + unsealed_dat_);
  ASSERT_EQ(ParseRecords(dat).size(), 2u);
  EXPECT_GE(FlipAll(unsealed_dat_, DatOffsets(dat, false)), 30);
}

// Every byte of both copies.
TEST_F(ByteFlipTest, RepoHeader) {
  std::vector<uint64_t> all;
  for (uint64_t o = 0; o < FileSize(Repo() + "/chunkfs.repo"); ++o) all.push_back(o);
  EXPECT_EQ(FlipAll("chunkfs.repo", all), 128);
}

}  // namespace
}  // namespace chunkfs::checktest
