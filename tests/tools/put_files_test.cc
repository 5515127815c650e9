// The core of `chunkctl put` (tools/put_files.h) on a FaultEnv: a digest is
// printed only once its chunk is durable, and nothing is printed when the
// sync fails. The inputs are real files; the repository lives in the
// FaultEnv.
#include "put_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"
#include "cli.h"
#include "fault_env.h"

namespace chunkctl {
namespace {

namespace fs = std::filesystem;
using chunkfs::FaultEnv;
using chunkfs::FaultOp;

constexpr char kRepo[] = "/repo";

class PutFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(chunkfs::Repository::Create(kRepo, chunkfs::RepoSettings(), &env_).ok());
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/put-files-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const char* name : {"a", "b"}) {
      std::ofstream(dir_ + "/" + name) << "content of " << name;
      inputs_.push_back(dir_ + "/" + name);
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs PutFiles on the inputs; *err gets what it wrote to stderr. Each
  // printed line is passed to `on_print` too.
  int Put(std::string* err, const std::function<void()>& on_print = [] {}) {
    ::testing::internal::CaptureStderr();
    int rc = PutFiles(kRepo, inputs_, &env_, [&](const std::string& line) {
      lines_.push_back(line);
      on_print();
    });
    *err = ::testing::internal::GetCapturedStderr();
    return rc;
  }

  FaultEnv env_;
  std::string dir_;
  std::vector<std::string> inputs_;
  std::vector<std::string> lines_;
};

TEST_F(PutFilesTest, EveryPrintedDigestIsDurableWhenPrinted) {
  FaultEnv::Snapshot at_first_line;
  std::string err;
  int rc = Put(&err, [&] {
    if (!at_first_line) at_first_line = env_.DurableSnapshot();
  });
  ASSERT_EQ(rc, kExitOk) << err;
  EXPECT_EQ(err, "");
  ASSERT_EQ(lines_.size(), inputs_.size());
  ASSERT_TRUE(at_first_line);

  env_.Restore(at_first_line);  // the power is cut as the first line is printed
  chunkfs::OpenOptions options;
  options.env = &env_;
  std::unique_ptr<chunkfs::Repository> repo;
  ASSERT_TRUE(chunkfs::Repository::Open(kRepo, options, &repo).ok());
  for (size_t i = 0; i < lines_.size(); ++i) {
    EXPECT_EQ(lines_[i].substr(64), "  " + inputs_[i] + "\n");
    chunkfs::Digest digest;
    ASSERT_TRUE(chunkfs::Digest::FromHex(lines_[i].substr(0, 64), &digest)) << lines_[i];
    EXPECT_TRUE(repo->Contains(digest)) << "printed but lost in a power cut: " << lines_[i];
  }
  EXPECT_TRUE(repo->Close().ok());
}

TEST_F(PutFilesTest, AFailedSyncPrintsNoDigest) {
  env_.InjectError(FaultOp::kSync, EIO, /*after=*/0, /*count=*/-1);
  std::string err;
  int rc = Put(&err);
  EXPECT_EQ(rc, kExitFailure);
  EXPECT_TRUE(lines_.empty()) << lines_[0];
  EXPECT_EQ(err.rfind(std::string("chunkctl: sync ") + kRepo + ": ", 0), 0u) << err;
  EXPECT_NE(err.find("Input/output error"), std::string::npos) << err;
  EXPECT_NE(err.find("no digest printed: the 2 input(s) put are not known to be stored"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

// Linux may report a failed fsync once and succeed on the next one although
// the data was lost: the failed Sync decides, whatever Close() says after it.
TEST_F(PutFilesTest, AFailedSyncPrintsNoDigestEvenIfCloseSucceeds) {
  env_.InjectError(FaultOp::kSync, EIO, /*after=*/0, /*count=*/1);
  std::string err;
  EXPECT_EQ(Put(&err), kExitFailure);
  EXPECT_TRUE(lines_.empty()) << lines_[0];
  EXPECT_EQ(err.rfind(std::string("chunkctl: sync ") + kRepo + ": ", 0), 0u) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

TEST_F(PutFilesTest, RefusedInputsLeaveTheRepositoryUnopened) {
  inputs_ = {dir_, dir_ + "/absent"};  // a directory, a missing file
  env_.InjectError(FaultOp::kAny, EIO, /*after=*/0, /*count=*/-1);  // any store I/O would fail loudly
  int64_t ops_before = env_.op_count(FaultOp::kAny);
  std::string err;
  EXPECT_EQ(Put(&err), kExitFailure);
  EXPECT_TRUE(lines_.empty());
  EXPECT_EQ(err, "chunkctl: put " + dir_ + ": Invalid argument: " + dir_ + " is a directory, not a regular file\n" +
                     "chunkctl: put " + dir_ + "/absent: IO error: stat " + dir_ +
                     "/absent: No such file or directory\n");
  EXPECT_EQ(env_.op_count(FaultOp::kAny), ops_before);
}

}  // namespace
}  // namespace chunkctl
