#include "filenames.h"

#include <cstdio>

#include "chunkfs/repo_paths.h"

namespace chunkfs::filenames {

std::string Join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

std::string HeaderPath(const std::string& repo) { return Join(repo, kHeaderName); }
std::string LockPath(const std::string& repo) { return Join(repo, kLockName); }
std::string ShardsDir(const std::string& repo) { return Join(repo, kShardsDir); }

std::string QuarantineDir(const std::string& repo) { return Join(repo, kQuarantineDir); }

std::string QuarantineName(unsigned shard, const std::string& file_name) {
  char buf[4];
  std::snprintf(buf, sizeof(buf), "%02x-", shard & 0xff);
  return buf + file_name;
}

std::string ShardDir(const std::string& repo, unsigned shard) {
  char buf[3];
  std::snprintf(buf, sizeof(buf), "%02x", shard & 0xff);
  return Join(ShardsDir(repo), buf);
}

static std::string PackName(uint64_t id, const char* ext) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "pack-%016llx.%s", static_cast<unsigned long long>(id), ext);
  return buf;
}
std::string DatName(uint64_t pack_id) { return PackName(pack_id, "dat"); }
std::string IdxName(uint64_t pack_id) { return PackName(pack_id, "idx"); }

static bool ParseHex16(const std::string& s, uint64_t* out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

ParsedName ParseShardFileName(const std::string& name) {
  ParsedName p;
  const std::string tmp = kTmpSuffix;
  if (name.size() > tmp.size() && name.compare(name.size() - tmp.size(), tmp.size(), tmp) == 0) {
    p.kind = FileKind::kTmp;
    return p;
  }
  if (name == kDeletionLogName) {
    p.kind = FileKind::kDeletionLog;
    return p;
  }
  if (name == kMergedIndexName) {
    p.kind = FileKind::kMergedIndex;
    return p;
  }
  // pack-<16 hex>.dat|idx  (5 + 16 + 4 = 25 chars)
  if (name.size() != 25 || name.compare(0, 5, "pack-") != 0) return p;
  uint64_t id;
  if (!ParseHex16(name.substr(5, 16), &id)) return p;
  std::string ext = name.substr(21);
  if (ext == ".dat") p.kind = FileKind::kDat;
  else if (ext == ".idx") p.kind = FileKind::kIdx;
  else return p;
  p.pack_id = id;
  return p;
}

bool ParseQuarantineName(const std::string& name, uint64_t* pack_id) {
  // "XX-" + a pack file name, possibly followed by ".N" when a name was taken
  if (name.size() < 3 + 25 || name[2] != '-') return false;
  ParsedName p = ParseShardFileName(name.substr(3, 25));
  if (p.kind != FileKind::kDat && p.kind != FileKind::kIdx) return false;
  *pack_id = p.pack_id;
  return true;
}

}  // namespace chunkfs::filenames

namespace chunkfs::repo_paths {

std::string HeaderFile(const std::string& repo) { return filenames::HeaderPath(repo); }
std::string TempDir(const std::string& repo) { return filenames::Join(repo, filenames::kTempDir); }

}  // namespace chunkfs::repo_paths
