// Status: the result of every store operation. No exception leaves the store;
// a failure is a code, the errno that caused it (if any) and a context string.
//
// Thread safety: a Status is a value; distinct objects may be used from
// different threads without synchronisation.
#pragma once

#include <string>
#include <utility>

namespace chunkfs {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,         // no such chunk / file
    kCorruption,       // stored bytes fail a checksum or do not match a digest
    kInvalidArgument,  // bad input from the caller (bad digest, bad setting)
    kIOError,          // the OS failed: errno() says why
    kTooLarge,         // chunk over the repository's maximum size
    kNotSupported,     // e.g. a repository of a newer format version
    kBusy,             // the repository is owned by another process
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, 0, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, 0, std::move(msg)); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, 0, std::move(msg));
  }
  // `err` is the errno reported by the OS (kept so that the FUSE layer can
  // answer with it: ENOSPC stays ENOSPC).
  static Status IOError(std::string msg, int err) { return Status(Code::kIOError, err, std::move(msg)); }
  static Status TooLarge(std::string msg) { return Status(Code::kTooLarge, 0, std::move(msg)); }
  static Status NotSupported(std::string msg) { return Status(Code::kNotSupported, 0, std::move(msg)); }
  static Status Busy(std::string msg) { return Status(Code::kBusy, 0, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsTooLarge() const { return code_ == Code::kTooLarge; }
  bool IsBusy() const { return code_ == Code::kBusy; }

  Code code() const { return code_; }
  int err() const { return errno_; }
  const std::string& message() const { return msg_; }

  // "IO error: write shards/0a/pack-...dat: No space left on device"
  std::string ToString() const;
  // The errno a file system should answer with: ENOENT, EIO, EINVAL, EFBIG,
  // EBUSY, or the kept OS errno for kIOError. 0 for OK.
  int ToErrno() const;

  // Returns a copy with "prefix: " put before the message.
  Status WithContext(const std::string& prefix) const {
    return Status(code_, errno_, prefix + ": " + msg_);
  }

 private:
  Status(Code c, int e, std::string m) : code_(c), errno_(e), msg_(std::move(m)) {}
  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string msg_;
};

}  // namespace chunkfs
