// chunkctl takeover REPO: take a RADOS repository over from a writer that is
// dead or stuck on another host (docs/RADOS.md "One writer, with takeover").
#include <cstdio>
#include <string>

#include "chunkfs/repo_env.h"
#include "cli.h"
#include "commands.h"

namespace chunkctl {

int RunTakeover(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, std::span<const OptionSpec>{}, &args, &error)) return UsageError("takeover", error);
  if (args.positional.size() != 1) return UsageError("takeover", "expected exactly one REPO");
  const std::string& path = args.positional[0];
  std::string fenced;
  chunkfs::Status s = chunkfs::TakeOverRepository(path, chunkfs::RepoEnvOptions{}, &fenced);
  if (!s.ok()) return FailStatus("takeover " + path, s);
  if (fenced.empty()) {
    printf("%s had no writer; nothing to fence\n", path.c_str());
  } else {
    printf("fenced %s; %s can be opened for writing now\n", fenced.c_str(), path.c_str());
  }
  if (fflush(stdout) != 0) return Fail("write stdout", "output error");
  return kExitOk;
}

}  // namespace chunkctl
