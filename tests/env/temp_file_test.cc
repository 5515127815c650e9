// Env::NewTempFile: the same contract from the POSIX Env (O_TMPFILE) and the
// in-memory FaultEnv, plus FaultEnv's injected errors on temporary files.
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chunkfs/env.h"
#include "fault_env.h"

namespace chunkfs {
namespace {

std::string ReadAt(const TempFile& f, uint64_t offset, size_t n) {
  std::string out(n, '?');
  size_t got = 0;
  Status s = f.Read(offset, n, out.data(), &got);
  if (!s.ok()) return "<" + s.ToString() + ">";
  out.resize(got);
  return out;
}

uint64_t SizeOf(const TempFile& f) {
  uint64_t size = 0;
  EXPECT_TRUE(f.Size(&size).ok());
  return size;
}

// Runs each test on both Envs; `dir_` exists in the Env under test.
class TempFileTest : public ::testing::TestWithParam<bool /*fault env*/> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      env_ = &fault_;
      dir_ = "/tmp";
      ASSERT_TRUE(fault_.CreateDir(dir_).ok());
    } else {
      env_ = Env::Default();
      char tmpl[] = "/tmp/chunkfs-tempfile-test-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      dir_ = tmpl;
    }
  }
  void TearDown() override {
    if (!GetParam()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  FaultEnv fault_;
  Env* env_ = nullptr;
  std::string dir_;
};

TEST_P(TempFileTest, WritesAtOffsetsReadTruncateAndSize) {
  std::unique_ptr<TempFile> f;
  ASSERT_TRUE(env_->NewTempFile(dir_, &f).ok());
  EXPECT_EQ(SizeOf(*f), 0u);
  EXPECT_EQ(ReadAt(*f, 0, 10), "");
  ASSERT_TRUE(f->Write(5, "world").ok());
  ASSERT_TRUE(f->Write(0, "hello").ok());
  EXPECT_EQ(ReadAt(*f, 0, 100), "helloworld");
  ASSERT_TRUE(f->Write(12, "!").ok());  // a hole reads as zeros
  EXPECT_EQ(ReadAt(*f, 0, 100), std::string("helloworld\0\0!", 13));
  EXPECT_EQ(ReadAt(*f, 3, 4), "lowo");
  EXPECT_EQ(ReadAt(*f, 13, 4), "");
  EXPECT_EQ(SizeOf(*f), 13u);
  ASSERT_TRUE(f->Truncate(4).ok());
  EXPECT_EQ(ReadAt(*f, 0, 100), "hell");
  ASSERT_TRUE(f->Truncate(6).ok());
  EXPECT_EQ(ReadAt(*f, 0, 100), std::string("hell\0\0", 6));
  EXPECT_EQ(SizeOf(*f), 6u);
}

TEST_P(TempFileTest, LeavesNoNameInTheDirectory) {
  std::unique_ptr<TempFile> a, b;
  ASSERT_TRUE(env_->NewTempFile(dir_, &a).ok());
  ASSERT_TRUE(env_->NewTempFile(dir_, &b).ok());
  ASSERT_TRUE(a->Write(0, "a").ok());
  ASSERT_TRUE(b->Write(0, "b").ok());
  EXPECT_EQ(ReadAt(*a, 0, 5), "a");  // two files, not one
  EXPECT_EQ(ReadAt(*b, 0, 5), "b");
  std::vector<std::string> names;
  ASSERT_TRUE(env_->GetChildren(dir_, &names).ok());
  EXPECT_TRUE(names.empty());
}

TEST_P(TempFileTest, MissingDirectoryIsENOENT) {
  std::unique_ptr<TempFile> f;
  Status s = env_->NewTempFile(dir_ + "/missing", &f);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.ToString().find(dir_ + "/missing"), std::string::npos) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Envs, TempFileTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Fault" : "Posix"; });

TEST(FaultTempFileTest, InjectedErrorsOnCreateWriteTruncateRead) {
  FaultEnv env;
  ASSERT_TRUE(env.CreateDir("/t").ok());
  std::unique_ptr<TempFile> f;
  env.InjectError(FaultOp::kTempCreate, EMFILE);
  Status s = env.NewTempFile("/t", &f);
  EXPECT_EQ(s.err(), EMFILE);
  ASSERT_TRUE(env.NewTempFile("/t", &f).ok());
  ASSERT_TRUE(f->Write(0, "abc").ok());

  env.InjectError(FaultOp::kTempWrite, ENOSPC);
  EXPECT_EQ(f->Write(3, "def").err(), ENOSPC);
  env.InjectError(FaultOp::kTempWrite, EIO);
  EXPECT_EQ(f->Truncate(1).err(), EIO);
  EXPECT_EQ(ReadAt(*f, 0, 10), "abc");  // the failed calls changed nothing
  env.InjectError(FaultOp::kTempRead, EIO);
  std::string buf(3, '\0');
  size_t got = 0;
  EXPECT_EQ(f->Read(0, 3, buf.data(), &got).err(), EIO);
  EXPECT_EQ(env.op_count(FaultOp::kTempCreate), 2);
  EXPECT_EQ(env.op_count(FaultOp::kTempWrite), 3);
  EXPECT_EQ(env.op_count(FaultOp::kTempRead), 2);
  EXPECT_EQ(env.op_count(FaultOp::kAppend), 0);  // temp files have their own kinds
}

TEST(FaultTempFileTest, DeadAfterPowerCut) {
  FaultEnv env;
  ASSERT_TRUE(env.CreateDir("/t").ok());
  std::unique_ptr<TempFile> f;
  ASSERT_TRUE(env.NewTempFile("/t", &f).ok());
  ASSERT_TRUE(f->Write(0, "abc").ok());
  env.PowerCut();
  EXPECT_EQ(f->Write(0, "x").err(), EIO);
  EXPECT_EQ(ReadAt(*f, 0, 3).substr(0, 1), "<");
  uint64_t size = 0;
  EXPECT_EQ(f->Size(&size).err(), EIO);
}

}  // namespace
}  // namespace chunkfs
