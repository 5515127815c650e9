// The deletion commands (prune, prune-begin, compact, stats) shared by
// chunkctl and the mount: the keep-list parser, the request line of the
// mount's control file, the reply, and the execution against a Repository.
//
// chunkctl runs a command either offline (it opens the repository itself)
// or through MOUNTPOINT/.control, the mount's control file, in which case the
// mount runs the very same Execute() on its open repository. Protocol
// (docs/MOUNT.md "The control file"):
//
//   open MOUNTPOINT/.control O_RDWR
//   write   "<command line>\n"          e.g. "prune --since T --dry-run\n"
//   write   the input (prune: the keep list, one digest a line), streamed
//   read    until EOF: "ok\n<output>" or "error\n<message>"
//
// The first read() after the writes runs the request; one request per open.
//
// Thread safety: the functions are thread-safe; a KeepListParser is not.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"
#include "chunkfs/status.h"

namespace chunkfs::control {

// The control file's name in the mount's root directory.
inline constexpr std::string_view kControlName = ".control";

// Parses a keep list as it arrives: one 64-hex digest a line (either case;
// spaces, tabs and a CR around it are ignored), blank lines ignored. The
// first malformed line stops it; error() names it by number (from 1).
// Memory: the digests (32 bytes each) plus one partial line (at most
// kMaxLine bytes).
class KeepListParser {
 public:
  static constexpr size_t kMaxLine = 1024;

  // False once the input is malformed (then error() says where).
  bool Feed(std::string_view data);
  // The input ended: parses a last line without a newline. False if malformed.
  bool Finish();
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // The digests so far (in input order; size() is their count).
  size_t size() const { return digests_.size(); }
  // The digests sorted ascending, duplicates removed (as Repository::Prune
  // wants them); the parser is empty afterwards.
  std::vector<Digest> TakeSorted();

 private:
  bool Line(std::string_view line);

  std::vector<Digest> digests_;
  std::string partial_;
  uint64_t line_ = 0;  // lines completed so far
  std::string error_;
};

enum class Command { kPrune, kPruneBegin, kCompact, kStats };

struct Request {
  Command command = Command::kStats;
  std::string since;      // prune: the token text ("" = none)
  bool dry_run = false;   // prune
  bool force = false;     // prune
  bool json = false;      // stats
};

// "prune --since T --dry-run --force\n", "prune-begin\n", "compact\n",
// "stats --json\n".
std::string FormatRequestLine(const Request& r);
// Parses the first line of a request (without its newline). False with
// *error set if it is not one of the above.
bool ParseRequestLine(std::string_view line, Request* out, std::string* error);

// "ok\n" + text, or "error\n" + text.
std::string FormatReply(bool ok, std::string_view text);
// Splits a reply; false if it is neither (a broken reply).
bool ParseReply(std::string_view reply, bool* ok, std::string* text);

// Calls fn(name, value) for every counter of RepoStats, in a fixed order,
// with the names /.stats uses (docs/MOUNT.md).
void ForEachRepoStat(const RepoStats& s, const std::function<void(const char*, uint64_t)>& fn);
// "name: value" lines, and a JSON object of the same names.
std::string FormatStatsText(const RepoStats& s);
std::string FormatStatsJson(const RepoStats& s);

std::string FormatPruneResult(const PruneResult& r, bool dry_run);
std::string FormatCompactResult(const CompactResult& r);

// Runs a request on an open, writable repository (stats also on a read-only
// one): prune with the sorted keep list, prune-begin, compact (waits until
// done, at full speed), stats. On success *out gets the text to print; on
// failure the Status says why and nothing was deleted (prune) or the
// repository is as it was (compact). `progress` (prune and compact) gets
// (shards done, shards to do) on the calling thread.
Status Execute(Repository* repo, const Request& r, const std::vector<Digest>& keep_sorted, std::string* out,
               const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace chunkfs::control
