// Env::Default(): the POSIX file system.
//
// Every failure is Status::IOError("<op> <path>", errno). Every descriptor is
// opened O_CLOEXEC. No exception leaves these functions.
//
// Thread safety: PosixEnv has no state; files may be used from several
// threads except PosixWritableFile (one thread at a time, as env.h says).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "chunkfs/env.h"

namespace chunkfs {
namespace {

Status PosixError(const std::string& op, const std::string& path, int err) {
  return Status::IOError(op + " " + path, err);
}

// open(2) retried on EINTR.
int OpenRetry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// The modes of what is created in the folder holding `path` (env.h): 0600
// and 0700, or 0640 and 02750 in a folder with the setgid bit (a repository
// shared with a group). A folder that cannot be stat'ed counts as private.
struct CreationModes {
  mode_t file;
  mode_t dir;
};
CreationModes ModesFor(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  struct stat st;
  if (::stat(parent.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_ISGID) != 0) {
    return {0640, 02750};
  }
  return {0600, 0700};
}

// open(2) of `path` with O_CREAT in `flags`: a file this call creates gets
// ModesFor(path).file exactly (fchmod: the umask may have taken bits away;
// it is removed again if that fails); an existing file keeps its mode.
// Returns the descriptor, or -1 with errno set.
int OpenCreating(const std::string& path, int flags) {
  const mode_t mode = ModesFor(path).file;
  int fd = OpenRetry(path.c_str(), flags | O_EXCL, mode);
  if (fd < 0 && errno == EEXIST && (flags & O_EXCL) == 0) return OpenRetry(path.c_str(), flags & ~O_CREAT);
  if (fd >= 0 && ::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(path.c_str());
    errno = err;
    return -1;
  }
  return fd;
}

// Writes all of `data` to fd, looping over short writes and EINTR.
// Returns 0 or the errno of the failing write.
int WriteAll(int fd, std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return 0;
}

// writev(2) of all parts, looping over short writes and EINTR. Returns 0 or
// the errno of the failing write.
int WriteVAll(int fd, const std::string_view* parts, size_t n) {
  constexpr size_t kMaxIov = 16;
  struct iovec iov[kMaxIov];
  size_t first = 0, skip = 0;  // the next byte to write: parts[first][skip]
  while (first < n) {
    size_t cnt = 0;
    for (size_t i = first; i < n && cnt < kMaxIov; ++i, ++cnt) {
      size_t off = i == first ? skip : 0;
      iov[cnt].iov_base = const_cast<char*>(parts[i].data() + off);
      iov[cnt].iov_len = parts[i].size() - off;
    }
    ssize_t w = ::writev(fd, iov, static_cast<int>(cnt));
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    size_t left = static_cast<size_t>(w);
    while (first < n && left >= parts[first].size() - skip) {
      left -= parts[first].size() - skip;
      ++first;
      skip = 0;
    }
    skip += left;
  }
  return 0;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return PosixError("write", path_, EBADF);
    int err = WriteAll(fd_, data);
    return err == 0 ? Status::OK() : PosixError("write", path_, err);
  }

  Status AppendV(const std::string_view* parts, size_t n) override {
    if (fd_ < 0) return PosixError("write", path_, EBADF);
    int err = WriteVAll(fd_, parts, n);
    return err == 0 ? Status::OK() : PosixError("write", path_, err);
  }

  Status Sync() override {
    if (fd_ < 0) return PosixError("fdatasync", path_, EBADF);
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync", path_, errno);
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    int r = ::close(fd_);
    fd_ = -1;
    // After close(2) fails the descriptor is gone anyway (Linux): never retry.
    if (r != 0 && errno != EINTR) return PosixError("close", path_, errno);
    return Status::OK();
  }

 private:
  const std::string path_;
  int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string* result) const override {
    result->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, result->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        result->clear();
        return PosixError("pread", path_, err);
      }
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    result->resize(got);
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixMappedFile final : public MappedFile {
 public:
  PosixMappedFile(void* base, size_t size) : base_(base), size_(size) {}
  ~PosixMappedFile() override {
    if (base_ != nullptr) ::munmap(base_, size_);
  }
  const char* data() const override { return static_cast<const char*>(base_); }
  size_t size() const override { return size_; }

 private:
  void* const base_;
  const size_t size_;
};

// An unnamed file (O_TMPFILE, or mkstemp + unlink); `what` names it in errors.
class PosixTempFile final : public TempFile {
 public:
  PosixTempFile(std::string what, int fd) : what_(std::move(what)), fd_(fd) {}
  ~PosixTempFile() override { ::close(fd_); }

  Status Write(uint64_t offset, std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t w = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
      if (w < 0) {
        if (errno == EINTR) continue;
        return PosixError("pwrite", what_, errno);
      }
      p += w;
      left -= static_cast<size_t>(w);
      offset += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  Status Read(uint64_t offset, size_t n, char* buf, size_t* got) const override {
    *got = 0;
    while (*got < n) {
      ssize_t r = ::pread(fd_, buf + *got, n - *got, static_cast<off_t>(offset + *got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("pread", what_, errno);
      }
      if (r == 0) break;  // end of file
      *got += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    int r;
    do {
      r = ::ftruncate(fd_, static_cast<off_t>(size));
    } while (r != 0 && errno == EINTR);
    if (r != 0) return PosixError("ftruncate", what_, errno);
    return Status::OK();
  }

  Status Size(uint64_t* size) const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return PosixError("fstat", what_, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

 private:
  const std::string what_;
  const int fd_;
};

// Holds the flock'ed descriptor; closing it releases the lock.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }

 private:
  const int fd_;
};

// Reads what is in fd from offset 0 (the holder's pid), trimmed of newlines.
std::string ReadHolder(int fd) {
  std::string out;
  char buf[128];
  ssize_t n;
  off_t off = 0;
  while (out.size() < 4096 && (n = ::pread(fd, buf, sizeof(buf), off)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\0')) out.pop_back();
  return out;
}

class PosixEnv final : public Env {
 public:
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    return OpenWritable(path, O_WRONLY | O_CREAT | O_APPEND, out);
  }

  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override {
    return OpenWritable(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, out);
  }

  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY);
    if (fd < 0) return PosixError("open", path, errno);
    out->reset(new PosixRandomAccessFile(path, fd));
    return Status::OK();
  }

  Status NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY);
    if (fd < 0) return PosixError("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError("fstat", path, err);
    }
    size_t size = static_cast<size_t>(st.st_size);
    void* base = nullptr;
    if (size > 0) {
      base = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return PosixError("mmap", path, err);
      }
    }
    ::close(fd);  // the mapping keeps the file alive
    out->reset(new PosixMappedFile(base, size));
    return Status::OK();
  }

  Status FileExists(const std::string& path, bool* exists) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      *exists = true;
      return Status::OK();
    }
    if (errno == ENOENT || errno == ENOTDIR) {
      *exists = false;
      return Status::OK();
    }
    return PosixError("stat", path, errno);
  }

  Status IsDirectory(const std::string& path, bool* is_dir) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    *is_dir = S_ISDIR(st.st_mode);
    return Status::OK();
  }

  Status GetFileSize(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    int fd = OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return PosixError("opendir", dir, errno);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      int err = errno;
      ::close(fd);
      return PosixError("opendir", dir, err);
    }
    Status s;
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (e == nullptr) {
        if (errno != 0) s = PosixError("readdir", dir, errno);
        break;
      }
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      names->emplace_back(name);
    }
    ::closedir(d);
    return s;
  }

  Status GetDirVersion(const std::string& dir, uint64_t* version) override {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return PosixError("stat", dir, errno);
    uint64_t ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000ull +
                  static_cast<uint64_t>(st.st_mtim.tv_nsec);
    // Mixing in the inode catches a directory replaced by another one.
    *version = ns ^ (static_cast<uint64_t>(st.st_ino) * 0x9E3779B97F4A7C15ull);
    return Status::OK();
  }

  Status CreateDir(const std::string& dir) override {
    const mode_t mode = ModesFor(dir).dir;
    if (::mkdir(dir.c_str(), mode) == 0) {
      // Exactly `mode`, whatever the umask took away.
      if (::chmod(dir.c_str(), mode) != 0) return PosixError("chmod", dir, errno);
      return Status::OK();
    }
    int err = errno;
    if (err == EEXIST) {
      struct stat st;
      if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::OK();
    }
    return PosixError("mkdir", dir, err);
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError("rename", from + " -> " + to, errno);
    }
    return Status::OK();
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    int r;
    do {
      r = ::truncate(path.c_str(), static_cast<off_t>(size));
    } while (r != 0 && errno == EINTR);
    if (r != 0) return PosixError("truncate", path, errno);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return PosixError("open", dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError("fsync", dir, errno);
    ::close(fd);
    return s;
  }

  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock,
                  std::string* holder) override {
    int fd = OpenCreating(path, O_RDWR | O_CREAT);
    if (fd < 0) return PosixError("open", path, errno);
    int r;
    do {
      r = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (r != 0 && errno == EINTR);
    if (r != 0) {
      int err = errno;
      if (err == EWOULDBLOCK) {
        std::string content = ReadHolder(fd);
        ::close(fd);
        if (holder != nullptr) *holder = content;
        // Empty: the holder has locked but not yet written its pid.
        return Status::Busy("locked by pid " + (content.empty() ? "(unknown)" : content));
      }
      ::close(fd);
      return PosixError("flock", path, err);
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    int err = 0;
    if (::ftruncate(fd, 0) != 0) {
      err = errno;
    } else {
      // WriteAll uses write(2): the descriptor's offset is 0 after open.
      err = WriteAll(fd, pid);
    }
    if (err != 0) {
      ::close(fd);
      return PosixError("write", path, err);
    }
    lock->reset(new PosixFileLock(fd));
    return Status::OK();
  }

  Status NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) override {
    const std::string what = "a temporary file in " + dir;
    const mode_t mode = ModesFor(dir + "/tmp").file;
    int fd = OpenRetry(dir.c_str(), O_TMPFILE | O_RDWR, mode);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
      // No O_TMPFILE on this file system: a named file, unlinked at once.
      std::string tmpl = dir + "/tmp-XXXXXX";
      fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
      if (fd >= 0) ::unlink(tmpl.c_str());
    }
    if (fd < 0) return PosixError("open", what, errno);
    if (::fchmod(fd, mode) != 0) {
      int err = errno;
      ::close(fd);
      return PosixError("fchmod", what, err);
    }
    out->reset(new PosixTempFile(what, fd));
    return Status::OK();
  }

  Status SetDirAccess(const std::string& dir, int64_t group) override {
    if (group >= 0 && ::chown(dir.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(group)) != 0) {
      return PosixError("chown (group " + std::to_string(group) + ")", dir, errno);
    }
    const mode_t mode = group >= 0 ? 02750 : 0700;
    if (::chmod(dir.c_str(), mode) != 0) return PosixError("chmod", dir, errno);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return PosixError("stat", dir, errno);
    // chmod drops the setgid bit silently for a group the process is not in.
    if ((st.st_mode & 07777) != mode) {
      return Status::IOError("chmod " + dir + ": the setgid bit did not stick (is this user in group " +
                                 std::to_string(group) + "?)",
                             EPERM);
    }
    return Status::OK();
  }

 private:
  Status OpenWritable(const std::string& path, int flags, std::unique_ptr<WritableFile>* out) {
    int fd = OpenCreating(path, flags);
    if (fd < 0) return PosixError("open", path, errno);
    out->reset(new PosixWritableFile(path, fd));
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

}  // namespace chunkfs
