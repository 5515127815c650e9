// FaultEnv: an in-memory Env for tests that models durability exactly and
// injects faults (ENOSPC, EIO, short writes, power cuts).
//
// Model
//  - A file is an inode with `data` (what readers see now) and `durable_data`
//    (its content as of the last successful WritableFile::Sync()).
//  - A directory maps names to inodes twice: `entries` (what lookups see now)
//    and `durable_entries` (as of the last successful SyncDir() of it).
//    Creating, removing and renaming a file change `entries` only.
//  - Directories themselves are durable as soon as CreateDir() returns, and
//    are never removed (Env has no RemoveDir). CreateDir creates one level:
//    the parent must exist, as with mkdir(2).
//  - PowerCut(): every directory's entries := durable_entries and every
//    file's data := durable_data. Files whose names were never made durable
//    disappear. Every object opened before the cut (writable files, random
//    access files) fails with EIO from then on; locks are released (the
//    process that held them is dead). Mapped files keep their copy.
//  - A failed WritableFile::Sync() models Linux: the file's bytes that were
//    not yet durable are "lost" (their dirty pages are marked clean): readers
//    still see them, but no later Sync of the file ever makes them durable.
//    A later Sync succeeds anyway and makes the old durable bytes (zeros
//    past the old end) durable in their place. So code that simply retries
//    a failed fsync loses data at the next power cut, as it would on Linux.
//  - Truncate() and NewWritableFile()'s truncation change `data` only: like
//    any content change they are durable after the next Sync of that file.
//
// Paths are '/'-separated; relative paths are taken from the root, "." and
// ".." are resolved, repeated slashes ignored. "/" always exists.
//
// Fault injection: InjectError(op, err, after, count) makes the (after+1)-th
// call of `op` from now fail with `err`, `count` times in a row (-1: until
// ClearFaults()). Several rules may be armed at once; every matching rule
// counts every call, and when more than one fires the first armed wins.
// A failed call changes nothing, except an Append with SetShortWrite(true)
// armed (half of its data is written first) or one that hits the space limit
// (what fits is written).
//
// Thread safety: every method may be called from any thread; one recursive
// mutex guards all state. The sync callback runs under that mutex, right
// after the sync point it reports, so a DurableSnapshot() taken inside it is
// exactly "power cut at sync point k" even with concurrent writers; the
// callback may call any FaultEnv method but must not wait for another thread
// that uses this env. Objects returned by a FaultEnv share its state and may
// outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chunkfs/env.h"

namespace chunkfs {

enum class FaultOp {
  kAppend,     // WritableFile::Append
  kSync,       // WritableFile::Sync
  kSyncDir,    // Env::SyncDir
  kRename,     // Env::RenameFile
  kCreate,     // Env::NewWritableFile / NewAppendableFile
  kTruncate,   // Env::Truncate
  kRead,       // RandomAccessFile::Read / Env::NewMappedFile
  kRemove,     // Env::RemoveFile
  kCreateDir,  // Env::CreateDir
  kTempCreate,  // Env::NewTempFile
  kTempWrite,   // TempFile::Write / TempFile::Truncate
  kTempRead,    // TempFile::Read
  kList,        // Env::GetChildren
  kAny,        // any of the above (op_count(kAny): all of them)
};

// The op's name as the comments above give it ("Append", "SyncDir", ...).
const char* FaultOpName(FaultOp op);

class FaultEnv final : public Env {
 public:
  // The durable state of the whole file system (opaque, immutable, cheap to
  // copy: file contents are shared).
  struct DurableState;
  using Snapshot = std::shared_ptr<const DurableState>;

  FaultEnv();
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  // Env.
  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status NewRandomAccessFile(const std::string& path,
                             std::unique_ptr<RandomAccessFile>* out) override;
  // A copy of the content at open time.
  Status NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) override;
  Status FileExists(const std::string& path, bool* exists) override;
  Status IsDirectory(const std::string& path, bool* is_dir) override;
  Status GetFileSize(const std::string& path, uint64_t* size) override;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override;
  // A counter, bumped (to a value never used before) on every entry change.
  Status GetDirVersion(const std::string& dir, uint64_t* version) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  // In-process lock per path: while the returned FileLock lives, another
  // LockFile of the path is Busy with *holder = "pid 0 (in-process)".
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock,
                  std::string* holder) override;
  // In memory; the directory must exist. Temporary files are not on any
  // directory's list and do not count against the space limit (inject
  // ENOSPC with kTempWrite); after a power cut they fail with EIO.
  Status NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) override;

  // Durability.
  // Number of successful sync points (Sync() + SyncDir()) so far.
  int64_t sync_count() const;
  // Called after each successful sync point with its 1-based index (the new
  // sync_count()). Pass nullptr to remove.
  void SetSyncCallback(std::function<void(int64_t sync_index)> callback);
  // Called at the start of every WritableFile::Sync() and SyncDir(), with
  // the path, before the env's lock is taken: it may block, as a slow disk
  // would (a test then checks what does or does not wait). nullptr removes.
  void SetBeforeSyncHook(std::function<void(const std::string& path)> hook);
  // Loses power now (see the model above).
  void PowerCut();
  // What a power cut right now would leave.
  Snapshot DurableSnapshot() const;
  // Resets the whole file system to `snapshot` (as a power cut would: every
  // object opened before fails with EIO, locks are released). Faults,
  // counters, the space limit and the callback are kept.
  void Restore(const Snapshot& snapshot);

  // Faults.
  void InjectError(FaultOp op, int err, int after = 0, int count = 1);
  // Arms (or disarms) a short write: the next Append that fails (injected
  // error) first writes half of its data. One-shot.
  void SetShortWrite(bool on);
  // Removes every injected error and the short write (not the space limit).
  void ClearFaults();
  // Total bytes of file data (over all linked files) allowed; 0: unlimited.
  // An Append that would exceed it writes what fits and fails with ENOSPC.
  void SetSpaceLimit(uint64_t bytes);

  // Counters.
  // Calls of `op` so far (failed ones included); kAny: all calls counted.
  int64_t op_count(FaultOp op) const;
  // Bytes of file data currently used (what the space limit is checked
  // against).
  uint64_t used_bytes() const;

  struct Impl;  // shared with the file objects; defined in fault_env.cc

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace chunkfs
