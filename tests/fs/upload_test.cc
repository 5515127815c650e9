// Upload: writes at any offset, truncation, spilling, the memory budget and
// idempotent commits (no mount).
#include "upload.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "fault_env.h"

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


TEST_F(UploadTest, WriteStraddlingTheMaximumWritesNothing) {
  for (uint64_t limit : {uint64_t{1} << 20, uint64_t{0}}) {  // in memory, spilled
    SCOPED_TRACE(limit);
    WriteBudget budget(limit);
    Upload u(&budget, dir_, 100);
    EXPECT_EQ(u.Write(0, std::string(98, 'a')), 0);
    EXPECT_EQ(u.Write(98, "end"), EFBIG);  // 2 bytes fit, the third does not
    EXPECT_EQ(u.size(), 98u);
    EXPECT_EQ(Content(u), std::string(98, 'a'));
    std::vector<std::string> stored;
    CommitResult r;
    EXPECT_EQ(u.Commit(Recorder(&stored), &r), EFBIG);
    EXPECT_TRUE(stored.empty());
    EXPECT_EQ(u.Write(98, "en"), 0);  // exactly the maximum is fine
    EXPECT_EQ(u.Truncate(100), 0);
    EXPECT_EQ(u.Commit(Recorder(&stored), &r), 0);
    EXPECT_EQ(stored.at(0), std::string(98, 'a') + "en");
  }
}

// ---- spill I/O through the Env (FaultEnv injects its errors)

class UploadFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDir("/tmp").ok()); }
  // An upload that spills at once (no memory budget).
  std::unique_ptr<Upload> NewSpilled(uint64_t max_size = 1 << 20) {
    return std::make_unique<Upload>(&budget_, "/tmp", max_size, &env_);
  }
  FaultEnv env_;
  WriteBudget budget_{0};
  std::vector<std::string> stored_;
  Upload::PutFn put_ = [this](std::string_view content, CommitResult* r) {
    stored_.emplace_back(content);
    r->digest = Sha256(content);
    return 0;
  };
};

TEST_F(UploadFaultTest, SpillGoesThroughTheEnv) {
  auto u = NewSpilled();
  EXPECT_EQ(u->Write(0, "hello"), 0);
  EXPECT_TRUE(u->spilled());
  EXPECT_EQ(env_.op_count(FaultOp::kTempCreate), 1);
  EXPECT_EQ(env_.op_count(FaultOp::kTempWrite), 1);
  CommitResult r;
  EXPECT_EQ(u->Commit(put_, &r), 0);
  EXPECT_EQ(stored_.at(0), "hello");
  EXPECT_EQ(env_.op_count(FaultOp::kTempRead), 1);
}

TEST_F(UploadFaultTest, SpillWriteErrorFailsTheWriteAndEveryCommit) {
  for (int err : {ENOSPC, EIO}) {
    SCOPED_TRACE(err);
    stored_.clear();
    auto u = NewSpilled();
    ASSERT_EQ(u->Write(0, "abc"), 0);
    env_.InjectError(FaultOp::kTempWrite, err);
    EXPECT_EQ(u->Write(3, "def"), err);
    CommitResult r;
    bool did_put = true;
    EXPECT_EQ(u->Commit(put_, &r, &did_put), err);  // "abc" alone is never stored
    EXPECT_EQ(u->Commit(put_, &r), err);
    EXPECT_FALSE(did_put);
    EXPECT_TRUE(stored_.empty());
    EXPECT_EQ(u->Truncate(3), 0);  // the writer starts over: fine again
    EXPECT_EQ(u->Commit(put_, &r), 0);
    EXPECT_EQ(stored_.at(0), "abc");
  }
}

TEST_F(UploadFaultTest, FailedSpillFailsTheWriteAndChangesNothing) {
  WriteBudget budget(64 << 10);  // the first write fits in memory, the second spills
  Upload u(&budget, "/tmp", 1 << 20, &env_);
  ASSERT_EQ(u.Write(0, std::string(1000, 'a')), 0);
  ASSERT_FALSE(u.spilled());
  for (FaultOp op : {FaultOp::kTempCreate, FaultOp::kTempWrite}) {
    env_.InjectError(op, ENOSPC);
    EXPECT_EQ(u.Write(1000, std::string(100 << 10, 'b')), ENOSPC);
    EXPECT_FALSE(u.spilled());
    EXPECT_EQ(u.size(), 1000u);
    EXPECT_EQ(budget.used(), 64u << 10);
  }
  CommitResult r;
  EXPECT_EQ(u.Commit(put_, &r), ENOSPC);
  EXPECT_TRUE(stored_.empty());
  EXPECT_EQ(u.Write(1000, std::string(100 << 10, 'b')), 0);  // now it spills
  EXPECT_TRUE(u.spilled());
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(u.Truncate(u.size()), 0);
  EXPECT_EQ(u.Commit(put_, &r), 0);
  EXPECT_EQ(stored_.at(0), std::string(1000, 'a') + std::string(100 << 10, 'b'));
}

TEST_F(UploadFaultTest, SpillReadErrorFailsReadAndCommitStoresNothing) {
  auto u = NewSpilled();
  ASSERT_EQ(u->Write(0, "abcdef"), 0);
  env_.InjectError(FaultOp::kTempRead, EIO);
  std::string out = "x";
  EXPECT_EQ(u->Read(0, 6, &out), EIO);
  EXPECT_EQ(out, "");
  env_.InjectError(FaultOp::kTempRead, EIO);
  CommitResult r;
  EXPECT_EQ(u->Commit(put_, &r), EIO);
  EXPECT_TRUE(stored_.empty());
  EXPECT_EQ(u->Commit(put_, &r), EIO);  // that version's outcome, answered again
  EXPECT_TRUE(stored_.empty());
  EXPECT_EQ(u->Write(6, "g"), 0);  // a new version is read again
  EXPECT_EQ(u->Commit(put_, &r), 0);
  EXPECT_EQ(stored_.at(0), "abcdefg");
}

// ---- CommitGate

TEST(CommitGateTest, BoundsLargeCommitsAndLetsSmallOnesPass) {
  CommitGate gate(2);
  WriteBudget budget(64 << 20);
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0;
  bool open = false;
  auto blocking_put = [&](std::string_view, CommitResult*) {
    std::unique_lock<std::mutex> l(mu);
    ++inside;
    cv.notify_all();
    cv.wait(l, [&] { return open; });
    --inside;
    return 0;
  };
  std::vector<std::unique_ptr<Upload>> big;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; i++) {
    big.push_back(std::make_unique<Upload>(&budget, "/nonexistent", 4 << 20));
    ASSERT_EQ(big.back()->Write(0, std::string(CommitGate::kMinBytes, static_cast<char>('a' + i))), 0);
  }
  for (auto& u : big) {
    threads.emplace_back([&, up = u.get()] {
      CommitResult r;
      EXPECT_EQ(up->Commit(blocking_put, &r, nullptr, &gate), 0);
    });
  }
  {
    // Two commits get in; the other two wait at the gate (without it, all
    // four would be inside).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::unique_lock<std::mutex> l(mu);
    while (!(inside == 4 || (inside == 2 && gate.waits() == 2)) &&
           std::chrono::steady_clock::now() < deadline) {
      cv.wait_for(l, std::chrono::milliseconds(10));  // waits() is polled
    }
    EXPECT_EQ(inside, 2);
  }
  EXPECT_EQ(gate.waits(), 2u);
  EXPECT_EQ(gate.in_use(), 2u);
  // A small commit passes while the gate is full.
  Upload small(&budget, "/nonexistent", 4 << 20);
  ASSERT_EQ(small.Write(0, std::string(CommitGate::kMinBytes - 1, 's')), 0);
  CommitResult r;
  EXPECT_EQ(small.Commit([](std::string_view, CommitResult*) { return 0; }, &r, nullptr, &gate), 0);
  {
    std::lock_guard<std::mutex> l(mu);
    open = true;
  }
  cv.notify_all();
  for (auto& t : threads) t.join();
  EXPECT_EQ(gate.in_use(), 0u);
  EXPECT_EQ(gate.peak(), 2u);
}

}  // namespace
}  // namespace chunkfs::fs
