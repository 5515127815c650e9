// MemoryObjectStore: an in-memory ObjectStore (store/src/object_store.h) for
// the fast tests of ObjectEnv's mapping: objects, omap keys, versions, locks
// with holders and a blocklist, and injected write errors. Several clients
// share one MemoryCluster, as processes share a RADOS cluster.
//
// Appends are applied when issued (acknowledged at once), unless
// HoldAcks(true): then they are applied and acknowledged only at Wait (a
// Sync), so a test can tell whether Sync waited for them.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "object_store.h"

namespace chunkfs {

struct MemoryCluster {
  struct Object {
    std::string data;
    std::set<std::string> omap;
    uint64_t version = 0;
  };
  std::mutex mu;
  std::map<std::string, Object> objects;
  std::map<std::string, ObjectLocker> locks;  // by "oid\nname"
  std::set<std::string> blocklist;            // client addresses
  uint64_t next_version = 1;
  uint64_t capacity = 1ull << 40;  // for Space
};

class MemoryObjectStore final : public ObjectStore {
 public:
  // `client` names this client ("client.1"); its address is "127.0.0.1:0/<client>".
  MemoryObjectStore(std::shared_ptr<MemoryCluster> cluster, std::string client);

  Status AppendAsync(const std::string& oid, std::string data, std::unique_ptr<Pending>* out) override;
  Status WriteFull(const std::string& oid, std::string_view data) override;
  Status Read(const std::string& oid, uint64_t offset, size_t n, std::string* out) override;
  Status Stat(const std::string& oid, uint64_t* size, uint64_t* version) override;
  Status Remove(const std::string& oid) override;
  Status Truncate(const std::string& oid, uint64_t size) override;
  Status OmapUpdate(const std::string& oid, const std::vector<std::string>& add,
                    const std::vector<std::string>& remove) override;
  Status OmapKeys(const std::string& oid, std::vector<std::string>* keys) override;
  Status Lock(const std::string& oid, const std::string& name, const std::string& cookie,
              const std::string& description) override;
  Status Unlock(const std::string& oid, const std::string& name, const std::string& cookie) override;
  Status Lockers(const std::string& oid, const std::string& name, std::vector<ObjectLocker>* out) override;
  Status BreakLock(const std::string& oid, const std::string& name, const ObjectLocker& who) override;
  Status Blocklist(const std::string& address, uint32_t seconds) override;
  uint64_t MaxWriteSize() const override { return max_write_; }
  uint64_t MaxObjectSize() const override { return max_object_; }
  // The fake cluster's capacity (SetCapacity) less the bytes of every object.
  Status Space(uint64_t* total_bytes, uint64_t* avail_bytes) override;

  // Test controls.
  void SetLimits(uint64_t max_write, uint64_t max_object) {
    max_write_ = max_write;
    max_object_ = max_object;
  }
  // The next `count` writing operations fail with `err` (appends in flight:
  // at their Wait).
  void FailWrites(int err, int count);
  void HoldAcks(bool hold);
  // The next `count` WriteFull calls are applied but answer ETIMEDOUT, as
  // when the cluster's reply is lost.
  void LoseReplies(int count);
  void SetCapacity(uint64_t bytes);  // shared by every client of the cluster (default 1 TiB)
  const std::string& address() const { return address_; }
  uint64_t writes() const;  // writing operations issued so far

 private:
  friend class MemoryPending;
  // Under cluster_->mu: the error a write gets now (blocklisted, injected).
  Status WriteErrorLocked(const std::string& op, const std::string& oid);
  void ApplyAppendLocked(const std::string& oid, const std::string& data);

  const std::shared_ptr<MemoryCluster> cluster_;
  const std::string client_;
  const std::string address_;
  uint64_t max_write_ = 90ull << 20;
  uint64_t max_object_ = 128ull << 20;
  int fail_err_ = 0;
  int fail_count_ = 0;
  int lose_replies_ = 0;
  bool hold_acks_ = false;
  uint64_t writes_ = 0;
};

}  // namespace chunkfs
