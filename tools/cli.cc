// chunkctl helpers: argument parsing, one-line errors, file input and output.
#include "cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace chunkctl {
namespace {

const OptionSpec* FindOption(std::span<const OptionSpec> specs, std::string_view name) {
  for (const OptionSpec& spec : specs) {
    if (spec.name == name || (!spec.alias.empty() && spec.alias == name)) return &spec;
  }
  return nullptr;
}

// Keeps an error on one line, whatever the store put into its message.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

chunkfs::Status ErrnoStatus(const std::string& what, int err) {
  return chunkfs::Status::IOError(what, err);
}

// Reads until EOF or until more than max_size bytes arrived.
chunkfs::Status ReadFd(int fd, const std::string& name, uint64_t max_size, std::string* out) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("read " + name, errno);
    if (n == 0) return chunkfs::Status::OK();
    out->append(buf, static_cast<size_t>(n));
    if (out->size() > max_size) {
      return chunkfs::Status::TooLarge(name + ": larger than the repository's maximum chunk size (" +
                                       std::to_string(max_size) + " bytes)");
    }
  }
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Writes and syncs `data` into the open temp file `fd`, then renames it.
chunkfs::Status FinishTemp(int fd, const std::string& tmp, const std::string& path,
                           std::string_view data) {
  chunkfs::Status s = WriteAll(fd, data, "write " + tmp);
  mode_t mask = umask(0);
  umask(mask);
  if (s.ok() && fchmod(fd, 0666 & ~mask) != 0) s = ErrnoStatus("chmod " + tmp, errno);
  if (s.ok() && fsync(fd) != 0) s = ErrnoStatus("fsync " + tmp, errno);
  if (close(fd) != 0 && s.ok()) s = ErrnoStatus("close " + tmp, errno);
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = ErrnoStatus("rename " + tmp, errno);
  return s;
}

}  // namespace

bool ParseArgs(const std::vector<std::string>& in, std::span<const OptionSpec> specs, Args* out,
               std::string* error) {
  bool options_done = false;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& arg = in[i];
    if (options_done || arg == "-" || arg.empty() || arg[0] != '-') {
      out->positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    size_t eq = arg.rfind("--", 0) == 0 ? arg.find('=') : std::string::npos;
    std::string name = arg.substr(0, eq);
    const OptionSpec* spec = FindOption(specs, name);
    if (spec == nullptr) {
      *error = "unknown option '" + name + "'";
      return false;
    }
    std::string value;
    if (eq != std::string::npos) {
      if (!spec->takes_value) {
        *error = "option '" + name + "' takes no value";
        return false;
      }
      value = arg.substr(eq + 1);
    } else if (spec->takes_value) {
      if (i + 1 >= in.size()) {
        *error = "option '" + name + "' needs a value";
        return false;
      }
      value = in[++i];
    }
    out->options[std::string(spec->name)] = value;
  }
  return true;
}

bool ParseInt(std::string_view text, int64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

bool ParseSize(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  unsigned shift = 0;
  switch (text.back()) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: break;
  }
  if (shift != 0) text.remove_suffix(1);
  int64_t v = 0;
  if (!ParseInt(text, &v)) return false;
  uint64_t u = static_cast<uint64_t>(v);
  if (shift != 0 && u > (UINT64_MAX >> shift)) return false;
  *out = u << shift;
  return true;
}

int Fail(std::string_view what, std::string_view why) {
  std::string line = "chunkctl: " + OneLine(what) + ": " + OneLine(why) + "\n";
  fputs(line.c_str(), stderr);
  return kExitFailure;
}

int FailStatus(std::string_view what, const chunkfs::Status& s) {
  return Fail(what, s.ToString());
}

int UsageError(std::string_view what, std::string_view why) {
  Fail(what, std::string(why) + " (see 'chunkctl --help')");
  return kExitUsage;
}

bool ParseDigestArg(const std::string& text, chunkfs::Digest* out) {
  if (chunkfs::Digest::FromHex(text, out)) return true;
  UsageError("invalid digest '" + text.substr(0, 80) + "'",
             "expected 64 lowercase hex characters");
  return false;
}

chunkfs::Status OpenRepo(const std::string& path, bool read_only,
                         std::unique_ptr<chunkfs::Repository>* out) {
  chunkfs::OpenOptions options;
  options.read_only = read_only;
  return chunkfs::Repository::Open(path, options, out);
}

int OpenRepoForDigest(const std::string& cmd, const Args& args, std::unique_ptr<chunkfs::Repository>* repo,
                      chunkfs::Digest* digest) {
  if (args.positional.size() != 2) return UsageError(cmd, "expected REPO and DIGEST");
  if (!ParseDigestArg(args.positional[1], digest)) return kExitUsage;
  const std::string& path = args.positional[0];
  chunkfs::Status s = OpenRepo(path, /*read_only=*/true, repo);
  if (!s.ok()) return FailStatus("open " + path, s);
  return kExitOk;
}

chunkfs::Status ReadInput(const std::string& path, uint64_t max_size, std::string* out) {
  out->clear();
  if (path == "-") return ReadFd(0, "stdin", max_size, out);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  struct stat st;
  chunkfs::Status s;
  if (fstat(fd, &st) != 0) {
    s = ErrnoStatus("stat " + path, errno);
  } else if (S_ISDIR(st.st_mode)) {
    s = ErrnoStatus("read " + path, EISDIR);
  } else if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_size) {
    s = chunkfs::Status::TooLarge(path + ": " + std::to_string(st.st_size) +
                                  " bytes, larger than the repository's maximum chunk size (" +
                                  std::to_string(max_size) + " bytes)");
  } else {
    if (S_ISREG(st.st_mode)) out->reserve(static_cast<size_t>(st.st_size));
    s = ReadFd(fd, path, max_size, out);
  }
  close(fd);
  return s;
}

chunkfs::Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(what, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return chunkfs::Status::OK();
}

chunkfs::Status WriteFileReplacing(const std::string& path, std::string_view data) {
  std::string tmp = DirName(path) + "/." + BaseName(path) + ".chunkctl-XXXXXX";
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("create temporary file for " + path, errno);
  chunkfs::Status s = FinishTemp(fd, tmp, path, data);
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

}  // namespace chunkctl
