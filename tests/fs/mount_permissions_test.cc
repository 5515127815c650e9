// Who can read and write what (issue 10, SPEC §8, docs/MOUNT.md
// "Permissions"), shown with processes of other users: a child forked as
// root drops to another uid/gid (and supplementary groups) and reaches the
// mount and the repository through descriptors opened before, since the
// scratch folder above them is root's only. Needs root; skipped otherwise.
//
//   default mount       other users: EACCES on everything (FUSE, no allow_other)
//   -o allow_other      /chunks readable by all; /incoming (0700) the owner's only;
//                       default_permissions on, so the kernel enforces the modes
//   incoming_group/mode members of the group (or everyone, 1777) may write
//   the repository      0700 folders, 0600 files: no other user reads a pack;
//                       a world-readable one gets a warning at mount
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

constexpr uid_t kOtherUid = 4243;    // no account needed: the kernel checks numbers
constexpr uid_t kMemberUid = 4245;   // a member of kGroup
constexpr gid_t kGroup = 4244;
constexpr gid_t kOtherGid = 4246;

// Runs fn(dirfd) in a child as uid/gid with `groups`; returns what fn
// returned (0 or an errno), or 200+ if the child could not become the user.
int AsUser(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, int dirfd,
           const std::function<int(int)>& fn) {
  pid_t pid = ::fork();
  if (pid < 0) return 250;
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(gid, gid, gid) != 0 ||
        ::setresuid(uid, uid, uid) != 0) {
      ::_exit(201);
    }
    ::_exit(fn(dirfd));
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 202;
  return WEXITSTATUS(status);
}

int Other(int dirfd, const std::function<int(int)>& fn) { return AsUser(kOtherUid, kOtherGid, {}, dirfd, fn); }
int Member(int dirfd, const std::function<int(int)>& fn) { return AsUser(kMemberUid, kOtherGid, {kGroup}, dirfd, fn); }

// 0 or errno: fstatat of `path` below dirfd.
int StatErr(int dirfd, const std::string& path) {
  struct stat st;
  return ::fstatat(dirfd, path.c_str(), &st, 0) == 0 ? 0 : errno;
}

// 0 if `path` below dirfd reads back exactly `want`, else an errno (EIO for
// other bytes).
int ReadsBack(int dirfd, const std::string& path, const std::string& want) {
  int fd = ::openat(dirfd, path.c_str(), O_RDONLY);
  if (fd < 0) return errno;
  std::string got(want.size() + 1, '\0');
  ssize_t n = ::read(fd, got.data(), got.size());
  int err = n < 0 ? errno : 0;
  ::close(fd);
  if (err != 0) return err;
  return static_cast<size_t>(n) == want.size() && got.compare(0, want.size(), want) == 0 ? 0 : EIO;
}

// 0 if a file `path` below dirfd could be created, written and closed.
int WriteNew(int dirfd, const std::string& path, const std::string& data) {
  int fd = ::openat(dirfd, path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return errno;
  int err = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) ? 0 : errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

// 0 if the folder `path` below dirfd can be listed.
int List(int dirfd, const std::string& path) {
  int fd = ::openat(dirfd, path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

class PermissionsTest : public MountTest {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root to act as other users";
    MountTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    root_ = ::open(mnt_.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(root_, 0);
    repo_fd_ = ::open(repo_.c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(repo_fd_, 0);
  }
  void TearDown() override {
    if (root_ >= 0) ::close(root_);
    if (repo_fd_ >= 0) ::close(repo_fd_);
    MountTest::TearDown();
  }
  // Stores `data` through the mount as root; its digest.
  std::string Store(const std::string& name, const std::string& data) {
    WriteFile(Incoming() + "/" + name, data);
    return Sha256Hex(data);
  }
  // The mount's options as the kernel shows them (/proc/self/mountinfo).
  std::string KernelOptions() const {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + mnt_ + " ") != std::string::npos) return line;
    }
    return "";
  }
  int root_ = -1;
  int repo_fd_ = -1;
};

TEST_F(PermissionsTest, ByDefaultOtherUsersCannotEnterTheMount) {
  const std::string data = "private by default";
  const std::string hex = Store("a", data);
  EXPECT_EQ(ReadsBack(root_, "chunks/" + hex, data), 0);  // the owner can
  EXPECT_EQ(Other(root_, [&](int fd) { return StatErr(fd, "chunks"); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return ReadsBack(fd, "chunks/" + hex, data); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return StatErr(fd, "incoming"); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return WriteNew(fd, "incoming/b", "x"); }), EACCES);
  // Not even the group of the mounting user.
  EXPECT_EQ(AsUser(kOtherUid, 0, {0}, root_, [&](int fd) { return StatErr(fd, "chunks"); }), EACCES);
  EXPECT_EQ(KernelOptions().find("allow_other"), std::string::npos) << KernelOptions();
  EXPECT_EQ(Log().find("chmod -R"), std::string::npos) << Log();  // a private repository: no warning
}

TEST_F(PermissionsTest, NoOtherUserReadsTheRepositoryFiles) {
  const std::string data = TextBytes(5000, 3);
  Store("a", data);
  ASSERT_EQ(Sh("sync -f " + Q(Incoming() + "/a")), 0);  // the pack and its idx are on disk
  std::string packs;
  ASSERT_EQ(ShOut("cd " + Q(repo_) + " && find shards -name '*.dat' | head -1", &packs), 0);
  ASSERT_FALSE(packs.empty());
  const std::string pack = packs.substr(0, packs.find('\n'));
  EXPECT_EQ(Other(repo_fd_, [&](int fd) { return ReadsBack(fd, pack, "x"); }), EACCES);
  EXPECT_EQ(Other(repo_fd_, [&](int fd) { return ReadsBack(fd, "chunkfs.repo", "x"); }), EACCES);
  EXPECT_EQ(Other(repo_fd_, [&](int fd) { return List(fd, "."); }), EACCES);
  EXPECT_EQ(Member(repo_fd_, [&](int fd) { return List(fd, "shards"); }), EACCES);
  std::string modes;
  ASSERT_EQ(ShOut("find " + Q(repo_) + " -printf '%m %y\\n' | sort | uniq -c", &modes), 0);
  EXPECT_EQ(modes.find("755"), std::string::npos) << modes;
  EXPECT_EQ(modes.find("644"), std::string::npos) << modes;
  EXPECT_NE(modes.find("600 f"), std::string::npos) << modes;
  EXPECT_NE(modes.find("700 d"), std::string::npos) << modes;
}

class AllowOtherTest : public PermissionsTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"allow_other"}; }
};

TEST_F(AllowOtherTest, OthersReadChunksButCannotWriteIncoming) {
  const std::string data = "readable by every user with allow_other";
  const std::string hex = Store("a", data);
  EXPECT_EQ(Other(root_, [&](int fd) { return ReadsBack(fd, "chunks/" + hex, data); }), 0);
  EXPECT_EQ(Other(root_, [&](int fd) { return List(fd, "chunks"); }), 0);
  EXPECT_EQ(Other(root_, [&](int fd) { return WriteNew(fd, "incoming/b", "x"); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return List(fd, "incoming"); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return ReadsBack(fd, "incoming/a", data); }), EACCES);
  // The owner's upload keeps its name and mode (the kernel checks them).
  struct stat st;
  ASSERT_EQ(::stat(Incoming().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, 0u);
  const std::string opts = KernelOptions();
  EXPECT_NE(opts.find("default_permissions"), std::string::npos) << opts;
  EXPECT_NE(opts.find("allow_other"), std::string::npos) << opts;
}

class IncomingGroupTest : public PermissionsTest {
 protected:
  std::vector<std::string> MountOptions() const override {
    return {"allow_other", "incoming_group=" + std::to_string(kGroup)};
  }
};

TEST_F(IncomingGroupTest, AMemberWritesANonMemberCannot) {
  struct stat st;
  ASSERT_EQ(::stat(Incoming().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  EXPECT_EQ(st.st_gid, kGroup);
  const std::string data = "written by a member of the group";
  EXPECT_EQ(Member(root_, [&](int fd) { return WriteNew(fd, "incoming/m", data); }), 0);
  EXPECT_EQ(Other(root_, [&](int fd) { return WriteNew(fd, "incoming/o", "x"); }), EACCES);
  EXPECT_EQ(Other(root_, [&](int fd) { return List(fd, "incoming"); }), EACCES);
  // The member's name is the member's, and its chunk is stored.
  ASSERT_EQ(::stat((Incoming() + "/m").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kMemberUid);
  EXPECT_EQ(st.st_gid, kOtherGid);
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex(data))), data);
  EXPECT_EQ(DigestXattr(Incoming() + "/m"), Sha256Hex(data));
}

class IncomingModeTest : public PermissionsTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"allow_other", "incoming_mode=1777"}; }
};

TEST_F(IncomingModeTest, Mode1777LetsEveryoneWriteButNotRemoveOthersNames) {
  struct stat st;
  ASSERT_EQ(::stat(Incoming().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);
  EXPECT_EQ(Other(root_, [&](int fd) { return WriteNew(fd, "incoming/o", "by the other user"); }), 0);
  EXPECT_EQ(Member(root_, [&](int fd) { return WriteNew(fd, "incoming/m", "by the member"); }), 0);
  // The sticky bit: a name is removed only by its owner.
  EXPECT_EQ(Member(root_, [&](int fd) { return ::unlinkat(fd, "incoming/o", 0) == 0 ? 0 : errno; }), EPERM);
  EXPECT_EQ(Other(root_, [&](int fd) { return ::unlinkat(fd, "incoming/o", 0) == 0 ? 0 : errno; }), 0);
}

class WorldReadableRepoTest : public PermissionsTest {
 protected:
  // As an earlier chunkfs (or a careless chmod) left it.
  void BeforeMount() override { ASSERT_EQ(Sh("chmod -R go+rX " + Q(repo_)), 0); }
};

TEST_F(WorldReadableRepoTest, TheMountWarnsOnceNamingTheFix) {
  const std::string log = Log();
  const std::string fix = "chmod -R go-rwx " + repo_;
  size_t at = log.find(fix);
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_EQ(log.find(fix, at + 1), std::string::npos) << "warned more than once: " << log;
  EXPECT_NE(log.find(repo_ + " has mode 0755"), std::string::npos) << log;
  // The mount works all the same.
  const std::string data = "still served";
  EXPECT_EQ(ReadFile(ChunkPath(Store("a", data))), data);
}

}  // namespace
}  // namespace chunkfs::fs::testing
