// FaultEnv implementation: see fault_env.h for the model.
//
// Thread safety: all state lives in FaultEnv::Impl and is guarded by
// Impl::mu (recursive, so that the sync callback may call back in). Every
// helper named *Locked requires mu held.
#include "fault_env.h"

#include <array>
#include <cerrno>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>

namespace chunkfs {
namespace {

using Content = std::shared_ptr<const std::string>;

struct Inode {
  std::string data;
  Content durable = std::make_shared<const std::string>();
  // Byte ranges [first, second) whose write-back failed (a failed Sync):
  // as on Linux, those dirty pages are marked clean and never reach the
  // disk through this file, though readers still see them in `data`. A
  // later Sync succeeds but makes the old durable bytes (zeros past the old
  // end) durable there.
  std::vector<std::pair<uint64_t, uint64_t>> lost;

  // What a successful Sync makes durable now.
  std::string SyncedContent() const {
    std::string out = data;
    for (auto [from, to] : lost) {
      for (uint64_t i = from; i < to && i < out.size(); ++i) {
        out[i] = i < durable->size() ? (*durable)[i] : '\0';
      }
    }
    return out;
  }
  // A Sync failed: every byte not yet durable is lost.
  void LoseDirtyBytes() {
    uint64_t same = 0;
    const std::string& d = *durable;
    while (same < d.size() && same < data.size() && d[same] == data[same]) ++same;
    if (same < data.size()) lost.emplace_back(same, data.size());
  }
};
using InodePtr = std::shared_ptr<Inode>;
using Entries = std::map<std::string, InodePtr>;

struct Dir {
  Entries entries;
  Entries durable_entries;
  uint64_t version = 0;
};

struct Rule {
  FaultOp op;
  int err;
  int after;
  int count;  // -1: forever
};

constexpr size_t kNumOps = static_cast<size_t>(FaultOp::kAny) + 1;
constexpr char kInProcessHolder[] = "pid 0 (in-process)";

// "/a//b/./c/" -> "/a/b/c"; "" and "." -> "/".
std::string Normalize(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (std::string_view p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

// Splits a normalized path other than "/" into parent and name.
void SplitPath(const std::string& norm, std::string* parent, std::string* name) {
  size_t slash = norm.rfind('/');
  *parent = slash == 0 ? "/" : norm.substr(0, slash);
  *name = norm.substr(slash + 1);
}

Status Err(const std::string& op, const std::string& path, int err) {
  return Status::IOError(op + " " + path, err);
}

}  // namespace

struct FaultEnv::DurableState {
  // Directory path -> (name -> content).
  std::map<std::string, std::map<std::string, Content>> dirs;
};

struct FaultEnv::Impl : std::enable_shared_from_this<FaultEnv::Impl> {
  mutable std::recursive_mutex mu;
  std::map<std::string, Dir> dirs;  // normalized path -> directory
  uint64_t next_version = 1;
  uint64_t epoch = 0;  // bumped by PowerCut/Restore: older objects are dead
  int64_t syncs = 0;
  std::function<void(int64_t)> sync_callback;
  std::function<void(const std::string&)> before_sync;

  // Runs the before-sync hook (if any) without holding mu.
  void BeforeSync(const std::string& path) {
    std::function<void(const std::string&)> hook;
    {
      std::lock_guard<std::recursive_mutex> lock(mu);
      hook = before_sync;
    }
    if (hook) hook(path);
  }
  std::vector<Rule> rules;
  bool short_write = false;
  uint64_t space_limit = 0;
  std::array<int64_t, kNumOps> counts{};
  std::map<std::string, uint64_t> locks;  // path -> token of the live lock
  uint64_t next_lock_token = 1;

  Impl() { dirs["/"].version = next_version++; }

  void TouchLocked(Dir* dir) { dir->version = next_version++; }

  // Counts a call of `op`; returns the errno it must fail with, or 0.
  int CheckFaultLocked(FaultOp op) {
    ++counts[static_cast<size_t>(op)];
    ++counts[static_cast<size_t>(FaultOp::kAny)];
    int fail = 0;
    for (Rule& r : rules) {
      if (r.op != op && r.op != FaultOp::kAny) continue;
      if (r.count == 0) continue;
      if (r.after > 0) {
        --r.after;
        continue;
      }
      if (r.count > 0) --r.count;
      if (fail == 0) fail = r.err;
    }
    return fail;
  }

  Dir* FindDirLocked(const std::string& norm) {
    auto it = dirs.find(norm);
    return it == dirs.end() ? nullptr : &it->second;
  }

  InodePtr FindFileLocked(const std::string& norm) {
    if (norm == "/") return nullptr;
    std::string parent, name;
    SplitPath(norm, &parent, &name);
    Dir* dir = FindDirLocked(parent);
    if (dir == nullptr) return nullptr;
    auto it = dir->entries.find(name);
    return it == dir->entries.end() ? nullptr : it->second;
  }

  // Resolves the directory that holds (or would hold) the file `norm`.
  Status ParentLocked(const std::string& op, const std::string& norm, Dir** dir,
                      std::string* name) {
    if (norm == "/" || dirs.count(norm) != 0) return Err(op, norm, EISDIR);
    std::string parent;
    SplitPath(norm, &parent, name);
    *dir = FindDirLocked(parent);
    if (*dir == nullptr) {
      return Err(op, norm, FindFileLocked(parent) != nullptr ? ENOTDIR : ENOENT);
    }
    return Status::OK();
  }

  uint64_t UsedBytesLocked() const {
    uint64_t used = 0;
    for (const auto& [path, dir] : dirs) {
      for (const auto& [name, inode] : dir.entries) used += inode->data.size();
    }
    return used;
  }

  void NoteSyncLocked() {
    ++syncs;
    if (sync_callback) sync_callback(syncs);
  }

  // The old process is dead: its objects fail, its locks are gone, every
  // directory looks changed.
  void KillProcessLocked() {
    ++epoch;
    locks.clear();
    for (auto& [path, dir] : dirs) TouchLocked(&dir);
  }

  Status OpenWritable(const std::string& path, bool truncate, std::unique_ptr<WritableFile>* out);
};

namespace {

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(std::shared_ptr<FaultEnv::Impl> env, std::string path, InodePtr inode)
      : env_(std::move(env)), path_(std::move(path)), inode_(std::move(inode)),
        epoch_(env_->epoch) {}

  Status Append(std::string_view data) override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    Status s = CheckAliveLocked("write");
    if (!s.ok()) return s;
    if (int err = env_->CheckFaultLocked(FaultOp::kAppend); err != 0) {
      if (env_->short_write) {
        env_->short_write = false;
        inode_->data.append(data.substr(0, data.size() / 2));
      }
      return Err("write", path_, err);
    }
    if (env_->space_limit != 0) {
      uint64_t used = env_->UsedBytesLocked();
      if (used + data.size() > env_->space_limit) {
        uint64_t fits = used < env_->space_limit ? env_->space_limit - used : 0;
        inode_->data.append(data.substr(0, static_cast<size_t>(fits)));
        return Err("write", path_, ENOSPC);
      }
    }
    inode_->data.append(data);
    return Status::OK();
  }

  Status Sync() override {
    env_->BeforeSync(path_);
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    Status s = CheckAliveLocked("fdatasync");
    if (!s.ok()) return s;
    if (int err = env_->CheckFaultLocked(FaultOp::kSync); err != 0) {
      inode_->LoseDirtyBytes();
      return Err("fdatasync", path_, err);
    }
    inode_->durable = std::make_shared<const std::string>(inode_->SyncedContent());
    env_->NoteSyncLocked();
    return Status::OK();
  }

  Status Close() override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    if (closed_) return Status::OK();
    closed_ = true;
    if (epoch_ != env_->epoch) return Err("close", path_, EIO);
    return Status::OK();
  }

 private:
  Status CheckAliveLocked(const char* op) const {
    if (closed_) return Err(op, path_, EBADF);
    if (epoch_ != env_->epoch) return Err(op, path_, EIO);
    return Status::OK();
  }

  const std::shared_ptr<FaultEnv::Impl> env_;
  const std::string path_;
  const InodePtr inode_;
  const uint64_t epoch_;
  bool closed_ = false;
};

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(std::shared_ptr<FaultEnv::Impl> env, std::string path, InodePtr inode)
      : env_(std::move(env)), path_(std::move(path)), inode_(std::move(inode)),
        epoch_(env_->epoch) {}

  Status Read(uint64_t offset, size_t n, std::string* result) const override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    result->clear();
    if (epoch_ != env_->epoch) return Err("pread", path_, EIO);
    if (int err = env_->CheckFaultLocked(FaultOp::kRead); err != 0) {
      return Err("pread", path_, err);
    }
    const std::string& data = inode_->data;
    if (offset < data.size()) result->assign(data, static_cast<size_t>(offset), n);
    return Status::OK();
  }

 private:
  const std::shared_ptr<FaultEnv::Impl> env_;
  const std::string path_;
  const InodePtr inode_;
  const uint64_t epoch_;
};

class FaultMappedFile final : public MappedFile {
 public:
  explicit FaultMappedFile(std::string content) : content_(std::move(content)) {}
  const char* data() const override { return content_.empty() ? nullptr : content_.data(); }
  size_t size() const override { return content_.size(); }

 private:
  const std::string content_;
};

// A temporary file: its bytes live in the object (no directory lists it).
class FaultTempFile final : public TempFile {
 public:
  FaultTempFile(std::shared_ptr<FaultEnv::Impl> env, std::string what)
      : env_(std::move(env)), what_(std::move(what)), epoch_(env_->epoch) {}

  Status Write(uint64_t offset, std::string_view data) override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    if (int err = CheckLocked(FaultOp::kTempWrite)) return Err("pwrite", what_, err);
    if (data.empty()) return Status::OK();
    if (data_.size() < offset + data.size()) data_.resize(offset + data.size(), '\0');
    data_.replace(static_cast<size_t>(offset), data.size(), data);
    return Status::OK();
  }

  Status Read(uint64_t offset, size_t n, char* buf, size_t* got) const override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    *got = 0;
    if (int err = CheckLocked(FaultOp::kTempRead)) return Err("pread", what_, err);
    if (offset < data_.size()) *got = data_.copy(buf, n, static_cast<size_t>(offset));
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    if (int err = CheckLocked(FaultOp::kTempWrite)) return Err("ftruncate", what_, err);
    data_.resize(static_cast<size_t>(size), '\0');
    return Status::OK();
  }

  Status Size(uint64_t* size) const override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    if (epoch_ != env_->epoch) return Err("fstat", what_, EIO);
    *size = data_.size();
    return Status::OK();
  }

 private:
  // EIO after a power cut, else the injected error of `op` (or 0).
  int CheckLocked(FaultOp op) const {
    if (epoch_ != env_->epoch) return EIO;
    return env_->CheckFaultLocked(op);
  }

  const std::shared_ptr<FaultEnv::Impl> env_;
  const std::string what_;
  const uint64_t epoch_;
  std::string data_;  // guarded by env_->mu
};

class FaultFileLock final : public FileLock {
 public:
  FaultFileLock(std::shared_ptr<FaultEnv::Impl> env, std::string path, uint64_t token)
      : env_(std::move(env)), path_(std::move(path)), token_(token) {}
  ~FaultFileLock() override {
    std::lock_guard<std::recursive_mutex> lock(env_->mu);
    auto it = env_->locks.find(path_);
    if (it != env_->locks.end() && it->second == token_) env_->locks.erase(it);
  }

 private:
  const std::shared_ptr<FaultEnv::Impl> env_;
  const std::string path_;
  const uint64_t token_;
};

}  // namespace

Status FaultEnv::Impl::OpenWritable(const std::string& path, bool truncate,
                                    std::unique_ptr<WritableFile>* out) {
  std::lock_guard<std::recursive_mutex> lock(mu);
  const std::string norm = Normalize(path);
  if (int err = CheckFaultLocked(FaultOp::kCreate); err != 0) return Err("open", norm, err);
  Dir* dir;
  std::string name;
  Status s = ParentLocked("open", norm, &dir, &name);
  if (!s.ok()) return s;
  InodePtr& inode = dir->entries[name];
  if (inode == nullptr) {
    inode = std::make_shared<Inode>();
    TouchLocked(dir);
  } else if (truncate) {
    inode->data.clear();
  }
  out->reset(new FaultWritableFile(shared_from_this(), norm, inode));
  return Status::OK();
}

// ---- FaultEnv ----

FaultEnv::FaultEnv() : impl_(std::make_shared<Impl>()) {}
FaultEnv::~FaultEnv() = default;

Status FaultEnv::NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  return impl_->OpenWritable(path, /*truncate=*/false, out);
}

Status FaultEnv::NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  return impl_->OpenWritable(path, /*truncate=*/true, out);
}

Status FaultEnv::NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* out) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  if (impl_->dirs.count(norm) != 0) return Err("open", norm, EISDIR);
  InodePtr inode = impl_->FindFileLocked(norm);
  if (inode == nullptr) return Err("open", norm, ENOENT);
  out->reset(new FaultRandomAccessFile(impl_, norm, std::move(inode)));
  return Status::OK();
}

Status FaultEnv::NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  if (int err = impl_->CheckFaultLocked(FaultOp::kRead); err != 0) return Err("mmap", norm, err);
  if (impl_->dirs.count(norm) != 0) return Err("mmap", norm, EISDIR);
  InodePtr inode = impl_->FindFileLocked(norm);
  if (inode == nullptr) return Err("open", norm, ENOENT);
  out->reset(new FaultMappedFile(inode->data));
  return Status::OK();
}

Status FaultEnv::FileExists(const std::string& path, bool* exists) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  *exists = impl_->dirs.count(norm) != 0 || impl_->FindFileLocked(norm) != nullptr;
  return Status::OK();
}

Status FaultEnv::IsDirectory(const std::string& path, bool* is_dir) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  *is_dir = impl_->dirs.count(norm) != 0;
  if (!*is_dir && impl_->FindFileLocked(norm) == nullptr) return Err("stat", norm, ENOENT);
  return Status::OK();
}

Status FaultEnv::GetFileSize(const std::string& path, uint64_t* size) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  if (impl_->dirs.count(norm) != 0) {
    *size = 0;
    return Status::OK();
  }
  InodePtr inode = impl_->FindFileLocked(norm);
  if (inode == nullptr) return Err("stat", norm, ENOENT);
  *size = inode->data.size();
  return Status::OK();
}

Status FaultEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  names->clear();
  const std::string norm = Normalize(dir);
  if (int err = impl_->CheckFaultLocked(FaultOp::kList); err != 0) return Err("opendir", norm, err);
  Dir* d = impl_->FindDirLocked(norm);
  if (d == nullptr) {
    return Err("opendir", norm, impl_->FindFileLocked(norm) != nullptr ? ENOTDIR : ENOENT);
  }
  for (const auto& [name, inode] : d->entries) names->push_back(name);
  // Subdirectories: the keys right under `norm` in the sorted map.
  const std::string prefix = norm == "/" ? "/" : norm + "/";
  for (auto it = impl_->dirs.upper_bound(prefix);
       it != impl_->dirs.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) names->push_back(rest);
  }
  return Status::OK();
}

Status FaultEnv::GetDirVersion(const std::string& dir, uint64_t* version) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(dir);
  Dir* d = impl_->FindDirLocked(norm);
  if (d == nullptr) return Err("stat", norm, ENOENT);
  *version = d->version;
  return Status::OK();
}

Status FaultEnv::CreateDir(const std::string& dir) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(dir);
  if (int err = impl_->CheckFaultLocked(FaultOp::kCreateDir); err != 0) {
    return Err("mkdir", norm, err);
  }
  if (impl_->dirs.count(norm) != 0) return Status::OK();
  Dir* parent;
  std::string name;
  Status s = impl_->ParentLocked("mkdir", norm, &parent, &name);
  if (!s.ok()) return s;
  if (parent->entries.count(name) != 0) return Err("mkdir", norm, EEXIST);
  impl_->dirs[norm].version = impl_->next_version++;
  impl_->TouchLocked(parent);
  return Status::OK();
}

Status FaultEnv::RemoveFile(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  if (int err = impl_->CheckFaultLocked(FaultOp::kRemove); err != 0) {
    return Err("unlink", norm, err);
  }
  Dir* dir;
  std::string name;
  Status s = impl_->ParentLocked("unlink", norm, &dir, &name);
  if (!s.ok()) return s;
  if (dir->entries.erase(name) == 0) return Err("unlink", norm, ENOENT);
  impl_->TouchLocked(dir);
  return Status::OK();
}

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string nfrom = Normalize(from);
  const std::string nto = Normalize(to);
  const std::string what = nfrom + " -> " + nto;
  if (int err = impl_->CheckFaultLocked(FaultOp::kRename); err != 0) {
    return Err("rename", what, err);
  }
  Dir* from_dir;
  Dir* to_dir;
  std::string from_name, to_name;
  Status s = impl_->ParentLocked("rename", nfrom, &from_dir, &from_name);
  if (s.ok()) s = impl_->ParentLocked("rename", nto, &to_dir, &to_name);
  if (!s.ok()) return Status::IOError("rename " + what, s.err());
  auto it = from_dir->entries.find(from_name);
  if (it == from_dir->entries.end()) return Err("rename", what, ENOENT);
  if (nfrom == nto) return Status::OK();
  InodePtr inode = it->second;
  from_dir->entries.erase(it);
  to_dir->entries[to_name] = std::move(inode);
  impl_->TouchLocked(from_dir);
  impl_->TouchLocked(to_dir);
  return Status::OK();
}

Status FaultEnv::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(path);
  if (int err = impl_->CheckFaultLocked(FaultOp::kTruncate); err != 0) {
    return Err("truncate", norm, err);
  }
  if (impl_->dirs.count(norm) != 0) return Err("truncate", norm, EISDIR);
  InodePtr inode = impl_->FindFileLocked(norm);
  if (inode == nullptr) return Err("truncate", norm, ENOENT);
  inode->data.resize(static_cast<size_t>(size), '\0');
  return Status::OK();
}

Status FaultEnv::SyncDir(const std::string& dir) {
  impl_->BeforeSync(dir);
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(dir);
  if (int err = impl_->CheckFaultLocked(FaultOp::kSyncDir); err != 0) {
    return Err("fsync", norm, err);
  }
  Dir* d = impl_->FindDirLocked(norm);
  if (d == nullptr) return Err("open", norm, ENOENT);
  d->durable_entries = d->entries;
  impl_->NoteSyncLocked();
  return Status::OK();
}

Status FaultEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock,
                          std::string* holder) {
  std::lock_guard<std::recursive_mutex> guard(impl_->mu);
  const std::string norm = Normalize(path);
  Dir* dir;
  std::string name;
  Status s = impl_->ParentLocked("open", norm, &dir, &name);
  if (!s.ok()) return s;
  if (impl_->locks.count(norm) != 0) {
    if (holder != nullptr) *holder = kInProcessHolder;
    return Status::Busy(std::string("locked by ") + kInProcessHolder);
  }
  InodePtr& inode = dir->entries[name];
  if (inode == nullptr) {
    inode = std::make_shared<Inode>();
    impl_->TouchLocked(dir);
  }
  inode->data = "0\n";  // our "pid", as the POSIX Env writes its own
  const uint64_t token = impl_->next_lock_token++;
  impl_->locks[norm] = token;
  lock->reset(new FaultFileLock(impl_, norm, token));
  return Status::OK();
}

Status FaultEnv::NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  const std::string norm = Normalize(dir);
  const std::string what = "a temporary file in " + norm;
  if (int err = impl_->CheckFaultLocked(FaultOp::kTempCreate); err != 0) return Err("open", what, err);
  if (impl_->FindDirLocked(norm) == nullptr) {
    return Err("open", what, impl_->FindFileLocked(norm) != nullptr ? ENOTDIR : ENOENT);
  }
  out->reset(new FaultTempFile(impl_, what));
  return Status::OK();
}

int64_t FaultEnv::sync_count() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->syncs;
}

void FaultEnv::SetBeforeSyncHook(std::function<void(const std::string& path)> hook) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->before_sync = std::move(hook);
}

void FaultEnv::SetSyncCallback(std::function<void(int64_t sync_index)> callback) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->sync_callback = std::move(callback);
}

void FaultEnv::PowerCut() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  for (auto& [path, dir] : impl_->dirs) {
    dir.entries = dir.durable_entries;
    for (auto& [name, inode] : dir.entries) {
      inode->data = *inode->durable;
      inode->lost.clear();
    }
  }
  impl_->KillProcessLocked();
}

FaultEnv::Snapshot FaultEnv::DurableSnapshot() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  auto state = std::make_shared<DurableState>();
  for (const auto& [path, dir] : impl_->dirs) {
    auto& files = state->dirs[path];
    for (const auto& [name, inode] : dir.durable_entries) files[name] = inode->durable;
  }
  return state;
}

void FaultEnv::Restore(const Snapshot& snapshot) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->dirs.clear();
  impl_->dirs["/"];
  if (snapshot != nullptr) {
    for (const auto& [path, files] : snapshot->dirs) {
      Dir& dir = impl_->dirs[path];
      for (const auto& [name, content] : files) {
        auto inode = std::make_shared<Inode>();
        inode->data = *content;
        inode->durable = content;
        dir.entries[name] = inode;
      }
      dir.durable_entries = dir.entries;
    }
  }
  impl_->KillProcessLocked();
}

void FaultEnv::InjectError(FaultOp op, int err, int after, int count) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->rules.push_back(Rule{op, err, after < 0 ? 0 : after, count});
}

void FaultEnv::SetShortWrite(bool on) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->short_write = on;
}

void FaultEnv::ClearFaults() {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->rules.clear();
  impl_->short_write = false;
}

void FaultEnv::SetSpaceLimit(uint64_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  impl_->space_limit = bytes;
}

int64_t FaultEnv::op_count(FaultOp op) const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->counts[static_cast<size_t>(op)];
}

uint64_t FaultEnv::used_bytes() const {
  std::lock_guard<std::recursive_mutex> lock(impl_->mu);
  return impl_->UsedBytesLocked();
}

const char* FaultOpName(FaultOp op) {
  switch (op) {
    case FaultOp::kAppend: return "Append";
    case FaultOp::kSync: return "Sync";
    case FaultOp::kSyncDir: return "SyncDir";
    case FaultOp::kRename: return "Rename";
    case FaultOp::kCreate: return "Create";
    case FaultOp::kTruncate: return "Truncate";
    case FaultOp::kRead: return "Read";
    case FaultOp::kRemove: return "Remove";
    case FaultOp::kCreateDir: return "CreateDir";
    case FaultOp::kTempCreate: return "TempCreate";
    case FaultOp::kTempWrite: return "TempWrite";
    case FaultOp::kTempRead: return "TempRead";
    case FaultOp::kList: return "List";
    case FaultOp::kAny: return "Any";
  }
  return "?";
}

}  // namespace chunkfs
