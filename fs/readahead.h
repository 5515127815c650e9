// The kernel's read-ahead for a FUSE mount.
//
// The kernel caps a FUSE mount's read-ahead at its backing device's default
// (128 KiB), so `cat` of a large chunk arrives as 128 KiB READ requests. The
// limit is raised the way mergerfs does it: after the mount exists, through
// /sys/class/bdi/MAJOR:MINOR/read_ahead_kb of the mount's device (found in
// /proc/self/mountinfo, so nothing asks the mount itself). It must happen
// after the kernel has applied INIT's answer, which lowers it again: the
// mount does it at its first LOOKUP or GETATTR (ChunkFs::AfterInitOnce).
// Needs root; a failure only costs speed.
#pragma once

#include <cstdint>
#include <string>

namespace chunkfs::fs {

// The "MAJOR:MINOR" of the newest mount on `mountpoint` (an absolute path
// without symbolic links) in the mountinfo text, or "" if none.
std::string MountDevice(const std::string& mountinfo, const std::string& mountpoint);

// Sets the read-ahead of the mount on `mountpoint` to `bytes` (rounded down to
// KiB). Returns 0 or an errno (ENOENT: no such mount; EACCES/EROFS: not
// allowed); *where names the file it tried.
int SetMountReadahead(const std::string& mountpoint, uint64_t bytes, std::string* where);

}  // namespace chunkfs::fs
