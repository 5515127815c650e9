// RadosObjectStore: the thin librados implementation of ObjectStore.
//
// Thread safety: librados' Rados and IoCtx may be used from several threads;
// every method passes its own completion or operation, and reads the object
// version from its own completion (never IoCtx::get_last_version, which is
// shared).
#include "rados_object_store.h"

#include <cerrno>
#include <cstdlib>
#include <list>
#include <map>
#include <set>
#include <sstream>

#include <rados/librados.hpp>

namespace chunkfs {
namespace {

constexpr uint64_t kKeysPerRead = 1000;

Status RadosError(const std::string& op, const std::string& oid, int r) {
  return Status::IOError(op + " " + oid, r < 0 ? -r : EIO);
}

ceph::bufferlist Bytes(std::string_view data) {
  ceph::bufferlist bl;
  bl.append(data.data(), static_cast<unsigned>(data.size()));
  return bl;
}

class RadosPending final : public ObjectStore::Pending {
 public:
  RadosPending(librados::AioCompletion* c, std::string oid) : c_(c), oid_(std::move(oid)) {}
  ~RadosPending() override {
    c_->wait_for_complete();  // the buffer must outlive the operation
    c_->release();
  }
  bool Done() override { return c_->is_complete(); }
  Status Wait() override {
    c_->wait_for_complete();
    int r = c_->get_return_value();
    return r < 0 ? RadosError("append", oid_, r) : Status::OK();
  }

 private:
  librados::AioCompletion* const c_;
  const std::string oid_;
};

class RadosObjectStore final : public ObjectStore {
 public:
  RadosObjectStore(std::unique_ptr<librados::Rados> rados, librados::IoCtx io, uint64_t max_write,
                   uint64_t max_object)
      : rados_(std::move(rados)), io_(std::move(io)), max_write_(max_write), max_object_(max_object) {}
  ~RadosObjectStore() override {
    io_.close();
    rados_->shutdown();
  }

  Status AppendAsync(const std::string& oid, std::string data, std::unique_ptr<Pending>* out) override {
    librados::AioCompletion* c = librados::Rados::aio_create_completion();
    ceph::bufferlist bl = Bytes(data);
    int r = io_.aio_append(oid, c, bl, bl.length());
    if (r < 0) {
      c->release();
      return RadosError("append", oid, r);
    }
    out->reset(new RadosPending(c, oid));
    return Status::OK();
  }

  Status WriteFull(const std::string& oid, std::string_view data) override {
    ceph::bufferlist bl = Bytes(data);
    int r = io_.write_full(oid, bl);
    return r < 0 ? RadosError("write_full", oid, r) : Status::OK();
  }

  Status Read(const std::string& oid, uint64_t offset, size_t n, std::string* out) override {
    ceph::bufferlist bl;
    int r = io_.read(oid, bl, n, offset);
    if (r < 0) return RadosError("read", oid, r);
    out->assign(bl.c_str(), bl.length());
    return Status::OK();
  }

  Status Stat(const std::string& oid, uint64_t* size, uint64_t* version) override {
    librados::AioCompletion* c = librados::Rados::aio_create_completion();
    time_t mtime = 0;
    int r = io_.aio_stat(oid, c, size, &mtime);
    if (r == 0) {
      c->wait_for_complete();
      r = c->get_return_value();
      *version = c->get_version64();
    }
    c->release();
    return r < 0 ? RadosError("stat", oid, r) : Status::OK();
  }

  Status Remove(const std::string& oid) override {
    int r = io_.remove(oid);
    return r < 0 ? RadosError("remove", oid, r) : Status::OK();
  }

  Status Truncate(const std::string& oid, uint64_t size) override {
    librados::ObjectWriteOperation op;
    op.assert_exists();
    op.truncate(size);
    int r = io_.operate(oid, &op);
    return r < 0 ? RadosError("truncate", oid, r) : Status::OK();
  }

  Status OmapUpdate(const std::string& oid, const std::vector<std::string>& add,
                    const std::vector<std::string>& remove) override {
    librados::ObjectWriteOperation op;
    op.create(false);
    if (!add.empty()) {
      std::map<std::string, ceph::bufferlist> kv;
      for (const auto& k : add) kv[k];
      op.omap_set(kv);
    }
    if (!remove.empty()) op.omap_rm_keys(std::set<std::string>(remove.begin(), remove.end()));
    int r = io_.operate(oid, &op);
    return r < 0 ? RadosError("omap update", oid, r) : Status::OK();
  }

  Status OmapKeys(const std::string& oid, std::vector<std::string>* keys) override {
    keys->clear();
    std::string after;
    for (bool more = true; more;) {
      std::set<std::string> got;
      int rval = 0;
      librados::ObjectReadOperation op;
      op.omap_get_keys2(after, kKeysPerRead, &got, &more, &rval);
      int r = io_.operate(oid, &op, nullptr);
      if (r >= 0) r = rval;
      if (r < 0) return RadosError("omap keys", oid, r);
      keys->insert(keys->end(), got.begin(), got.end());
      if (got.empty()) break;
      after = *got.rbegin();
    }
    return Status::OK();
  }

  Status Lock(const std::string& oid, const std::string& name, const std::string& cookie,
              const std::string& description) override {
    int r = io_.lock_exclusive(oid, name, cookie, description, nullptr, 0);
    return r < 0 ? RadosError("lock", oid, r) : Status::OK();
  }

  Status Unlock(const std::string& oid, const std::string& name, const std::string& cookie) override {
    int r = io_.unlock(oid, name, cookie);
    return r < 0 ? RadosError("unlock", oid, r) : Status::OK();
  }

  Status Lockers(const std::string& oid, const std::string& name, std::vector<ObjectLocker>* out) override {
    out->clear();
    int exclusive = 0;
    std::string tag;
    std::list<librados::locker_t> lockers;
    int r = io_.list_lockers(oid, name, &exclusive, &tag, &lockers);
    if (r == -ENOENT) return Status::OK();
    if (r < 0) return RadosError("list lockers", oid, r);
    for (const auto& l : lockers) out->push_back(ObjectLocker{l.client, l.cookie, "", l.address});
    return Status::OK();
  }

  Status BreakLock(const std::string& oid, const std::string& name, const ObjectLocker& who) override {
    int r = io_.break_lock(oid, name, who.client, who.cookie);
    return r < 0 ? RadosError("break lock", oid, r) : Status::OK();
  }

  Status Blocklist(const std::string& address, uint32_t seconds) override {
    int r = rados_->blocklist_add(address, seconds);
    return r < 0 ? RadosError("blocklist", address, r) : Status::OK();
  }

  uint64_t MaxWriteSize() const override { return max_write_; }
  uint64_t MaxObjectSize() const override { return max_object_; }

  Status Space(uint64_t* total_bytes, uint64_t* avail_bytes) override {
    librados::cluster_stat_t st;
    int r = rados_->cluster_stat(st);
    if (r < 0) return RadosError("cluster stat", "", r);
    const uint64_t copies = PoolCopies();
    *total_bytes = (st.kb << 10) / copies;
    *avail_bytes = (st.kb_avail << 10) / copies;
    return Status::OK();
  }

 private:
  // How many copies the pool keeps of every byte ("osd pool get POOL size";
  // 1 if the monitor does not say, e.g. without the capability to ask).
  uint64_t PoolCopies() {
    const std::string cmd = "{\"prefix\": \"osd pool get\", \"pool\": \"" + io_.get_pool_name() +
                            "\", \"var\": \"size\", \"format\": \"json\"}";
    ceph::bufferlist in, out;
    std::string status;
    if (rados_->mon_command(cmd, in, &out, &status) < 0) return 1;
    const std::string json = out.to_str();  // {"pool":"p","pool_id":2,"size":3}
    const size_t at = json.find("\"size\":");
    if (at == std::string::npos) return 1;
    const uint64_t n = std::strtoull(json.c_str() + at + 7, nullptr, 10);
    return n > 0 ? n : 1;
  }

  const std::unique_ptr<librados::Rados> rados_;
  librados::IoCtx io_;
  const uint64_t max_write_;
  const uint64_t max_object_;
};

// The client id given in CEPH_ARGS (--id X, --user X, -n/--name client.X), "" if none.
std::string IdFromCephArgs() {
  const char* env = std::getenv("CEPH_ARGS");
  if (env == nullptr) return "";
  std::istringstream in(env);
  std::string word, prev;
  while (in >> word) {
    if (prev == "--id" || prev == "--user") return word;
    if ((prev == "-n" || prev == "--name") && word.compare(0, 7, "client.") == 0) return word.substr(7);
    if (word.compare(0, 5, "--id=") == 0) return word.substr(5);
    prev = word;
  }
  return "";
}

uint64_t ConfNumber(librados::Rados* rados, const char* option, uint64_t fallback) {
  std::string v;
  if (rados->conf_get(option, v) != 0 || v.empty()) return fallback;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  return end != v.c_str() && n > 0 ? n : fallback;
}

}  // namespace

Status OpenRadosObjectStore(const std::string& pool, const std::string& ns, const RadosConnectOptions& options,
                            std::shared_ptr<ObjectStore>* out) {
  auto rados = std::make_unique<librados::Rados>();
  std::string id = !options.client_id.empty() ? options.client_id : IdFromCephArgs();
  const std::string who = "client." + (id.empty() ? std::string("admin") : id);
  int r = rados->init(id.empty() ? nullptr : id.c_str());
  if (r < 0) return Status::IOError("initialising librados as " + who, -r);
  // A missing cluster fails within 30 s, not librados' 300 (the config may say otherwise).
  (void)rados->conf_set("client_mount_timeout", "30");  // a default only: nothing depends on it
  r = rados->conf_read_file(options.conf_file.empty() ? nullptr : options.conf_file.c_str());
  if (r < 0) {
    return Status::IOError("reading the ceph config " +
                               (options.conf_file.empty() ? std::string("(CEPH_CONF or /etc/ceph/ceph.conf)")
                                                          : options.conf_file),
                           -r);
  }
  if ((r = rados->conf_parse_env(nullptr)) < 0) return Status::IOError("parsing CEPH_ARGS", -r);
  if ((r = rados->connect()) < 0) {
    return Status::IOError("connecting to the ceph cluster as " + who + " (is it up, and is the keyring readable?)",
                           -r);
  }
  librados::IoCtx io;
  r = rados->ioctx_create(pool.c_str(), io);
  if (r == -ENOENT) {
    return Status::NotFound("no RADOS pool " + pool + " (create it: ceph osd pool create " + pool + ")");
  }
  if (r < 0) return Status::IOError("opening the RADOS pool " + pool, -r);
  io.set_namespace(ns);
  // osd_max_write_size is in MiB; the client sees the cluster's defaults
  // unless its config says otherwise (docs/RADOS.md "Limits").
  const uint64_t max_write = ConfNumber(rados.get(), "osd_max_write_size", 90) << 20;
  const uint64_t max_object = ConfNumber(rados.get(), "osd_max_object_size", 128ull << 20);
  out->reset(new RadosObjectStore(std::move(rados), std::move(io), max_write, max_object));
  return Status::OK();
}

}  // namespace chunkfs
