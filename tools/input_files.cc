// Inputs of `chunkctl put`: regular files by name, anything on stdin.
#include "input_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace chunkctl {
namespace {

using chunkfs::Status;

// "a FIFO", "a directory", ... for the refusal message.
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status NotRegular(const std::string& path, mode_t mode) {
  std::string why = path + " is " + KindOf(mode) + ", not a regular file";
  if (!S_ISDIR(mode)) why += " (to store what it delivers, give '-' and redirect standard input from it)";
  return Status::InvalidArgument(why);
}

Status TooLarge(const std::string& name, uint64_t max_size) {
  return Status::TooLarge(name + ": larger than the repository's maximum chunk size (" + std::to_string(max_size) +
                          " bytes)");
}

// Reads until EOF or until more than max_size bytes arrived.
Status ReadFd(int fd, const std::string& name, uint64_t max_size, std::string* out) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("read " + name, errno);
    if (n == 0) return Status::OK();
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > max_size) return TooLarge(name, max_size);
  }
}

// Opens `path` for reading without blocking (O_NONBLOCK: a FIFO without a
// writer opens at once) and returns the fd if it is a regular file, or -1
// with *s set. The fd is back in blocking mode.
int OpenRegular(const std::string& path, struct stat* st, Status* s) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    *s = Status::IOError("open " + path, errno);
    return -1;
  }
  if (fstat(fd, st) != 0) {
    *s = Status::IOError("stat " + path, errno);
  } else if (!S_ISREG(st->st_mode)) {
    *s = NotRegular(path, st->st_mode);
  } else if (fcntl(fd, F_SETFL, 0) != 0) {
    *s = Status::IOError("fcntl " + path, errno);
  } else {
    return fd;
  }
  (void)close(fd);  // opened read-only: a failed close loses nothing
  return -1;
}

}  // namespace

Status CheckInputFile(const std::string& path) {
  struct stat st;
  // stat first: a FIFO or a device is refused without even being opened.
  if (stat(path.c_str(), &st) != 0) return Status::IOError("stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return NotRegular(path, st.st_mode);
  Status s;
  int fd = OpenRegular(path, &st, &s);  // checks read permission
  if (fd >= 0) (void)close(fd);         // read-only, nothing read: nothing to lose
  return s;
}

Status ReadInputFile(const std::string& path, uint64_t max_size, std::string* out) {
  out->clear();
  struct stat st;
  Status s;
  int fd = OpenRegular(path, &st, &s);
  if (fd < 0) return s;
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    s = Status::TooLarge(path + ": " + std::to_string(st.st_size) +
                         " bytes, larger than the repository's maximum chunk size (" + std::to_string(max_size) +
                         " bytes)");
  } else {
    out->reserve(static_cast<size_t>(st.st_size));
    s = ReadFd(fd, path, max_size, out);
  }
  (void)close(fd);  // read-only: a failed close loses nothing
  return s;
}

Status ReadStdin(uint64_t max_size, std::string* out) {
  out->clear();
  return ReadFd(0, "stdin", max_size, out);
}

}  // namespace chunkctl
