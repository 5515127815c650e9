// `chunkctl get -o TARGET`: replace regular files atomically, write into
// everything else, follow symlinks.
#include "output_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "cli.h"

namespace chunkctl {
namespace {

using chunkfs::Status;

constexpr int kMaxSymlinkHops = 40;  // as the kernel's ELOOP limit

Status Errno(const std::string& what, int err) { return Status::IOError(what, err); }

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Permission bits of a new file: 0666 less the umask. Reads the umask by
// setting it (the only portable way): call from one thread only.
mode_t NewFileMode() {
  mode_t mask = umask(0);
  umask(mask);
  return 0666 & ~mask;
}

// Follows the symlinks of `path` to the path of the file they finally name,
// which need not exist (a dangling link: the new file is created there). A
// relative link is taken from the directory of the link.
Status FollowSymlinks(const std::string& path, std::string* final_path) {
  std::string p = path;
  for (int hops = 0; hops <= kMaxSymlinkHops; ++hops) {
    struct stat st;
    if (lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
      *final_path = p;  // not a link, or missing: creating it reports any error
      return Status::OK();
    }
    char buf[PATH_MAX];
    ssize_t n = readlink(p.c_str(), buf, sizeof(buf));
    if (n < 0) return Errno("readlink " + p, errno);
    if (n == 0 || static_cast<size_t>(n) == sizeof(buf)) return Errno("readlink " + p, ENAMETOOLONG);
    std::string link(buf, static_cast<size_t>(n));
    p = link[0] == '/' ? link : DirName(p) + "/" + link;
  }
  return Errno(path, ELOOP);
}

// Writes into an existing file that is not replaced: a device, a FIFO, ...
Status WriteInPlace(const std::string& target, std::string_view data) {
  int fd = open(target.c_str(), O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + target, errno);
  Status s = WriteAll(fd, data, "write " + target);
  // A block device caches what it is given; pipes and most character devices
  // cannot sync at all (EINVAL, EROFS, ENOTSUP), which is no error here.
  if (s.ok() && fsync(fd) != 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP) {
    s = Errno("fsync " + target, errno);
  }
  if (close(fd) != 0 && s.ok()) s = Errno("close " + target, errno);
  return s;
}

// Replaces (or creates) the regular file `path` through a synced temporary
// file renamed over it. Messages name `path`, not the temporary file.
Status ReplaceFile(const std::string& path, mode_t mode, std::string_view data) {
  std::string tmp = DirName(path) + "/." + BaseName(path).substr(0, 200) + ".chunkctl-XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return Errno("create " + path, errno);
  Status s = WriteAll(fd, data, "write " + path);
  if (s.ok() && fchmod(fd, mode) != 0) s = Errno("chmod " + path, errno);
  if (s.ok() && fsync(fd) != 0) s = Errno("fsync " + path, errno);
  if (close(fd) != 0 && s.ok()) s = Errno("close " + path, errno);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Errno("rename over " + path, errno);
  if (!s.ok()) (void)unlink(tmp.c_str());  // best effort: the error above is the one to report
  return s;
}

}  // namespace

Status WriteOutputFile(const std::string& target, std::string_view data) {
  if (target.empty()) return Status::InvalidArgument("an empty file name");
  struct stat st;
  bool exists = stat(target.c_str(), &st) == 0;  // follows symlinks
  if (!exists && errno != ENOENT) return Errno(target, errno);
  if (exists && S_ISDIR(st.st_mode)) return Errno(target, EISDIR);
  if (exists && !S_ISREG(st.st_mode)) return WriteInPlace(target, data);
  std::string path;
  Status s = FollowSymlinks(target, &path);
  if (!s.ok()) return s;
  if (!exists) return ReplaceFile(path, NewFileMode(), data);
  // A /proc/PID/fd link to a deleted file names no path that could be
  // replaced: then write into the file itself.
  struct stat final_st;
  if (stat(path.c_str(), &final_st) != 0 || final_st.st_dev != st.st_dev || final_st.st_ino != st.st_ino) {
    return WriteInPlace(target, data);
  }
  return ReplaceFile(path, st.st_mode & 0777, data);
}

}  // namespace chunkctl
