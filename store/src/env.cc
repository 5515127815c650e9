// Env helpers built on the virtual interface.
//
// Thread safety: as safe as the Env they run on; WriteFileAtomic callers must
// not write the same (dir, name) concurrently (they would share the .tmp file).
#include "chunkfs/env.h"

#include <sys/statvfs.h>

#include <cerrno>

namespace chunkfs {

Status WritableFile::AppendV(const std::string_view* parts, size_t n) {
  if (n == 1) return Append(parts[0]);
  std::string all;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) total += parts[i].size();
  all.reserve(total);
  for (size_t i = 0; i < n; ++i) all.append(parts[i]);
  return Append(all);
}

Status Env::ReadFileToString(const std::string& path, std::string* out) {
  out->clear();
  std::unique_ptr<RandomAccessFile> file;
  Status s = NewRandomAccessFile(path, &file);
  if (!s.ok()) return s;
  constexpr size_t kChunk = 1 << 20;
  uint64_t offset = 0;
  std::string piece;
  for (;;) {
    s = file->Read(offset, kChunk, &piece);
    if (!s.ok()) return s;
    out->append(piece);
    offset += piece.size();
    if (piece.size() < kChunk) return Status::OK();
  }
}

namespace {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Writes and syncs `data` into a fresh file at `path`.
Status WriteAndSync(Env* env, const std::string& path, std::string_view data) {
  std::unique_ptr<WritableFile> file;
  Status s = env->NewWritableFile(path, &file);
  if (!s.ok()) return s;
  s = file->Append(data);
  if (s.ok()) s = file->Sync();
  Status c = file->Close();
  return s.ok() ? c : s;
}

}  // namespace

Status Env::WriteFileAtomic(const std::string& dir, const std::string& name,
                            std::string_view data) {
  const std::string path = JoinPath(dir, name);
  const std::string tmp = path + ".tmp";
  Status s = WriteAndSync(this, tmp, data);
  if (s.ok()) s = RenameFile(tmp, path);
  if (!s.ok()) {
    (void)RemoveFile(tmp);  // best effort; the original error is what matters
    return s.WithContext("write " + path);
  }
  s = SyncDir(dir.empty() ? "." : dir);
  if (!s.ok()) return s.WithContext("write " + path);
  return Status::OK();
}

Status Env::GetSpace(const std::string& dir, SpaceInfo* out) {
  struct statvfs st;
  if (::statvfs(dir.c_str(), &st) != 0) return Status::IOError("statvfs " + dir, errno);
  out->total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  out->avail_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  return Status::OK();
}

}  // namespace chunkfs
