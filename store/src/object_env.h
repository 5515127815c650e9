// ObjectEnv: the store's Env over an ObjectStore (a RADOS pool/namespace in
// production, MemoryObjectStore in tests), so that shards, sealing,
// recovery, prune and compaction run unchanged on either (docs/RADOS.md).
//
// Mapping (paths below `root`, the repository's own path such as
// "rados:pool/ns"; a path outside it is InvalidArgument):
//   file ROOT/a/b        -> object "a/b"   (the header, packs, idx, logs)
//   folder ROOT/a        -> object "a/"    its catalog: one omap key per entry
//   folder ROOT          -> object "/"
// Listing a folder reads its catalog, never the pool. A file is created
// before its catalog entry and removed before it, so a crash between the two
// leaves at worst an object nobody lists (a pack header, overwritten when
// its id is used again, or a file the store writes again) or a listed name
// whose object is gone (the store logs it once; RemoveFile drops the name).
//
//   NewWritableFile / NewAppendableFile  write_full("") / stat, then appends
//       issued without waiting; Sync() waits until RADOS acknowledged every
//       one (group commit: all records since the last Sync in one wait).
//       An append over the largest single write is split; one that would
//       grow the object over the largest object fails with EFBIG at once.
//   WriteFileAtomic   one write_full (atomic) + the catalog entry
//   RenameFile        read, write_full of `to`, remove `from` (only small
//       files are renamed: a published idx, a quarantined file)
//   SyncDir           nothing: a RADOS operation is durable once acknowledged
//   LockFile          an exclusive cls_lock "chunkfs" on object "lock", its
//       cookie naming host, boot, pid and process start time. A holder on
//       this host whose process is gone is fenced (blocklisted, best effort)
//       and its lock broken; any other holder makes LockFile Busy, naming it.
//   NewTempFile       an unnamed file in a local folder (`local_tmp`): the
//       mount's spill is local and may be lost.
//
// Thread safety: as env.h says; the ObjectStore is shared by every file.
#pragma once

#include <memory>
#include <string>

#include "chunkfs/env.h"
#include "object_store.h"

namespace chunkfs {

class ObjectEnv final : public Env {
 public:
  // `local_tmp`: the local folder of NewTempFile (made if missing).
  ObjectEnv(std::shared_ptr<ObjectStore> store, std::string root, std::string local_tmp);

  Status NewAppendableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status NewWritableFile(const std::string& path, std::unique_ptr<WritableFile>* out) override;
  Status NewRandomAccessFile(const std::string& path, std::unique_ptr<RandomAccessFile>* out) override;
  Status NewMappedFile(const std::string& path, std::unique_ptr<MappedFile>* out) override;
  Status FileExists(const std::string& path, bool* exists) override;
  Status IsDirectory(const std::string& path, bool* is_dir) override;
  Status GetFileSize(const std::string& path, uint64_t* size) override;
  Status GetChildren(const std::string& dir, std::vector<std::string>* names) override;
  Status GetDirVersion(const std::string& dir, uint64_t* version) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock, std::string* holder) override;
  Status NewTempFile(const std::string& dir, std::unique_ptr<TempFile>* out) override;
  Status WriteFileAtomic(const std::string& dir, const std::string& name, std::string_view data) override;
  uint64_t MaxFileSize() const override;
  Status GetSpace(const std::string& dir, SpaceInfo* out) override;  // the pool's (ObjectStore::Space)
  // Blocklists the client of every holder (kTakeoverFenceSeconds), then
  // breaks its lock; fails (breaking nothing) if a blocklist fails.
  Status FenceLockHolders(const std::string& path, std::string* fenced) override;

  // The cookie LockFile uses for this process ("chunkfs;host=H;boot=B;pid=P;start=T").
  static std::string LockCookie();

 private:
  // The object of a file / the catalog object of a folder; InvalidArgument
  // for a path outside the root.
  Status FileObject(const std::string& path, std::string* oid) const;
  Status DirObject(const std::string& dir, std::string* oid) const;
  // The catalog object of `path`'s folder and `path`'s name in it.
  Status Entry(const std::string& path, std::string* dir_oid, std::string* name) const;
  Status CatalogAdd(const std::string& path);
  Status CatalogRemove(const std::string& path);
  // Breaks the lock of a holder on this host whose process is gone;
  // *broken tells whether it did.
  Status BreakDeadHolder(const std::string& oid, const ObjectLocker& who, bool* broken);

  const std::shared_ptr<ObjectStore> store_;
  const std::string root_;
  const std::string local_tmp_;
};

}  // namespace chunkfs
