// TARGET resolution and the control-file call of chunkctl's deletion commands.
#include "control_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>

#include "chunkfs/repo_env.h"
#include "chunkfs/repo_paths.h"
#include "cli.h"

namespace chunkctl {
namespace {

constexpr long kFuseSuperMagic = 0x65735546;
constexpr size_t kBlock = 64 << 10;

std::string ControlPath(const std::string& mountpoint) {
  return mountpoint + "/" + std::string(chunkfs::control::kControlName);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

chunkfs::Status ResolveTarget(const std::string& target, TargetKind* kind) {
  if (chunkfs::IsRadosPath(target)) {  // a repository in a RADOS pool (docs/RADOS.md); Open says if it is none
    *kind = TargetKind::kRepository;
    return chunkfs::Status::OK();
  }
  struct statfs sfs;
  if (::statfs(target.c_str(), &sfs) != 0) {
    int err = errno;
    if (err == ENOTCONN) {
      return chunkfs::Status::IOError(target + " is a dead FUSE mount (its chunkfs process is gone); clear it with "
                                      "`fusermount3 -uz " + target + "`", err);
    }
    return chunkfs::Status::IOError(target, err);
  }
  struct stat st;
  if (sfs.f_type == kFuseSuperMagic) {
    if (::stat(ControlPath(target).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      *kind = TargetKind::kMount;
      return chunkfs::Status::OK();
    }
    if (::stat((target + "/chunks").c_str(), &st) == 0 && ::stat((target + "/incoming").c_str(), &st) == 0) {
      return chunkfs::Status::NotSupported(target + " is a chunkfs mount without a control file (an older chunkfs): "
                                           "unmount it and run the command on the repository");
    }
  }
  if (::stat(chunkfs::repo_paths::HeaderFile(target).c_str(), &st) == 0) {
    *kind = TargetKind::kRepository;
    return chunkfs::Status::OK();
  }
  return chunkfs::Status::InvalidArgument(target + " is neither a chunkfs repository nor the mountpoint of a chunkfs "
                                          "mount");
}

chunkfs::Status ForEachBlock(int fd, const std::string& what, const std::function<bool(std::string_view)>& fn) {
  std::string buf(kBlock, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return chunkfs::Status::IOError("reading " + what, errno);
    if (n == 0) return chunkfs::Status::OK();
    if (!fn(std::string_view(buf.data(), static_cast<size_t>(n)))) return chunkfs::Status::OK();
  }
}

chunkfs::Status CallMount(const std::string& mountpoint, const chunkfs::control::Request& request, int input_fd,
                          const std::string& input_name, bool* ok, std::string* text) {
  const std::string path = ControlPath(mountpoint);
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    int err = errno;
    if (err == EACCES || err == EPERM) {
      return chunkfs::Status::IOError(path + ": only the user who mounted " + mountpoint + " may run this command",
                                      err);
    }
    return chunkfs::Status::IOError("open " + path, err);
  }
  chunkfs::Status s = WriteAll(fd.get(), chunkfs::control::FormatRequestLine(request), path);
  if (s.ok() && input_fd >= 0) {
    chunkfs::Status w;
    s = ForEachBlock(input_fd, input_name, [&](std::string_view block) {
      w = WriteAll(fd.get(), block, path);
      return w.ok();
    });
    if (s.ok()) s = w;
  }
  if (!s.ok()) return s;
  std::string reply;
  s = ForEachBlock(fd.get(), path, [&](std::string_view block) {
    reply.append(block);
    return true;
  });
  if (!s.ok()) return s;
  if (!chunkfs::control::ParseReply(reply, ok, text)) {
    return chunkfs::Status::Corruption(path + ": the mount sent a reply that is neither 'ok' nor 'error'");
  }
  return chunkfs::Status::OK();
}

}  // namespace chunkctl
