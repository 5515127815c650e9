// check --read-data and blocked records (docs/FORMAT.md "Blocked records"):
// every block's SHA-256 is verified besides the whole chunk's, so a damaged
// block is reported, naming its chunk and block, even when the record's CRC
// was made to match.
#include "../store/blocked_util.h"
#include "check_util.h"

namespace chunkfs::checktest {
namespace {

using namespace blocktest;

class CheckBlocked : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateRepoOrDie(Repo(), BigSettings());
    auto repo = OpenOrDie(Repo());
    data_ = RandomBytes(4 * kBlockSize - 5, 30);
    d_ = PutOrDie(repo.get(), data_);
    ASSERT_TRUE(repo->Close().ok());
  }
  void DamageBlock2(bool fix_record_crc) { DamageRawBlock(Repo(), d_, data_, 2, fix_record_crc); }
  std::string Repo() const { return dir_.Sub("r"); }
  TempDir dir_;
  std::string data_;
  Digest d_;
};

TEST_F(CheckBlocked, CleanRepositoryWithBlockedRecordsChecksClean) {
  CheckReport r = CheckOrDie(Repo(), /*read_data=*/true);
  EXPECT_TRUE(r.problems.empty()) << Describe(r);
}

TEST_F(CheckBlocked, ReadDataFindsADamagedBlockBehindAMatchingRecordCrc) {
  DamageBlock2(/*fix_record_crc=*/true);
  EXPECT_TRUE(CheckOrDie(Repo(), /*read_data=*/false).problems.empty()) << "only the data tells";
  CheckReport r = CheckOrDie(Repo(), /*read_data=*/true);
  ASSERT_EQ(r.problems.size(), 1u) << Describe(r);
  const Problem& p = r.problems[0];
  EXPECT_NE(p.what.find("block 2 of 4"), std::string::npos) << p.what;
  EXPECT_NE(p.what.find(d_.ToHex()), std::string::npos) << p.what;
  ASSERT_EQ(p.affected.size(), 1u);
  EXPECT_EQ(p.affected[0], d_);
}

TEST_F(CheckBlocked, DamagedBlockFailsTheRecordCrc) {
  DamageBlock2(/*fix_record_crc=*/false);
  CheckReport r = CheckOrDie(Repo(), /*read_data=*/false);
  EXPECT_FALSE(r.problems.empty()) << Describe(r);
}

}  // namespace
}  // namespace chunkfs::checktest
