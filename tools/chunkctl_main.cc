// chunkctl: offline tool for a chunkfs repository.
//
//   chunkctl COMMAND [ARGS...]     see Usage() or `chunkctl --help`
//
// prune, prune-begin, compact and stats also take a chunkfs mountpoint
// (cmd_prune.cc).
//
// Commands are rows of kCommands. Exit statuses: cli.h (kExitStatusHelp).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cli.h"
#include "commands.h"

namespace chunkctl {
namespace {

struct Command {
  const char* name;
  const char* args;
  const char* summary;
  int (*run)(const CommandArgs& args);
};

constexpr Command kCommands[] = {
    {"init", "REPO [--pack-size N] [--max-chunk N] [--compression L] [--group NAME] [--codec zstd|zlib]",
     "create an empty repository (sizes take K, M, G suffixes; L is 0..9 for zlib, 0..19 for zstd; codec default "
     "zstd if built with it; "
     "--group: readable by that group, folders 2750 and files 0640; else private, 0700/0600)", RunInit},
    {"put", "REPO FILE...", "store each regular FILE ('-': stdin); print '<digest>  <file>' lines once all are synced",
     RunPut},
    {"get", "REPO DIGEST [-o FILE]", "write a chunk to stdout or FILE (symlinks followed; devices, FIFOs written into)",
     RunGet},
    {"ls", "REPO", "list all digests in order", RunLs},
    {"stat", "REPO DIGEST", "show a chunk's raw size, stored size and codec", RunStat},
    {"check", "REPO [--read-data]", "verify every file (and with --read-data every chunk); exit 3 on damage", RunCheck},
    {"repair", "REPO", "rebuild what the data allows, quarantine the rest, list lost chunks; exit 3 if any is lost",
     RunRepair},
    {"prune", "TARGET --keep FILE [--since TOKEN] [--dry-run] [--force]",
     "delete every chunk not in FILE (one digest a line, '-': stdin) and not stored or touched since TOKEN; an "
     "empty list or deleting over half the chunks needs --force. TARGET: a repository (offline; the prune takes "
     "its own token, so --since is for mountpoints) or a chunkfs mountpoint (the mount does the work)",
     RunPrune},
    {"prune-begin", "TARGET",
     "print a prune token (for prune --since) of the mount at TARGET; tokens do not survive a remount, and one "
     "taken on an unmounted repository is useless to a later command",
     RunPruneBegin},
    {"compact", "TARGET", "give back the space of deleted chunks now; waits, prints the bytes reclaimed", RunCompact},
    {"stats", "TARGET [--json]", "show the repository's counters (chunks, deleted, dead bytes, compaction)",
     RunStats},
    {"takeover", "rados:POOL[/NS]",
     "fence the writer of a RADOS repository (blocklisted by the cluster: even a paused one never writes again) "
     "and break its lock, so that this host can open it for writing (docs/RADOS.md)",
     RunTakeover},
};

const Command* FindCommand(std::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string CommandNames() {
  std::string names;
  for (const Command& c : kCommands) names += (names.empty() ? "" : ", ") + std::string(c.name);
  return names;
}

void PrintCommandUsage(const Command& c, FILE* out) {
  fprintf(out, "usage: chunkctl %s %s\n  %s\n", c.name, c.args, c.summary);
}

int Usage() {
  printf("usage: chunkctl COMMAND [ARGS...]\n\ncommands:\n");
  for (const Command& c : kCommands) printf("  %-6s %s\n         %s\n", c.name, c.args, c.summary);
  printf(
      "  help [COMMAND]\n\n"
      "options:\n  -h, --help     show this help (or a command's, after it)\n"
      "  --version      show the version\n"
      "  --ceph-conf FILE, --ceph-id ID  (before COMMAND) for a repository rados:POOL[/NAMESPACE]:\n"
      "                 the ceph config and client id (default: CEPH_CONF, CEPH_ARGS, /etc/ceph/ceph.conf)\n\n"
      "On a terminal, check, repair, put, prune and compact keep a progress line on stderr;\n"
      "nothing is shown when stderr is not a terminal.\n\n");
  fputs(kExitStatusHelp, stdout);
  return kExitOk;
}

int Help(const CommandArgs& args) {
  if (args.empty()) return Usage();
  const Command* c = FindCommand(args[0]);
  if (c == nullptr) return UsageError("help", "unknown command '" + args[0] + "'");
  PrintCommandUsage(*c, stdout);
  return kExitOk;
}

// True if the command's own arguments ask for help (before any "--").
bool WantsHelp(const CommandArgs& args) {
  for (const std::string& a : args) {
    if (a == "--") return false;
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

int Main(const CommandArgs& argv) {
  if (argv.empty()) return UsageError("missing command", "expected one of " + CommandNames());
  const std::string& name = argv[0];
  CommandArgs rest(argv.begin() + 1, argv.end());
  if (name == "-h" || name == "--help") return Usage();
  if (name == "help") return Help(rest);
  if (name == "--version") {
    printf("chunkctl %s\n", CHUNKFS_VERSION);
    return kExitOk;
  }
  const Command* c = FindCommand(name);
  if (c == nullptr) return UsageError("unknown command '" + name + "'", "expected one of " + CommandNames());
  if (WantsHelp(rest)) {
    PrintCommandUsage(*c, stdout);
    return kExitOk;
  }
  return c->run(rest);
}

}  // namespace
}  // namespace chunkctl

namespace chunkctl {
namespace {

// The global options before the command, --ceph-conf FILE and --ceph-id ID
// (a repository rados:POOL[/NS], docs/RADOS.md), become what the ceph tools
// read: CEPH_CONF, and --id in CEPH_ARGS. Returns false after a usage error.
bool TakeCephOptions(CommandArgs* args) {
  while (!args->empty()) {
    std::string opt = args->front(), value;
    size_t eq = opt.find('=');
    if (eq != std::string::npos) {
      value = opt.substr(eq + 1);
      opt.resize(eq);
    }
    if (opt != "--ceph-conf" && opt != "--ceph-id") return true;
    args->erase(args->begin());
    if (eq == std::string::npos) {
      if (args->empty()) {
        (void)UsageError(opt, "expected a value");  // printed; the caller returns kExitUsage
        return false;
      }
      value = args->front();
      args->erase(args->begin());
    }
    if (value.empty()) {
      (void)UsageError(opt, "expected a value");  // printed; the caller returns kExitUsage
      return false;
    }
    if (opt == "--ceph-conf") {
      setenv("CEPH_CONF", value.c_str(), 1);
    } else {
      const char* old = getenv("CEPH_ARGS");
      setenv("CEPH_ARGS", ("--id " + value + (old != nullptr ? " " + std::string(old) : "")).c_str(), 1);
    }
  }
  return true;
}

}  // namespace
}  // namespace chunkctl

int main(int argc, char** argv) {
  chunkctl::CommandArgs args(argv + 1, argv + argc);
  if (!chunkctl::TakeCephOptions(&args)) return chunkctl::kExitUsage;
  return chunkctl::Main(args);
}
