// The core of `chunkctl put REPO INPUT...`, apart from the command line, so
// that tests can run it on a FaultEnv.
//
// Order, and what it promises:
//  1. Before the repository lock is taken: every named input is checked
//     (input_files.h: regular files only, never opened if not one), and if
//     "-" is among the inputs standard input is read to its end (its size
//     bounded by the repository's maximum chunk size, learnt from a read-only
//     open). A failed input is reported and left out; if none is left the
//     repository is not even opened for writing.
//  2. Under the lock: each input is read and Put. A failure is reported and
//     the other inputs still go in.
//  3. One Sync() and Close() for all of them. Only if both succeed is `print`
//     called: once per stored input, in the order given, with
//     "<digest>  <input>\n". A printed digest is durable. If the sync fails,
//     nothing is printed and the error says so.
// Every error is one "chunkctl: ..." line on stderr.
//
// `progress`, if set, is called after each input stored with (inputs done,
// inputs to store).
// Returns kExitOk, or kExitFailure if any input, the open or the sync failed.
// Thread safety: one call at a time per process (it reads stdin).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "chunkfs/env.h"

namespace chunkctl {

int PutFiles(const std::string& repo_path, const std::vector<std::string>& inputs, chunkfs::Env* env,
             const std::function<void(const std::string& line)>& print,
             const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);

}  // namespace chunkctl
