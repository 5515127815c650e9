// `mount -t fuse.chunkfs REPO MNT -o ...` and an fstab line, through mount(8)
// and mount.fuse3 (SPEC §3, §8; docs/MOUNT.md "Mount helper and fstab").
//
// mount(8) gives its helper no PATH, so mount.fuse3's /bin/sh finds `chunkfs`
// on the shell's default path (/usr/local/sbin:/usr/local/bin:...). The test
// process therefore takes a private mount namespace in which a directory that
// holds only a link to the built chunkfs is bind-mounted over /usr/local/sbin
// and /usr/local/bin: the system's directories, its /etc/fstab and its mounts
// are never touched, and whatever the tests mount dies with the namespace.
// Each test checks that the daemon serving the mount is the built binary.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}

// "R" (running), "S", ... or "" if `pid` is gone; a zombie ("Z") has exited.
std::string ProcState(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return "";
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? "" : stat.substr(paren + 2, 1);
}

class MountHelperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) {
      skip_ = new std::string("needs root (mount(8) of a FUSE file system)");
    } else if (::access("/sbin/mount.fuse3", X_OK) != 0) {
      skip_ = new std::string("/sbin/mount.fuse3 is missing (Debian package fuse3)");
    } else if (::access("/dev/fuse", R_OK | W_OK) != 0) {
      skip_ = new std::string("/dev/fuse is not usable here");
    }
    if (skip_) return;
    error_ = new std::string(PrivateBinDir());
  }

  // The mountpoints of this namespace's FUSE mounts.
  static std::vector<std::string> FuseMounts() {
    std::vector<std::string> points;
    std::ifstream in("/proc/self/mountinfo");
    for (std::string line; std::getline(in, line);) {
      std::istringstream f(line);
      std::string id, parent, devno, root, point;
      f >> id >> parent >> devno >> root >> point;
      size_t dash = line.find(" - ");
      if (dash != std::string::npos && line.compare(dash + 3, 5, "fuse.") == 0) points.push_back(point);
    }
    return points;
  }

  // Sets up the namespace (see the top); "" or what failed.
  static std::string PrivateBinDir() {
    if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      // EINVAL: "/" is not a mount point, as in a chroot made from a plain
      // folder; bind-mount the folder onto itself before entering it
      // (`mount --bind DIR DIR`), as every machine and container has "/".
      return std::string("making / private: ") + std::strerror(errno) +
             (errno == EINVAL ? " (\"/\" is not a mount point: in a chroot, `mount --bind DIR DIR` first)" : "");
    }
    // Our copies of FUSE mounts other tests have made (CTest runs tests in
    // parallel) would keep their file systems alive after their unmount.
    for (const std::string& point : FuseMounts()) (void)::umount2(point.c_str(), MNT_DETACH);  // ours only
    char tmpl[] = "/tmp/chunkfs-helper-bin-XXXXXX";
    if (!::mkdtemp(tmpl)) return std::string("mkdtemp: ") + std::strerror(errno);
    bin_dir_ = new std::string(tmpl);
    if (::symlink(RealPath(CHUNKFS_BINARY).c_str(), (*bin_dir_ + "/chunkfs").c_str()) != 0) {
      return std::string("symlink: ") + std::strerror(errno);
    }
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin"}) {
      struct stat st;
      if (::stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (::mount(bin_dir_->c_str(), dir, nullptr, MS_BIND, nullptr) != 0) {
        return std::string("bind mount over ") + dir + ": " + std::strerror(errno);
      }
    }
    return "";
  }

  static void TearDownTestSuite() {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin"}) (void)::umount2(dir, MNT_DETACH);  // in our namespace
    if (bin_dir_) Sh("rm -rf " + Q(*bin_dir_));
  }

  void SetUp() override {
    if (skip_) GTEST_SKIP() << *skip_;
    ASSERT_TRUE(error_ && error_->empty()) << (error_ ? *error_ : "no set-up");
    char tmpl[] = "/tmp/chunkfs-helper-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    repo_ = dir_ + "/repo";
    mnt_ = dir_ + "/mnt";
    ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
    std::string out;
    ASSERT_EQ(ShOut(std::string(CHUNKCTL_BINARY) + " init " + Q(repo_), &out, true), 0) << out;
  }

  void TearDown() override {
    if (dir_.empty()) return;
    for (const auto& m : {mnt_, dir_ + "/mnt2"}) {
      if (MountedAt(m)) {
        ADD_FAILURE() << m << " still mounted at the end of the test";
        (void)Sh("umount -l " + Q(m));  // the test already failed; just clean up
      }
    }
    Sh("rm -rf " + Q(dir_));
  }

  // mount(8) with `args`; its exit status, its output (stdout and stderr) in *out.
  int RunMount(const std::string& args, std::string* out) { return ShOut("mount " + args + " 2>&1", out); }

  // True if /proc/self/mountinfo lists a fuse.chunkfs mount on `path`.
  static bool MountedAt(const std::string& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string id, parent, devno, root, point, rest;
      f >> id >> parent >> devno >> root >> point;
      size_t dash = line.find(" - ");
      if (point == path && dash != std::string::npos && line.compare(dash + 3, 13, "fuse.chunkfs ") == 0) return true;
    }
    return false;
  }

  // The running processes of the built chunkfs with `mnt` among their arguments.
  static std::vector<pid_t> Daemons(const std::string& mnt) {
    std::vector<pid_t> pids;
    std::string binary = RealPath(CHUNKFS_BINARY);
    std::string out;
    ShOut("ls /proc | grep -E '^[0-9]+$'", &out);
    std::istringstream ids(out);
    for (std::string id; std::getline(ids, id);) {
      pid_t pid = static_cast<pid_t>(std::stol(id));
      if (RealPath("/proc/" + id + "/exe") != binary || ProcState(pid) == "Z") continue;
      std::ifstream in("/proc/" + id + "/cmdline");
      std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (cmdline.find(std::string(1, '\0') + mnt + std::string(1, '\0')) != std::string::npos) pids.push_back(pid);
    }
    return pids;
  }

  // The mount on `mnt` is served by one detached process of the built chunkfs.
  void ExpectDetachedDaemon(const std::string& mnt) {
    std::vector<pid_t> pids = Daemons(mnt);
    ASSERT_EQ(pids.size(), 1u) << "chunkfs processes serving " << mnt;
    EXPECT_EQ(::getsid(pids[0]), pids[0]) << "the daemon leads its own session";
  }

  // umount(8), then waits (up to 60 s) until the daemon has exited.
  void UnmountAndWait(const std::string& mnt) {
    std::vector<pid_t> pids = Daemons(mnt);
    std::string out;
    ASSERT_EQ(ShOut("umount " + Q(mnt) + " 2>&1", &out), 0) << out;
    EXPECT_FALSE(MountedAt(mnt));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (pid_t pid : pids) {
      while (!ProcState(pid).empty() && ProcState(pid) != "Z") {
        ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "chunkfs " << pid << " did not exit after umount";
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  // Stores `data` through /incoming and reads it back under /chunks; returns its digest.
  std::string StoreAndRead(const std::string& mnt, const std::string& data) {
    WriteFile(mnt + "/incoming/file", data);
    std::string hex = Sha256Hex(data);
    EXPECT_EQ(ReadFile(mnt + "/chunks/" + hex), data);
    return hex;
  }

  // After the unmount the chunk is in the repository (read without a mount).
  void ExpectStored(const std::string& hex, const std::string& data) {
    std::string out;
    EXPECT_EQ(ShOut(std::string(CHUNKCTL_BINARY) + " get " + Q(repo_) + " " + hex, &out), 0);
    EXPECT_EQ(out, data);
  }

  // Runs `command` (a mount of repo_ on mnt_): it exits 0 without a word,
  // with mnt_ mounted by a detached chunkfs; `data` is stored through the
  // mount, read back, and still in the repository after umount.
  void ExpectMountWorks(const std::string& command, const std::string& data) {
    std::string out;
    ASSERT_EQ(ShOut(command + " 2>&1", &out), 0) << command << "\n" << out;
    EXPECT_EQ(out, "") << "a mount that works is silent";
    EXPECT_TRUE(MountedAt(mnt_)) << "returned before the mount was there";
    ExpectDetachedDaemon(mnt_);
    std::string hex = StoreAndRead(mnt_, data);
    UnmountAndWait(mnt_);
    ExpectStored(hex, data);
  }

  static std::string* skip_;
  static std::string* error_;
  static std::string* bin_dir_;
  std::string dir_, repo_, mnt_;
};

std::string* MountHelperTest::skip_ = nullptr;
std::string* MountHelperTest::error_ = nullptr;
std::string* MountHelperTest::bin_dir_ = nullptr;

TEST_F(MountHelperTest, MountTypeFuseChunkfs) {
  // Options that mount(8) and mount.fuse3 pass on or drop, and one of ours.
  ExpectMountWorks("mount -t fuse.chunkfs " + Q(repo_) + " " + Q(mnt_) +
                       " -o nofail,_netdev,nodev,nosuid,noatime,flush_interval=2",
                   TextBytes(100000, 7));
}

TEST_F(MountHelperTest, FstabLine) {
  std::string fstab = dir_ + "/fstab";
  WriteFile(fstab, "# a temporary fstab (the system's /etc/fstab is not used)\n" + repo_ + " " + mnt_ +
                       " fuse.chunkfs defaults,noauto,nofail,_netdev,x-systemd.automount,"
                       "x-systemd.mount-timeout=30,flush_interval=2 0 0\n");
  ExpectMountWorks("mount --fstab " + Q(fstab) + " " + Q(mnt_), RandomBytes(70000, 3));
}

TEST_F(MountHelperTest, StartupErrorsFailMountAndMountNothing) {
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {"-t fuse.chunkfs " + Q(dir_ + "/missing") + " " + Q(mnt_), "does not exist"},
      {"-t fuse.chunkfs " + Q(repo_) + " " + Q(mnt_) + " -o flush_interval=soon", "-o flush_interval=soon"},
      {"-t fuse.chunkfs " + Q(repo_) + " " + Q(mnt_) + " -o no_such_option", "no_such_option"},
      {"-t fuse.chunkfs " + Q(repo_) + " " + Q(dir_ + "/no-mountpoint"), "no-mountpoint"},
  };
  for (const auto& c : cases) {
    std::string out;
    EXPECT_NE(RunMount(c.args, &out), 0) << c.args;
    EXPECT_NE(out.find(c.message), std::string::npos) << c.args << "\n" << out;
    EXPECT_FALSE(MountedAt(mnt_)) << c.args;
  }
  EXPECT_TRUE(Daemons(mnt_).empty());
}

TEST_F(MountHelperTest, RepositoryInUseFailsBeforeDetaching) {
  std::string out;
  ASSERT_EQ(RunMount("-t fuse.chunkfs " + Q(repo_) + " " + Q(mnt_), &out), 0) << out;
  std::string mnt2 = dir_ + "/mnt2";
  ASSERT_EQ(::mkdir(mnt2.c_str(), 0755), 0);
  // The second daemon finds the repository locked only after forking (it
  // opens the repository there): the error must still reach mount(8).
  EXPECT_NE(RunMount("-t fuse.chunkfs " + Q(repo_) + " " + Q(mnt2), &out), 0);
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
  EXPECT_FALSE(MountedAt(mnt2));
  EXPECT_TRUE(Daemons(mnt2).empty());
  std::string data = "the first mount still works";
  StoreAndRead(mnt_, data);
  UnmountAndWait(mnt_);
}

// The same options given to chunkfs itself (a script or a unit may pass them
// on): accepted and ignored, and chunkfs without -f detaches once mounted.
TEST_F(MountHelperTest, FstabOptionsGivenToChunkfsDirectly) {
  ExpectMountWorks(std::string(CHUNKFS_BINARY) + " " + Q(repo_) + " " + Q(mnt_) +
                       " -o defaults,nofail,_netdev,noauto,user,users,relatime,comment=x,"
                       "x-systemd.automount,x-systemd.requires=a.service",
                   "options for mount(8) are ignored");
}

}  // namespace
}  // namespace chunkfs::fs::testing
