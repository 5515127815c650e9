// The chunkctl commands. Each gets the arguments after its name and returns
// the process exit status (see cli.h).
#pragma once

#include <string>
#include <vector>

namespace chunkctl {

using CommandArgs = std::vector<std::string>;

int RunInit(const CommandArgs& args);
int RunPut(const CommandArgs& args);
int RunGet(const CommandArgs& args);
int RunLs(const CommandArgs& args);
int RunStat(const CommandArgs& args);
int RunCheck(const CommandArgs& args);
int RunRepair(const CommandArgs& args);
int RunPrune(const CommandArgs& args);
int RunPruneBegin(const CommandArgs& args);
int RunCompact(const CommandArgs& args);
int RunStats(const CommandArgs& args);
int RunTakeover(const CommandArgs& args);  // cmd_takeover.cc (docs/RADOS.md)

}  // namespace chunkctl
