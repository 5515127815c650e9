// Shared helpers of chunkctl: argument parsing, error reporting, opening a repository.
//
// Every error is reported as exactly one line on stderr,
// "chunkctl: <what>: <why>", and a non-zero exit status. The exit statuses,
// the same in every command (listed by `chunkctl --help` and the README):
//   0 kExitOk       done; check found no damage; repair lost nothing
//   1 kExitFailure  an error: the command could not do (all of) its work
//                   (no such repository, permission, busy, a failed input)
//   2 kExitUsage    bad command line (nothing was done)
//   3 kExitDamage   check found damage, or repair finished but chunks are lost
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"
#include "chunkfs/status.h"

namespace chunkctl {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDamage = 3;

// The table above, as `chunkctl --help` prints it.
inline constexpr const char* kExitStatusHelp =
    "exit status (every command):\n"
    "  0  success (check: no damage; repair: nothing lost)\n"
    "  1  error: the command could not do its work (message on stderr)\n"
    "  2  bad command line\n"
    "  3  damage: check found damage, or repair lost chunks\n";

// An option a command accepts: "--pack-size", "-o", ...
struct OptionSpec {
  std::string_view name;
  std::string_view alias;  // "" if none; e.g. "--output" for "-o"
  bool takes_value;
};

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // by OptionSpec::name
  bool Has(const std::string& name) const { return options.count(name) != 0; }
};

// Splits `in` into options (from `specs`; "--name=value" or "--name value")
// and positional arguments ("--" ends the options; "-" is positional).
// Returns false with *error set on an unknown option or a missing value.
bool ParseArgs(const std::vector<std::string>& in, std::span<const OptionSpec> specs, Args* out,
               std::string* error);

// "4096", "256K", "64M", "1G" (binary multiples; lower case accepted).
bool ParseSize(std::string_view text, uint64_t* out);
bool ParseInt(std::string_view text, int64_t* out);

// Print "chunkctl: <what>: <why>" and return the exit status to use.
int Fail(std::string_view what, std::string_view why);
int FailStatus(std::string_view what, const chunkfs::Status& s);
int UsageError(std::string_view what, std::string_view why);

// Parses a digest argument; on failure prints a usage error.
bool ParseDigestArg(const std::string& text, chunkfs::Digest* out);

// Opens the repository at `path` through `env` (nullptr: the real file system).
chunkfs::Status OpenRepo(const std::string& path, bool read_only, std::unique_ptr<chunkfs::Repository>* out,
                         chunkfs::Env* env = nullptr);

// For "CMD REPO DIGEST": checks the two positionals, parses the digest and
// opens the repository read-only. Returns kExitOk, or the exit status to
// return after it printed the error.
int OpenRepoForDigest(const std::string& cmd, const Args& args, std::unique_ptr<chunkfs::Repository>* repo,
                      chunkfs::Digest* digest);

// Writes all of `data` to file descriptor `fd`.
chunkfs::Status WriteAll(int fd, std::string_view data, const std::string& what);

}  // namespace chunkctl
