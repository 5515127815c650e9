// Env: the file-system interface through which the store does all its I/O.
// Env::Default() is the real POSIX file system; tests substitute an in-memory
// Env that can inject ENOSPC, EIO, short writes and a "power cut" that drops
// everything not yet synced (store/testing/fault_env.h).
//
// Paths are plain strings; the store builds every path through
// store/src/filenames.h.
//
// Thread safety: an Env and the files it returns may be used from several
// threads at once, except that one WritableFile is used by one thread at a
// time (the store guards each with its shard lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/status.h"

namespace chunkfs {

// A file opened for appending. Bytes appended are visible to readers of the
// same path at once, but survive a power cut only after Sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of `data` or fails. On failure part of `data` may have been
  // written (a short write): the caller must treat the file's tail as unknown
  // and truncate back to a known size before appending again.
  virtual Status Append(std::string_view data) = 0;
  // Appends parts[0..n) in order, as one Append of their concatenation
  // would (same failure rules). PosixEnv writes them with writev(2), so a
  // caller need not copy a large payload to add a header and a checksum.
  virtual Status AppendV(const std::string_view* parts, size_t n);
  // Makes the file's content durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

// A file opened for positional reads.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into scratch; *result gets the bytes read
  // (fewer than n only at end of file).
  virtual Status Read(uint64_t offset, size_t n, std::string* result) const = 0;
};

// A whole file mapped (or copied) into memory, read-only. The content stays
// valid and unchanged for the life of the object.
class MappedFile {
 public:
  virtual ~MappedFile() = default;
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
};

// An unnamed scratch file (Env::NewTempFile): positional reads and writes,
// never synced, gone when the object is destroyed or the process dies. The
// mount keeps uploads that do not fit its memory budget in one.
//
// Thread safety: one thread at a time (the caller locks).
class TempFile {
 public:
  virtual ~TempFile() = default;
  // Writes all of `data` at `offset`, extending the file (a gap reads as
  // zeros) or fails; a failed write may have written part of `data`.
  virtual Status Write(uint64_t offset, std::string_view data) = 0;
  // Reads up to n bytes at offset into buf; *got gets the count (fewer than
  // n only at the end of the file). On failure *got is unspecified.
  virtual Status Read(uint64_t offset, size_t n, char* buf, size_t* got) const = 0;
  // Sets the size: shorter drops the tail, longer reads as zeros.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Size(uint64_t* size) const = 0;
};

// Held while a process owns a repository; the kernel drops it when the
// process dies (flock), so no stale lock can exist.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// Capacity as df shows it: bytes in all, and bytes a writer may still use.
struct SpaceInfo {
  uint64_t total_bytes = 0;
  uint64_t avail_bytes = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // The POSIX file system. Never deleted.
  static Env* Default();

  // Who may read what the store creates (docs/MOUNT.md "Permissions"): every
  // file and folder an Env creates is private to its owner (files 0600,
  // folders 0700) whatever the process umask, unless the folder it is made
  // in has the setgid bit (a repository shared with a group, see
  // SetDirAccess): then files are 0640 and folders 02750, the folder's group
  // inheriting (PosixEnv; an in-memory Env has no modes).

  // Opens `path` for appending, creating it if missing (mode: see above).
  virtual Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) = 0;
  // Creates or truncates `path`, opened for appending.
  virtual Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) = 0;
  virtual Status NewRandomAccessFile(const std::string& path,
                                     std::unique_ptr<RandomAccessFile>* out) = 0;
  virtual Status NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) = 0;

  virtual Status FileExists(const std::string& path, bool* exists) = 0;
  virtual Status IsDirectory(const std::string& path, bool* is_dir) = 0;
  virtual Status GetFileSize(const std::string& path, uint64_t* size) = 0;
  // Names (not paths) of the entries of `dir`, without "." and "..".
  virtual Status GetChildren(const std::string& dir, std::vector<std::string>* names) = 0;
  // A value that changes whenever an entry of `dir` is added, removed or
  // renamed (the directory's mtime in ns on POSIX).
  virtual Status GetDirVersion(const std::string& dir, uint64_t* version) = 0;
  virtual Status CreateDir(const std::string& dir) = 0;  // OK if it exists
  virtual Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from`. Durable only after SyncDir().
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  // Makes creations, removals and renames in `dir` durable.
  virtual Status SyncDir(const std::string& dir) = 0;

  // Takes an exclusive lock on `path` (created if missing) without waiting.
  // If another process holds it: Busy, with *holder set to what that process
  // wrote into the file (its pid). Writes our pid into the file.
  virtual Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock,
                          std::string* holder) = 0;

  // Creates an unnamed temporary file in the directory `dir` (which must
  // exist). PosixEnv uses O_TMPFILE, or where the file system lacks it a
  // file made by mkstemp and unlinked at once. The default: NotSupported.
  virtual Status NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) {
    (void)out;
    return Status::NotSupported("no temporary files in this Env (" + dir + ")");
  }

  // Makes the existing folder `dir` private to its owner (mode 0700, group
  // < 0), or shares it with the group `group`: its group set to `group` and
  // mode 02750, so that everything created below inherits that group and is
  // readable by it (see above). The default (an Env without modes): OK.
  virtual Status SetDirAccess(const std::string& dir, int64_t group) {
    (void)dir;
    (void)group;
    return Status::OK();
  }

  // Fences every holder of the lock at `path` so that it can never write
  // again, even if it was only paused, then breaks its lock (a RADOS
  // repository: the holder's client is blocklisted by the cluster).
  // *fenced names who held it ("" if nobody). The default (a local file
  // system, where the kernel drops a dead holder's flock): NotSupported.
  virtual Status FenceLockHolders(const std::string& path, std::string* fenced) {
    (void)fenced;
    return Status::NotSupported("no lock takeover here (" + path + "): stop the process that holds it");
  }

  // Convenience helpers built on the calls above.
  Status ReadFileToString(const std::string& path, std::string* out);
  // Writes `data` to path.tmp, syncs it, renames it over `path`, syncs the dir.
  // Virtual so that an object store replaces it with one atomic write
  // (ObjectEnv: a RADOS write_full); the default is the sequence above.
  virtual Status WriteFileAtomic(const std::string& dir, const std::string& name, std::string_view data);

  // The largest file this Env can hold (a RADOS object: osd_max_object_size);
  // a repository whose packs could grow past it is refused at Create/Open.
  // The default: no limit.
  virtual uint64_t MaxFileSize() const { return UINT64_MAX; }

  // The capacity of what holds `dir`, for df on the mount. The default asks
  // the local file system (statvfs); ObjectEnv asks the cluster.
  virtual Status GetSpace(const std::string& dir, SpaceInfo* out);
};

}  // namespace chunkfs
