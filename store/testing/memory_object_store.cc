#include "memory_object_store.h"

#include <cerrno>

namespace chunkfs {

namespace {

Status Missing(const std::string& op, const std::string& oid) { return Status::IOError(op + " " + oid, ENOENT); }
std::string LockKey(const std::string& oid, const std::string& name) { return oid + "\n" + name; }

}  // namespace

// An append: already applied (its result kept), or held until Wait.
class MemoryPending final : public ObjectStore::Pending {
 public:
  MemoryPending(MemoryObjectStore* store, std::string oid, std::string data, Status result, bool held)
      : store_(store), oid_(std::move(oid)), data_(std::move(data)), result_(std::move(result)), held_(held) {}
  bool Done() override { return !held_; }
  Status Wait() override {
    if (held_) {
      std::lock_guard<std::mutex> l(store_->cluster_->mu);
      if (result_.ok()) store_->ApplyAppendLocked(oid_, data_);
      held_ = false;
    }
    return result_;
  }

 private:
  MemoryObjectStore* const store_;
  const std::string oid_;
  const std::string data_;
  const Status result_;
  bool held_;
};

MemoryObjectStore::MemoryObjectStore(std::shared_ptr<MemoryCluster> cluster, std::string client)
    : cluster_(std::move(cluster)), client_(std::move(client)), address_("127.0.0.1:0/" + client_) {}

void MemoryObjectStore::FailWrites(int err, int count) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  fail_err_ = err;
  fail_count_ = count;
}

void MemoryObjectStore::HoldAcks(bool hold) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  hold_acks_ = hold;
}

void MemoryObjectStore::SetCapacity(uint64_t bytes) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  cluster_->capacity = bytes;
}

Status MemoryObjectStore::Space(uint64_t* total_bytes, uint64_t* avail_bytes) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  uint64_t used = 0;
  for (const auto& [oid, o] : cluster_->objects) used += o.data.size();
  *total_bytes = cluster_->capacity;
  *avail_bytes = used < cluster_->capacity ? cluster_->capacity - used : 0;
  return Status::OK();
}

uint64_t MemoryObjectStore::writes() const {
  std::lock_guard<std::mutex> l(cluster_->mu);
  return writes_;
}

Status MemoryObjectStore::WriteErrorLocked(const std::string& op, const std::string& oid) {
  ++writes_;
  if (cluster_->blocklist.count(address_)) return Status::IOError(op + " " + oid + " (blocklisted)", ESHUTDOWN);
  if (fail_count_ > 0) {
    --fail_count_;
    return Status::IOError(op + " " + oid + " (injected)", fail_err_);
  }
  return Status::OK();
}

void MemoryObjectStore::ApplyAppendLocked(const std::string& oid, const std::string& data) {
  MemoryCluster::Object& o = cluster_->objects[oid];
  o.data.append(data);
  o.version = cluster_->next_version++;
}

Status MemoryObjectStore::AppendAsync(const std::string& oid, std::string data, std::unique_ptr<Pending>* out) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("append", oid);
  if (s.ok() && !hold_acks_) ApplyAppendLocked(oid, data);
  out->reset(new MemoryPending(this, oid, std::move(data), s, hold_acks_));
  return Status::OK();
}

Status MemoryObjectStore::WriteFull(const std::string& oid, std::string_view data) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("write_full", oid);
  if (!s.ok()) return s;
  MemoryCluster::Object& o = cluster_->objects[oid];
  o.data.assign(data);
  o.version = cluster_->next_version++;
  if (lose_replies_ > 0) {
    --lose_replies_;
    return Status::IOError("write_full " + oid + " (reply lost)", ETIMEDOUT);
  }
  return Status::OK();
}

void MemoryObjectStore::LoseReplies(int count) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  lose_replies_ = count;
}

Status MemoryObjectStore::Read(const std::string& oid, uint64_t offset, size_t n, std::string* out) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  auto it = cluster_->objects.find(oid);
  if (it == cluster_->objects.end()) return Missing("read", oid);
  const std::string& d = it->second.data;
  *out = offset >= d.size() ? std::string() : d.substr(offset, n);
  return Status::OK();
}

Status MemoryObjectStore::Stat(const std::string& oid, uint64_t* size, uint64_t* version) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  auto it = cluster_->objects.find(oid);
  if (it == cluster_->objects.end()) return Missing("stat", oid);
  *size = it->second.data.size();
  *version = it->second.version;
  return Status::OK();
}

Status MemoryObjectStore::Remove(const std::string& oid) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("remove", oid);
  if (!s.ok()) return s;
  if (cluster_->objects.erase(oid) == 0) return Missing("remove", oid);
  return Status::OK();
}

Status MemoryObjectStore::Truncate(const std::string& oid, uint64_t size) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("truncate", oid);
  if (!s.ok()) return s;
  auto it = cluster_->objects.find(oid);
  if (it == cluster_->objects.end()) return Missing("truncate", oid);
  it->second.data.resize(size);
  it->second.version = cluster_->next_version++;
  return Status::OK();
}

Status MemoryObjectStore::OmapUpdate(const std::string& oid, const std::vector<std::string>& add,
                                     const std::vector<std::string>& remove) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("omap update", oid);
  if (!s.ok()) return s;
  MemoryCluster::Object& o = cluster_->objects[oid];
  for (const auto& k : add) o.omap.insert(k);
  for (const auto& k : remove) o.omap.erase(k);
  o.version = cluster_->next_version++;
  return Status::OK();
}

Status MemoryObjectStore::OmapKeys(const std::string& oid, std::vector<std::string>* keys) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  auto it = cluster_->objects.find(oid);
  if (it == cluster_->objects.end()) return Missing("omap keys", oid);
  keys->assign(it->second.omap.begin(), it->second.omap.end());
  return Status::OK();
}

Status MemoryObjectStore::Lock(const std::string& oid, const std::string& name, const std::string& cookie,
                               const std::string& description) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("lock", oid);
  if (!s.ok()) return s;
  const std::string key = LockKey(oid, name);
  auto it = cluster_->locks.find(key);
  if (it != cluster_->locks.end()) {
    const bool mine = it->second.client == client_ && it->second.cookie == cookie;
    return Status::IOError("lock " + oid, mine ? EEXIST : EBUSY);
  }
  cluster_->objects[oid];  // cls_lock creates the object
  cluster_->locks[key] = ObjectLocker{client_, cookie, description, address_};
  return Status::OK();
}

Status MemoryObjectStore::Unlock(const std::string& oid, const std::string& name, const std::string& cookie) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("unlock", oid);
  if (!s.ok()) return s;
  auto it = cluster_->locks.find(LockKey(oid, name));
  if (it == cluster_->locks.end() || it->second.client != client_ || it->second.cookie != cookie) {
    return Missing("unlock", oid);
  }
  cluster_->locks.erase(it);
  return Status::OK();
}

Status MemoryObjectStore::Lockers(const std::string& oid, const std::string& name, std::vector<ObjectLocker>* out) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  out->clear();
  auto it = cluster_->locks.find(LockKey(oid, name));
  if (it != cluster_->locks.end()) out->push_back(it->second);
  return Status::OK();
}

Status MemoryObjectStore::BreakLock(const std::string& oid, const std::string& name, const ObjectLocker& who) {
  std::lock_guard<std::mutex> l(cluster_->mu);
  Status s = WriteErrorLocked("break lock", oid);
  if (!s.ok()) return s;
  auto it = cluster_->locks.find(LockKey(oid, name));
  if (it == cluster_->locks.end() || it->second.client != who.client || it->second.cookie != who.cookie) {
    return Missing("break lock", oid);
  }
  cluster_->locks.erase(it);
  return Status::OK();
}

Status MemoryObjectStore::Blocklist(const std::string& address, uint32_t seconds) {
  (void)seconds;  // never expires here: no test outlives it
  std::lock_guard<std::mutex> l(cluster_->mu);
  cluster_->blocklist.insert(address);
  return Status::OK();
}

}  // namespace chunkfs
