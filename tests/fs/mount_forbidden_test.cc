// Everything outside what /incoming allows fails with a proper errno (EROFS,
// EPERM, or what the kernel answers itself), never a crash or a hang: the
// mount keeps working afterwards.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

int OpenErr(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd >= 0) {
    ::close(fd);
    return 0;
  }
  return errno;
}

int Rename2(const std::string& a, const std::string& b, unsigned flags) {
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), flags));
}

class ForbiddenTest : public MountTest {
 protected:
  void SetUp() override {
    MountTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    WriteFile(Incoming() + "/name", "a stored chunk");
    hex_ = Sha256Hex("a stored chunk");
    chunk_ = ChunkPath(hex_);
    struct stat st;
    ASSERT_EQ(::stat(chunk_.c_str(), &st), 0);
  }
  void TearDown() override {
    if (pid_ > 0) {
      // Still alive and answering.
      struct stat st;
      EXPECT_EQ(::stat(chunk_.c_str(), &st), 0) << Log();
      EXPECT_EQ(ReadFile(chunk_), "a stored chunk");
    }
    MountTest::TearDown();
  }
  std::string hex_;
  std::string chunk_;
};

TEST_F(ForbiddenTest, CreatingOutsideIncoming) {
  EXPECT_EQ(OpenErr(mnt_ + "/new", O_WRONLY | O_CREAT), EROFS);
  EXPECT_EQ(OpenErr(Chunks() + "/new", O_WRONLY | O_CREAT), EROFS);
  EXPECT_EQ(OpenErr(Chunks() + "/" + Sha256Hex("x"), O_WRONLY | O_CREAT), EROFS);
  EXPECT_EQ(Errno(::mkdir((mnt_ + "/dir").c_str(), 0755)), EROFS);
  EXPECT_EQ(Errno(::mkdir((Chunks() + "/dir").c_str(), 0755)), EROFS);
  EXPECT_EQ(Errno(::mknod((mnt_ + "/node").c_str(), S_IFREG | 0644, 0)), EROFS);
  EXPECT_EQ(Errno(::mknod((Chunks() + "/node").c_str(), S_IFREG | 0644, 0)), EROFS);
}

TEST_F(ForbiddenTest, WritingOrChangingAChunk) {
  EXPECT_EQ(OpenErr(chunk_, O_WRONLY), EROFS);
  EXPECT_EQ(OpenErr(chunk_, O_RDWR), EROFS);
  EXPECT_EQ(OpenErr(chunk_, O_WRONLY | O_TRUNC), EROFS);
  EXPECT_EQ(OpenErr(chunk_, O_WRONLY | O_APPEND), EROFS);
  EXPECT_EQ(Errno(::truncate(chunk_.c_str(), 0)), EROFS);
  EXPECT_EQ(Errno(::chmod(chunk_.c_str(), 0644)), EROFS);
  EXPECT_EQ(Errno(::chown(chunk_.c_str(), 1, 1)), EROFS);
  EXPECT_EQ(Errno(::utimes(chunk_.c_str(), nullptr)), 0) << "touch on a chunk marks it in use (SPEC §7)";
  EXPECT_EQ(Errno(::setxattr(chunk_.c_str(), "user.x", "1", 1, 0)), EROFS);
  EXPECT_EQ(Errno(::removexattr(chunk_.c_str(), "user.chunkfs.digest")), EROFS);
  // A read-only descriptor cannot write (the kernel says so).
  int fd = ::open(chunk_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(::ftruncate(fd, 0), -1);
  EXPECT_TRUE(errno == EINVAL || errno == EBADF || errno == EROFS) << std::strerror(errno);
  ::close(fd);
  EXPECT_EQ(Sh("{ echo x >> " + Q(chunk_) + "; } 2>/dev/null"), 1);
}

TEST_F(ForbiddenTest, RemovingOrRenamingChunksAndTopLevel) {
  EXPECT_EQ(Errno(::unlink(chunk_.c_str())), EROFS);
  EXPECT_EQ(Errno(::unlink((mnt_ + "/.stats").c_str())), EROFS);
  EXPECT_EQ(Errno(::rmdir(Chunks().c_str())), EROFS);
  EXPECT_EQ(Errno(::rmdir(Incoming().c_str())), EROFS);
  EXPECT_EQ(Errno(::rename(chunk_.c_str(), (Chunks() + "/other").c_str())), EROFS);
  EXPECT_EQ(Errno(::rename(Chunks().c_str(), (mnt_ + "/renamed").c_str())), EROFS);
  EXPECT_EQ(Errno(::rename(Incoming().c_str(), (mnt_ + "/renamed").c_str())), EROFS);
  // Out of /chunks or "/" into /incoming, and out of /incoming.
  EXPECT_EQ(Errno(::rename(chunk_.c_str(), (Incoming() + "/moved").c_str())), EROFS);
  EXPECT_EQ(Errno(::rename((mnt_ + "/.stats").c_str(), (Incoming() + "/s").c_str())), EROFS);
  EXPECT_EQ(Errno(::rename((Incoming() + "/name").c_str(), (Chunks() + "/name").c_str())), EROFS);
  EXPECT_EQ(Errno(::rename((Incoming() + "/name").c_str(), (mnt_ + "/name").c_str())), EROFS);
  // Out of the mount altogether: the kernel refuses.
  EXPECT_EQ(Errno(::rename((Incoming() + "/name").c_str(), (work_ + "/name").c_str())), EXDEV);
  EXPECT_EQ(Errno(Rename2(Incoming() + "/name", Incoming() + "/x", RENAME_EXCHANGE)), ENOENT);
  WriteFile(Incoming() + "/x", "x");
  EXPECT_EQ(Errno(Rename2(Incoming() + "/name", Incoming() + "/x", RENAME_EXCHANGE)), EINVAL);
  EXPECT_EQ(Errno(Rename2(Incoming() + "/name", Incoming() + "/x", RENAME_NOREPLACE)), EEXIST);
}

TEST_F(ForbiddenTest, LinksAndSpecialFiles) {
  EXPECT_EQ(Errno(::symlink("target", (Incoming() + "/link").c_str())), EPERM);
  EXPECT_EQ(Errno(::symlink("target", (mnt_ + "/link").c_str())), EPERM);
  EXPECT_EQ(Errno(::symlink("target", (Chunks() + "/link").c_str())), EPERM);
  EXPECT_EQ(Errno(::link(chunk_.c_str(), (Incoming() + "/hard").c_str())), EPERM);
  EXPECT_EQ(Errno(::link((Incoming() + "/name").c_str(), (Incoming() + "/hard").c_str())), EPERM);
  EXPECT_EQ(Errno(::link((Incoming() + "/name").c_str(), (Chunks() + "/hard").c_str())), EPERM);
  EXPECT_EQ(Errno(::mkfifo((Incoming() + "/fifo").c_str(), 0644)), EPERM);
  EXPECT_EQ(Errno(::mknod((Incoming() + "/dev").c_str(), S_IFCHR | 0644, makedev(1, 3))), EPERM);
  char buf[16];
  EXPECT_EQ(::readlink((Incoming() + "/name").c_str(), buf, sizeof buf), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(ForbiddenTest, TopLevelAttributesAndStats) {
  EXPECT_EQ(Errno(::chmod(mnt_.c_str(), 0700)), EROFS);
  EXPECT_EQ(Errno(::chmod(Chunks().c_str(), 0700)), EROFS);
  EXPECT_EQ(Errno(::utimes(Chunks().c_str(), nullptr)), EROFS);
  EXPECT_EQ(Errno(::chmod((mnt_ + "/.stats").c_str(), 0644)), EROFS);
  EXPECT_EQ(OpenErr(mnt_ + "/.stats", O_WRONLY), EROFS);
  EXPECT_EQ(OpenErr(mnt_ + "/.stats", O_RDONLY | O_TRUNC), EROFS);
  EXPECT_EQ(Errno(::truncate((mnt_ + "/.stats").c_str(), 0)), EROFS);
}

TEST_F(ForbiddenTest, IncomingMisuseGetsErrnos) {
  ASSERT_EQ(::mkdir((Incoming() + "/d").c_str(), 0755), 0);
  WriteFile(Incoming() + "/d/f", "f");
  EXPECT_EQ(Errno(::mkdir((Incoming() + "/d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(Errno(::rmdir((Incoming() + "/d").c_str())), ENOTEMPTY);
  EXPECT_EQ(Errno(::rmdir((Incoming() + "/name").c_str())), ENOTDIR);
  EXPECT_EQ(Errno(::unlink((Incoming() + "/d").c_str())), EISDIR);
  EXPECT_EQ(Errno(::unlink((Incoming() + "/missing").c_str())), ENOENT);
  EXPECT_EQ(Errno(::rename((Incoming() + "/name").c_str(), (Incoming() + "/d").c_str())), EISDIR);
  EXPECT_EQ(Errno(::rename((Incoming() + "/d").c_str(), (Incoming() + "/name").c_str())), ENOTDIR);
  EXPECT_EQ(OpenErr(Incoming() + "/name", O_WRONLY | O_CREAT | O_EXCL), EEXIST);
  EXPECT_EQ(Errno(::truncate((Incoming() + "/d").c_str(), 0)), EISDIR);
  std::string longname(256, 'n');
  EXPECT_EQ(OpenErr(Incoming() + "/" + longname, O_WRONLY | O_CREAT), ENAMETOOLONG);
  int fd = ::open((Incoming() + "/falloc").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fallocate(fd, 0, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(::close(fd), 0);
}

}  // namespace
}  // namespace chunkfs::fs::testing
