// ObjectStore: the few operations on named objects that a repository in an
// object store needs (docs/RADOS.md). ObjectEnv (object_env.h) maps the
// store's files and folders onto them; RadosObjectStore (rados_object_store.cc,
// built only with librados) is the thin librados implementation, and
// MemoryObjectStore (store/testing/) the in-memory fake the fast tests use.
//
// Every failure is an IOError naming the operation and the object, with the
// errno the store reported (ENOENT for a missing object, EBUSY/EEXIST for a
// lock held by someone else).
//
// Thread safety: every method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/status.h"

namespace chunkfs {

// One holder of an advisory lock (cls_lock on RADOS).
struct ObjectLocker {
  std::string client;       // the holder's client instance ("client.4123")
  std::string cookie;       // what the holder passed to Lock
  std::string description;  // likewise
  std::string address;      // the holder's network address (for a blocklist)
};

class ObjectStore {
 public:
  // A write in flight. Wait() returns its result once the store has
  // acknowledged it (durable on RADOS); Done() tells without waiting.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual bool Done() = 0;
    virtual Status Wait() = 0;
  };

  virtual ~ObjectStore() = default;

  // Appends `data` to `oid` (created if missing) without waiting. Appends
  // of one client to one object are applied in the order issued, and a
  // read issued after an append sees it.
  virtual Status AppendAsync(const std::string& oid, std::string data, std::unique_ptr<Pending>* out) = 0;
  // Replaces the whole content of `oid` (created if missing) in one atomic
  // step: a reader sees the old content or the new, never a mix.
  virtual Status WriteFull(const std::string& oid, std::string_view data) = 0;
  // Up to n bytes at offset (fewer only at the end of the object).
  virtual Status Read(const std::string& oid, uint64_t offset, size_t n, std::string* out) = 0;
  // Size and version (a value that changes with every write) of `oid`.
  virtual Status Stat(const std::string& oid, uint64_t* size, uint64_t* version) = 0;
  virtual Status Remove(const std::string& oid) = 0;
  virtual Status Truncate(const std::string& oid, uint64_t size) = 0;

  // Adds `add` and removes `remove` from the keys of `oid`'s key/value map
  // (omap) in one atomic step, creating the object if missing.
  virtual Status OmapUpdate(const std::string& oid, const std::vector<std::string>& add,
                            const std::vector<std::string>& remove) = 0;
  // Every key, in order (ENOENT if the object is missing).
  virtual Status OmapKeys(const std::string& oid, std::vector<std::string>* keys) = 0;

  // An exclusive lock `name` on `oid` (created if missing), held until
  // Unlock, BreakLock or the holder is removed from the cluster; never
  // expires. EBUSY (or EEXIST) if held.
  virtual Status Lock(const std::string& oid, const std::string& name, const std::string& cookie,
                      const std::string& description) = 0;
  virtual Status Unlock(const std::string& oid, const std::string& name, const std::string& cookie) = 0;
  virtual Status Lockers(const std::string& oid, const std::string& name, std::vector<ObjectLocker>* out) = 0;
  virtual Status BreakLock(const std::string& oid, const std::string& name, const ObjectLocker& who) = 0;
  // Fences a client address: the cluster refuses its operations from now on
  // (for `seconds`). RADOS needs the mon capability for "osd blocklist".
  virtual Status Blocklist(const std::string& address, uint32_t seconds) = 0;

  // The largest single write and the largest object the store accepts.
  virtual uint64_t MaxWriteSize() const = 0;
  virtual uint64_t MaxObjectSize() const = 0;

  // What a writer of this pool may still store, for df: the cluster's raw
  // capacity and free space divided by the pool's replication (as `ceph df`'s
  // MAX AVAIL is, roughly: it also weighs the fullest OSD).
  virtual Status Space(uint64_t* total_bytes, uint64_t* avail_bytes) = 0;
};

}  // namespace chunkfs
