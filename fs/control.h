// ControlSession: one open of the mount's control file, /.control
// (docs/MOUNT.md "The control file"; the protocol is in
// tools/control_protocol.h).
//
// The writes of an open are its request: a command line, then for prune the
// keep list, parsed as it arrives (the digests, 32 bytes each, are all that
// is kept; a line is bounded). The first read runs it (ChunkFs::ReadControl)
// and the reply is served from the offset of that read on. A malformed
// request is remembered and answered with an error at the read; it never
// fails a write, so that a writer streaming a long keep list sees the
// message naming the bad line.
//
// Thread safety: none; the owner (FileHandle::mu) serialises the calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "control_protocol.h"

namespace chunkfs::fs {

class ControlSession {
 public:
  // Longest command line accepted.
  static constexpr size_t kMaxCommandLine = 4096;

  // Request bytes written at `offset`, which must follow the bytes before
  // (writes in order). 0, or EINVAL (out of order, or after the reply).
  int Write(uint64_t offset, std::string_view data);
  // Ends the request: true with *request and *keep (sorted, deduplicated),
  // or false with *error saying what is wrong with it.
  bool Finish(control::Request* request, std::vector<Digest>* keep, std::string* error);

  bool answered() const { return answered_; }
  // Keeps the reply; its first byte is served at `base`.
  void SetReply(std::string reply, uint64_t base);
  // Up to `size` bytes of the reply at `offset`. EINVAL before the base.
  int ReadReply(uint64_t offset, size_t size, std::string_view* out) const;

 private:
  void Input(std::string_view data);
  bool ParseCommand(std::string_view line);

  uint64_t received_ = 0;
  bool have_command_ = false;
  std::string command_line_;  // until its newline
  control::Request request_;
  control::KeepListParser keep_;
  std::string error_;  // the first thing wrong with the request
  bool answered_ = false;
  std::string reply_;
  uint64_t reply_base_ = 0;
};

}  // namespace chunkfs::fs
