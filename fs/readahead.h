// The kernel's read-ahead for a FUSE mount.
//
// The kernel caps a FUSE mount's read-ahead at its backing device's default
// (128 KiB), so `cat` of a large chunk arrives as 128 KiB READ requests. The
// limit is raised the way mergerfs does it: after the mount exists, through
// /sys/class/bdi/MAJOR:MINOR/read_ahead_kb of the mount's device (found in
// /proc/self/mountinfo, so nothing asks the mount itself, which may not be
// serving yet). Needs root; a failure only costs speed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace chunkfs::fs {

// The "MAJOR:MINOR" of the newest mount on `mountpoint` (an absolute path
// without symbolic links) in the mountinfo text, or "" if none.
std::string MountDevice(const std::string& mountinfo, const std::string& mountpoint);

// Sets the read-ahead of the mount on `mountpoint` to `bytes` (rounded down to
// KiB). Returns 0 or an errno (ENOENT: no such mount; EACCES/EROFS: not
// allowed); *where names the file it tried.
int SetMountReadahead(const std::string& mountpoint, uint64_t bytes, std::string* where);

// Sets the read-ahead once the mount has answered its INIT: the kernel lowers
// the read-ahead to what INIT negotiates (at most its default), so it is
// raised only after that, from a thread that waits for a stat() of the mount
// root to return. `mountpoint` must be resolved (realpath) before mounting.
// The destructor joins the thread; the stat returns (with an error) at the
// latest when the mount goes away, so destroy this after unmounting.
// `bytes` 0: leave the kernel's read-ahead as it is.
class ReadaheadTuner {
 public:
  using LogFn = std::function<void(const std::string&)>;
  ReadaheadTuner(std::string mountpoint, uint64_t bytes, LogFn log);
  ~ReadaheadTuner();
  ReadaheadTuner(const ReadaheadTuner&) = delete;
  ReadaheadTuner& operator=(const ReadaheadTuner&) = delete;

 private:
  std::thread thread_;
};

}  // namespace chunkfs::fs
