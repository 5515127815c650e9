// Every path in a repository is built here, and nowhere else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace chunkfs::filenames {

inline constexpr char kHeaderName[] = "chunkfs.repo";
inline constexpr char kLockName[] = "lock";
inline constexpr char kShardsDir[] = "shards";
inline constexpr char kQuarantineDir[] = "quarantine";
inline constexpr char kTmpSuffix[] = ".tmp";
inline constexpr char kTempDir[] = "tmp";
inline constexpr char kMergedIndexName[] = "merged.midx";  // per shard (docs/FORMAT.md "Merged index")
inline constexpr char kDeletionLogName[] = "deleted.log";  // per shard (docs/FORMAT.md "Deletions")  // the mount's spill folder (repo_paths::TempDir)

std::string HeaderPath(const std::string& repo);
std::string LockPath(const std::string& repo);
std::string ShardsDir(const std::string& repo);
// REPO/quarantine: damaged files moved aside by repair (never deleted).
std::string QuarantineDir(const std::string& repo);
// "2c-pack-000000000000002a.dat": a shard file's name inside quarantine/.
std::string QuarantineName(unsigned shard, const std::string& file_name);
// The pack id in a quarantined pack file name (false if none).
bool ParseQuarantineName(const std::string& name, uint64_t* pack_id);
// REPO/shards/0a
std::string ShardDir(const std::string& repo, unsigned shard);
// "pack-000000000000002a.dat" / ".idx"
std::string DatName(uint64_t pack_id);
std::string IdxName(uint64_t pack_id);
std::string Join(const std::string& dir, const std::string& name);

enum class FileKind { kDat, kIdx, kTmp, kDeletionLog, kOther, kMergedIndex };
struct ParsedName {
  FileKind kind = FileKind::kOther;
  uint64_t pack_id = 0;
};
// Classifies a file name found in a shard directory.
ParsedName ParseShardFileName(const std::string& name);

}  // namespace chunkfs::filenames
