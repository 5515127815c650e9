// Status::ToString and Status::ToErrno.
//
// Thread safety: pure functions of an immutable value.
#include "chunkfs/status.h"

#include <cerrno>
#include <cstring>

namespace chunkfs {
namespace {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kInvalidArgument:
      return "Invalid argument";
    case Status::Code::kIOError:
      return "IO error";
    case Status::Code::kTooLarge:
      return "Too large";
    case Status::Code::kNotSupported:
      return "Not supported";
    case Status::Code::kBusy:
      return "Busy";
  }
  return "Unknown";
}

// Thread-safe strerror (the GNU strerror_r returns a pointer, XSI an int).
std::string ErrnoText(int err) {
  char buf[256];
  buf[0] = '\0';
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  return std::string(strerror_r(err, buf, sizeof(buf)));
#else
  if (strerror_r(err, buf, sizeof(buf)) != 0) return "errno " + std::to_string(err);
  return std::string(buf);
#endif
}

}  // namespace

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  out += ": ";
  out += msg_;
  if (errno_ != 0) {
    out += ": ";
    out += ErrnoText(errno_);
  }
  return out;
}

int Status::ToErrno() const {
  switch (code_) {
    case Code::kOk:
      return 0;
    case Code::kNotFound:
      return ENOENT;
    case Code::kCorruption:
      return EIO;
    case Code::kInvalidArgument:
      return EINVAL;
    case Code::kIOError:
      return errno_ != 0 ? errno_ : EIO;
    case Code::kTooLarge:
      return EFBIG;
    case Code::kNotSupported:
      return EOPNOTSUPP;
    case Code::kBusy:
      return EBUSY;
  }
  return EIO;
}

}  // namespace chunkfs
