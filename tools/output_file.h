// Where `chunkctl get -o TARGET` writes.
//
//  - TARGET, or the file its symlinks finally name, is a regular file or does
//    not exist yet: the bytes go to a temporary file in that file's directory,
//    which is synced and renamed over it. Symlinks stay links (the file they
//    point to is replaced or created); an existing file keeps its permission
//    bits; a failure leaves the old file, or nothing, in place.
//  - TARGET is a device, a FIFO, a socket or a terminal: the bytes are written
//    into it directly (O_TRUNC where that means anything); nothing is created
//    or renamed. A full device fails with ENOSPC; a FIFO waits for a reader.
//  - A directory or an empty name is refused.
// Every message names TARGET (or the path its symlinks lead to), never the
// temporary file.
//
// Thread safety: a plain function; concurrent calls on the same TARGET leave
// one of the contents.
#pragma once

#include <string>
#include <string_view>

#include "chunkfs/status.h"

namespace chunkctl {

chunkfs::Status WriteOutputFile(const std::string& target, std::string_view data);

}  // namespace chunkctl
