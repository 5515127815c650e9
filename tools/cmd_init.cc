// chunkctl init REPO [--pack-size N] [--max-chunk N] [--compression L] [--group NAME]
#include <cstdio>
#include <string>

#include "chunkfs/codec.h"
#include "chunkfs/permissions.h"
#include "cli.h"
#include "commands.h"

namespace chunkctl {
namespace {

constexpr OptionSpec kInitOptions[] = {
    {"--pack-size", "", true},
    {"--max-chunk", "", true},
    {"--compression", "", true},
    {"--codec", "", true},
    {"--group", "", true},
};

// Fills *settings from the options; prints a usage error and returns false
// on a malformed or out-of-range value.
bool SettingsFromArgs(const Args& args, chunkfs::RepoSettings* settings) {
  uint64_t size = 0;
  if (args.Has("--pack-size")) {
    if (!ParseSize(args.options.at("--pack-size"), &size) || size == 0) {
      UsageError("--pack-size", "expected a positive size such as 4096, 256K, 64M or 1G");
      return false;
    }
    settings->pack_size_limit = size;
  }
  if (args.Has("--max-chunk")) {
    if (!ParseSize(args.options.at("--max-chunk"), &size) || size == 0 || size > UINT32_MAX) {
      UsageError("--max-chunk", "expected a size from 1 to 4G-1, such as 16M");
      return false;
    }
    settings->max_chunk_size = static_cast<uint32_t>(size);
  }
  if (args.Has("--compression")) {
    int64_t level = 0;
    if (!ParseInt(args.options.at("--compression"), &level) || level > 19) {
      UsageError("--compression", "expected a level from 0 (none) to 9 (zlib) or 19 (zstd)");
      return false;
    }
    settings->compression_level = static_cast<int>(level);  // Create checks it against the codec
  }
  if (args.Has("--codec")) {  // default: chunkfs::DefaultCodec()
    settings->codec = chunkfs::CodecFromName(args.options.at("--codec"));
    if (settings->codec == 0) {
      UsageError("--codec", "expected zlib or zstd");
      return false;
    }
  }
  if (args.Has("--group")) {
    // Shared with a group: folders 02750, files 0640 (docs/MOUNT.md "Permissions").
    chunkfs::Status s = chunkfs::ParseGroup(args.options.at("--group"), &settings->group);
    if (!s.ok()) {
      UsageError("--group", s.message());
      return false;
    }
  }
  return true;
}

}  // namespace

int RunInit(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kInitOptions, &args, &error)) return UsageError("init", error);
  if (args.positional.size() != 1) return UsageError("init", "expected exactly one REPO");
  chunkfs::RepoSettings settings;
  if (!SettingsFromArgs(args, &settings)) return kExitUsage;
  const std::string& repo = args.positional[0];
  chunkfs::Status s = chunkfs::Repository::Create(repo, settings);
  if (!s.ok()) return FailStatus("init " + repo, s);
  printf("initialized empty chunkfs repository in %s\n", repo.c_str());
  return kExitOk;
}

}  // namespace chunkctl
