// chunkctl check REPO [--read-data]   and   chunkctl repair REPO
//
// check prints one block per problem:
//   DAMAGE <file> offset <N>: <what>
//     affected: <digest>            (one line per chunk it makes unreadable,
//     affected: none (rebuildable)   or this line when it costs no chunk)
// then "note: ..." lines (stray files, unindexed tail of an active pack) and
// a summary line. Exit 0 when the repository is clean, 1 on any damage or if
// the check could not run, 2 for a bad command line. On a terminal a
// progress line is kept up to date on stderr; nothing is shown when piped.
//
// repair prints "action: ..." as it goes, "quarantined: ...", "rescued: N
// chunk(s)", one "lost: <digest>" per chunk that could not be recovered and a
// summary line. Exit 0 if nothing is lost, 1 if a chunk was lost or the
// repair failed (e.g. Busy: the repository is mounted; the message names the
// holder's pid).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "chunkfs/check.h"
#include "cli.h"
#include "commands.h"

namespace chunkctl {
namespace {

constexpr OptionSpec kCheckOptions[] = {{"--read-data", "", false}};
constexpr std::span<const OptionSpec> kNoOptions{};

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "checked 12.3/50.0 MB" on stderr, rewritten in place.
class Progress {
 public:
  Progress() : enabled_(isatty(2) == 1) {}
  ~Progress() { Done(); }
  void Update(uint64_t done, uint64_t total) {
    if (!enabled_) return;
    fprintf(stderr, "\rchecked %.1f/%.1f MB", done / 1e6, total / 1e6);
    fflush(stderr);
    shown_ = true;
  }
  void Done() {
    if (shown_) fputs("\r\033[K", stderr);  // clear the line before the report
    shown_ = false;
  }

 private:
  const bool enabled_;
  bool shown_ = false;
};

}  // namespace

int RunCheck(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kCheckOptions, &args, &error)) return UsageError("check", error);
  if (args.positional.size() != 1) return UsageError("check", "expected REPO");
  const std::string& path = args.positional[0];
  Progress progress;
  chunkfs::CheckOptions options;
  options.read_data = args.Has("--read-data");
  options.progress = [&progress](uint64_t done, uint64_t total) { progress.Update(done, total); };
  chunkfs::CheckReport report;
  chunkfs::Status s = chunkfs::CheckRepository(path, options, &report);
  progress.Done();
  if (!s.ok()) return FailStatus("check " + path, s);
  for (const chunkfs::Problem& p : report.problems) {
    printf("DAMAGE %s offset %llu: %s\n", p.file.c_str(), static_cast<unsigned long long>(p.offset),
           p.what.c_str());
    if (p.affected.empty()) printf("  affected: none (rebuildable)\n");
    for (const chunkfs::Digest& d : p.affected) printf("  affected: %s\n", d.ToHex().c_str());
  }
  for (const std::string& n : report.notes) printf("note: %s\n", n.c_str());
  printf("%s: %s, %s, %s, %s%s: %s\n", report.ok() ? "ok" : "damaged", Plural(report.packs, "pack", "packs").c_str(),
         Plural(report.idx_files, "idx file", "idx files").c_str(),
         Plural(report.records, "record", "records").c_str(), Plural(report.bytes, "byte", "bytes").c_str(),
         options.read_data ? " (data read)" : "",
         Plural(report.problems.size(), "problem", "problems").c_str());
  if (fflush(stdout) != 0) return Fail("write stdout", "output error");
  return report.ok() ? kExitOk : kExitFailure;
}

int RunRepair(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("repair", error);
  if (args.positional.size() != 1) return UsageError("repair", "expected REPO");
  const std::string& path = args.positional[0];
  chunkfs::RepairReport report;
  chunkfs::Status s = chunkfs::RepairRepository(path, nullptr, &report, [](const std::string& line) {
    printf("action: %s\n", line.c_str());
    fflush(stdout);
  });
  for (const std::string& q : report.quarantined) printf("quarantined: %s\n", q.c_str());
  if (!report.rescued.empty()) printf("rescued: %s\n", Plural(report.rescued.size(), "chunk", "chunks").c_str());
  for (const chunkfs::Digest& d : report.lost) printf("lost: %s\n", d.ToHex().c_str());
  if (s.ok()) {
    printf("%s: %s, %s quarantined, %s rescued, %s lost\n", report.lost.empty() ? "repaired" : "repaired with losses",
           Plural(report.actions.size(), "action", "actions").c_str(),
           Plural(report.quarantined.size(), "file", "files").c_str(),
           Plural(report.rescued.size(), "chunk", "chunks").c_str(),
           Plural(report.lost.size(), "chunk", "chunks").c_str());
  }
  if (fflush(stdout) != 0) return Fail("write stdout", "output error");
  if (!s.ok()) return FailStatus("repair " + path, s);
  return report.lost.empty() ? kExitOk : kExitFailure;
}

}  // namespace chunkctl
