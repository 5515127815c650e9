// chunkctl ls REPO   and   chunkctl stat REPO DIGEST
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "chunkfs/codec.h"
#include "cli.h"
#include "commands.h"

namespace chunkctl {
namespace {

constexpr std::span<const OptionSpec> kNoOptions{};

}  // namespace

int RunLs(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("ls", error);
  if (args.positional.size() != 1) return UsageError("ls", "expected exactly one REPO");
  const std::string& path = args.positional[0];
  std::unique_ptr<chunkfs::Repository> repo;
  chunkfs::Status s = OpenRepo(path, /*read_only=*/true, &repo);
  if (!s.ok()) return FailStatus("open " + path, s);
  std::unique_ptr<chunkfs::DigestIterator> it = repo->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string line = it->digest().ToHex();
    line += '\n';
    fputs(line.c_str(), stdout);
  }
  if (!it->status().ok()) return FailStatus("ls " + path, it->status());
  if (fflush(stdout) != 0) return Fail("write stdout", "output error");
  return kExitOk;
}

int RunStat(const CommandArgs& in) {
  Args args;
  std::string error;
  if (!ParseArgs(in, kNoOptions, &args, &error)) return UsageError("stat", error);
  chunkfs::Digest digest;
  std::unique_ptr<chunkfs::Repository> repo;
  if (int rc = OpenRepoForDigest("stat", args, &repo, &digest); rc != kExitOk) return rc;
  chunkfs::ChunkInfo info;
  chunkfs::Status s = repo->Stat(digest, &info);
  if (!s.ok()) return FailStatus("stat " + digest.ToHex(), s);
  printf("digest: %s\nraw_size: %" PRIu64 "\nstored_size: %" PRIu64 "\ncodec: %u (%s)\n",
         digest.ToHex().c_str(), info.raw_size, info.stored_size,
         static_cast<unsigned>(info.codec), chunkfs::CodecName(info.codec));
  return kExitOk;
}

}  // namespace chunkctl
