// ObjectEnv: files and folders of a repository as objects (object_env.h).
//
// Thread safety: ObjectEnv has no mutable state of its own; an
// ObjectWritableFile is used by one thread at a time (env.h).
#include "object_env.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <sstream>

#include "filenames.h"

namespace chunkfs {
namespace {

constexpr char kLockName[] = "chunkfs";
// Appends in flight per open file before Append waits for the oldest: bounds
// the memory of unacknowledged appends between two Syncs.
constexpr uint64_t kMaxPendingBytes = 64ull << 20;
// How long a fenced dead holder stays blocklisted (its process is gone; this
// only stops operations it had sent before it died).
constexpr uint32_t kFenceSeconds = 3600;
// How long an explicitly fenced holder stays blocklisted: a paused writer
// must not write again when it wakes, however long it slept (a week; a
// client that was blocklisted also finds its session closed).
constexpr uint32_t kTakeoverFenceSeconds = 7 * 24 * 3600;

// An error about `path` (the store's name for it) from one about an object.
Status PathError(const std::string& op, const std::string& path, const Status& s) {
  return Status::IOError(op + " " + path + " (" + s.message() + ")", s.err());
}

bool Busy(const Status& s) { return s.err() == EBUSY || s.err() == EEXIST; }

// A failure after which the write may have landed all the same (its reply
// was lost): not a refusal (fenced, too large, no space, no permission).
bool OutcomeUnknown(const Status& s) {
  const int e = s.err();
  return e == ETIMEDOUT || e == ECONNRESET || e == ECONNABORTED || e == ENOTCONN || e == EIO;
}

// True if `oid` holds exactly `data`: a write_full whose reply was lost
// landed, and it is not written again.
bool Holds(ObjectStore* store, const std::string& oid, std::string_view data) {
  uint64_t size = 0, version = 0;
  if (!store->Stat(oid, &size, &version).ok() || size != data.size()) return false;
  std::string got;
  return store->Read(oid, 0, data.size(), &got).ok() && got == data;
}
bool Invalid(const Status& s) { return s.code() == Status::Code::kInvalidArgument; }

class ObjectWritableFile final : public WritableFile {
 public:
  ObjectWritableFile(std::shared_ptr<ObjectStore> store, std::string path, std::string oid, uint64_t size)
      : store_(std::move(store)), path_(std::move(path)), oid_(std::move(oid)), size_(size) {}
  ~ObjectWritableFile() override { (void)Reap(true); }  // nothing to report it to: Sync/Close did

  Status Append(std::string_view data) override { return AppendV(&data, 1); }

  // Issues the appends and returns: their result is Sync's (an append that
  // failed in flight fails every later Sync, and the store retires the pack).
  Status AppendV(const std::string_view* parts, size_t n) override {
    if (closed_) return Status::IOError("write " + path_, EBADF);
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) total += parts[i].size();
    Status s = CheckRoom(total);
    if (!s.ok()) return s;
    std::string all;
    all.reserve(total);
    for (size_t i = 0; i < n; ++i) all.append(parts[i]);
    const uint64_t max_write = store_->MaxWriteSize();
    for (uint64_t off = 0; off < total || total == 0; off += max_write) {
      std::unique_ptr<ObjectStore::Pending> p;
      std::string piece = total <= max_write ? std::move(all) : all.substr(off, max_write);
      const uint64_t len = piece.size();
      if (!(s = store_->AppendAsync(oid_, std::move(piece), &p)).ok()) return PathError("write", path_, s);
      pending_.push_back({std::move(p), len});
      pending_bytes_ += len;
      size_ += len;
      if (total == 0) break;
    }
    return Reap(false);
  }

  Status Sync() override {
    Status s = Reap(true);
    if (!s.ok()) return s;
    return error_;
  }

  Status Close() override {
    if (closed_) return Status::OK();
    Status s = Sync();
    closed_ = true;
    return s;
  }

 private:
  struct InFlight {
    std::unique_ptr<ObjectStore::Pending> op;
    uint64_t bytes;
  };

  // EFBIG if `more` bytes would grow the object past the largest object (the
  // size is re-read first: a Truncate may have shortened it).
  Status CheckRoom(uint64_t more) {
    const uint64_t max = store_->MaxObjectSize();
    if (size_ + more <= max) return Status::OK();
    uint64_t size = 0, version = 0;
    if (store_->Stat(oid_, &size, &version).ok()) size_ = size;
    if (size_ + more <= max) return Status::OK();
    return Status::IOError("write " + path_ + " (an object holds at most " + std::to_string(max) + " bytes)", EFBIG);
  }

  // Collects finished appends (all of them with `all`, else those done and,
  // while too many bytes are in flight, the oldest). Notes the first error.
  Status Reap(bool all) {
    while (!pending_.empty()) {
      InFlight& f = pending_.front();
      if (!all && !f.op->Done() && pending_bytes_ <= kMaxPendingBytes) break;
      Status s = f.op->Wait();
      if (!s.ok() && error_.ok()) error_ = PathError("write", path_, s);
      pending_bytes_ -= f.bytes;
      pending_.pop_front();
    }
    return Status::OK();
  }

  const std::shared_ptr<ObjectStore> store_;
  const std::string path_;
  const std::string oid_;
  uint64_t size_;  // what the object holds once every append is applied
  std::deque<InFlight> pending_;
  uint64_t pending_bytes_ = 0;
  Status error_;  // sticky: the first append that failed in flight
  bool closed_ = false;
};

class ObjectRandomAccessFile final : public RandomAccessFile {
 public:
  ObjectRandomAccessFile(std::shared_ptr<ObjectStore> store, std::string path, std::string oid)
      : store_(std::move(store)), path_(std::move(path)), oid_(std::move(oid)) {}

  Status Read(uint64_t offset, size_t n, std::string* result) const override {
    Status s = store_->Read(oid_, offset, n, result);
    if (!s.ok()) {
      result->clear();
      return PathError("read", path_, s);
    }
    return Status::OK();
  }

 private:
  const std::shared_ptr<ObjectStore> store_;
  const std::string path_;
  const std::string oid_;
};

// The whole object, copied into memory at open.
class StringMappedFile final : public MappedFile {
 public:
  explicit StringMappedFile(std::string bytes) : bytes_(std::move(bytes)) {}
  const char* data() const override { return bytes_.data(); }
  size_t size() const override { return bytes_.size(); }

 private:
  const std::string bytes_;
};

// Unlocks at destruction; a process that dies instead leaves the lock to be
// broken by the next open on this host (ObjectEnv::BreakDeadHolder).
class ObjectFileLock final : public FileLock {
 public:
  ObjectFileLock(std::shared_ptr<ObjectStore> store, std::string oid, std::string cookie)
      : store_(std::move(store)), oid_(std::move(oid)), cookie_(std::move(cookie)) {}
  ~ObjectFileLock() override {
    (void)store_->Unlock(oid_, kLockName, cookie_);  // failing: the lock stays until broken (see above)
  }

 private:
  const std::shared_ptr<ObjectStore> store_;
  const std::string oid_;
  const std::string cookie_;
};

// Reads the whole object `oid` (`path` names it in errors).
Status ReadWhole(ObjectStore* store, const std::string& oid, const std::string& path, std::string* out) {
  out->clear();
  constexpr size_t kPiece = 16u << 20;
  std::string piece;
  for (;;) {
    Status s = store->Read(oid, out->size(), kPiece, &piece);
    if (!s.ok()) return PathError("read", path, s);
    out->append(piece);
    if (piece.size() < kPiece) return Status::OK();
  }
}

// ---------------------------------------------------------------- lock identity

std::string FirstLine(const char* file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// The start time of process `pid` (field 22 of /proc/PID/stat), "" if gone.
std::string ProcessStart(long pid) {
  std::string stat = FirstLine(("/proc/" + std::to_string(pid) + "/stat").c_str());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return "";
  std::istringstream fields(stat.substr(paren + 1));
  std::string f;
  for (int i = 3; i <= 22 && (fields >> f); ++i) {
    if (i == 22) return f;
  }
  return "";
}

// "key=value" fields of a cookie, separated by ';'.
std::string CookieField(const std::string& cookie, const std::string& key) {
  std::istringstream in(cookie);
  std::string part;
  while (std::getline(in, part, ';')) {
    if (part.compare(0, key.size() + 1, key + "=") == 0) return part.substr(key.size() + 1);
  }
  return "";
}

// "pid 7 on host h (client.4123)", from the description or else the cookie.
std::string Describe(const ObjectLocker& w) {
  std::string what = w.description;
  if (what.empty() && !CookieField(w.cookie, "pid").empty()) {
    what = "pid " + CookieField(w.cookie, "pid") + " on host " + CookieField(w.cookie, "host");
  }
  if (what.empty()) what = "cookie " + w.cookie;
  return what + " (" + w.client + ")";
}

}  // namespace

ObjectEnv::ObjectEnv(std::shared_ptr<ObjectStore> store, std::string root, std::string local_tmp)
    : store_(std::move(store)), root_(std::move(root)), local_tmp_(std::move(local_tmp)) {}

// ---------------------------------------------------------------- mapping

Status ObjectEnv::FileObject(const std::string& path, std::string* oid) const {
  if (path.size() > root_.size() + 1 && path.compare(0, root_.size(), root_) == 0 && path[root_.size()] == '/' &&
      path.back() != '/') {
    *oid = path.substr(root_.size() + 1);
    return Status::OK();
  }
  return Status::InvalidArgument(path + " is not a file below the repository " + root_);
}

Status ObjectEnv::DirObject(const std::string& dir, std::string* oid) const {
  if (dir == root_ || dir == root_ + "/") {
    *oid = "/";
    return Status::OK();
  }
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  Status s = FileObject(d, oid);
  if (s.ok()) *oid += "/";
  return s;
}

Status ObjectEnv::Entry(const std::string& path, std::string* dir_oid, std::string* name) const {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  size_t slash = oid.find_last_of('/');
  *dir_oid = slash == std::string::npos ? "/" : oid.substr(0, slash + 1);
  *name = slash == std::string::npos ? oid : oid.substr(slash + 1);
  return Status::OK();
}

Status ObjectEnv::CatalogAdd(const std::string& path) {
  std::string dir, name;
  Status s = Entry(path, &dir, &name);
  if (s.ok()) s = store_->OmapUpdate(dir, {name}, {});
  return s.ok() ? s : PathError("add to the catalog", path, s);
}

Status ObjectEnv::CatalogRemove(const std::string& path) {
  std::string dir, name;
  Status s = Entry(path, &dir, &name);
  if (s.ok()) s = store_->OmapUpdate(dir, {}, {name});
  return s.ok() ? s : PathError("remove from the catalog", path, s);
}

// ---------------------------------------------------------------- files

Status ObjectEnv::NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  if (!(s = store_->WriteFull(oid, "")).ok()) return PathError("create", path, s);
  if (!(s = CatalogAdd(path)).ok()) return s;
  out->reset(new ObjectWritableFile(store_, path, oid, 0));
  return Status::OK();
}

Status ObjectEnv::NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  uint64_t size = 0, version = 0;
  s = store_->Stat(oid, &size, &version);
  if (!s.ok() && s.err() == ENOENT) return NewWritableFile(path, out);
  if (!s.ok()) return PathError("stat", path, s);
  out->reset(new ObjectWritableFile(store_, path, oid, size));
  return Status::OK();
}

Status ObjectEnv::NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* out) {
  std::string oid;
  uint64_t size = 0, version = 0;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  if (!(s = store_->Stat(oid, &size, &version)).ok()) return PathError("open", path, s);
  out->reset(new ObjectRandomAccessFile(store_, path, oid));
  return Status::OK();
}

Status ObjectEnv::NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) {
  std::string oid, bytes;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  if (!(s = ReadWhole(store_.get(), oid, path, &bytes)).ok()) return s;
  out->reset(new StringMappedFile(std::move(bytes)));
  return Status::OK();
}

Status ObjectEnv::FileExists(const std::string& path, bool* exists) {
  bool is_dir = false;
  Status s = IsDirectory(path, &is_dir);
  *exists = s.ok();
  if (!s.ok() && s.err() == ENOENT) return Status::OK();
  return s;
}

Status ObjectEnv::IsDirectory(const std::string& path, bool* is_dir) {
  std::string oid;
  uint64_t size = 0, version = 0;
  Status s = DirObject(path, &oid);
  if (!s.ok()) return s;
  s = store_->Stat(oid, &size, &version);
  if (s.ok() || s.err() != ENOENT) {
    *is_dir = s.ok();
    return s.ok() ? s : PathError("stat", path, s);
  }
  *is_dir = false;
  if (path == root_) return PathError("stat", path, s);
  if (!(s = FileObject(path, &oid)).ok()) return s;
  s = store_->Stat(oid, &size, &version);
  return s.ok() ? s : PathError("stat", path, s);
}

Status ObjectEnv::GetFileSize(const std::string& path, uint64_t* size) {
  std::string oid;
  uint64_t version = 0;
  Status s = FileObject(path, &oid);
  if (s.ok()) s = store_->Stat(oid, size, &version);
  return s.ok() || Invalid(s) ? s : PathError("stat", path, s);
}

Status ObjectEnv::GetChildren(const std::string& dir, std::vector<std::string>* names) {
  names->clear();
  std::string oid;
  Status s = DirObject(dir, &oid);
  if (s.ok()) s = store_->OmapKeys(oid, names);
  return s.ok() || Invalid(s) ? s : PathError("opendir", dir, s);
}

Status ObjectEnv::GetDirVersion(const std::string& dir, uint64_t* version) {
  std::string oid;
  uint64_t size = 0;
  Status s = DirObject(dir, &oid);
  if (s.ok()) s = store_->Stat(oid, &size, version);
  return s.ok() || Invalid(s) ? s : PathError("stat", dir, s);
}

Status ObjectEnv::CreateDir(const std::string& dir) {
  std::string oid;
  Status s = DirObject(dir, &oid);
  if (!s.ok()) return s;
  if (!(s = store_->OmapUpdate(oid, {}, {})).ok()) return PathError("mkdir", dir, s);
  if (oid == "/") return Status::OK();
  std::string d = dir;
  while (d.back() == '/') d.pop_back();
  return CatalogAdd(d);
}

Status ObjectEnv::RemoveFile(const std::string& path) {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  Status r = store_->Remove(oid);
  if (!r.ok() && r.err() != ENOENT) return PathError("unlink", path, r);
  // Also for a missing object: a listed name whose object is gone (object_env.h).
  if (!(s = CatalogRemove(path)).ok()) return s;
  return r.ok() ? r : PathError("unlink", path, r);
}

Status ObjectEnv::RenameFile(const std::string& from, const std::string& to) {
  std::string from_oid, to_oid, bytes;
  Status s = FileObject(from, &from_oid);
  if (s.ok()) s = FileObject(to, &to_oid);
  if (!s.ok()) return s;
  if (!(s = ReadWhole(store_.get(), from_oid, from, &bytes)).ok()) return s;
  if (bytes.size() > store_->MaxWriteSize()) {
    return Status::IOError("rename " + from + " -> " + to + " (too large for one atomic write)", EFBIG);
  }
  if (!(s = store_->WriteFull(to_oid, bytes)).ok()) return PathError("rename " + from + " ->", to, s);
  if (!(s = CatalogAdd(to)).ok()) return s;
  return RemoveFile(from);
}

Status ObjectEnv::Truncate(const std::string& path, uint64_t size) {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (s.ok()) s = store_->Truncate(oid, size);
  return s.ok() || Invalid(s) ? s : PathError("truncate", path, s);
}

Status ObjectEnv::SyncDir(const std::string& dir) {
  (void)dir;  // catalog updates are durable once acknowledged, and every one waits for that
  return Status::OK();
}

Status ObjectEnv::WriteFileAtomic(const std::string& dir, const std::string& name, std::string_view data) {
  const std::string path = filenames::Join(dir, name);
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  if (data.size() > store_->MaxWriteSize()) {
    return Status::IOError("write " + path + " (" + std::to_string(data.size()) +
                               " bytes: more than one atomic write may hold)", EFBIG);
  }
  // A lost reply is checked, not answered by writing again: the object is
  // read back and compared with what was to be written (issue 11).
  s = store_->WriteFull(oid, data);
  if (!s.ok() && !(OutcomeUnknown(s) && Holds(store_.get(), oid, data))) return PathError("write", path, s);
  return CatalogAdd(path);
}

uint64_t ObjectEnv::MaxFileSize() const { return store_->MaxObjectSize(); }

Status ObjectEnv::GetSpace(const std::string& dir, SpaceInfo* out) {
  (void)dir;  // every folder is in the same pool
  return store_->Space(&out->total_bytes, &out->avail_bytes);
}

Status ObjectEnv::NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) {
  (void)dir;  // the spill is local (object_env.h)
  Env* local = Env::Default();
  Status s = local->CreateDir(local_tmp_);
  if (!s.ok()) return s;
  return local->NewTempFile(local_tmp_, out);
}

// ---------------------------------------------------------------- lock

std::string ObjectEnv::LockCookie() {
  const long pid = static_cast<long>(::getpid());
  return "chunkfs;host=" + HostName() + ";boot=" + FirstLine("/proc/sys/kernel/random/boot_id") +
         ";pid=" + std::to_string(pid) + ";start=" + ProcessStart(pid);
}

Status ObjectEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock, std::string* holder) {
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  if (!(s = CatalogAdd(path)).ok()) return s;
  const std::string cookie = LockCookie();
  const std::string description = "pid " + std::to_string(::getpid()) + " on host " + HostName();
  for (int attempt = 0; attempt < 3; ++attempt) {
    s = store_->Lock(oid, kLockName, cookie, description);
    if (s.ok()) {
      lock->reset(new ObjectFileLock(store_, oid, cookie));
      return s;
    }
    if (!Busy(s)) return PathError("lock", path, s);
    std::vector<ObjectLocker> lockers;
    if (!(s = store_->Lockers(oid, kLockName, &lockers)).ok()) return PathError("list the lockers of", path, s);
    for (const ObjectLocker& w : lockers) {
      bool broken = false;
      if (!(s = BreakDeadHolder(oid, w, &broken)).ok()) return PathError("break the lock of", path, s);
      if (broken) continue;
      const std::string who = Describe(w);
      if (holder != nullptr) *holder = who;
      return Status::Busy("locked by " + who);
    }
  }
  return Status::Busy("the lock " + path + " keeps changing hands");
}

Status ObjectEnv::FenceLockHolders(const std::string& path, std::string* fenced) {
  fenced->clear();
  std::string oid;
  Status s = FileObject(path, &oid);
  if (!s.ok()) return s;
  std::vector<ObjectLocker> lockers;
  if (!(s = store_->Lockers(oid, kLockName, &lockers)).ok()) return PathError("list the lockers of", path, s);
  for (const ObjectLocker& w : lockers) {
    if (w.address.empty()) return Status::IOError("fence the holder of " + path + ": its address is unknown", EINVAL);
    if (!(s = store_->Blocklist(w.address, kTakeoverFenceSeconds)).ok()) {
      return PathError("fence " + Describe(w) + ", the holder of", path,
                       s.WithContext("blocklist (does the client have the mon capability 'allow command \"osd blocklist\"'?)"));
    }
    s = store_->BreakLock(oid, kLockName, w);
    if (!s.ok() && s.err() != ENOENT) return PathError("break the lock of", path, s);
    *fenced += (fenced->empty() ? "" : ", ") + Describe(w);
  }
  return Status::OK();
}

Status ObjectEnv::BreakDeadHolder(const std::string& oid, const ObjectLocker& who, bool* broken) {
  *broken = false;
  const std::string mine = LockCookie();
  if (CookieField(who.cookie, "host") != CookieField(mine, "host")) return Status::OK();
  const bool same_boot = CookieField(who.cookie, "boot") == CookieField(mine, "boot");
  const std::string pid_text = CookieField(who.cookie, "pid");
  char* end = nullptr;
  const long pid = std::strtol(pid_text.c_str(), &end, 10);
  if (pid_text.empty() || *end != '\0' || pid <= 0) return Status::OK();
  // Alive: the same process (pid and start time) on this boot of this host.
  if (same_boot && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) &&
      ProcessStart(pid) == CookieField(who.cookie, "start")) {
    return Status::OK();
  }
  // Gone. Fencing stops what it sent before it died; without the blocklist
  // capability the lock is broken anyway (the process cannot send more).
  if (!who.address.empty()) (void)store_->Blocklist(who.address, kFenceSeconds);  // best effort, see above
  Status s = store_->BreakLock(oid, kLockName, who);
  if (!s.ok() && s.err() != ENOENT) return s;
  *broken = true;
  return Status::OK();
}

}  // namespace chunkfs
