// Inputs of `chunkctl put`: checked before the repository lock is taken, read
// after it.
//
// A named input must be a regular file (symlinks are followed). A FIFO, a
// device, a socket or a directory is refused without being opened: reading it
// could block for ever, or never end, while the put holds the repository lock
// and every mount is refused. "-" is standard input, whatever it is (pipe,
// terminal, file); the caller reads it whole before taking the lock.
//
// Every message names the input. Thread safety: plain functions, no state.
#pragma once

#include <cstdint>
#include <string>

#include "chunkfs/status.h"

namespace chunkctl {

// Checks that `path` names a regular file this process may read, without
// reading it and without ever blocking.
chunkfs::Status CheckInputFile(const std::string& path);

// Reads the regular file `path` of at most `max_size` bytes. The open cannot
// block either: a path that was replaced by a FIFO (or anything but a regular
// file) since CheckInputFile is refused. A larger file gives TooLarge without
// being read.
chunkfs::Status ReadInputFile(const std::string& path, uint64_t max_size, std::string* out);

// Reads standard input to its end, at most `max_size` bytes (TooLarge beyond).
chunkfs::Status ReadStdin(uint64_t max_size, std::string* out);

}  // namespace chunkctl
