// ChunkFs: dispatch by inode kind, file handles, the commit and the flusher.
#include "chunkfs.h"

#include "chunkfs/repo_env.h"
#include "readahead.h"

#include <fcntl.h>
#include <sys/statvfs.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace chunkfs::fs {

// ---------------------------------------------------------------- handles

uint64_t HandleTable::Add(std::shared_ptr<FileHandle> h) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t id = next_++;
  handles_.emplace(id, std::move(h));
  return id;
}

std::shared_ptr<FileHandle> HandleTable::Get(uint64_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = handles_.find(id);
  return it == handles_.end() ? nullptr : it->second;
}

std::shared_ptr<FileHandle> HandleTable::Remove(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = handles_.find(id);
  if (it == handles_.end()) return nullptr;
  auto h = std::move(it->second);
  handles_.erase(it);
  return h;
}

size_t HandleTable::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return handles_.size();
}

std::vector<std::shared_ptr<FileHandle>> HandleTable::All() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::shared_ptr<FileHandle>> all;
  all.reserve(handles_.size());
  for (const auto& [id, h] : handles_) all.push_back(h);
  return all;
}

// ------------------------------------------------------------- lifecycle

ChunkFs::ChunkFs(const FsConfig& config, Logger log)
    : config_(config),
      log_(std::move(log)),
      budget_(config.write_buffer),
      inodes_(config.max_names, config.uid, config.gid),
      cache_(config.cache_size),
      mount_time_(Now()) {
  inodes_.SetAccess(kIncomingIno, config.incoming_mode,
                    config.incoming_group >= 0 ? static_cast<uint32_t>(config.incoming_group) : config.gid);
}

ChunkFs::~ChunkFs() {
  Status s = Shutdown();  // main.cc calls Shutdown itself and reports; a second call is a no-op
  if (!s.ok()) Log("shutdown: " + s.ToString());
}

void ChunkFs::Log(const std::string& msg) const {
  if (log_) log_(msg);
}

void ChunkFs::Attach(std::unique_ptr<Repository> repo, uint64_t max_chunk) {
  repo_ = std::move(repo);
  max_chunk_ = max_chunk;
  if (config_.write_buffer_scales) budget_.RaiseLimit(kWriteBufferChunks * max_chunk);
  pipelined_ = false;
  if (config_.pipelined_ingest && repo_ && !config_.read_only) {
    // A build (or store) that cannot encode blocks keeps the whole-chunk commit.
    EncodedBlock probe;
    Status s = EncodeBlock("x", repo_->settings().codec, repo_->settings().compression_level, &probe);
    pipelined_ = s.ok();
    if (!s.ok()) Log("uploads are stored whole at close(): " + s.ToString());
  }
}

void ChunkFs::StartThreads() {
  if (!config_.read_only && !flusher_.joinable()) flusher_ = std::thread([this] { FlusherLoop(); });
  if (!config_.read_only && config_.compact && repo_ && !compactor_) {
    CompactorConfig cc;
    cc.bytes_per_second = config_.compact_rate;
    cc.interval_ms = config_.compact_interval_ms;
    cc.batch_bytes = repo_->settings().pack_size_limit;
    compactor_ = std::make_unique<Compactor>(repo_.get(), cc, log_);
    compactor_->Start();
  }
}

namespace {
// The store publishes a shard's idx at most this often; a Sync inside that
// time leaves the publication to a later Sync (chunkfs/repository.h).
constexpr std::chrono::seconds kStorePublishInterval{1};
}  // namespace

void ChunkFs::FlusherLoop() {
  using Clock = std::chrono::steady_clock;
  // After a round that synced new chunks, rounds go on until the store's
  // publication interval has passed since it, so that what that round left
  // unpublished reaches read-only readers even if nothing more is stored.
  bool follow_up = false;
  Clock::time_point stored_round;
  std::unique_lock<std::mutex> l(flusher_mu_);
  while (!flusher_stop_) {
    flusher_cv_.wait_for(l, std::chrono::milliseconds(config_.flush_interval_ms),
                         [this] { return flusher_stop_; });
    if (flusher_stop_) break;
    bool stored = unsynced_.exchange(false, std::memory_order_acq_rel);
    if (!stored && !follow_up) continue;
    Clock::time_point now = Clock::now();
    if (stored) stored_round = now;
    follow_up = now - stored_round < kStorePublishInterval;
    l.unlock();
    BackgroundSync();
    l.lock();
  }
}

void ChunkFs::BackgroundSync() noexcept {
  std::string failure;
  try {
    Status s = repo_->Sync();
    counters_.background_syncs.fetch_add(1, std::memory_order_relaxed);
    if (s.ok()) return;
    failure = s.ToString();
  } catch (const std::exception& e) {  // bad_alloc: the mount goes on
    failure = std::string("exception: ") + e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  counters_.sync_errors.fetch_add(1, std::memory_order_relaxed);
  MarkUnsynced();  // try again next round (the interval is the back-off)
  try {
    Log("background sync failed: " + failure + "; retrying in " +
        std::to_string(config_.flush_interval_ms) + " ms");
  } catch (...) {  // no memory even for the message: the counter says it
  }
}

int ChunkFs::SyncNow() {
  if (!repo_ || config_.read_only) return 0;
  Status s = repo_->Sync();
  if (!s.ok()) {
    counters_.sync_errors.fetch_add(1, std::memory_order_relaxed);
    Log("sync failed: " + s.ToString());
    int err = s.ToErrno();
    return err ? err : EIO;
  }
  return 0;
}

Status ChunkFs::Shutdown() {
  if (compactor_) compactor_->Stop();  // after the batch in progress
  {
    std::lock_guard<std::mutex> l(flusher_mu_);
    flusher_stop_ = true;
  }
  flusher_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  workers_.Shutdown();  // runs what is queued (uploads still hold the repository)
  DropChunkReaders();   // their packs go before the repository closes
  Status result;
  if (repo_) {
    Status s;
    if (!config_.read_only) s = repo_->Sync();
    Status c = repo_->Close();
    repo_.reset();
    result = s.ok() ? c : s;
  }
  return result;
}

void ChunkFs::Init(fuse_conn_info* conn) {
  // O_TRUNC arrives with open() instead of a separate setattr.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // Writes must reach us in order and before FLUSH; the commit is at close.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Plain readdir: READDIRPLUS would cost a lookup per /chunks entry.
  conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
  // Cached pages of an /incoming name are dropped when its size or mtime
  // changes (a name rewritten under the same inode).
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
}

void ChunkFs::AfterInitOnce() {
  std::call_once(after_init_once_, [this] {
    if (config_.readahead == 0 || config_.mountpoint.empty()) return;
    std::string where;
    if (int err = SetMountReadahead(config_.mountpoint, config_.readahead, &where)) {
      log_("read-ahead left at the kernel's default (" + where + ": " + std::strerror(err) + ")");
    }
  });
}

// ---------------------------------------------------------------- helpers

std::shared_ptr<Node> ChunkFs::GetNode(fuse_ino_t ino) {
  std::lock_guard<std::mutex> l(inodes_.mu());
  return inodes_.GetLocked(ino);
}

std::shared_ptr<FileHandle> ChunkFs::GetHandle(const fuse_file_info* fi) const {
  return fi ? handles_.Get(fi->fh) : nullptr;
}

void ChunkFs::FillEntryLocked(Node& node, fuse_entry_param* e) {
  std::memset(e, 0, sizeof *e);
  e->ino = node.ino;
  e->generation = 1;
  switch (node.kind) {
    case NodeKind::kChunk:
      ChunkAttr(node, &e->attr);
      e->attr_timeout = e->entry_timeout = kChunkTimeout;
      break;
    case NodeKind::kIncomingDir:
    case NodeKind::kIncomingFile:
      IncomingAttrLocked(node, &e->attr);
      e->attr_timeout = e->entry_timeout = kIncomingTimeout;
      break;
    default:
      FixedAttr(node, &e->attr);
      e->entry_timeout = kFixedTimeout;
      e->attr_timeout = node.kind == NodeKind::kStats ? 0 : kFixedAttrTimeout;
      break;
  }
  node.nlookup++;
}

// --------------------------------------------------------------- dispatch

int ChunkFs::Lookup(fuse_ino_t parent, const char* name, fuse_entry_param* e) {
  if (std::strlen(name) > 255) return ENAMETOOLONG;
  switch (parent) {
    case kRootIno:
      return LookupRoot(name, e);
    case kChunksIno:
      return LookupChunk(name, e);
    default: {
      auto dir = GetNode(parent);
      if (!dir) return ENOENT;
      if (dir->kind != NodeKind::kIncomingDir) return ENOTDIR;
      return LookupIncoming(*dir, name, e);
    }
  }
}

void ChunkFs::Forget(fuse_ino_t ino, uint64_t nlookup) {
  std::lock_guard<std::mutex> l(inodes_.mu());
  inodes_.ForgetLocked(ino, nlookup);
}

int ChunkFs::Getattr(fuse_ino_t ino, struct stat* st, double* timeout) {
  size_t stats_size = ino == kStatsIno ? StatsJson().size() : 0;
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto node = inodes_.GetLocked(ino);
  if (!node) return ENOENT;
  switch (node->kind) {
    case NodeKind::kChunk:
      ChunkAttr(*node, st);
      *timeout = kChunkTimeout;
      return 0;
    case NodeKind::kIncomingDir:
    case NodeKind::kIncomingFile:
      IncomingAttrLocked(*node, st);
      inodes_.TouchLocked(node.get());
      *timeout = kIncomingTimeout;
      return 0;
    default:
      FixedAttr(*node, st);
      if (node->kind == NodeKind::kStats) st->st_size = static_cast<off_t>(stats_size);
      *timeout = node->kind == NodeKind::kStats ? 0 : kFixedAttrTimeout;
      return 0;
  }
}

int ChunkFs::Setattr(const fuse_ctx* ctx, fuse_ino_t ino, const struct stat& attr, int to_set,
                     fuse_file_info* fi, struct stat* out, double* timeout) {
  auto node = GetNode(ino);
  if (!node) return ENOENT;
  if (node->kind == NodeKind::kChunk) return SetattrChunk(node, to_set, out, timeout);  // touch: control_ops.cc
  if (node->kind != NodeKind::kIncomingDir && node->kind != NodeKind::kIncomingFile) {
    return EROFS;  // "/", "/chunks", "/.stats" and "/.control" never change
  }
  if (config_.read_only) return EROFS;
  *timeout = kIncomingTimeout;
  return SetattrIncoming(ctx, node, attr, to_set, fi, out);
}

int ChunkFs::Open(fuse_ino_t ino, fuse_file_info* fi) {
  auto node = GetNode(ino);
  if (!node) return ENOENT;
  switch (node->kind) {
    case NodeKind::kIncomingFile:
      return OpenIncoming(node, fi->flags, /*created=*/false, fi);
    case NodeKind::kChunk:
    case NodeKind::kStats:
      return OpenChunkLike(node, fi);
    case NodeKind::kControl:
      return OpenControl(node, fi);
    default:
      return EISDIR;
  }
}

int ChunkFs::Read(fuse_ino_t /*ino*/, size_t size, off_t off, fuse_file_info* fi, ReadReply* out) {
  auto h = GetHandle(fi);
  if (!h) return EBADF;
  if (off < 0) return EINVAL;
  int err = 0;
  switch (h->kind) {
    case FileHandle::Kind::kChunk:
      err = ReadChunk(*h, size, off, out);
      break;
    case FileHandle::Kind::kUpload:
      err = h->upload->Read(static_cast<uint64_t>(off), size, &out->owned);
      out->data = out->owned.data();
      out->size = out->owned.size();
      break;
    case FileHandle::Kind::kStats: {
      out->handle = h;  // `text` lives in the handle
      uint64_t o = static_cast<uint64_t>(off);
      if (o < h->text.size()) {
        out->data = h->text.data() + o;
        out->size = std::min<uint64_t>(size, h->text.size() - o);
      }
      break;
    }
    case FileHandle::Kind::kControl:
      err = ReadControl(*h, size, off, out);
      break;
    default:
      return EISDIR;
  }
  if (err == 0) counters_.bytes_read.fetch_add(out->size, std::memory_order_relaxed);
  return err;
}

int ChunkFs::Write(fuse_ino_t /*ino*/, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  auto h = GetHandle(fi);
  if (!h) return EBADF;
  if (h->kind == FileHandle::Kind::kControl) return WriteControl(*h, buf, size, off);
  if (h->kind != FileHandle::Kind::kUpload || !h->commits) return EBADF;
  if (off < 0) return EINVAL;
  bool was_spilled = h->upload->spilled();
  int err = h->upload->Write(static_cast<uint64_t>(off), std::string_view(buf, size));
  if (!was_spilled && h->upload->spilled()) counters_.spills.fetch_add(1, std::memory_order_relaxed);
  if (err == EFBIG) counters_.too_large.fetch_add(1, std::memory_order_relaxed);
  if (err != 0 && err != EFBIG) {
    Log("write to /incoming failed (spilling to " + config_.tmp_dir + "): " + std::strerror(err));
  }
  if (err == 0) {
    counters_.bytes_written.fetch_add(size, std::memory_order_relaxed);
    std::lock_guard<std::mutex> l(inodes_.mu());
    h->node->mtime = h->node->ctime = Now();
  }
  return err;
}

int ChunkFs::Flush(fuse_ino_t /*ino*/, fuse_file_info* fi) {
  auto h = GetHandle(fi);
  if (!h) return 0;
  if (h->kind != FileHandle::Kind::kUpload || !h->commits) return 0;
  return Commit(h->node, *h->upload);
}

int ChunkFs::Fsync(fuse_ino_t /*ino*/, fuse_file_info* fi) {
  auto h = GetHandle(fi);
  const bool upload = h && h->kind == FileHandle::Kind::kUpload && h->commits;
  if (upload) {
    if (int err = Commit(h->node, *h->upload)) return err;
  }
  // Never ENOSYS (the kernel would stop sending fsync for good).
  int err = SyncNow();
  return upload ? StoreAgainIfLost(*h, err) : err;
}

// fsync() of an upload returns 0 only if its chunk is durable and readable.
// The store may have lost the chunk before it became durable (a failed
// fsync whose records it could not write again; then every Sync fails until
// the chunk is stored again), or a prune may have deleted it since the
// commit: the upload is still open, so its content is stored again and
// synced once more.
int ChunkFs::StoreAgainIfLost(FileHandle& h, int sync_err) {
  if (!repo_ || config_.read_only) return sync_err;
  Digest d;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    if (!h.node->committed) return sync_err ? sync_err : EIO;
    d = h.node->digest;
  }
  if (repo_->Contains(d)) return sync_err;
  std::string content;
  if (int err = h.upload->Read(0, h.upload->size(), &content)) return err;
  if (Sha256(content) != d) return sync_err ? sync_err : EIO;  // rewritten meanwhile
  Log("chunk " + d.ToHex() + " is not stored (lost before it became durable, or pruned); storing it again from the "
      "open file");
  CommitResult again;
  if (int err = PutContent(content, &d, &again)) return err;
  return SyncNow();
}

int ChunkFs::Release(fuse_ino_t /*ino*/, fuse_file_info* fi) {
  auto h = handles_.Remove(fi->fh);
  if (!h) return 0;
  if (h->kind == FileHandle::Kind::kUpload) {
    ReleaseUpload(*h);
    return 0;
  }
  std::lock_guard<std::mutex> l(inodes_.mu());
  if (h->node->opens > 0) h->node->opens--;
  if (h->node->kind == NodeKind::kIncomingFile && h->node->parent != 0) {
    inodes_.TouchLocked(h->node.get());
  }
  return 0;
}

int ChunkFs::Opendir(fuse_ino_t ino, fuse_file_info* fi) {
  auto node = GetNode(ino);
  if (!node) return ENOENT;
  auto h = std::make_shared<FileHandle>();
  h->node = node;
  switch (node->kind) {
    case NodeKind::kRoot:
      h->kind = FileHandle::Kind::kRootDir;
      break;
    case NodeKind::kChunksDir:
      h->kind = FileHandle::Kind::kChunksDir;
      break;
    case NodeKind::kIncomingDir:
      h->kind = FileHandle::Kind::kIncomingDir;
      break;
    default:
      return ENOTDIR;
  }
  fi->fh = handles_.Add(std::move(h));
  return 0;
}

int ChunkFs::Readdir(fuse_req_t req, fuse_ino_t /*ino*/, size_t size, off_t off,
                     fuse_file_info* fi, std::string* buf) {
  auto h = GetHandle(fi);
  if (!h) return EBADF;
  if (off < 0) return EINVAL;
  switch (h->kind) {
    case FileHandle::Kind::kRootDir:
      return ReaddirRoot(req, size, off, buf);
    case FileHandle::Kind::kChunksDir:
      return ReaddirChunks(req, *h, size, off, buf);
    case FileHandle::Kind::kIncomingDir:
      return ReaddirIncoming(req, *h->node, size, off, buf);
    default:
      return ENOTDIR;
  }
}

int ChunkFs::Releasedir(fuse_ino_t /*ino*/, fuse_file_info* fi) {
  handles_.Remove(fi->fh);
  return 0;
}

int ChunkFs::Statfs(fuse_ino_t /*ino*/, struct statvfs* st) {
  if (chunkfs::IsRadosPath(repo_->path())) return StatfsOfPool(st);
  if (::statvfs(repo_->path().c_str(), st) != 0) return errno;
  st->f_namemax = 255;
  return 0;
}

// A repository in a RADOS pool (docs/RADOS.md) has no local file system: df
// shows the pool's share of the cluster (SpaceInfo), in 4 KiB blocks; there
// is no inode count.
int ChunkFs::StatfsOfPool(struct statvfs* st) {
  SpaceInfo space;
  Status s = repo_->GetSpace(&space);
  if (!s.ok()) return s.ToErrno();
  constexpr uint64_t kBlock = 4096;
  *st = {};
  st->f_bsize = st->f_frsize = kBlock;
  st->f_blocks = space.total_bytes / kBlock;
  st->f_bfree = st->f_bavail = space.avail_bytes / kBlock;
  st->f_namemax = 255;
  return 0;
}

int ChunkFs::Symlink(fuse_ino_t /*parent*/) { return EPERM; }
int ChunkFs::Link(fuse_ino_t /*ino*/, fuse_ino_t /*newparent*/) { return EPERM; }
int ChunkFs::Fallocate(fuse_ino_t /*ino*/) { return EOPNOTSUPP; }

// ------------------------------------------------------------------ xattr

namespace {
constexpr std::string_view kDigestXattr = "user.chunkfs.digest";

// Answers a getxattr/listxattr of `value` for a caller buffer of `size`
// (0: the caller asks for the length).
int XattrAnswer(std::string_view value, size_t size, std::string* out, size_t* needed) {
  if (size == 0) {
    *needed = value.size();
    return 0;
  }
  if (size < value.size()) return ERANGE;
  out->assign(value);
  return 0;
}
}  // namespace

int ChunkFs::Getxattr(fuse_ino_t ino, const char* name, size_t size, std::string* value,
                      size_t* needed) {
  std::string hex;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    auto node = inodes_.GetLocked(ino);
    if (!node) return ENOENT;
    if (kDigestXattr != name) return ENODATA;
    bool has = node->kind == NodeKind::kChunk ||
               (node->kind == NodeKind::kIncomingFile && node->committed &&
                (!node->upload || !node->upload->dirty()));
    if (!has) return ENODATA;
    hex = node->digest.ToHex();
  }
  return XattrAnswer(hex, size, value, needed);
}

int ChunkFs::Listxattr(fuse_ino_t ino, size_t size, std::string* value, size_t* needed) {
  bool has;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    auto node = inodes_.GetLocked(ino);
    if (!node) return ENOENT;
    has = node->kind == NodeKind::kChunk ||
          (node->kind == NodeKind::kIncomingFile && node->committed &&
           (!node->upload || !node->upload->dirty()));
  }
  std::string list;
  if (has) {
    list.assign(kDigestXattr);
    list.push_back('\0');
  }
  return XattrAnswer(list, size, value, needed);
}

int ChunkFs::Setxattr(fuse_ino_t ino, const char* name) {
  auto node = GetNode(ino);
  if (!node) return ENOENT;
  if (node->kind != NodeKind::kIncomingDir && node->kind != NodeKind::kIncomingFile) return EROFS;
  if (kDigestXattr == name) return EPERM;  // set by the commit only
  return ENOTSUP;
}

int ChunkFs::Removexattr(fuse_ino_t ino, const char* name) {
  auto node = GetNode(ino);
  if (!node) return ENOENT;
  if (node->kind != NodeKind::kIncomingDir && node->kind != NodeKind::kIncomingFile) return EROFS;
  if (kDigestXattr == name) return EPERM;
  return ENODATA;
}

// ----------------------------------------------------------------- commit

std::shared_ptr<Upload> ChunkFs::NewUpload() {
  std::unique_ptr<IngestPipeline> pipeline;
  if (pipelined_) {
    // The repository's codec and level, with this open's overrides (settings() reflects them).
    const uint8_t codec = repo_->settings().codec;
    const int level = repo_->settings().compression_level;
    pipeline = std::make_unique<IngestPipeline>(
        &workers_, &budget_,
        [codec, level](std::string_view raw, EncodedBlock* out) { return EncodeBlock(raw, codec, level, out); },
        &stage_buffers_);
  }
  return std::make_shared<Upload>(&budget_, config_.tmp_dir, max_chunk_, config_.env, std::move(pipeline));
}

int ChunkFs::StoreErrno(const Status& s, const Digest* expected) {
  if (s.IsCorruption() && expected) {
    counters_.digest_mismatches.fetch_add(1, std::memory_order_relaxed);
    Log("refused /incoming file named " + expected->ToHex() + ": its content does not hash to its name (" +
        s.ToString() + ")");
    return EIO;
  }
  if (s.IsTooLarge()) {
    counters_.too_large.fetch_add(1, std::memory_order_relaxed);
    return EFBIG;
  }
  Log("storing a chunk failed: " + s.ToString());
  int err = s.ToErrno();
  return err ? err : EIO;
}

int ChunkFs::PutEncoded(const Digest& digest, std::vector<EncodedBlock> blocks, const Digest* expected,
                        CommitResult* result) {
  if (config_.read_only || !repo_) return EROFS;
  if (expected && digest != *expected) {
    counters_.digest_mismatches.fetch_add(1, std::memory_order_relaxed);
    Log("refused /incoming file named " + expected->ToHex() + ": its content hashes to " + digest.ToHex());
    return EIO;
  }
  PutResult pr;
  Status s = repo_->PutBlocks(digest, std::move(blocks), &pr);
  if (s.code() == Status::Code::kNotSupported) {  // a store without blocked records
    if (pipelined_.exchange(false)) Log("uploads are stored whole at close(): " + s.ToString());
    return Upload::kPutWhole;
  }
  if (!s.ok()) return StoreErrno(s, expected);
  result->digest = pr.digest;
  result->was_new = pr.was_new;
  if (pr.was_new) MarkUnsynced();
  return 0;
}

int ChunkFs::PutContent(std::string_view content, const Digest* expected, CommitResult* result) {
  if (config_.read_only || !repo_) return EROFS;
  PutResult pr;
  Status s = repo_->Put(content, &pr, expected);
  if (!s.ok()) return StoreErrno(s, expected);
  result->digest = pr.digest;
  result->was_new = pr.was_new;
  if (pr.was_new) MarkUnsynced();
  return 0;
}

namespace {
// A name of 64 hex digits (either case) names the digest its content must
// have; see docs/MOUNT.md.
bool DigestName(std::string_view name, Digest* out) {
  if (name.size() != Digest::kHexSize) return false;
  std::string lower(name);
  for (char& c : lower) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return Digest::FromHex(lower, out);
}
}  // namespace

bool IsDigestName(std::string_view name, Digest* out) { return DigestName(name, out); }

int ChunkFs::Commit(const std::shared_ptr<Node>& node, Upload& upload) {
  std::string name;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    name = node->name;
  }
  Digest expected;
  bool verify = DigestName(name, &expected);
  CommitResult res;
  bool did_put = false;
  const Digest* want = verify ? &expected : nullptr;
  const Upload::PutBlocksFn put_blocks = [&](const Digest& digest, std::vector<EncodedBlock> blocks, CommitResult* r) {
    return PutEncoded(digest, std::move(blocks), want, r);
  };
  int err = upload.Commit([&](std::string_view content, CommitResult* r) { return PutContent(content, want, r); },
                          &res, &did_put, &commit_gate_, &put_blocks);
  if (err != 0) {
    if (did_put) counters_.commit_errors.fetch_add(1, std::memory_order_relaxed);
    return err;
  }
  // A stored version renamed since onto a 64-hex name is checked against it.
  if (verify && res.digest != expected) {
    counters_.digest_mismatches.fetch_add(1, std::memory_order_relaxed);
    Log("refused /incoming file named " + expected.ToHex() + ": its content hashes to " + res.digest.ToHex());
    return EIO;
  }
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    if (res.version > node->commit_version) {
      node->commit_version = res.version;
      node->digest = res.digest;
      node->size = res.size;
      node->committed = true;
    }
  }
  if (did_put) counters_.commits.fetch_add(1, std::memory_order_relaxed);
  // -o sync: every successful close() is durable. Also when the content was
  // stored by an earlier flush: that flush's sync may have failed, and the
  // group commit makes a repeated sync cheap.
  if (config_.sync) return SyncNow();
  return 0;
}

void ChunkFs::ReleaseUpload(FileHandle& h) {
  std::shared_ptr<Upload> last;  // set if this was the last writer
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    Node& node = *h.node;
    if (node.opens > 0) node.opens--;
    if (h.commits && node.writers > 0 && --node.writers == 0 && node.upload == h.upload) {
      last = node.upload;
    }
  }
  if (last && last->dirty()) {
    // Written after the last flush (or never flushed): a last-resort commit,
    // whose result no program sees.
    int err = Commit(h.node, *last);
    if (err != 0) {
      std::string name;
      {
        std::lock_guard<std::mutex> l(inodes_.mu());  // a rename may be changing it
        name = h.node->name;
      }
      Log("commit at release of '" + name + "' failed: " + std::strerror(err));
    }
  }
  std::lock_guard<std::mutex> l(inodes_.mu());
  Node& node = *h.node;
  if (last && node.writers == 0 && node.upload == last) node.upload.reset();
  if (!node.upload && node.parent != 0) {
    if (!node.committed && node.kind == NodeKind::kIncomingFile) {
      // Never stored (its commit failed): the name goes, so that a failed
      // copy leaves nothing behind.
      inodes_.DetachLocked(&node, /*by_us=*/true);
      return;
    }
    inodes_.TouchLocked(&node);
  }
}

}  // namespace chunkfs::fs
