// chunkctl check REPO [--read-data]   and   chunkctl repair REPO
//
// check prints one block per problem:
//   DAMAGE <file> offset <N>: <what>
//     affected: <digest>            (one line per chunk it makes unreadable,
//     affected: none (rebuildable)   or this line when it costs no chunk)
// then "note: ..." lines (stray files, unindexed tail of an active pack) and
// a summary line. Exit 0 when the repository is clean, 3 (kExitDamage) on any
// damage, 1 if the check could not run, 2 for a bad command line. On a
// terminal a progress line is kept up to date on stderr (progress.h);
// nothing is shown when piped.
//
// repair prints "action: ..." as it goes, "quarantined: ...", "rescued: N
// chunk(s)", one "lost: <digest>" per chunk that could not be recovered and a
// summary line. Exit 0 if nothing is lost, 3 (kExitDamage) if a chunk was
// lost, 1 if the repair failed (e.g. Busy: the repository is mounted; the
// message names the holder's pid). Progress as for check, while it reads.
#include <cstdio>
#include <string>

#include "chunkfs/check.h"
#include "chunkfs/repo_env.h"
#include "cli.h"
#include "commands.h"
#include "progress.h"

namespace chunkctl {
namespace {

constexpr OptionSpec kCheckOptions[] = {{"--read-data", "", false}};
constexpr std::span<const OptionSpec> kNoOptions{};

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

int RunCheck(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kCheckOptions, &args, &error)) return UsageError("check", error);
  if (args.positional.size() != 1) return UsageError("check", "expected REPO");
  const std::string& path = args.positional[0];
  Progress progress("check");
  chunkfs::CheckOptions options;
  options.read_data = args.Has("--read-data");
  options.progress = [&progress](uint64_t done, uint64_t total) { progress.Bytes(done, total); };
  chunkfs::CheckReport report;
  chunkfs::OpenedEnv opened;  // the local file system or a RADOS pool (docs/RADOS.md)
  chunkfs::Status s = chunkfs::EnvForRepository(path, chunkfs::RepoEnvOptions{}, &opened);
  options.env = opened.env;
  if (s.ok()) s = chunkfs::CheckRepository(opened.path, options, &report);
  progress.Clear();
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
  return report.ok() ? kExitOk : kExitDamage;
}

int RunRepair(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("repair", error);
  if (args.positional.size() != 1) return UsageError("repair", "expected REPO");
  const std::string& path = args.positional[0];
  chunkfs::RepairReport report;
  Progress progress("repair");
  chunkfs::OpenedEnv opened;  // the local file system or a RADOS pool (docs/RADOS.md)
  chunkfs::Status s = chunkfs::EnvForRepository(path, chunkfs::RepoEnvOptions{}, &opened);
  if (s.ok()) s = chunkfs::RepairRepository(
      opened.path, opened.env, &report,
      [&progress](const std::string& line) {
        progress.Clear();  // the action line replaces it; the next update shows again
        printf("action: %s\n", line.c_str());
        fflush(stdout);
      },
      [&progress](uint64_t done, uint64_t total) { progress.Bytes(done, total); });
  progress.Clear();
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
  return report.lost.empty() ? kExitOk : kExitDamage;
}

}  // namespace chunkctl
