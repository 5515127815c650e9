// Deletion and compaction in a Shard (SPEC §7; docs/FORMAT.md "Deletions"
// and "Compaction"). Locks as in shard.h, plus compact_mu_ (one compaction
// of the shard at a time; taken before write_mu_). Deleting a record is an
// entry in the shard's deletion log, made durable by the next Sync; the
// space comes back when compaction copies a pack's live records into a new
// pack, makes it durable, logs the old pack as dead and removes it.
#include <algorithm>
#include <chrono>
#include <thread>

#include "deletion_log_scan.h"
#include "filenames.h"
#include "format.h"
#include "shard.h"

namespace chunkfs {
using namespace chunkfs::format;
namespace fn = chunkfs::filenames;

namespace {
uint64_t RecordBytes(const IdxEntry& e) { return kRecordOverhead + uint64_t{e.stored_len}; }
constexpr uint64_t kCopyBlock = 1 << 20;  // compaction reads and writes in blocks of this size
bool ByDigest(const Digest& a, const Digest& b) { return a < b; }
}  // namespace

// ---------------------------------------------------------------- the log

Status Shard::LoadDeletionLog() {
  const std::string path = fn::Join(dir_, fn::kDeletionLogName);
  deletions_ = DeletionSet();
  bool exists = false;
  Status s = ctx_->env->FileExists(path, &exists);
  if (!s.ok() || !exists) return s;
  std::string bytes;
  if (!(s = ctx_->env->ReadFileToString(path, &bytes)).ok()) return s;
  // Every intact entry counts, also after a damaged one: dropping a
  // deletion would bring a deleted chunk back.
  DeletionLogScan scan;
  if (!(s = ScanDeletionLog(bytes, id_, &scan)).ok()) return s.WithContext(path);
  for (const auto& e : scan.entries) {
    deletions_.Apply(e);
    // An id the log names is never given to a new pack: its entries would
    // delete that pack's records (a compaction pack lost in a crash).
    max_pack_id_ = std::max(max_pack_id_, e.pack_id);
  }
  std::string damage = scan.header_damage;
  if (damage.empty() && !scan.damaged.empty()) damage = scan.damaged.front().reason;
  if (damage.empty() && scan.torn_bytes != 0) damage = "torn entry at offset " + std::to_string(scan.torn_begin);
  del_size_ = del_synced_ = bytes.size();
  if (damage.empty() || ctx_->read_only) return Status::OK();
  ctx_->Log("recovery: " + path + ": " + damage + "; rewriting it with its " + std::to_string(scan.entries.size()) +
            " intact entries");
  return RewriteDeletionLog();
}

Status Shard::LogDeletions(const std::vector<DeletionEntry>& entries) {
  if (entries.empty()) return Status::OK();
  Status s;
  const std::string path = fn::Join(dir_, fn::kDeletionLogName);
  if (del_writer_ == nullptr) {
    bool exists = false;
    if (!(s = ctx_->env->FileExists(path, &exists)).ok()) return s;
    if (exists && !del_broken_) {
      s = ctx_->env->NewAppendableFile(path, &del_writer_);
    } else {
      std::string head = deletion_log::EncodeHeader(id_);
      s = ctx_->env->NewWritableFile(path, &del_writer_);
      if (s.ok()) s = del_writer_->Append(head);
      del_size_ = head.size();
      del_synced_ = 0;
      del_dir_unsynced_ = true;
      del_broken_ = false;
    }
    if (!s.ok()) {
      del_writer_.reset();
      del_broken_ = true;  // the next Sync writes the log whole
      return s;
    }
  }
  std::string bytes;
  for (const auto& e : entries) bytes += deletion_log::EncodeEntry(e);
  if (!(s = del_writer_->Append(bytes)).ok()) {
    if (!ctx_->env->Truncate(path, del_size_).ok()) del_broken_ = true;
    return s;  // nothing applied: nothing is deleted
  }
  del_size_ += bytes.size();
  needs_sync_ = true;
  ctx_->appends++;  // a Sync after this must not take the early return of a round that covered nothing new
  std::unique_lock<std::shared_mutex> l(mu_);
  for (const auto& e : entries) deletions_.Apply(e);
  RecountDead();
  return Status::OK();
}

// After a failed fsync of the log (or a failed append that could not be
// cut back) the log is written whole from memory: temp, fsync, rename,
// fsync of the folder.
Status Shard::RewriteDeletionLog() {
  if (del_writer_ != nullptr) (void)del_writer_->Close();  // replaced whole below
  del_writer_.reset();
  std::string bytes = deletion_log::Encode(id_, deletions_.Entries());
  Status s = ctx_->env->WriteFileAtomic(dir_, fn::kDeletionLogName, bytes);
  if (!s.ok()) {
    del_broken_ = true;
    return s;
  }
  del_size_ = del_synced_ = bytes.size();
  del_broken_ = del_dir_unsynced_ = false;
  return Status::OK();
}

Status Shard::SyncDeletionLog() {
  if (del_broken_) return RewriteDeletionLog();
  Status s;
  if (del_writer_ != nullptr && del_synced_ < del_size_) {
    if (!(s = del_writer_->Sync()).ok()) {
      ctx_->errors++;
      ctx_->Log("fsync of " + fn::Join(dir_, fn::kDeletionLogName) + " failed: " + s.ToString() +
                "; writing it anew");
      return RewriteDeletionLog();
    }
    del_synced_ = del_size_;
  }
  if (del_dir_unsynced_) {
    if (!(s = ctx_->env->SyncDir(dir_)).ok()) return s;
    del_dir_unsynced_ = false;
  }
  return Status::OK();
}

// ---------------------------------------------------------------- live records

void Shard::CollectLive(std::vector<LiveRecord>* out) const {
  for (const auto& p : frozen_) {
    const uint64_t id = p.file->id();
    for (uint32_t i = 0; i < p.idx->count(); ++i) {
      IdxEntry e = p.idx->At(i);
      if (!IsDeletedLocked(id, e)) out->push_back({e, id, p.file});
    }
  }
  for (const auto& p : open_) {
    for (const auto& [d, e] : p->entries) {
      if (!IsDeletedLocked(p->file->id(), e)) out->push_back({e, p->file->id(), p->file});
    }
  }
}

// REQUIRES: mu_ held exclusively (or the shard not shared yet).
void Shard::RecountDead() {
  dead_count_ = dead_raw_ = dead_stored_ = 0;
  if (deletions_.empty()) return;
  auto count = [&](uint64_t id, const IdxEntry& e) {
    if (!IsDeletedLocked(id, e)) return;
    dead_count_++;
    dead_raw_ += e.raw_len;
    dead_stored_ += e.stored_len;
  };
  // Only packs the log names are read (not every idx: most are not even
  // loaded when the merged index describes them).
  std::vector<uint64_t> with = deletions_.packs_with_deletions();
  std::sort(with.begin(), with.end());
  for (const auto& p : frozen_) {
    const uint64_t id = p.file->id();
    if (deletions_.IsPackDead(id)) {
      dead_count_ += p.idx->header().count;
      dead_raw_ += p.idx->raw_bytes();
      dead_stored_ += p.idx->stored_bytes();
    } else if (std::binary_search(with.begin(), with.end(), id)) {
      for (uint32_t i = 0; i < p.idx->count(); ++i) count(id, p.idx->At(i));
    }
  }
  for (const auto& p : open_) {
    for (const auto& [d, e] : p->entries) count(p->file->id(), e);
  }
}

// ---------------------------------------------------------------- prune

bool Shard::MarkUsed(const Digest& d) {
  std::lock_guard<std::mutex> w(write_mu_);
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    ChunkLocation loc;
    if (!FindLocked(d, &loc) || damaged_.count(d)) return false;
  }
  if (ctx_->tokens_open.load() > 0) used_gen_[d] = ctx_->prune_gen.load();
  return true;
}

void Shard::ForgetUses() {
  std::lock_guard<std::mutex> w(write_mu_);
  used_gen_.clear();
}

Status Shard::Prune(const Digest* keep_begin, const Digest* keep_end, uint64_t since, bool dry_run,
                    size_t max_missing, PruneCounts* out) {
  std::lock_guard<std::mutex> w(write_mu_);  // no Put of this shard meanwhile: check and delete are atomic
  std::vector<LiveRecord> live;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    CollectLive(&live);
  }
  std::sort(live.begin(), live.end(), [](const LiveRecord& a, const LiveRecord& b) {
    return a.entry.digest < b.entry.digest;
  });
  std::vector<DeletionEntry> dels;
  for (size_t i = 0; i < live.size();) {
    const Digest& d = live[i].entry.digest;
    size_t j = i;
    while (j < live.size() && live[j].entry.digest == d) ++j;
    out->live++;
    auto used = used_gen_.find(d);
    if (std::binary_search(keep_begin, keep_end, d, ByDigest)) {
      // kept
    } else if (since != 0 && used != used_gen_.end() && used->second >= since) {
      out->protected_chunks++;
    } else {
      out->deleted++;
      out->bytes_deleted += live[i].entry.raw_len;
      for (size_t k = i; k < j; ++k) {
        out->stored_deleted += live[k].entry.stored_len;
        dels.push_back({kDelRecord, live[k].pack_id, live[k].entry.offset, d});
      }
      auto c = compacting_.find(d);  // its copy in a pack being compacted goes too
      if (c != compacting_.end()) dels.push_back({kDelRecord, compacting_id_, c->second.offset, d});
    }
    i = j;
  }
  for (const Digest* k = keep_begin; k != keep_end; ++k) {
    if (k != keep_begin && *k == k[-1]) continue;
    auto it = std::lower_bound(live.begin(), live.end(), *k,
                               [](const LiveRecord& r, const Digest& x) { return r.entry.digest < x; });
    if (it != live.end() && it->entry.digest == *k) continue;
    if (out->missing_digests.size() < max_missing) out->missing_digests.push_back(*k);
    out->missing++;
  }
  if (dry_run) return Status::OK();
  Status s = LogDeletions(dels);
  if (s.ok()) {
    for (const auto& e : dels) compacting_.erase(e.digest);
  }
  return s;
}

// ---------------------------------------------------------------- compaction

std::vector<Shard::PackUsage> Shard::FrozenUsage() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  std::vector<PackUsage> out;
  for (const auto& p : frozen_) {
    PackUsage u{p, p.idx->header().data_end + (p.idx->header().sealed ? kTrailerSize : 0), 0, 0};
    for (uint32_t i = 0; i < p.idx->count(); ++i) {
      IdxEntry e = p.idx->At(i);
      if (IsDeletedLocked(p.file->id(), e)) continue;
      u.live++;
      u.live_bytes += RecordBytes(e);
    }
    out.push_back(std::move(u));
  }
  return out;
}

Status Shard::Compact(const CompactOptions& o, CompactResult* out) {
  std::lock_guard<std::mutex> c(compact_mu_);
  {
    // Deleted records in the active pack: seal it (below) so that it can be
    // rewritten like any other; a small repository keeps everything there.
    std::lock_guard<std::mutex> w(write_mu_);
    OpenPack* a = Active();
    if (a != nullptr) {
      uint64_t dead = 0;
      for (const auto& [d, e] : a->entries) {
        if (IsDeletedLocked(a->file->id(), e)) dead += RecordBytes(e);
      }
      if (dead > 0 && static_cast<double>(dead) >= o.min_dead_share * static_cast<double>(a->size)) {
        a->full = true;
        needs_sync_ = true;
      }
    }
  }
  bool pending = false;
  Status s = SyncShard(false, &pending);
  if (!s.ok()) return s;
  const uint64_t small = o.small_pack_bytes != 0 ? o.small_pack_bytes : ctx_->settings.pack_size_limit / 4;
  std::vector<PackUsage> dead, rewrite, smalls;
  for (auto& u : FrozenUsage()) {
    const bool sealed = u.pack.idx->header().sealed;
    const bool empty = u.pack.idx->count() == 0;  // no record at all: damage, not deletion (unless only a header)
    if (u.live == 0 && (!empty || u.pack.idx->header().data_end <= kPackHeaderSize)) dead.push_back(std::move(u));
    else if (u.live == 0) continue;
    else if (!sealed) continue;  // unsealed (retired or damaged) packs are sealed or repaired first
    else if (static_cast<double>(u.size - u.live_bytes) >= o.min_dead_share * static_cast<double>(u.size)) rewrite.push_back(std::move(u));
    else if (u.size < small) smalls.push_back(std::move(u));
  }
  if (smalls.size() >= 2 || (!smalls.empty() && !rewrite.empty())) {
    for (auto& u : smalls) rewrite.push_back(std::move(u));
  }
  if (!dead.empty() && !(s = RemoveDeadPacks(dead, out)).ok()) return s;
  std::vector<PackUsage> batch;
  uint64_t batch_bytes = 0;
  for (size_t i = 0; i <= rewrite.size(); ++i) {
    const bool last = i == rewrite.size();
    if (!batch.empty() && (last || batch_bytes + rewrite[i].live_bytes > ctx_->settings.pack_size_limit)) {
      if (batch.size() > 1 || batch[0].live_bytes < batch[0].size) {  // a lone full pack gains nothing
        if (!(s = CopyBatch(batch, o, out)).ok()) return s;
      }
      batch.clear();
      batch_bytes = 0;
      if (o.max_bytes != 0 && out->bytes_copied >= o.max_bytes) break;
    }
    if (last) break;
    batch_bytes += rewrite[i].live_bytes;
    batch.push_back(std::move(rewrite[i]));
  }
  // Our references were the last ones to the packs dropped (unless a reader
  // still holds one): letting go removes their files, then the log forgets them.
  dead.clear();
  rewrite.clear();
  smalls.clear();
  batch.clear();
  CollectRemovedPacks();
  MergeIndexIfDue();  // drops the packs removed, adds the new ones
  return Status::OK();
}

// Packs with nothing live: logged dead (durably), then dropped; their files
// go when the last reader lets go of them.
Status Shard::RemoveDeadPacks(const std::vector<PackUsage>& dead, CompactResult* out) {
  std::vector<FrozenPack> dropped;  // destroyed after the locks: removing files is disk I/O
  std::lock_guard<std::mutex> w(write_mu_);
  std::vector<DeletionEntry> entries;
  for (const auto& u : dead) entries.push_back({kDelPack, u.pack.file->id(), 0, Digest{}});
  Status s = LogDeletions(entries);
  if (s.ok()) s = SyncDeletionLog();
  if (!s.ok()) return s;
  std::unique_lock<std::shared_mutex> l(mu_);
  for (const auto& u : dead) {
    const uint64_t id = u.pack.file->id();
    auto it = std::find_if(frozen_.begin(), frozen_.end(), [&](const FrozenPack& p) { return p.file->id() == id; });
    if (it == frozen_.end()) continue;
    bytes_raw_ -= it->idx->raw_bytes();
    bytes_stored_ -= it->idx->stored_bytes();
    it->file->RemoveWhenUnused(ctx_->env, IdxPath(id));
    dropped.push_back(std::move(*it));
    frozen_.erase(it);
    out->packs_removed++;
    out->bytes_reclaimed += u.size;
  }
  BindMergedLocked();  // the merged index's entries of these packs are never followed again
  RecountDead();
  return Status::OK();
}

namespace {
// Sleeps so that `copied` bytes since `start` stay under `rate` a second.
void Throttle(uint64_t rate, uint64_t copied, std::chrono::steady_clock::time_point start) {
  if (rate == 0) return;
  auto due = start + std::chrono::microseconds(copied * 1000000 / rate);
  std::this_thread::sleep_until(due);
}
}  // namespace

// Copies the live records of `batch` into a new pack (CRCs checked on the
// way), makes it durable and sealed, then commits. The new pack's records
// are registered in compacting_ as they are copied, so that a prune
// meanwhile deletes them too; their deletions are durable before the new
// pack's records are. Any failure before the commit removes the new pack
// and leaves the repository as it was.
Status Shard::CopyBatch(const std::vector<PackUsage>& batch, const CompactOptions& o, CompactResult* out) {
  std::vector<LiveRecord> todo;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    for (const auto& u : batch) {
      for (uint32_t i = 0; i < u.pack.idx->count(); ++i) {
        IdxEntry e = u.pack.idx->At(i);
        if (!IsDeletedLocked(u.pack.file->id(), e)) todo.push_back({e, u.pack.file->id(), u.pack.file});
      }
    }
  }
  std::unique_ptr<OpenPack> n;
  Status s;
  {
    std::lock_guard<std::mutex> w(write_mu_);
    if (!(s = NewPack(&n)).ok()) return s;
    compacting_.clear();
    compacting_id_ = n->file->id();
  }
  auto abandon = [&](Status why) {
    (void)n->writer->Close();  // the pack is removed: its close result does not matter
    Status r = ctx_->env->RemoveFile(DatPath(n->file->id()));
    (void)ctx_->env->RemoveFile(IdxPath(n->file->id()));  // may not exist
    if (r.ok()) r = ctx_->env->SyncDir(dir_);
    std::lock_guard<std::mutex> w(write_mu_);
    // Until its removal is durable, prunes must keep deleting its copies.
    if (r.ok()) {
      compacting_.clear();
      compacting_id_ = 0;
    }
    ctx_->errors++;
    ctx_->Log("compaction of " + dir_ + " abandoned: " + why.ToString());
    return why;
  };
  // Sequential: source records in file order, read and written in blocks.
  std::sort(todo.begin(), todo.end(), [](const LiveRecord& a, const LiveRecord& b) {
    return a.pack_id != b.pack_id ? a.pack_id < b.pack_id : a.entry.offset < b.entry.offset;
  });
  const auto start = std::chrono::steady_clock::now();
  uint64_t copied = 0;
  std::string in, out_buf;
  uint64_t in_pack = 0, in_off = 0;
  auto flush = [&] {
    Status fs = out_buf.empty() ? Status::OK() : n->writer->Append(out_buf);
    copied += out_buf.size();
    out_buf.clear();
    Throttle(o.bytes_per_second, copied, start);
    return fs;
  };
  for (const auto& r : todo) {
    if (n->entries.count(r.entry.digest)) continue;  // a duplicate in two source packs
    const uint64_t need = RecordBytes(r.entry);
    if (r.pack_id != in_pack || r.entry.offset < in_off || r.entry.offset + need > in_off + in.size()) {
      if (!(s = r.file->ReadRange(r.entry.offset, std::max<uint64_t>(need, kCopyBlock), &in)).ok()) return abandon(s);
      in_pack = r.pack_id;
      in_off = r.entry.offset;
    }
    std::string_view bytes = std::string_view(in).substr(r.entry.offset - in_off, need);
    if (!(s = r.file->VerifyRecordBytes(r.entry, bytes)).ok()) return abandon(s);  // checked on the way
    IdxEntry ne = r.entry;
    ne.offset = n->size;
    n->entries.emplace(ne.digest, ne);
    n->size += bytes.size();
    n->crc = Crc32(bytes, n->crc);
    out_buf.append(bytes);
    {
      std::lock_guard<std::mutex> w(write_mu_);
      bool gone;
      {
        std::shared_lock<std::shared_mutex> l(mu_);
        gone = IsDeletedLocked(r.pack_id, r.entry);
      }
      if (gone) s = LogDeletions({{kDelRecord, n->file->id(), ne.offset, ne.digest}});  // deleted meanwhile
      else compacting_[ne.digest] = ne;
    }
    if (!s.ok()) return abandon(s);
    if (out_buf.size() >= kCopyBlock && !(s = flush()).ok()) return abandon(s);
  }
  if (!(s = flush()).ok()) return abandon(s);
  {
    std::lock_guard<std::mutex> w(write_mu_);
    s = SyncDeletionLog();  // the copies' deletions before the copies
  }
  if (!s.ok()) return abandon(s);
  // Seal: records, idx (temp, fsync, rename, dir fsync), trailer, fsync.
  std::vector<IdxEntry> entries = SortedEntries(*n);
  IdxHeader h{n->file->id(), id_, true, n->size, n->crc, static_cast<uint32_t>(entries.size())};
  std::string idx;
  if (!(s = n->writer->Sync()).ok()) return abandon(s);
  if (!(s = EncodeIdx(h, entries, &idx)).ok()) return abandon(s);
  if (!(s = ctx_->env->WriteFileAtomic(dir_, fn::IdxName(n->file->id()), idx)).ok()) return abandon(s);
  if (!(s = n->writer->Append(records::EncodeTrailer({h.count, n->crc, n->size}))).ok()) return abandon(s);
  if (!(s = n->writer->Sync()).ok()) return abandon(s);
  if (!(s = n->writer->Close()).ok()) return abandon(s);
  out->bytes_copied += copied;
  return CommitCompaction(batch, std::move(n), out);
}

// The new pack is durable and sealed: log the sources dead (durably), then
// swap them for it in memory; their files go when no reader holds them.
Status Shard::CommitCompaction(const std::vector<PackUsage>& sources, std::unique_ptr<OpenPack> made,
                               CompactResult* out) {
  const uint64_t id = made->file->id();
  std::shared_ptr<const IdxTable> table;
  std::shared_ptr<const PackIdx> idx;
  if (LoadIdxFile(id, &table).ok()) idx = std::make_shared<PackIdx>(std::move(table));
  else idx = FreezeEntries(made->file, id, SortedEntries(*made), made->size, made->crc, true).idx;
  std::vector<FrozenPack> dropped;  // destroyed after the locks: removing files is disk I/O
  std::lock_guard<std::mutex> w(write_mu_);
  {
    // The new pack becomes visible before the sources die: a lookup always
    // finds a kept chunk in one or the other (both hold it meanwhile).
    std::unique_lock<std::shared_mutex> l(mu_);
    AddFrozen(FrozenPack{made->file, idx});
  }
  std::vector<DeletionEntry> entries;
  for (const auto& u : sources) entries.push_back({kDelPack, u.pack.file->id(), 0, Digest{}});
  Status s = LogDeletions(entries);
  if (!s.ok()) {
    // Nothing logged: the sources stay and the new pack goes again. Its
    // records are copies only; prunes keep deleting them until its
    // removal is durable (compacting_ stays).
    std::unique_lock<std::shared_mutex> l(mu_);
    auto it = std::find_if(frozen_.begin(), frozen_.end(), [id](const FrozenPack& p) { return p.file->id() == id; });
    if (it != frozen_.end()) {
      bytes_raw_ -= it->idx->raw_bytes();
      bytes_stored_ -= it->idx->stored_bytes();
      it->file->RemoveWhenUnused(ctx_->env, IdxPath(id));  // best effort; a leftover holds duplicates
      dropped.push_back(std::move(*it));
      frozen_.erase(it);
      BindMergedLocked();
    }
    return s;
  }
  Status synced = SyncDeletionLog();  // failed: retried by the next Sync; either state is whole
  std::unique_lock<std::shared_mutex> l(mu_);
  uint64_t removed = 0;
  for (const auto& u : sources) {
    auto it = std::find_if(frozen_.begin(), frozen_.end(),
                           [&](const FrozenPack& p) { return p.file->id() == u.pack.file->id(); });
    if (it == frozen_.end()) continue;
    bytes_raw_ -= it->idx->raw_bytes();
    bytes_stored_ -= it->idx->stored_bytes();
    it->file->RemoveWhenUnused(ctx_->env, IdxPath(it->file->id()));
    dropped.push_back(std::move(*it));
    frozen_.erase(it);
    removed += u.size;
    out->packs_removed++;
  }
  BindMergedLocked();  // the merged index's entries of the sources are never followed again
  compacting_.clear();
  compacting_id_ = 0;
  RecountDead();
  out->packs_written++;
  const uint64_t written = made->size + kTrailerSize;
  out->bytes_reclaimed += removed > written ? removed - written : 0;
  return synced;
}

// Dead packs whose files are gone no longer need their log entries: once
// the removals are durable (fsync of the folder), the log is written anew
// without them.
void Shard::CollectRemovedPacks() {
  std::lock_guard<std::mutex> w(write_mu_);
  // Dead packs, and packs that never became durable (a compaction's pack
  // lost in a crash) yet have deleted records.
  std::vector<uint64_t> candidates = deletions_.packs_with_deletions();
  candidates.insert(candidates.end(), deletions_.dead_packs().begin(), deletions_.dead_packs().end());
  std::vector<uint64_t> gone;
  for (uint64_t id : candidates) {
    bool exists = true;
    if (id == compacting_id_ || !ctx_->env->FileExists(DatPath(id), &exists).ok() || exists) continue;
    bool loaded;
    {
      std::shared_lock<std::shared_mutex> l(mu_);
      loaded = std::any_of(frozen_.begin(), frozen_.end(), [id](const FrozenPack& p) { return p.file->id() == id; }) ||
               std::any_of(open_.begin(), open_.end(), [id](const auto& p) { return p->file->id() == id; });
    }
    if (!loaded) gone.push_back(id);
  }
  if (gone.empty() || !ctx_->env->SyncDir(dir_).ok()) return;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    for (uint64_t id : gone) deletions_.ForgetPack(id);
  }
  Status s = RewriteDeletionLog();
  if (!s.ok()) ctx_->Log("rewriting " + fn::Join(dir_, fn::kDeletionLogName) + " failed (retried later): " + s.ToString());
}

}  // namespace chunkfs
