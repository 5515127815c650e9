// chunkctl put REPO FILE...   and   chunkctl get REPO DIGEST [-o FILE]
#include <cstdio>
#include <memory>
#include <string>

#include "cli.h"
#include "commands.h"

namespace chunkctl {
namespace {

constexpr std::span<const OptionSpec> kNoOptions{};
constexpr OptionSpec kGetOptions[] = {{"-o", "--output", true}};

// Stores one file and prints "<digest>  <file>". Returns false on failure
// (already reported).
bool PutOne(chunkfs::Repository* repo, const std::string& file) {
  std::string data;
  chunkfs::Status s = ReadInput(file, repo->settings().max_chunk_size, &data);
  chunkfs::PutResult result;
  if (s.ok()) s = repo->Put(data, &result);
  if (!s.ok()) {
    FailStatus("put " + file, s);
    return false;
  }
  printf("%s  %s\n", result.digest.ToHex().c_str(), file.c_str());
  return true;
}

}  // namespace

int RunPut(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("put", error);
  if (args.positional.size() < 2) return UsageError("put", "expected REPO and at least one FILE");
  const std::string& path = args.positional[0];
  std::unique_ptr<chunkfs::Repository> repo;
  chunkfs::Status s = OpenRepo(path, /*read_only=*/false, &repo);
  if (!s.ok()) return FailStatus("open " + path, s);
  int rc = kExitOk;
  for (size_t i = 1; i < args.positional.size(); ++i) {
    if (!PutOne(repo.get(), args.positional[i])) rc = kExitFailure;
  }
  if (fflush(stdout) != 0) rc = Fail("write stdout", "output error");
  s = repo->Sync();
  if (s.ok()) s = repo->Close();
  if (!s.ok()) return FailStatus("sync " + path, s);
  return rc;
}

int RunGet(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kGetOptions, &args, &error)) return UsageError("get", error);
  chunkfs::Digest digest;
  std::unique_ptr<chunkfs::Repository> repo;
  if (int rc = OpenRepoForDigest("get", args, &repo, &digest); rc != kExitOk) return rc;
  std::string data;
  chunkfs::Status s = repo->Get(digest, &data);
  if (!s.ok()) return FailStatus("get " + digest.ToHex(), s);
  if (args.Has("-o")) {
    const std::string& out = args.options.at("-o");
    s = WriteFileReplacing(out, data);
    if (!s.ok()) return FailStatus("write " + out, s);
  } else {
    s = WriteAll(1, data, "write stdout");
    if (!s.ok()) return FailStatus("get " + digest.ToHex(), s);
  }
  return kExitOk;
}

}  // namespace chunkctl
