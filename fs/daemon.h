// Running in the background without losing errors, and telling systemd.
//
// Daemonizer::Fork() forks at once (before any thread exists and before the
// repository is opened); the parent waits until the child reports that the
// mount works (exit status 0) or the child exits (its exit status; the
// child's error messages went to the user's terminal, which it keeps until
// Ready()). So `chunkfs REPO MNT` without -f, and mount.fuse3, see every
// error, and return only once the mount is usable.
#pragma once

#include <string>

namespace chunkfs::fs {

class Daemonizer {
 public:
  Daemonizer() = default;
  ~Daemonizer();
  Daemonizer(const Daemonizer&) = delete;
  Daemonizer& operator=(const Daemonizer&) = delete;

  // Returns in the child (0) or on a failure to fork (an errno); the parent
  // never returns from it.
  int Fork();
  // In the child: detaches (new session, cwd "/", stdio to /dev/null) and
  // lets the parent exit with status 0.
  void Ready();

 private:
  int pipe_fd_ = -1;
};

// sd_notify(3) without libsystemd: sends `state` ("READY=1", "STOPPING=1")
// to $NOTIFY_SOCKET if systemd started us as Type=notify. No-op otherwise.
void NotifySystemd(const std::string& state);

}  // namespace chunkfs::fs
