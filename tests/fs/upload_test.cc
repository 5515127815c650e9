// Upload: writes at any offset, truncation, spilling, the memory budget and
// idempotent commits (no mount).
#include "upload.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <random>

namespace chunkfs::fs {
namespace {

class UploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chunkfs-upload-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ::rmdir(dir_.c_str()); }
  std::string Content(Upload& u) {
    std::string out;
    EXPECT_EQ(u.Read(0, u.size() + 10, &out), 0);
    return out;
  }
  // A put function that records what it stored.
  Upload::PutFn Recorder(std::vector<std::string>* stored, int fail = 0) {
    return [stored, fail](std::string_view content, CommitResult* r) {
      if (fail) return fail;
      stored->emplace_back(content);
      r->digest = Sha256(content);
      return 0;
    };
  }
  std::string dir_;
};

TEST_F(UploadTest, WritesAtOffsetsWithHoles) {
  WriteBudget budget(1 << 20);
  Upload u(&budget, dir_, 1 << 20);
  EXPECT_EQ(u.Write(5, "world"), 0);
  EXPECT_EQ(u.Write(0, "hello"), 0);
  EXPECT_EQ(u.size(), 10u);
  EXPECT_EQ(Content(u), "helloworld");
  EXPECT_EQ(u.Write(12, "!"), 0);
  EXPECT_EQ(Content(u), std::string("helloworld\0\0!", 13));
  EXPECT_EQ(u.Truncate(5), 0);
  EXPECT_EQ(Content(u), "hello");
  EXPECT_EQ(u.Truncate(7), 0);
  EXPECT_EQ(Content(u), std::string("hello\0\0", 7));
  std::string part;
  EXPECT_EQ(u.Read(3, 3, &part), 0);
  EXPECT_EQ(part, std::string("lo\0", 3));
  EXPECT_EQ(u.Read(100, 3, &part), 0);
  EXPECT_EQ(part, "");
  EXPECT_FALSE(u.spilled());
}

TEST_F(UploadTest, BudgetIsSharedAndUploadsSpillBeyondIt) {
  WriteBudget budget(256 << 10);
  Upload a(&budget, dir_, 16 << 20);
  Upload b(&budget, dir_, 16 << 20);
  std::string block(100 << 10, 'a');
  EXPECT_EQ(a.Write(0, block), 0);
  EXPECT_FALSE(a.spilled());
  EXPECT_LE(budget.used(), budget.limit());
  EXPECT_EQ(b.Write(0, block), 0);
  EXPECT_EQ(b.Write(block.size(), block), 0);  // b must spill now
  EXPECT_TRUE(b.spilled());
  EXPECT_LE(budget.used(), budget.limit());
  EXPECT_EQ(Content(b), block + block);
  EXPECT_EQ(b.Write(50, "xyz"), 0);
  EXPECT_EQ(Content(b).substr(48, 7), "aaxyzaa");
  EXPECT_EQ(b.Truncate(10), 0);
  EXPECT_EQ(Content(b), std::string(10, 'a'));
  std::vector<std::string> stored;
  CommitResult r;
  EXPECT_EQ(b.Commit(Recorder(&stored), &r), 0);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0], std::string(10, 'a'));
}

TEST_F(UploadTest, BudgetIsReleasedWhenUploadsEnd) {
  WriteBudget budget(1 << 20);
  {
    Upload u(&budget, dir_, 1 << 20);
    EXPECT_EQ(u.Write(0, std::string(300000, 'x')), 0);
    EXPECT_GT(budget.used(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST_F(UploadTest, ZeroBudgetSpillsEverything) {
  WriteBudget budget(0);
  Upload u(&budget, dir_, 1 << 20);
  EXPECT_EQ(u.Write(0, "spilled"), 0);
  EXPECT_TRUE(u.spilled());
  EXPECT_EQ(budget.used(), 0u);
  std::vector<std::string> stored;
  CommitResult r;
  EXPECT_EQ(u.Commit(Recorder(&stored), &r), 0);
  EXPECT_EQ(stored.at(0), "spilled");
  EXPECT_EQ(r.size, 7u);
}

TEST_F(UploadTest, TooLargeWritePoisonsTheUpload) {
  WriteBudget budget(1 << 20);
  Upload u(&budget, dir_, 100);
  EXPECT_EQ(u.Write(0, std::string(100, 'a')), 0);
  EXPECT_EQ(u.Write(100, "b"), EFBIG);
  EXPECT_EQ(u.Write(UINT64_MAX - 1, "bb"), EFBIG);  // no overflow
  EXPECT_EQ(u.size(), 100u);
  std::vector<std::string> stored;
  CommitResult r;
  EXPECT_EQ(u.Commit(Recorder(&stored), &r), EFBIG);
  EXPECT_TRUE(stored.empty());
  EXPECT_EQ(u.Truncate(101), EFBIG);
  EXPECT_EQ(u.Truncate(10), 0);  // a valid truncation clears it
  EXPECT_EQ(u.Commit(Recorder(&stored), &r), 0);
  EXPECT_EQ(stored.at(0), std::string(10, 'a'));
}

TEST_F(UploadTest, CommitIsIdempotent) {
  WriteBudget budget(1 << 20);
  Upload u(&budget, dir_, 1 << 20);
  std::vector<std::string> stored;
  CommitResult r1, r2;
  bool did_put = false;
  EXPECT_TRUE(u.dirty());
  EXPECT_EQ(u.Commit(Recorder(&stored), &r1, &did_put), 0);  // empty content
  EXPECT_TRUE(did_put);
  EXPECT_EQ(u.Commit(Recorder(&stored), &r2, &did_put), 0);
  EXPECT_FALSE(did_put);
  EXPECT_EQ(stored.size(), 1u);
  EXPECT_EQ(r1.digest, r2.digest);
  EXPECT_EQ(u.Write(0, "more"), 0);
  EXPECT_TRUE(u.dirty());
  EXPECT_EQ(u.Commit(Recorder(&stored), &r2), 0);
  EXPECT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1], "more");
  EXPECT_GT(r2.version, r1.version);
  // A failed commit is answered again, unchanged content is not re-stored.
  EXPECT_EQ(u.Write(0, "MORE"), 0);
  EXPECT_EQ(u.Commit(Recorder(&stored, EIO), &r2), EIO);
  EXPECT_EQ(u.Commit(Recorder(&stored), &r2, &did_put), EIO);
  EXPECT_FALSE(did_put);
  EXPECT_FALSE(u.dirty());
}

TEST_F(UploadTest, InitialContent) {
  WriteBudget budget(1 << 20);
  Upload u(&budget, dir_, 1 << 20);
  EXPECT_EQ(u.SetInitialContent("0123456789"), 0);
  EXPECT_EQ(u.Write(2, "ab"), 0);
  EXPECT_EQ(Content(u), "01ab456789");
  Upload small(&budget, dir_, 4);
  EXPECT_EQ(small.SetInitialContent("12345"), EFBIG);
}

TEST_F(UploadTest, RandomOperationsMatchAModelInBothModes) {
  for (uint64_t limit : {uint64_t{64} << 20, uint64_t{0}, uint64_t{200} << 10}) {
    WriteBudget budget(limit);
    Upload u(&budget, dir_, 4 << 20);
    std::mt19937_64 rng(limit + 1);
    std::string model;
    for (int op = 0; op < 300; op++) {
      if (rng() % 5 == 0) {
        size_t size = rng() % (1 << 20);
        ASSERT_EQ(u.Truncate(size), 0);
        model.resize(size, '\0');
      } else {
        size_t off = rng() % (1 << 20), len = 1 + rng() % 50000;
        std::string data(len, static_cast<char>('a' + op % 26));
        ASSERT_EQ(u.Write(off, data), 0);
        if (model.size() < off + len) model.resize(off + len, '\0');
        model.replace(off, len, data);
      }
      ASSERT_LE(budget.used(), limit);
    }
    ASSERT_EQ(Content(u), model) << "limit " << limit;
  }
}

}  // namespace
}  // namespace chunkfs::fs
