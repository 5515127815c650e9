// chunkctl put REPO FILE...   and   chunkctl get REPO DIGEST [-o FILE]
//
// put shows "put: N/M files" on a terminal while it stores (progress.h).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "commands.h"
#include "output_file.h"
#include "progress.h"
#include "put_files.h"

namespace chunkctl {
namespace {

constexpr std::span<const OptionSpec> kNoOptions{};
constexpr OptionSpec kGetOptions[] = {{"-o", "--output", true}};

}  // namespace

int RunPut(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("put", error);
  if (args.positional.size() < 2) return UsageError("put", "expected REPO and at least one FILE");
  std::vector<std::string> inputs(args.positional.begin() + 1, args.positional.end());
  Progress progress("put");
  int rc = PutFiles(
      args.positional[0], inputs, /*env=*/nullptr,
      [&progress](const std::string& line) {
        progress.Clear();
        fputs(line.c_str(), stdout);
      },
      [&progress](uint64_t done, uint64_t total) { progress.Count(done, total, "files"); });
  progress.Clear();
  if (fflush(stdout) != 0 || ferror(stdout)) rc = Fail("write stdout", "output error");
  return rc;
}

int RunGet(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kGetOptions, &args, &error)) return UsageError("get", error);
  if (args.Has("-o") && args.options.at("-o").empty()) return UsageError("-o ''", "expected a file name");
  chunkfs::Digest digest;
  std::unique_ptr<chunkfs::Repository> repo;
  if (int rc = OpenRepoForDigest("get", args, &repo, &digest); rc != kExitOk) return rc;
  std::string data;
  chunkfs::Status s = repo->Get(digest, &data);
  if (!s.ok()) return FailStatus("get " + digest.ToHex(), s);
  if (args.Has("-o")) {
    const std::string& out = args.options.at("-o");
    s = WriteOutputFile(out, data);
    if (!s.ok()) return FailStatus("write " + out, s);
  } else {
    s = WriteAll(1, data, "write stdout");
    if (!s.ok()) return FailStatus("get " + digest.ToHex(), s);
  }
  return kExitOk;
}

}  // namespace chunkctl
