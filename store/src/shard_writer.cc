// The writing half of a Shard: appending records to the active pack,
// syncing, sealing full packs, publishing the active idx, and what happens
// when the disk fails. See shard.h for the two locks: every function here
// runs with write_mu_ held and takes mu_ (exclusively) only for in-memory
// updates, so lookups and reads never wait for this file's disk I/O.
#include <algorithm>
#include <cassert>

#include "filenames.h"
#include "format.h"
#include "shard.h"

namespace chunkfs {
using namespace chunkfs::format;
namespace fn = chunkfs::filenames;

Status Shard::Append(const Digest& d, uint32_t raw_len, uint8_t codec, const records::Payload& payload,
                     bool* was_new) {
  *was_new = false;
  records::RecordHeader h{codec, raw_len, static_cast<uint32_t>(payload.size()), d};
  const records::RecordParts rec = records::EncodeRecordParts(h, payload);  // the CRC: before any lock
  std::lock_guard<std::mutex> w(write_mu_);
  {
    // Only writers add entries, and they hold write_mu_: no race with this check.
    std::shared_lock<std::shared_mutex> l(mu_);
    ChunkLocation loc;
    if (FindLocked(d, &loc) && !damaged_.count(d)) {
      // Stored meanwhile (or missed by the caller's lookup): a dedup hit,
      // so it is "stored again" for an open prune token, exactly as Put's
      // own dedup path marks it (write_mu_ is held: atomic with a prune).
      if (ctx_->tokens_open.load() > 0) used_gen_[d] = ctx_->prune_gen.load();
      return Status::OK();
    }
  }
  Status s = AppendRecord(h, rec);
  if (!s.ok()) return s;
  *was_new = true;
  OpenPack* a = Active();
  if (a != nullptr && a->size >= ctx_->settings.pack_size_limit) a->full = true;  // the next Sync seals it
  return Status::OK();
}

Status Shard::NewPack(std::unique_ptr<OpenPack>* out) {
  Env* env = ctx_->env;
  Status s;
  if (!dir_exists_) {
    if (!(s = env->CreateDir(dir_)).ok()) return s;
    if (!(s = env->SyncDir(fn::ShardsDir(ctx_->repo))).ok()) return s;
    dir_exists_ = true;
  }
  uint64_t id = ctx_->next_pack_id++;
  auto p = std::make_unique<OpenPack>();
  p->file = MakePackFile(id);
  if (!(s = env->NewWritableFile(DatPath(id), &p->writer)).ok()) return s;
  std::string head = records::EncodePackHeader(id_, id);
  if (!(s = p->writer->Append(head)).ok()) {
    (void)p->writer->Close();  // the append's error is the one to report
    (void)env->RemoveFile(DatPath(id));
    return s;
  }
  p->size = head.size();
  p->crc = Crc32(head);
  p->dir_unsynced = true;
  *out = std::move(p);
  return Status::OK();
}

// Appends to the active pack (a new one if there is none).
Status Shard::AppendRecord(const records::RecordHeader& h, const records::RecordParts& rec) {
  if (Active() == nullptr) {
    std::unique_ptr<OpenPack> p;
    Status s = NewPack(&p);
    if (!s.ok()) return s;
    std::unique_lock<std::shared_mutex> l(mu_);
    open_.push_back(std::move(p));
  }
  return AppendToPack(Active(), h, rec);
}

Status Shard::AppendToPack(OpenPack* p, const records::RecordHeader& h, const records::RecordParts& rec) {
  std::vector<std::string_view> parts;
  parts.reserve(rec.payload.size() + 2);
  parts.push_back(rec.header);
  parts.insert(parts.end(), rec.payload.begin(), rec.payload.end());
  parts.push_back(rec.crc);
  Status s = p->writer->AppendV(parts.data(), parts.size());
  if (!s.ok()) {
    // The tail is unknown after a failed (maybe short) write: cut it back.
    if (!ctx_->env->Truncate(p->file->path(), p->size).ok()) RetireAfterFailedCut(p);
    return s;
  }
  IdxEntry e{h.digest, p->size, h.raw_len, h.stored_len, h.codec};
  p->size += rec.size();
  p->crc = Crc32Combine(p->crc, rec.whole_crc, rec.size());
  p->idx_dirty = true;
  needs_sync_ = true;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    // Counted before the entry is visible, so that a dedup hit on it makes
    // the next Sync cover it (group commit).
    ctx_->appends++;
    p->entries.insert_or_assign(h.digest, e);  // replaces a damaged copy
    damaged_.erase(h.digest);
    FilterAdd(h.digest);
    if (ctx_->tokens_open.load() > 0) used_gen_[h.digest] = ctx_->prune_gen.load();  // write_mu_ is held
    bytes_raw_ += h.raw_len;
    bytes_stored_ += h.stored_len;
  }
  ctx_->ClearLost(h.digest);
  return Status::OK();
}

size_t Shard::IndexOf(const OpenPack* p) const {
  for (size_t i = 0; i < open_.size(); ++i) {
    if (open_[i].get() == p) return i;
  }
  assert(false && "pack not open");
  return open_.size();
}

std::vector<IdxEntry> Shard::SortedEntries(const OpenPack& p) const {
  std::vector<IdxEntry> v;
  v.reserve(p.entries.size());
  for (const auto& [d, e] : p.entries) v.push_back(e);
  std::sort(v.begin(), v.end(), [](const IdxEntry& a, const IdxEntry& b) { return a.digest < b.digest; });
  return v;
}

// ---------------------------------------------------------------- sync

Status Shard::Sync(bool force_publish, bool* publish_pending) {
  Status s = SyncShard(force_publish, publish_pending);
  // Off the readers' path: the rebuild holds compact_mu_ (not write_mu_);
  // while a compaction runs it is left to the compaction's end.
  std::unique_lock<std::mutex> c(compact_mu_, std::try_to_lock);
  if (c.owns_lock()) MergeIndexIfDue();
  return s;
}

Status Shard::SyncShard(bool force_publish, bool* publish_pending) {
  std::lock_guard<std::mutex> w(write_mu_);
  *publish_pending = false;
  Status first;
  // Index by index: a failed fsync replaces open_[i] (Rescue) or drops it.
  for (size_t i = 0; i < open_.size();) {
    const size_t n = open_.size();
    Status s = SyncPack(i);
    if (!s.ok() && first.ok()) first = s;
    if (open_.size() == n) ++i;  // else open_[i] was dropped: i is the next one
  }
  while (first.ok() && !open_.empty() && open_.front()->full) first = SealOldest();
  if (Status ds = SyncDeletionLog(); !ds.ok() && first.ok()) first = ds;
  OpenPack* a = Active();
  if (first.ok() && a != nullptr && a->idx_dirty) {
    // Publishing costs a file creation and a rename: at most once a second
    // per shard, unless forced (Close). What is pending is published by a
    // later Sync (the mount's flusher calls Sync every interval).
    auto now = std::chrono::steady_clock::now();
    if (!force_publish && now - a->published_at < kPublishInterval) {
      *publish_pending = true;
    } else {
      Status ps = PublishActiveIdx();
      if (!ps.ok()) {
        ctx_->Log("publishing " + IdxPath(a->file->id()) + " failed: " + ps.ToString());
        *publish_pending = true;
      }
      a->published_at = now;
    }
  }
  bool unsynced = false;
  for (const auto& p : open_) unsynced |= p->synced_size < p->size || p->dir_unsynced || p->full;
  unsynced |= del_broken_ || del_synced_ < del_size_ || del_dir_unsynced_;
  needs_sync_ = !first.ok() || *publish_pending || unsynced;
  return first;
}

// Makes open_[i]'s records durable. No lock but write_mu_ is held across the
// fsync, so readers go on; appends to this shard wait (they would be
// covered by the next round anyway).
Status Shard::SyncPack(size_t i) {
  OpenPack& p = *open_[i];
  Status s;
  if (p.synced_size < p.size) {
    if (!(s = p.writer->Sync()).ok()) {
      ctx_->errors++;
      ctx_->Log("fsync of " + p.file->path() + " failed: " + s.ToString() +
                "; the pack takes no more chunks and its unsynced chunks are copied to a new pack");
      Rescue(i);
      return s;
    }
    p.synced_size = p.size;
  }
  if (p.dir_unsynced) {
    if (!(s = ctx_->env->SyncDir(dir_)).ok()) return s;
    p.dir_unsynced = false;
  }
  return Status::OK();
}

// After a failed fsync the kernel may have dropped the pack's dirty pages
// and a later fsync could wrongly succeed (FaultEnv models exactly that),
// so the pack is never trusted to sync again: it is retired, and every
// record written since its last good sync is read back (CRC-checked) and
// appended to a fresh pack, which takes its place; the next Sync makes it
// durable. A record that cannot be read back or written again is dropped
// from the index and noted as lost: every Sync then fails until that chunk
// is stored again, so no Sync acknowledges it falsely.
void Shard::Rescue(size_t i) {
  OpenPack& old = *open_[i];
  (void)old.writer->Close();  // the pack is retired whatever close says
  // Its folder entry may not be durable either: then nothing in it is.
  const uint64_t durable_end = old.dir_unsynced ? 0 : old.synced_size;
  std::vector<IdxEntry> keep, moved, lost;
  for (const auto& [d, e] : old.entries) {
    (e.offset + kRecordOverhead + e.stored_len <= durable_end ? keep : moved).push_back(e);
  }
  std::sort(moved.begin(), moved.end(), [](const IdxEntry& a, const IdxEntry& b) { return a.offset < b.offset; });
  std::unique_ptr<OpenPack> fresh;
  Status s = moved.empty() ? Status::OK() : NewPack(&fresh);
  for (const auto& e : moved) {
    std::string bytes;
    Status rs = s.ok() ? old.file->ReadRecordBytes(e, &bytes) : s;
    if (rs.ok()) {
      rs = fresh->writer->Append(bytes);  // the whole record, CRC-checked by the read
      if (rs.ok()) {
        IdxEntry ne = e;
        ne.offset = fresh->size;
        fresh->entries.emplace(e.digest, ne);
        fresh->size += bytes.size();
        fresh->crc = Crc32(bytes, fresh->crc);
        continue;
      }
      // A failed append leaves fresh's tail unknown: stop using it.
      s = rs;
    }
    ctx_->Log("lost unsynced chunk " + e.digest.ToHex() + " before it became durable: " + rs.ToString());
    lost.push_back(e);
  }
  if (fresh != nullptr && !s.ok()) {  // fresh is unusable: everything in it is lost too
    for (const auto& [d, e] : fresh->entries) lost.push_back(e);
    fresh->entries.clear();
    (void)fresh->writer->Close();
    fresh.reset();
  }
  FrozenPack retired = FreezeEntries(old.file, old.file->id(), keep, durable_end, 0, false);
  std::unique_lock<std::shared_mutex> l(mu_);
  for (const auto& e : moved) {
    bytes_raw_ -= e.raw_len;
    bytes_stored_ -= e.stored_len;
  }
  frozen_.push_back(std::move(retired));
  if (fresh != nullptr) {
    for (const auto& [d, e] : fresh->entries) {
      bytes_raw_ += e.raw_len;
      bytes_stored_ += e.stored_len;
    }
    fresh->full = old.full;
    fresh->idx_dirty = true;
    open_[i] = std::move(fresh);
  } else {
    open_.erase(open_.begin() + static_cast<ptrdiff_t>(i));
  }
  for (const auto& e : lost) ctx_->NoteLost(e.digest);
  needs_sync_ = true;
}

// A failed append whose tail could not be cut back: the pack takes no more
// records. Its records are made durable first (fsync), or, if that fails,
// rescued, so that a later Sync never acknowledges them falsely.
void Shard::RetireAfterFailedCut(OpenPack* p) {
  size_t i = IndexOf(p);
  const uint64_t valid_end = p->size;
  std::string path = p->file->path();
  if (!SyncPack(i).ok()) return;  // rescued
  ctx_->Log(path + ": retired after a failed append that could not be cut back");
  (void)Retire(i, valid_end);  // synced above: closing has nothing left to report
}

// Stops appending to open_[i] (its tail may hold garbage past valid_end,
// cut by recovery at the next open); its entries stay readable. Returns
// what closing its writer said.
Status Shard::Retire(size_t i, uint64_t valid_end) {
  OpenPack& p = *open_[i];
  Status s = p.writer->Close();
  std::vector<IdxEntry> entries;
  for (const auto& [d, e] : p.entries) entries.push_back(e);
  FrozenPack frozen = FreezeEntries(p.file, p.file->id(), entries, valid_end, 0, false);
  std::unique_lock<std::shared_mutex> l(mu_);
  frozen_.push_back(std::move(frozen));
  open_.erase(open_.begin() + static_cast<ptrdiff_t>(i));
  return s;
}

// Seals open_.front() (full). Order: records (.dat, fsync) -> idx (temp,
// fsync, rename, fsync dir) -> trailer (+ fsync). A crash before the trailer
// leaves an unsealed pack that recovery seals again. The disk work runs
// without mu_; only the swap from open pack to frozen pack takes it.
Status Shard::SealOldest() {
  Status s = SyncPack(0);
  if (!s.ok()) return s;
  OpenPack& p = *open_.front();
  uint64_t id = p.file->id();
  std::vector<IdxEntry> entries = SortedEntries(p);
  IdxHeader h{id, id_, true, p.size, p.crc, static_cast<uint32_t>(entries.size())};
  std::string bytes;
  if (!(s = EncodeIdx(h, entries, &bytes)).ok()) return s;  // asserts sort order
  if (!(s = ctx_->env->WriteFileAtomic(dir_, fn::IdxName(id), bytes)).ok()) return s;
  records::Trailer t{h.count, p.crc, p.size};
  if (!(s = p.writer->Append(records::EncodeTrailer(t))).ok()) {
    if (!ctx_->env->Truncate(p.file->path(), p.size).ok()) (void)Retire(0, p.size);  // records synced above
    return s;
  }
  s = p.writer->Sync();  // failed: the records are durable; recovery re-checks the trailer at open
  Status c = p.writer->Close();
  if (s.ok()) s = c;
  std::shared_ptr<const IdxTable> idx;
  std::unique_ptr<IdxTable> owned;
  if (!LoadIdxFile(id, &idx).ok()) {
    if (IdxTable::FromBytes(std::move(bytes), &owned).ok()) idx = std::move(owned);
  }
  FrozenPack frozen = idx != nullptr ? FrozenPack{p.file, std::make_shared<PackIdx>(idx)}
                                     : FreezeEntries(p.file, id, entries, p.size, p.crc, false);  // never a null idx
  std::unique_lock<std::shared_mutex> l(mu_);
  frozen_.push_back(std::move(frozen));
  open_.erase(open_.begin());
  return s;
}

// Publishes the active pack's idx for read-only readers. Not synced: the
// writer rebuilds it from the .dat at open, so its loss costs nothing.
Status Shard::PublishActiveIdx() {
  OpenPack& a = *Active();
  std::vector<IdxEntry> entries = SortedEntries(a);
  IdxHeader h{a.file->id(), id_, false, a.size, a.crc, static_cast<uint32_t>(entries.size())};
  std::string bytes;
  Status s = EncodeIdx(h, entries, &bytes);
  if (!s.ok()) return s;
  std::string tmp = IdxPath(a.file->id()) + fn::kTmpSuffix;
  std::unique_ptr<WritableFile> f;
  if (!(s = ctx_->env->NewWritableFile(tmp, &f)).ok()) return s;
  s = f->Append(bytes);
  Status c = f->Close();
  if (s.ok()) s = c;
  if (s.ok()) s = ctx_->env->RenameFile(tmp, IdxPath(a.file->id()));
  if (!s.ok()) (void)ctx_->env->RemoveFile(tmp);  // best effort; recovery removes *.tmp
  else a.idx_dirty = false;
  return s;
}

void Shard::MarkDamaged(const Digest& d) {
  std::unique_lock<std::shared_mutex> l(mu_);
  damaged_.insert(d);
}

bool Shard::IsDamaged(const Digest& d) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return damaged_.count(d) > 0;
}

Status Shard::Close() {
  bool pending;
  Status s = Sync(true, &pending);
  std::lock_guard<std::mutex> w(write_mu_);
  while (!open_.empty()) {  // the entries stay readable; nothing is appended any more
    Status c = Retire(open_.size() - 1, open_.back()->size);
    if (s.ok()) s = c;
  }
  if (del_writer_ != nullptr) {
    Status c = del_writer_->Close();
    if (s.ok()) s = c;
    del_writer_.reset();
  }
  needs_sync_ = false;
  return s;
}

}  // namespace chunkfs
