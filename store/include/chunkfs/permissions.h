// Who may read a repository (docs/MOUNT.md "Permissions"): the group setting
// of `chunkctl init --group` and `chunkfs -o incoming_group=`, and the check
// the mount runs at start for a repository others can read.
//
// The modes themselves are set in one place, the Env (chunkfs/env.h).
// Thread safety: both functions are reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkfs/status.h"

namespace chunkfs {

// Parses a group given by name (looked up in the group database) or by
// number (0 to 4294967294) into *gid. InvalidArgument naming `text` if it
// is neither.
Status ParseGroup(std::string_view text, int64_t* gid);

// "" if no user other than the owner (and, for a repository shared with a
// group, that group) can read or write anything in `repo`. Otherwise one
// line naming the first such path, its mode and the fix (`chmod -R go-rwx
// REPO`, or o-rwx for a shared repository). Looks at the repository's
// folder, its entries and the folders and files below them; a path that
// cannot be stat'ed is skipped.
std::string WorldAccessWarning(const std::string& repo);

}  // namespace chunkfs
