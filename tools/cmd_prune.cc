// chunkctl prune / prune-begin / compact / stats: on a repository (offline,
// chunkctl takes the lock) or on a chunkfs mountpoint (through its control
// file; the mount does the work). The work itself is control::Execute in
// both cases, so that the output is the same. On a terminal, prune and
// compact show progress on stderr: shards done offline, the seconds waited
// on a mount (progress.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli.h"
#include "commands.h"
#include "control_client.h"
#include "control_protocol.h"
#include "progress.h"

namespace chunkctl {
namespace {

using chunkfs::control::Command;
using chunkfs::control::Request;

constexpr OptionSpec kPruneOptions[] = {
    {"--keep", "", true}, {"--since", "", true}, {"--dry-run", "", false}, {"--force", "", false}};
constexpr OptionSpec kStatsOptions[] = {{"--json", "", false}};
constexpr std::span<const OptionSpec> kNoOptions{};

int PrintOutput(const std::string& text) {
  if (fputs(text.c_str(), stdout) < 0 || fflush(stdout) != 0) return Fail("write stdout", "output error");
  return kExitOk;
}

// The keep list, opened: standard input for "-".
struct KeepInput {
  int fd = -1;
  std::string name;
  ~KeepInput() {
    if (fd > 0) ::close(fd);
  }
};

int OpenKeep(const std::string& cmd, const std::string& path, KeepInput* in) {
  in->name = path == "-" ? "standard input" : path;
  if (path == "-") {
    in->fd = STDIN_FILENO;
    return kExitOk;
  }
  in->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in->fd < 0) return FailStatus(cmd, chunkfs::Status::IOError("open keep list " + path, errno));
  return kExitOk;
}

// Offline: the whole keep list is parsed (and any malformed line reported)
// before the repository is opened.
int ParseKeep(const std::string& cmd, KeepInput& in, std::vector<chunkfs::Digest>* keep) {
  chunkfs::control::KeepListParser parser;
  chunkfs::Status s = ForEachBlock(in.fd, in.name, [&](std::string_view b) { return parser.Feed(b); });
  if (!s.ok()) return FailStatus(cmd, s);
  if (!parser.Finish()) return Fail(cmd, in.name + ": " + parser.error());
  *keep = parser.TakeSorted();
  return kExitOk;
}

int RunOffline(const std::string& cmd, const std::string& repo_path, const Request& r,
               const std::vector<chunkfs::Digest>& keep) {
  const bool read_only = r.command == Command::kStats;
  std::unique_ptr<chunkfs::Repository> repo;
  chunkfs::Status s = OpenRepo(repo_path, read_only, &repo);
  if (!s.ok()) {
    if (s.IsBusy()) return Fail(cmd + " " + repo_path, s.message() + "; run the command on its mountpoint instead");
    return FailStatus("open " + repo_path, s);
  }
  std::string out;
  {
    Progress progress(cmd);
    auto shards = [&progress](uint64_t done, uint64_t total) { progress.Count(done, total, "shards"); };
    s = chunkfs::control::Execute(repo.get(), r, keep, &out, shards);
  }
  if (!s.ok()) return FailStatus(cmd + " " + repo_path, s);
  if (!read_only && !(s = repo->Close()).ok()) return FailStatus("close " + repo_path, s);
  if (r.command == Command::kPruneBegin) {
    Fail(cmd + " " + repo_path,
         "warning: the repository is not mounted, and a token is valid only while the open that issued it lasts "
         "(this chunkctl): it cannot protect anything in a later command. Offline `chunkctl prune` takes its own "
         "token; use prune-begin on a mountpoint.");
  }
  return PrintOutput(out);
}

int RunOnMount(const std::string& cmd, const std::string& mnt, const Request& r, const KeepInput* keep) {
  bool ok = false;
  std::string text;
  chunkfs::Status s;
  {
    Progress progress(cmd);
    // Only prune and compact take long enough to show anything.
    const bool slow = r.command == Command::kPrune || r.command == Command::kCompact;
    std::optional<Ticker> ticker;
    if (slow) ticker.emplace(&progress, "the mount at " + mnt + " is working");
    s = CallMount(mnt, r, keep ? keep->fd : -1, keep ? keep->name : "", &ok, &text);
  }
  if (!s.ok()) return FailStatus(cmd + " " + mnt, s);
  if (!ok) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Fail(cmd + " " + mnt, text);
  }
  return PrintOutput(text);
}

// Runs `r` on TARGET, the one positional argument; `keep_path` for prune.
int RunOnTarget(const std::string& cmd, const Args& args, const Request& r, const std::string* keep_path) {
  if (args.positional.size() != 1) return UsageError(cmd, "expected exactly one TARGET (a repository or a mountpoint)");
  const std::string& target = args.positional[0];
  TargetKind kind;
  chunkfs::Status s = ResolveTarget(target, &kind);
  if (!s.ok()) return FailStatus(cmd, s);
  KeepInput in;
  if (keep_path != nullptr) {
    if (int rc = OpenKeep(cmd, *keep_path, &in); rc != kExitOk) return rc;
  }
  if (kind == TargetKind::kMount) return RunOnMount(cmd, target, r, keep_path ? &in : nullptr);
  std::vector<chunkfs::Digest> keep;
  if (keep_path != nullptr) {
    if (int rc = ParseKeep(cmd, in, &keep); rc != kExitOk) return rc;
  }
  return RunOffline(cmd, target, r, keep);
}

}  // namespace

int RunPrune(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kPruneOptions, &args, &error)) return UsageError("prune", error);
  if (!args.Has("--keep")) return UsageError("prune", "--keep FILE is required ('-' for standard input)");
  Request r;
  r.command = Command::kPrune;
  r.dry_run = args.Has("--dry-run");
  r.force = args.Has("--force");
  if (args.Has("--since")) {
    r.since = args.options.at("--since");
    chunkfs::PruneToken t;
    if (!chunkfs::PruneToken::Parse(r.since, &t)) {
      return UsageError("prune", "malformed token '" + r.since.substr(0, 80) + "' (expected what prune-begin printed)");
    }
  }
  const std::string keep = args.options.at("--keep");
  return RunOnTarget("prune", args, r, &keep);
}

int RunPruneBegin(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("prune-begin", error);
  Request r;
  r.command = Command::kPruneBegin;
  return RunOnTarget("prune-begin", args, r, nullptr);
}

int RunCompact(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("compact", error);
  Request r;
  r.command = Command::kCompact;
  return RunOnTarget("compact", args, r, nullptr);
}

int RunStats(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kStatsOptions, &args, &error)) return UsageError("stats", error);
  Request r;
  r.command = Command::kStats;
  r.json = args.Has("--json");
  return RunOnTarget("stats", args, r, nullptr);
}

}  // namespace chunkctl
