// Lifecycle: remount keeps everything; SIGTERM, SIGINT and umount end the
// mount cleanly (exit 0) with everything durable; a dead mountpoint is
// detected (or cleared with -o clear_stale); durability of fsync and of the
// background flush; option errors before anything is mounted; daemon mode.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "chunkfs/repository.h"
#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

// True if the repository holds `hex` (opened read-only beside the mount, or
// writable when nothing holds it).
bool StoreHas(const std::string& repo, const std::string& hex, bool read_only = false) {
  OpenOptions o;
  o.read_only = read_only;
  std::unique_ptr<Repository> r;
  Status s = Repository::Open(repo, o, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return false;
  Digest d;
  EXPECT_TRUE(Digest::FromHex(hex, &d));
  return r->Contains(d);
}

class LifecycleTest : public MountTest {
 protected:
  // Runs chunkfs with `args` (not expected to stay up); its exit status.
  int RunChunkfs(const std::string& args, std::string* out) {
    return ShOut("timeout 30 " + std::string(CHUNKFS_BINARY) + " " + args, out, true);
  }
};

TEST_F(LifecycleTest, RemountKeepsEverything) {
  MakeTree(work_ + "/tree", 40);
  ASSERT_EQ(Sh("cp -r " + Q(work_ + "/tree") + " " + Q(Incoming() + "/tree")), 0);
  auto sums = Sha256sumTree(work_ + "/tree");
  Unmount();
  ASSERT_NO_FATAL_FAILURE(Mount());
  for (const auto& [path, hex] : sums) {
    std::string got;
    int err = 0;
    ASSERT_TRUE(ReadFileChecked(ChunkPath(hex), &got, &err)) << path << ": " << strerror(err);
    EXPECT_EQ(Sha256Hex(got), hex) << path;
  }
  // Names in /incoming do not survive a remount (docs/MOUNT.md).
  std::string out;
  ASSERT_EQ(ShOut("ls -A " + Q(Incoming()), &out), 0);
  EXPECT_EQ(out, "");
}

TEST_F(LifecycleTest, SigtermUnmountsCleanlyAndDurably) {
  WriteFile(Incoming() + "/a", "before sigterm");
  EXPECT_EQ(SignalAndWait(SIGTERM), 0) << Log();
  EXPECT_FALSE(Mounted());
  EXPECT_TRUE(StoreHas(repo_, Sha256Hex("before sigterm")));
}

TEST_F(LifecycleTest, SigintUnmountsCleanly) {
  WriteFile(Incoming() + "/a", "before sigint");
  EXPECT_EQ(SignalAndWait(SIGINT), 0) << Log();
  EXPECT_FALSE(Mounted());
  EXPECT_TRUE(StoreHas(repo_, Sha256Hex("before sigint")));
}

TEST_F(LifecycleTest, UmountCommandUnmountsCleanly) {
  if (::geteuid() != 0) GTEST_SKIP() << "umount(8) of a FUSE mount needs root";
  WriteFile(Incoming() + "/a", "before umount");
  ASSERT_EQ(Sh("umount " + Q(mnt_)), 0);
  EXPECT_EQ(WaitExit(30), 0) << Log();
  EXPECT_FALSE(Mounted());
  EXPECT_TRUE(StoreHas(repo_, Sha256Hex("before umount")));
}

TEST_F(LifecycleTest, DeadMountpointIsDetectedOrCleared) {
  int fd = ::open((Incoming() + "/synced").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "fsynced", 7), 7);
  ASSERT_EQ(::fsync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
  // A crash: the mountpoint is left dead.
  EXPECT_EQ(SignalAndWait(SIGKILL), -1);
  struct statfs sfs;
  EXPECT_EQ(Errno(::statfs(mnt_.c_str(), &sfs)), ENOTCONN);
  EXPECT_NE(Sh("ls " + Q(mnt_) + " 2>/dev/null"), 0);
  std::string out;
  EXPECT_EQ(RunChunkfs(Q(repo_) + " " + Q(mnt_) + " -f", &out), 1);
  EXPECT_NE(out.find("fusermount3 -uz"), std::string::npos) << out;
  EXPECT_NE(out.find("clear_stale"), std::string::npos) << out;
  // -o clear_stale clears it and mounts; the fsync'ed chunk is there.
  ASSERT_NO_FATAL_FAILURE(Mount({"clear_stale"}));
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex("fsynced"))), "fsynced");
}

class FlushIntervalTest : public MountTest {
  std::vector<std::string> MountOptions() const override { return {"flush_interval=200ms"}; }
};

TEST_F(FlushIntervalTest, BackgroundFlushMakesClosedChunksDurable) {
  WriteFile(Incoming() + "/a", "flushed in the background");
  int64_t syncs = -1;
  for (int i = 0; i < 100 && syncs < 1; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    syncs = StatsField(ReadFile(mnt_ + "/.stats"), "background_syncs");
  }
  EXPECT_GE(syncs, 1);
  // Published for readers beside the mount once synced (the flusher keeps
  // syncing: publication may be rate-limited).
  EXPECT_TRUE(EventuallyPublished(Sha256Hex("flushed in the background")));
  bool seen = false;
  for (int i = 0; i < 60 && !seen; i++) {
    seen = StoreHas(repo_, Sha256Hex("flushed in the background"), /*read_only=*/true);
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(seen);
}

class SyncOptionTest : public MountTest {
  std::vector<std::string> MountOptions() const override {
    return {"sync", "flush_interval=3600"};
  }
};

TEST_F(SyncOptionTest, EveryCloseIsDurable) {
  int64_t before = StatsField(ReadFile(mnt_ + "/.stats"), "syncs");
  WriteFile(Incoming() + "/a", "synced at close");
  int64_t after = StatsField(ReadFile(mnt_ + "/.stats"), "syncs");
  EXPECT_GT(after, before);
  EXPECT_EQ(StatsField(ReadFile(mnt_ + "/.stats"), "background_syncs"), 0);
}

TEST_F(LifecycleTest, SecondMountOfTheRepositoryIsRefused) {
  std::string other = dir_ + "/mnt2";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  std::string out;
  EXPECT_EQ(RunChunkfs(Q(repo_) + " " + Q(other) + " -f", &out), 1);
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
  EXPECT_EQ(Sh("grep -q " + Q(other) + " /proc/self/mountinfo"), 1);
}

// Command-line errors: a clear message and a non-zero exit before anything
// is mounted. (The fixture's mount stays up meanwhile.)
TEST_F(LifecycleTest, BadCommandLines) {
  std::string other = dir_ + "/mnt2";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  std::string fresh = dir_ + "/fresh";
  ASSERT_EQ(::mkdir(fresh.c_str(), 0755), 0);
  struct Case {
    std::string args;
    int status;
    std::string message;
  };
  const std::string r = Q(fresh), m = Q(other);
  const Case cases[] = {
      {r + " " + m + " -f -o bogus_option -o create", 2, "unknown option"},
      {r + " " + m + " -f -o max_chunk=abc -o create", 2, "max_chunk=abc: malformed"},
      {r + " " + m + " -f -o max_chunk=0 -o create", 2, "out of range"},
      {r + " " + m + " -f -o compression=20 -o create", 2, "out of range"},
      {r + " " + m + " -f -o flush_interval=soon -o create", 2, "malformed"},
      {r + " " + m + " -f -o pack_size -o create", 2, "needs a value"},
      {r + " " + m + " extra -f", 2, "unexpected argument"},
      {r, 2, "missing REPO or MOUNTPOINT"},
      {"", 2, "missing REPO or MOUNTPOINT"},
      {r + " " + m + " -f", 1, "chunkctl init"},  // not a repository
      {Q(dir_ + "/none") + " " + m + " -f", 1, "does not exist"},
      {r + " " + Q(dir_ + "/no-mountpoint") + " -f -o create", 1, "No such file"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_EQ(RunChunkfs(c.args, &out), c.status) << c.args << "\n" << out;
    EXPECT_NE(out.find(c.message), std::string::npos) << c.args << "\n" << out;
    EXPECT_EQ(Sh("grep -q " + Q(other) + " /proc/self/mountinfo"), 1) << c.args;
  }
  // No repository was created by the failed attempts.
  EXPECT_EQ(Sh("test -z \"$(ls -A " + Q(fresh) + ")\""), 0);
}

TEST_F(LifecycleTest, RepositorySettingsChecks) {
  Unmount();
  std::string out;
  EXPECT_EQ(RunChunkfs(Q(repo_) + " " + Q(mnt_) + " -f -o pack_size=1G", &out), 1);
  EXPECT_NE(out.find("fixed when a repository is created"), std::string::npos) << out;
  EXPECT_FALSE(Mounted());
  // The per-mount overrides are accepted.
  ASSERT_NO_FATAL_FAILURE(Mount({"max_chunk=1M", "compression=9", "pack_size=64M"}));
  EXPECT_EQ(StatsField(ReadFile(mnt_ + "/.stats"), "chunks"), 0);
}

TEST_F(LifecycleTest, HelpAndVersion) {
  std::string out;
  EXPECT_EQ(RunChunkfs("--help", &out), 0);
  EXPECT_NE(out.find("usage: "), std::string::npos) << out;
  EXPECT_NE(out.find("flush_interval"), std::string::npos) << out;
  EXPECT_NE(out.find("allow_other"), std::string::npos) << out;
  EXPECT_EQ(RunChunkfs("--version", &out), 0);
  EXPECT_EQ(out.rfind("chunkfs ", 0), 0u) << out;
}

TEST_F(LifecycleTest, CreateOptionMakesARepository) {
  std::string fresh = dir_ + "/fresh";
  std::string other = dir_ + "/mnt2";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0);
  // Without -f: returns once the mount works, with status 0.
  std::string out;
  ASSERT_EQ(RunChunkfs(Q(fresh) + " " + Q(other) + " -o create,max_chunk=1M,compression=0", &out), 0)
      << out;
  EXPECT_EQ(Sh("grep -q " + Q(other) + " /proc/self/mountinfo"), 0);
  WriteFile(other + "/incoming/x", "in a created repository");
  EXPECT_EQ(ReadFile(other + "/chunks/" + Sha256Hex("in a created repository")),
            "in a created repository");
  EXPECT_EQ(Sh("fusermount3 -u " + Q(other)), 0);
  // The daemon releases the repository once it has synced and exited.
  bool released = false;
  for (int i = 0; i < 300 && !released; i++) {
    std::unique_ptr<Repository> r;
    released = Repository::Open(fresh, OpenOptions(), &r).ok();
    if (!released) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(released);
  EXPECT_TRUE(StoreHas(fresh, Sha256Hex("in a created repository")));
  // -o create on an existing repository just mounts it; on a non-empty
  // directory that is not one, it refuses.
  std::string junk = dir_ + "/junk";
  ASSERT_EQ(::mkdir(junk.c_str(), 0755), 0);
  WriteFile(junk + "/file", "x");
  EXPECT_EQ(RunChunkfs(Q(junk) + " " + Q(other) + " -f -o create", &out), 1);
  EXPECT_NE(out.find("refusing"), std::string::npos) << out;
}

}  // namespace
}  // namespace chunkfs::fs::testing
