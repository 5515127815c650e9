#include "daemon.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace chunkfs::fs {

Daemonizer::~Daemonizer() {
  if (pipe_fd_ >= 0) ::close(pipe_fd_);
}

int Daemonizer::Fork() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno;
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return err;
  }
  if (pid == 0) {
    ::close(fds[0]);
    pipe_fd_ = fds[1];
    ::setsid();
    return 0;
  }
  // Parent: wait for "ready" or for the child's exit.
  ::close(fds[1]);
  char c;
  ssize_t n;
  do {
    n = ::read(fds[0], &c, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1) ::_exit(0);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
  ::_exit(1);
}

void Daemonizer::Ready() {
  if (pipe_fd_ < 0) return;
  if (::chdir("/") != 0) {
    // cannot happen; keep going
  }
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  char c = 0;
  ssize_t n;
  do {
    n = ::write(pipe_fd_, &c, 1);
  } while (n < 0 && errno == EINTR);
  ::close(pipe_fd_);
  pipe_fd_ = -1;
}

void NotifySystemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || (path[0] != '/' && path[0] != '@')) return;
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  socklen_t alen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len);
  ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), alen);
  ::close(fd);
}

}  // namespace chunkfs::fs
