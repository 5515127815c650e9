// chunkctl helpers: argument parsing, one-line errors, opening a repository.
#include "cli.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "progress.h"

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
  ClearProgressLine();  // the error starts its own line
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

chunkfs::Status OpenRepo(const std::string& path, bool read_only, std::unique_ptr<chunkfs::Repository>* out,
                         chunkfs::Env* env) {
  chunkfs::OpenOptions options;
  options.read_only = read_only;
  options.env = env;
  uint64_t files = 0;  // a repository may have more packs than the default soft limit allows open
  (void)chunkfs::RaiseOpenFileLimit(&files);  // failing leaves the limit as it was: reads still work, bounded
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

chunkfs::Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(what, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return chunkfs::Status::OK();
}

}  // namespace chunkctl
