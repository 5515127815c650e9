// The control file /.control (docs/MOUNT.md): reachable by the mount's owner
// only, and any request written by hand gets a reply, never a crash.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class ControlTest : public MountTest {
 protected:
  std::string Control() const { return mnt_ + "/.control"; }

  // One request on a fresh open: writes `request`, then reads the reply.
  std::string Ask(const std::string& request) const {
    int fd = ::open(Control().c_str(), O_RDWR);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd < 0) return "";
    if (!request.empty()) {
      EXPECT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
    }
    std::string reply;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) reply.append(buf, static_cast<size_t>(n));
    EXPECT_EQ(n, 0) << std::strerror(errno);
    ::close(fd);
    return reply;
  }
  static bool IsError(const std::string& reply, const std::string& says) {
    return reply.rfind("error\n", 0) == 0 && reply.find(says) != std::string::npos;
  }
};

TEST_F(ControlTest, ModeIs0600OwnedByTheMountsOwner) {
  struct stat st;
  ASSERT_EQ(::stat(Control().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600u);
  EXPECT_EQ(st.st_uid, ::getuid());
  std::string listing;
  ASSERT_EQ(ShOut("ls -A " + Q(mnt_), &listing), 0);
  EXPECT_NE(listing.find(".control"), std::string::npos) << listing;
}

class ControlOtherUserTest : public ControlTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"allow_other"}; }
};

TEST_F(ControlOtherUserTest, AnotherUserCannotOpenIt) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to run a child as another user";
  int root = ::open(mnt_.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(root, 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Relative to the mount's root: only its mode and the control file's count.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    struct stat st;
    if (::fstatat(root, ".stats", &st, 0) != 0) ::_exit(101);  // the mount itself is reachable
    int fd = ::openat(root, ".control", O_RDWR);
    if (fd >= 0) ::_exit(0);
    ::_exit(errno == EACCES ? 13 : 102);
  }
  ::close(root);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 13) << "100: setuid failed, 101: mount not reachable, 0: opened, 102: other errno";
  std::string out;
  // chunkctl as that user, from inside the mount (the scratch directory above is root's only).
  EXPECT_EQ(ShOut("cd " + Q(mnt_) + " && setpriv --reuid=65534 --regid=65534 --clear-groups " +
                      std::string(CHUNKCTL_BINARY) + " stats .",
                  &out, true),
            1)
      << out;
  EXPECT_NE(out.find("only the user who mounted"), std::string::npos) << out;
}

TEST_F(ControlTest, MalformedRequestsGetAnErrorReplyAndTheMountKeepsWorking) {
  WriteFile(Incoming() + "/a", "stored");
  EXPECT_TRUE(IsError(Ask(""), "empty request")) << Ask("");
  EXPECT_TRUE(IsError(Ask("bogus\n"), "unknown command 'bogus'"));
  EXPECT_TRUE(IsError(Ask("prune --bogus\n"), "does not take '--bogus'"));
  EXPECT_TRUE(IsError(Ask("prune --since\n"), "does not take '--since'"));
  EXPECT_TRUE(IsError(Ask("prune --since nonsense --force\n"), "malformed prune token"));
  EXPECT_TRUE(IsError(Ask("prune\n" + std::string(64, 'a') + "\nzz\n"), "keep list line 2"));
  EXPECT_TRUE(IsError(Ask("prune\n" + std::string(5000, 'a')), "keep list line 1: longer than"));
  EXPECT_TRUE(IsError(Ask(std::string(5000, 'x')), "command line is longer"));
  EXPECT_TRUE(IsError(Ask(std::string("\0\xff\x01\n", 4)), "unknown command"));
  EXPECT_TRUE(IsError(Ask("compact\nextra\n"), "takes no input"));
  EXPECT_TRUE(IsError(Ask("prune\n"), "keep list is empty"));
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex("stored"))), "stored") << "a refused request deleted something";

  // One request per open: a write after the reply is refused.
  int fd = ::open(Control().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "stats", 5), 5);  // no newline: the read ends it
  char buf[4096];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ASSERT_GT(n, 3);
  EXPECT_EQ(std::string(buf, 3), "ok\n");
  EXPECT_EQ(Errno(static_cast<int>(::write(fd, "stats\n", 6))), EINVAL);
  ::close(fd);

  // A shell by hand, and the mount still serves.
  std::string out;
  ASSERT_EQ(ShOut("exec 3<>" + Q(Control()) + "; printf 'stats --json\\n' >&3; cat <&3", &out), 0);
  EXPECT_EQ(out.rfind("ok\n{", 0), 0u) << out;
  EXPECT_GE(StatsField(out, "chunks"), 0) << out;
  WriteFile(Incoming() + "/b", "still working");
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex("still working"))), "still working");
  EXPECT_TRUE(Mounted());
}

TEST_F(ControlTest, CommandsOnOneMountRunOneAtATime) {
  WriteFile(Incoming() + "/a", "a");
  WriteFile(Incoming() + "/b", "b");
  std::string keep = work_ + "/keep";
  WriteFile(keep, Sha256Hex("a") + "\n" + Sha256Hex("b") + "\n");
  // Several prunes and compactions at once: each gets its whole reply.
  std::string cmd;
  for (int i = 0; i < 4; ++i) {
    const std::string n = std::to_string(i);
    cmd += std::string(CHUNKCTL_BINARY) + " prune " + Q(mnt_) + " --keep " + Q(keep) + " > " + Q(work_ + "/p" + n) + " & ";
    cmd += std::string(CHUNKCTL_BINARY) + " compact " + Q(mnt_) + " > " + Q(work_ + "/c" + n) + " & ";
  }
  ASSERT_EQ(Sh(cmd + "wait"), 0);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(ReadFile(work_ + "/p" + std::to_string(i)).find("kept: 2 of 2 chunks"), std::string::npos) << i;
    EXPECT_NE(ReadFile(work_ + "/c" + std::to_string(i)).find("bytes reclaimed: "), std::string::npos) << i;
  }
}

}  // namespace
}  // namespace chunkfs::fs::testing
