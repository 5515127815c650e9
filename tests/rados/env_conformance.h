// Env conformance: what the store relies on from every Env (env.h), run on
// each EnvKind that includes this file and instantiates EnvConformance.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "chunkfs/env.h"
#include "env_under_test.h"

namespace chunkfs::testing_env {

class EnvConformance : public ::testing::TestWithParam<EnvKind> {
 protected:
  void SetUp() override {
    t_ = GetParam().make();
    ASSERT_NE(t_.env, nullptr) << "no Env to test (see above)";
    env_ = t_.env;
  }
  void TearDown() override {
    if (t_.cleanup) t_.cleanup();
  }
  std::string Path(const std::string& name) const { return t_.dir + "/" + name; }
  std::string Read(const std::string& name) {
    std::string got;
    Status s = env_->ReadFileToString(Path(name), &got);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return got;
  }
  std::vector<std::string> Children(const std::string& dir) {
    std::vector<std::string> names;
    Status s = env_->GetChildren(dir, &names);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::sort(names.begin(), names.end());
    return names;
  }

  EnvUnderTest t_;
  Env* env_ = nullptr;
};

TEST_P(EnvConformance, AppendThenReadBack) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("a"), &f).ok());
  ASSERT_TRUE(f->Append("hello ").ok());
  const std::string_view parts[] = {"wor", "ld"};
  ASSERT_TRUE(f->AppendV(parts, 2).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  std::unique_ptr<RandomAccessFile> r;
  ASSERT_TRUE(env_->NewRandomAccessFile(Path("a"), &r).ok());
  std::string got;
  ASSERT_TRUE(r->Read(6, 100, &got).ok());
  EXPECT_EQ(got, "world");  // short only at end of file
  ASSERT_TRUE(r->Read(20, 5, &got).ok());
  EXPECT_EQ(got, "");
  uint64_t size = 0;
  ASSERT_TRUE(env_->GetFileSize(Path("a"), &size).ok());
  EXPECT_EQ(size, 11u);
}

// The store reads its own records back before any Sync (env.h: "visible to
// readers of the same path at once").
TEST_P(EnvConformance, AppendIsReadableBeforeSync) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewWritableFile(Path("p"), &f).ok());
  std::string expect;
  for (int i = 0; i < 20; ++i) {
    std::string piece(1000 + i, static_cast<char>('a' + i));
    ASSERT_TRUE(f->Append(piece).ok());
    expect += piece;
    std::unique_ptr<RandomAccessFile> r;
    ASSERT_TRUE(env_->NewRandomAccessFile(Path("p"), &r).ok());
    std::string got;
    ASSERT_TRUE(r->Read(expect.size() - piece.size(), piece.size(), &got).ok());
    ASSERT_EQ(got, piece) << "append " << i;
  }
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Read("p"), expect);
}

TEST_P(EnvConformance, AppendableFileKeepsContent) {
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "a", "abc").ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_->NewAppendableFile(Path("a"), &f).ok());
  ASSERT_TRUE(f->Append("def").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Read("a"), "abcdef");
  ASSERT_TRUE(env_->NewWritableFile(Path("a"), &f).ok());  // truncates
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(Read("a"), "");
}

TEST_P(EnvConformance, WriteFileAtomicReplacesAndLeavesNoTmp) {
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "x", "old").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "x", "new content").ok());
  EXPECT_EQ(Read("x"), "new content");
  bool exists = true;
  ASSERT_TRUE(env_->FileExists(Path("x.tmp"), &exists).ok());
  EXPECT_FALSE(exists);
  EXPECT_EQ(Children(t_.dir), std::vector<std::string>{"x"});
}

TEST_P(EnvConformance, RenameReplacesTargetAndChangesDirVersion) {
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "a", "A").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "b", "B").ok());
  uint64_t v1 = 0, v2 = 0;
  ASSERT_TRUE(env_->GetDirVersion(t_.dir, &v1).ok());
  usleep(20000);  // the POSIX version is the folder's mtime: coarse on some file systems
  ASSERT_TRUE(env_->RenameFile(Path("a"), Path("b")).ok());
  ASSERT_TRUE(env_->SyncDir(t_.dir).ok());
  ASSERT_TRUE(env_->GetDirVersion(t_.dir, &v2).ok());
  EXPECT_NE(v1, v2);
  EXPECT_EQ(Read("b"), "A");
  bool exists = true;
  ASSERT_TRUE(env_->FileExists(Path("a"), &exists).ok());
  EXPECT_FALSE(exists);
  EXPECT_EQ(Children(t_.dir), std::vector<std::string>{"b"});
}

TEST_P(EnvConformance, TruncateShortensFile) {
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "a", "0123456789").ok());
  ASSERT_TRUE(env_->Truncate(Path("a"), 4).ok());
  EXPECT_EQ(Read("a"), "0123");
  EXPECT_EQ(env_->Truncate(Path("missing"), 0).err(), ENOENT);
}

TEST_P(EnvConformance, ChildrenListFilesAndDirsAndForgetRemovedOnes) {
  ASSERT_TRUE(env_->CreateDir(Path("sub")).ok());
  ASSERT_TRUE(env_->CreateDir(Path("sub")).ok());  // exists: OK
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "f", "").ok());
  ASSERT_TRUE(env_->WriteFileAtomic(Path("sub"), "g", "G").ok());
  EXPECT_EQ(Children(t_.dir), (std::vector<std::string>{"f", "sub"}));
  EXPECT_EQ(Children(Path("sub")), std::vector<std::string>{"g"});
  bool is_dir = false;
  ASSERT_TRUE(env_->IsDirectory(Path("sub"), &is_dir).ok());
  EXPECT_TRUE(is_dir);
  ASSERT_TRUE(env_->IsDirectory(Path("f"), &is_dir).ok());
  EXPECT_FALSE(is_dir);
  ASSERT_TRUE(env_->RemoveFile(Path("f")).ok());
  EXPECT_EQ(Children(t_.dir), std::vector<std::string>{"sub"});
  EXPECT_EQ(env_->RemoveFile(Path("f")).err(), ENOENT);
}

TEST_P(EnvConformance, MissingFileIsIOErrorWithENOENTNamingIt) {
  std::unique_ptr<RandomAccessFile> r;
  Status s = env_->NewRandomAccessFile(Path("nope"), &r);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.message().find(Path("nope")), std::string::npos) << s.ToString();
  uint64_t size = 0;
  EXPECT_EQ(env_->GetFileSize(Path("nope"), &size).err(), ENOENT);
  std::vector<std::string> names;
  EXPECT_EQ(env_->GetChildren(Path("nodir"), &names).err(), ENOENT);
  bool is_dir = false;
  EXPECT_EQ(env_->IsDirectory(Path("nodir"), &is_dir).err(), ENOENT);
  bool exists = true;
  ASSERT_TRUE(env_->FileExists(Path("nope"), &exists).ok());
  EXPECT_FALSE(exists);
}

TEST_P(EnvConformance, MappedFileSeesContentAndEmptyFileIsFine) {
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "m", "mapped bytes").ok());
  std::unique_ptr<MappedFile> m;
  ASSERT_TRUE(env_->NewMappedFile(Path("m"), &m).ok());
  EXPECT_EQ(std::string(m->data(), m->size()), "mapped bytes");
  ASSERT_TRUE(env_->WriteFileAtomic(t_.dir, "e", "").ok());
  ASSERT_TRUE(env_->NewMappedFile(Path("e"), &m).ok());
  EXPECT_EQ(m->size(), 0u);
}

TEST_P(EnvConformance, LockIsExclusiveAcrossOpensUntilReleased) {
  std::unique_ptr<FileLock> lock;
  std::string holder;
  ASSERT_TRUE(env_->LockFile(Path("lock"), &lock, &holder).ok());
  std::shared_ptr<Env> other = t_.reopen();
  ASSERT_NE(other, nullptr);
  std::unique_ptr<FileLock> second;
  Status s = other->LockFile(Path("lock"), &second, &holder);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(holder.find(std::to_string(getpid())), std::string::npos) << holder;
  lock.reset();
  s = other->LockFile(Path("lock"), &second, &holder);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(EnvConformance, TempFileWorks) {
  std::unique_ptr<TempFile> f;
  Status s = env_->NewTempFile(t_.dir, &f);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(f->Write(3, "abc").ok());
  char buf[8];
  size_t got = 0;
  ASSERT_TRUE(f->Read(0, sizeof(buf), buf, &got).ok());
  EXPECT_EQ(std::string(buf, got), std::string("\0\0\0abc", 6));
}

}  // namespace chunkfs::testing_env
