// Tests of Status, the POSIX Env and the in-memory FaultEnv.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "chunkfs/env.h"
#include "chunkfs/status.h"
#include "fault_env.h"

namespace chunkfs {
namespace {

// ---------------------------------------------------------------- Status

TEST(EnvStatusTest, ToStringNamesCodeMessageAndErrno) {
  EXPECT_EQ(Status::OK().ToString(), "OK");
  EXPECT_EQ(Status::NotFound("chunk ab").ToString(), "NotFound: chunk ab");
  EXPECT_EQ(Status::IOError("write x", ENOSPC).ToString(),
            "IO error: write x: No space left on device");
  EXPECT_EQ(Status::Busy("locked by pid 7").WithContext("open repo").ToString(),
            "Busy: open repo: locked by pid 7");
}

TEST(EnvStatusTest, ToErrnoMapsEveryCode) {
  EXPECT_EQ(Status::OK().ToErrno(), 0);
  EXPECT_EQ(Status::NotFound("").ToErrno(), ENOENT);
  EXPECT_EQ(Status::Corruption("").ToErrno(), EIO);
  EXPECT_EQ(Status::InvalidArgument("").ToErrno(), EINVAL);
  EXPECT_EQ(Status::IOError("", ENOSPC).ToErrno(), ENOSPC);
  EXPECT_EQ(Status::IOError("", 0).ToErrno(), EIO);
  EXPECT_EQ(Status::TooLarge("").ToErrno(), EFBIG);
  EXPECT_EQ(Status::NotSupported("").ToErrno(), EOPNOTSUPP);
  EXPECT_EQ(Status::Busy("").ToErrno(), EBUSY);
}

// ---------------------------------------------------------------- POSIX

class PosixEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/chunkfs-env-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  Env* env_ = Env::Default();
  std::string dir_;
};

// The Env contract on the POSIX file system (append and read back, atomic
// writes, renames, truncation, listings, missing files, mapped files, locks
// within a process, temp files) is tested by the conformance suite that also
// runs it on the object-store mapping: tests/rados/env_conformance.h
// (Env/EnvConformance.*/Posix). Here: what only POSIX has.

TEST_F(PosixEnvTest, LockHeldByOtherProcessIsBusyWithItsPid) {
  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::unique_ptr<FileLock> lock;
    std::string holder;
    char c = Env::Default()->LockFile(Path("LOCK"), &lock, &holder).ok() ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    (void)!read(done[0], &c, 1);  // hold until the parent has looked
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');

  std::unique_ptr<FileLock> lock;
  std::string holder;
  Status s = env_->LockFile(Path("LOCK"), &lock, &holder);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_EQ(holder, std::to_string(child));
  EXPECT_NE(s.message().find(std::to_string(child)), std::string::npos);

  (void)!write(done[1], "x", 1);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  for (int fd : {ready[0], ready[1], done[0], done[1]}) close(fd);

  // The child is gone: the kernel dropped its lock.
  s = env_->LockFile(Path("LOCK"), &lock, &holder);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string content;
  ASSERT_TRUE(env_->ReadFileToString(Path("LOCK"), &content).ok());
  EXPECT_EQ(content, std::to_string(getpid()) + "\n");
}

// ---------------------------------------------------------------- FaultEnv

std::string ReadAll(Env* env, const std::string& path) {
  std::string out;
  Status s = env->ReadFileToString(path, &out);
  return s.ok() ? out : "<" + s.ToString() + ">";
}

bool Exists(Env* env, const std::string& path) {
  bool exists = false;
  EXPECT_TRUE(env->FileExists(path, &exists).ok());
  return exists;
}

Status WriteFile(Env* env, const std::string& path, const std::string& data, bool sync) {
  std::unique_ptr<WritableFile> f;
  Status s = env->NewWritableFile(path, &f);
  if (s.ok()) s = f->Append(data);
  if (s.ok() && sync) s = f->Sync();
  if (s.ok()) s = f->Close();
  return s;
}

class FaultEnvTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDir("/d").ok()); }
  FaultEnv env_;
};

TEST_F(FaultEnvTest, BasicRoundTrip) {
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "hello", false).ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "hello");
  EXPECT_EQ(ReadAll(&env_, "d//a"), "hello");  // paths are normalized
  uint64_t size = 0;
  ASSERT_TRUE(env_.GetFileSize("/d/a", &size).ok());
  EXPECT_EQ(size, 5u);
  ASSERT_TRUE(env_.Truncate("/d/a", 2).ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "he");
  ASSERT_TRUE(env_.CreateDir("/d/sub").ok());
  std::vector<std::string> names;
  ASSERT_TRUE(env_.GetChildren("/d", &names).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "sub"}));
  ASSERT_TRUE(env_.GetChildren("/", &names).ok());
  EXPECT_EQ(names, (std::vector<std::string>{"d"}));
}

TEST_F(FaultEnvTest, MissingParentAndMissingDirAreENOENT) {
  EXPECT_EQ(WriteFile(&env_, "/nodir/a", "x", false).err(), ENOENT);
  std::vector<std::string> names;
  Status s = env_.GetChildren("/nodir", &names);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_EQ(env_.CreateDir("/x/y").err(), ENOENT);
  EXPECT_EQ(env_.RemoveFile("/d/none").err(), ENOENT);
}

TEST_F(FaultEnvTest, DirVersionChangesOnEntryChangesOnly) {
  uint64_t v0, v1, v2;
  ASSERT_TRUE(env_.GetDirVersion("/d", &v0).ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(env_.GetDirVersion("/d", &v1).ok());
  EXPECT_NE(v0, v1);
  ASSERT_TRUE(f->Append("x").ok());
  ASSERT_TRUE(env_.GetDirVersion("/d", &v2).ok());
  EXPECT_EQ(v1, v2);
  ASSERT_TRUE(env_.RenameFile("/d/a", "/d/b").ok());
  ASSERT_TRUE(env_.GetDirVersion("/d", &v2).ok());
  EXPECT_NE(v1, v2);
}

TEST_F(FaultEnvTest, PowerCutDropsUnsyncedBytes) {
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());  // the name is durable
  ASSERT_TRUE(f->Append("synced").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Append("+lost").ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "synced+lost");
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "synced");
}

TEST_F(FaultEnvTest, PowerCutDropsFileWhoseNameWasNeverSynced) {
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "data", /*sync=*/true).ok());
  env_.PowerCut();
  EXPECT_FALSE(Exists(&env_, "/d/a"));
}

TEST_F(FaultEnvTest, PowerCutKeepsSyncedCreation) {
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "data", /*sync=*/true).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "data");
}

TEST_F(FaultEnvTest, PowerCutUndoesUnsyncedRenameAndRemove) {
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "A", true).ok());
  ASSERT_TRUE(WriteFile(&env_, "/d/tmp", "T", true).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  ASSERT_TRUE(env_.RenameFile("/d/tmp", "/d/a").ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "T");
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "A");
  EXPECT_EQ(ReadAll(&env_, "/d/tmp"), "T");

  ASSERT_TRUE(env_.RemoveFile("/d/tmp").ok());
  env_.PowerCut();
  EXPECT_TRUE(Exists(&env_, "/d/tmp"));
}

TEST_F(FaultEnvTest, PowerCutKeepsSyncedRename) {
  ASSERT_TRUE(env_.WriteFileAtomic("/d", "idx", "v1").ok());
  ASSERT_TRUE(env_.WriteFileAtomic("/d", "idx", "v2").ok());
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/idx"), "v2");
  EXPECT_FALSE(Exists(&env_, "/d/idx.tmp"));
}

TEST_F(FaultEnvTest, UnsyncedTruncateIsUndoneByPowerCut) {
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "0123456789", true).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  ASSERT_TRUE(env_.Truncate("/d/a", 3).ok());
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "0123456789");
}

TEST_F(FaultEnvTest, OldFilesFailWithEIOAfterPowerCutNewOnesWork) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  std::unique_ptr<RandomAccessFile> r;
  ASSERT_TRUE(env_.NewRandomAccessFile("/d/a", &r).ok());
  env_.PowerCut();
  EXPECT_EQ(f->Append("x").err(), EIO);
  EXPECT_EQ(f->Sync().err(), EIO);
  std::string got;
  EXPECT_EQ(r->Read(0, 1, &got).err(), EIO);
  std::unique_ptr<WritableFile> g;
  ASSERT_TRUE(env_.NewAppendableFile("/d/a", &g).ok());
  EXPECT_TRUE(g->Append("y").ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "y");
}

TEST_F(FaultEnvTest, SyncCountCountsSyncAndSyncDir) {
  EXPECT_EQ(env_.sync_count(), 0);
  ASSERT_TRUE(WriteFile(&env_, "/d/a", "x", true).ok());
  ASSERT_TRUE(env_.SyncDir("/d").ok());
  EXPECT_EQ(env_.sync_count(), 2);
  env_.InjectError(FaultOp::kSync, EIO);
  EXPECT_FALSE(WriteFile(&env_, "/d/b", "x", true).ok());
  EXPECT_EQ(env_.sync_count(), 2);  // failed syncs are not sync points
}

TEST_F(FaultEnvTest, SnapshotsAtSyncPointsRestoreExactly) {
  std::vector<FaultEnv::Snapshot> snaps;
  std::vector<int64_t> indexes;
  env_.SetSyncCallback([&](int64_t k) {
    indexes.push_back(k);
    snaps.push_back(env_.DurableSnapshot());  // must not deadlock
  });
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(f->Append("1").ok());
  ASSERT_TRUE(f->Sync().ok());       // k=1: "a" data durable, name not
  ASSERT_TRUE(env_.SyncDir("/d").ok());  // k=2: "a" = "1"
  ASSERT_TRUE(f->Append("2").ok());
  ASSERT_TRUE(f->Sync().ok());       // k=3: "a" = "12"
  ASSERT_TRUE(f->Append("3").ok());  // never durable
  env_.SetSyncCallback(nullptr);
  ASSERT_EQ(indexes, (std::vector<int64_t>{1, 2, 3}));

  env_.Restore(snaps[0]);
  EXPECT_FALSE(Exists(&env_, "/d/a"));
  EXPECT_TRUE(Exists(&env_, "/d"));
  env_.Restore(snaps[1]);
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "1");
  env_.Restore(snaps[2]);
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "12");
  // Restored content is durable: a power cut keeps it.
  env_.PowerCut();
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "12");
  // The writer from before the restore is dead.
  EXPECT_EQ(f->Append("4").err(), EIO);
}

TEST_F(FaultEnvTest, RestoreIsIndependentOfLaterWrites) {
  ASSERT_TRUE(env_.WriteFileAtomic("/d", "a", "first").ok());
  FaultEnv::Snapshot snap = env_.DurableSnapshot();
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewAppendableFile("/d/a", &f).ok());
  ASSERT_TRUE(f->Append(" more").ok());
  ASSERT_TRUE(f->Sync().ok());
  env_.Restore(snap);
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "first");
  ASSERT_TRUE(env_.WriteFileAtomic("/d", "a", "changed").ok());
  env_.Restore(snap);  // a snapshot can be restored twice
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "first");
}

TEST_F(FaultEnvTest, InjectedErrorOnEachOp) {
  struct Case {
    FaultOp op;
    int err;
  };
  for (Case c : {Case{FaultOp::kAppend, ENOSPC}, Case{FaultOp::kSync, EIO},
                 Case{FaultOp::kSyncDir, EIO}, Case{FaultOp::kRename, EIO},
                 Case{FaultOp::kCreate, ENOSPC}, Case{FaultOp::kTruncate, EIO},
                 Case{FaultOp::kRead, EIO}, Case{FaultOp::kRemove, EIO},
                 Case{FaultOp::kCreateDir, ENOSPC}, Case{FaultOp::kList, EIO}}) {
    SCOPED_TRACE(static_cast<int>(c.op));
    ASSERT_TRUE(WriteFile(&env_, "/d/a", "abc", false).ok());
    env_.InjectError(c.op, c.err);
    std::unique_ptr<WritableFile> f;
    std::unique_ptr<RandomAccessFile> r;
    std::string got;
    Status s;
    switch (c.op) {
      case FaultOp::kAppend:
        ASSERT_TRUE(env_.NewAppendableFile("/d/a", &f).ok());
        s = f->Append("x");
        break;
      case FaultOp::kSync:
        ASSERT_TRUE(env_.NewAppendableFile("/d/a", &f).ok());
        s = f->Sync();
        break;
      case FaultOp::kSyncDir:
        s = env_.SyncDir("/d");
        break;
      case FaultOp::kRename:
        s = env_.RenameFile("/d/a", "/d/b");
        EXPECT_TRUE(Exists(&env_, "/d/a"));
        break;
      case FaultOp::kCreate:
        s = env_.NewWritableFile("/d/c", &f);
        EXPECT_FALSE(Exists(&env_, "/d/c"));
        break;
      case FaultOp::kTruncate:
        s = env_.Truncate("/d/a", 0);
        break;
      case FaultOp::kRead:
        ASSERT_TRUE(env_.NewRandomAccessFile("/d/a", &r).ok());
        s = r->Read(0, 3, &got);
        break;
      case FaultOp::kRemove:
        s = env_.RemoveFile("/d/a");
        EXPECT_TRUE(Exists(&env_, "/d/a"));
        break;
      case FaultOp::kCreateDir:
        s = env_.CreateDir("/d/newdir");
        break;
      case FaultOp::kList: {
        std::vector<std::string> names;
        s = env_.GetChildren("/d", &names);
        break;
      }
      case FaultOp::kTempCreate:  // temp files: tests/env/temp_file_test.cc
      case FaultOp::kTempWrite:
      case FaultOp::kTempRead:
      case FaultOp::kAny:
        break;
    }
    EXPECT_TRUE(s.IsIOError());
    EXPECT_EQ(s.err(), c.err);
    EXPECT_EQ(ReadAll(&env_, "/d/a"), "abc");  // the failed call changed nothing
    env_.ClearFaults();
  }
}

TEST_F(FaultEnvTest, InjectAfterAndCount) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  env_.InjectError(FaultOp::kAppend, EIO, /*after=*/2, /*count=*/2);
  EXPECT_TRUE(f->Append("1").ok());
  EXPECT_TRUE(f->Append("2").ok());
  EXPECT_EQ(f->Append("3").err(), EIO);
  EXPECT_EQ(f->Append("4").err(), EIO);
  EXPECT_TRUE(f->Append("5").ok());
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "125");
  EXPECT_EQ(env_.op_count(FaultOp::kAppend), 5);
}

TEST_F(FaultEnvTest, InjectForeverUntilCleared) {
  env_.InjectError(FaultOp::kAny, ENOSPC, 0, -1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(env_.SyncDir("/d").err(), ENOSPC);
  EXPECT_EQ(WriteFile(&env_, "/d/a", "x", false).err(), ENOSPC);
  env_.ClearFaults();
  EXPECT_TRUE(env_.SyncDir("/d").ok());
  EXPECT_EQ(env_.op_count(FaultOp::kSyncDir), 6);
  EXPECT_EQ(env_.op_count(FaultOp::kCreate), 1);
  EXPECT_GE(env_.op_count(FaultOp::kAny), 7);
}

TEST_F(FaultEnvTest, ShortWriteLeavesHalfTheData) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(f->Append("head-").ok());
  env_.SetShortWrite(true);
  env_.InjectError(FaultOp::kAppend, EIO, 0, 2);
  EXPECT_EQ(f->Append("12345678").err(), EIO);
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "head-1234");
  EXPECT_EQ(f->Append("abcd").err(), EIO);  // short write is one-shot
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "head-1234");
}

TEST_F(FaultEnvTest, SpaceLimitWritesWhatFitsThenENOSPC) {
  env_.SetSpaceLimit(10);
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  EXPECT_TRUE(f->Append("1234567").ok());
  Status s = f->Append("abcdef");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err(), ENOSPC);
  EXPECT_EQ(ReadAll(&env_, "/d/a"), "1234567abc");
  EXPECT_EQ(env_.used_bytes(), 10u);
  EXPECT_EQ(f->Append("z").err(), ENOSPC);
  // Freeing space makes appends work again.
  ASSERT_TRUE(env_.Truncate("/d/a", 5).ok());
  EXPECT_TRUE(f->Append("z").ok());
  env_.SetSpaceLimit(0);
  EXPECT_TRUE(f->Append(std::string(100, 'q')).ok());
}

TEST_F(FaultEnvTest, LockIsExclusiveUntilReleased) {
  std::unique_ptr<FileLock> first, second;
  std::string holder;
  ASSERT_TRUE(env_.LockFile("/d/LOCK", &first, &holder).ok());
  Status s = env_.LockFile("/d/LOCK", &second, &holder);
  EXPECT_TRUE(s.IsBusy());
  EXPECT_EQ(holder, "pid 0 (in-process)");
  first.reset();
  EXPECT_TRUE(env_.LockFile("/d/LOCK", &second, &holder).ok());
}

TEST_F(FaultEnvTest, PowerCutReleasesLocks) {
  std::unique_ptr<FileLock> old_lock, new_lock, third;
  std::string holder;
  ASSERT_TRUE(env_.LockFile("/d/LOCK", &old_lock, &holder).ok());
  env_.PowerCut();
  ASSERT_TRUE(env_.LockFile("/d/LOCK", &new_lock, &holder).ok());
  old_lock.reset();  // the dead process's lock must not release the new one
  EXPECT_TRUE(env_.LockFile("/d/LOCK", &third, &holder).IsBusy());
}

TEST_F(FaultEnvTest, MappedFileIsSnapshotAtOpen) {
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile("/d/a", &f).ok());
  ASSERT_TRUE(f->Append("abc").ok());
  std::unique_ptr<MappedFile> m;
  ASSERT_TRUE(env_.NewMappedFile("/d/a", &m).ok());
  ASSERT_TRUE(f->Append("def").ok());
  EXPECT_EQ(std::string(m->data(), m->size()), "abc");
  ASSERT_TRUE(env_.NewMappedFile("/d/empty-missing", &m).IsIOError());
}

TEST_F(FaultEnvTest, WriteFileAtomicRemovesTmpOnFailure) {
  env_.InjectError(FaultOp::kSync, EIO);
  Status s = env_.WriteFileAtomic("/d", "idx", "data");
  EXPECT_EQ(s.err(), EIO);
  EXPECT_NE(s.message().find("/d/idx"), std::string::npos);
  EXPECT_FALSE(Exists(&env_, "/d/idx.tmp"));
  EXPECT_FALSE(Exists(&env_, "/d/idx"));
}

TEST_F(FaultEnvTest, ConcurrentWritersWithSnapshotCallback) {
  std::vector<FaultEnv::Snapshot> snaps;
  env_.SetSyncCallback([&](int64_t) { snaps.push_back(env_.DurableSnapshot()); });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      const std::string name = "f" + std::to_string(t);
      std::unique_ptr<WritableFile> f;
      if (!env_.NewWritableFile("/d/" + name, &f).ok()) return;
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(f->Append("x").ok());
        EXPECT_TRUE(f->Sync().ok());
        EXPECT_TRUE(env_.SyncDir("/d").ok());
      }
    });
  }
  for (std::thread& th : threads) th.join();
  env_.SetSyncCallback(nullptr);
  EXPECT_EQ(env_.sync_count(), 400);
  ASSERT_EQ(snaps.size(), 400u);
  env_.Restore(snaps.back());
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(ReadAll(&env_, "/d/f" + std::to_string(t)), std::string(50, 'x'));
  }
}

}  // namespace
}  // namespace chunkfs
