// chunkctl's side of the deletion commands: where TARGET points (a
// repository or a chunkfs mountpoint) and the call through the mount's
// control file (control_protocol.h has the protocol).
//
// Thread safety: plain functions, no state.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "chunkfs/status.h"
#include "control_protocol.h"

namespace chunkctl {

enum class TargetKind { kRepository, kMount };

// A live chunkfs mountpoint (a FUSE file system whose root holds .control)
// is kMount; else a directory holding chunkfs.repo is kRepository. Any other
// path is an error that says what it is.
chunkfs::Status ResolveTarget(const std::string& target, TargetKind* kind);

// Reads `fd` to its end in blocks, calling fn(block) for each; stops early
// (OK) if fn returns false. `what` names the input in errors.
chunkfs::Status ForEachBlock(int fd, const std::string& what, const std::function<bool(std::string_view)>& fn);

// Runs `request` inside the mount at `mountpoint`: writes the request line,
// then the content of `input_fd` (-1: none) as it is read, then reads the
// reply. *ok and *text get the mount's answer; a Status error means the
// channel itself failed (not found, permission denied, a broken reply).
chunkfs::Status CallMount(const std::string& mountpoint, const chunkfs::control::Request& request, int input_fd,
                          const std::string& input_name, bool* ok, std::string* text);

}  // namespace chunkctl
