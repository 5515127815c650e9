#include "shard.h"

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <map>
#include <set>

#include "filenames.h"
#include "format.h"
#include "pack_scan.h"
#include "records.h"

namespace chunkfs {
using namespace chunkfs::format;
namespace fn = chunkfs::filenames;

namespace {
// Sorted by digest; of several records of one digest (a chunk deleted and
// stored again, or damaged and stored again) the last one in `v`'s order
// (file order: the newest) is kept.
void SortUnique(std::vector<IdxEntry>* v) {
  std::reverse(v->begin(), v->end());
  std::stable_sort(v->begin(), v->end(), [](const IdxEntry& a, const IdxEntry& b) { return a.digest < b.digest; });
  v->erase(std::unique(v->begin(), v->end(), [](const IdxEntry& a, const IdxEntry& b) { return a.digest == b.digest; }),
           v->end());
}
}  // namespace

Shard::Shard(StoreContext* ctx, uint8_t id) : ctx_(ctx), id_(id), dir_(fn::ShardDir(ctx->repo, id)) {
  filter_.Reset(0);
}

Shard::~Shard() { (void)Close(); }  // the repository closed us first and reported the result

std::string Shard::DatPath(uint64_t id) const { return fn::Join(dir_, fn::DatName(id)); }
std::string Shard::IdxPath(uint64_t id) const { return fn::Join(dir_, fn::IdxName(id)); }
std::shared_ptr<PackFile> Shard::MakePackFile(uint64_t id) const {
  return std::make_shared<PackFile>(ctx_->files.get(), DatPath(id), id);
}

// ---------------------------------------------------------------- loading

Status Shard::Open() {
  // Not shared with readers yet; write_mu_ (not mu_: sealing at recovery
  // takes mu_ itself) keeps the invariants of the writing code.
  std::unique_lock<std::mutex> w(write_mu_);
  std::vector<FrozenPack> frozen;
  std::vector<Unsealed> unsealed;
  Status s = LoadDeletionLog();
  if (!s.ok()) return s;
  merged_ = LoadMergedFile();
  if (!(s = LoadAll(&frozen, &unsealed, merged_.get())).ok()) return s;
  for (auto& p : frozen) AddFrozen(std::move(p));
  BindMergedLocked();
  if (ctx_->read_only) {
    for (auto& u : unsealed) {
      AddFrozen(FreezeEntries(MakePackFile(u.id), u.id, u.entries,
                              u.valid_end, u.crc, false));
    }
    (void)ctx_->env->GetDirVersion(dir_, &dir_version_);  // 0 if unknown: the next miss re-reads
    last_refresh_ = std::chrono::steady_clock::now();
    RecountDead();
    return Status::OK();
  }
  s = FinishRecovery(std::move(unsealed));
  RecountDead();
  if (!s.ok()) return s;
  w.unlock();
  std::lock_guard<std::mutex> c(compact_mu_);  // order: compact_mu_ before write_mu_
  MergeIndexIfDue();  // a repository without one (older code, or damage) gets one
  return Status::OK();
}

Status Shard::LoadAll(std::vector<FrozenPack>* frozen, std::vector<Unsealed>* unsealed, const MergedIndex* covering) {
  Env* env = ctx_->env;
  Status s = env->IsDirectory(dir_, &dir_exists_);
  if (!s.ok() && s.err() == ENOENT) return Status::OK();  // no pack written yet
  if (!s.ok() || !dir_exists_) return s;
  std::vector<std::string> names;
  if (!(s = env->GetChildren(dir_, &names)).ok()) return s;
  std::set<uint64_t> dats, idxs;
  for (const auto& name : names) {
    fn::ParsedName p = fn::ParseShardFileName(name);
    if (p.kind == fn::FileKind::kDat) dats.insert(p.pack_id);
    else if (p.kind == fn::FileKind::kIdx) idxs.insert(p.pack_id);
    else if (p.kind == fn::FileKind::kTmp && !ctx_->read_only) {
      ctx_->Log("recovery: removing leftover temporary file " + fn::Join(dir_, name));
      (void)env->RemoveFile(fn::Join(dir_, name));  // best effort: tried again at the next open
    } else if (p.kind == fn::FileKind::kOther) {
      ctx_->Log("ignoring stray file " + fn::Join(dir_, name));
    }
    if (p.kind == fn::FileKind::kDat || p.kind == fn::FileKind::kIdx) max_pack_id_ = std::max(max_pack_id_, p.pack_id);
  }
  for (uint64_t id : idxs) {
    if (!dats.count(id)) ctx_->Log("ignoring " + IdxPath(id) + ": its pack is missing");
  }
  for (uint64_t id : dats) {
    if (deletions_.IsPackDead(id)) {  // compacted away; its removal did not finish
      if (!ctx_->read_only) {
        ctx_->Log("recovery: removing " + DatPath(id) + " (compacted away)");
        (void)ctx_->env->RemoveFile(DatPath(id));  // best effort: tried again at the next open
        (void)ctx_->env->RemoveFile(IdxPath(id));
      }
      continue;
    }
    const bool reused = reuse_sealed_ != nullptr && reuse_sealed_->count(id) != 0;
    // (A missing idx is rebuilt now, as without a merged index.)
    if (covering != nullptr && !reused && idxs.count(id) != 0 && LoadCovered(*covering, id, frozen)) continue;
    s = LoadPack(id, idxs.count(id) > 0, frozen, unsealed);
    if (!s.ok()) {  // one unreadable pack must not take down the others
      ctx_->errors++;
      ctx_->Log("cannot load " + DatPath(id) + ": " + s.ToString() + "; its chunks are unavailable");
    }
  }
  return Status::OK();
}

Status Shard::ReadAt(const std::string& path, uint64_t off, size_t n, std::string* out) {
  std::unique_ptr<RandomAccessFile> f;
  Status s = ctx_->env->NewRandomAccessFile(path, &f);
  if (s.ok()) s = f->Read(off, n, out);
  return s;
}

Status Shard::LoadPack(uint64_t id, bool has_idx, std::vector<FrozenPack>* frozen,
                       std::vector<Unsealed>* unsealed) {
  if (reuse_sealed_ != nullptr) {
    auto it = reuse_sealed_->find(id);
    if (it != reuse_sealed_->end()) {
      frozen->push_back(it->second);
      return Status::OK();
    }
  }
  const std::string path = DatPath(id);
  uint64_t size = 0;
  Status s = ctx_->env->GetFileSize(path, &size);
  if (!s.ok()) return s;
  if (size < kPackHeaderSize) {
    // Torn at creation: the header never made it, so no record can follow.
    if (!ctx_->read_only) {
      ctx_->Log("recovery: removing " + path + " (" + std::to_string(size) + " bytes, torn before its header)");
      (void)ctx_->env->RemoveFile(path);  // best effort: tried again at the next open
      if (has_idx) (void)ctx_->env->RemoveFile(IdxPath(id));
    }
    return Status::OK();
  }
  std::string head;
  if (!(s = ReadAt(path, 0, kPackHeaderSize, &head)).ok()) return s;
  uint8_t shard = 0;
  uint64_t hid = 0;
  s = records::DecodePackHeader(head, &shard, &hid);
  if (s.ok() && (shard != id_ || hid != id)) s = Status::Corruption("pack header names another pack");
  if (!s.ok()) {
    ctx_->errors++;
    ctx_->Log("damaged pack " + path + ": " + s.message() + "; left untouched, its chunks unavailable");
    return Status::OK();
  }
  std::string tail;
  records::Trailer t;
  if (size >= kPackHeaderSize + kTrailerSize) {
    if (!(s = ReadAt(path, size - kTrailerSize, kTrailerSize, &tail)).ok()) return s;
    if (records::DecodeTrailer(tail, &t) && t.data_end == size - kTrailerSize) {
      return LoadSealed(id, t, frozen);
    }
  }
  return LoadUnsealed(id, size, has_idx, unsealed);
}

Status Shard::LoadIdxFile(uint64_t id, std::shared_ptr<const IdxTable>* idx) {
  std::unique_ptr<MappedFile> m;
  Status s = ctx_->env->NewMappedFile(IdxPath(id), &m);
  if (!s.ok()) return s;
  std::unique_ptr<IdxTable> t;
  if (!(s = IdxTable::Load(std::move(m), &t)).ok()) return s;
  if (t->header().pack_id != id || t->header().shard != id_) return Status::Corruption("idx names another pack");
  *idx = std::move(t);
  return Status::OK();
}

Status Shard::LoadSealed(uint64_t id, const records::Trailer& t, std::vector<FrozenPack>* frozen) {
  std::shared_ptr<const IdxTable> idx;
  Status s = SealedIdx(id, t, &idx);
  if (s.ok()) frozen->push_back({MakePackFile(id), std::make_shared<PackIdx>(std::move(idx))});
  return s;
}

bool Shard::LoadCovered(const MergedIndex& covering, uint64_t id, std::vector<FrozenPack>* frozen) {
  const int64_t slot = covering.SlotOf(id);
  if (slot < 0) return false;
  const MergedIndex::Pack& m = covering.packs()[slot];
  uint64_t size = 0;
  if (!ctx_->env->GetFileSize(DatPath(id), &size).ok() || size != m.data_end + kTrailerSize) {
    ctx_->Log(DatPath(id) + ": not the size the merged index says (" + std::to_string(size) + " bytes); loading its idx");
    return false;
  }
  const records::Trailer t{m.count, m.data_crc, m.data_end};
  const IdxHeader meta{id, id_, true, m.data_end, m.data_crc, m.count};
  auto loader = [this, id, t] { return LoadIdxLazily(id, t); };
  frozen->push_back({MakePackFile(id), std::make_shared<PackIdx>(meta, m.raw_bytes, m.stored_bytes, loader)});
  return true;
}

std::shared_ptr<const IdxTable> Shard::LoadIdxLazily(uint64_t id, const records::Trailer& t) {
  std::shared_ptr<const IdxTable> idx;
  Status s = SealedIdx(id, t, &idx);
  if (s.ok()) return idx;
  ctx_->errors++;
  ctx_->Log("cannot load the idx of " + DatPath(id) + ": " + s.ToString() + "; its chunks are unavailable");
  return nullptr;  // PackIdx serves an empty table
}

Status Shard::SealedIdx(uint64_t id, const records::Trailer& t, std::shared_ptr<const IdxTable>* out) {
  const std::string path = DatPath(id);
  std::shared_ptr<const IdxTable> idx;
  Status s = LoadIdxFile(id, &idx);
  if (s.ok()) {
    const IdxHeader& h = idx->header();
    if (!h.sealed || h.data_end != t.data_end || h.count != t.record_count || h.data_crc != t.pack_crc) {
      s = Status::Corruption("idx does not match the pack trailer");
    }
  }
  if (s.ok()) {
    *out = std::move(idx);
    return Status::OK();
  }
  ctx_->Log("recovery: " + IdxPath(id) + ": " + s.message() + "; rebuilding it from the pack");
  std::string head;
  if (!(s = ReadAt(path, 0, kPackHeaderSize, &head)).ok()) return s;
  ScanResult r;
  if (!(s = ScanPack(ctx_->env, path, kPackHeaderSize, Crc32(head), t.data_end, &r)).ok()) return s;
  if (r.valid_end != t.data_end || r.entries.size() != t.record_count) {
    ctx_->errors++;
    ctx_->Log("damaged pack " + path + ": record at offset " + std::to_string(r.valid_end) + ": " +
              r.stop_reason + "; " + std::to_string(r.entries.size()) + " of " +
              std::to_string(t.record_count) + " records usable (run chunkctl check)");
  }
  *out = FreezeTable(id, r.entries, t.data_end, t.pack_crc, true);
  return Status::OK();
}

Status Shard::LoadUnsealed(uint64_t id, uint64_t size, bool has_idx, std::vector<Unsealed>* unsealed) {
  const std::string path = DatPath(id);
  std::string head;
  Status s = ReadAt(path, 0, kPackHeaderSize, &head);
  if (!s.ok()) return s;
  Unsealed u;
  u.id = id;
  uint64_t start = kPackHeaderSize;
  uint32_t crc = Crc32(head);
  std::shared_ptr<const IdxTable> idx;
  // A published idx covers a synced prefix: trust it and scan only the rest.
  if (has_idx && LoadIdxFile(id, &idx).ok() && idx->header().data_end <= size) {
    for (uint32_t i = 0; i < idx->count(); ++i) u.entries.push_back(idx->At(i));
    start = idx->header().data_end;
    crc = idx->header().data_crc;
  }
  ScanResult r;
  if (!(s = ScanPack(ctx_->env, path, start, crc, size, &r)).ok()) return s;
  u.entries.insert(u.entries.end(), r.entries.begin(), r.entries.end());
  u.valid_end = r.valid_end;
  u.crc = r.crc;
  if (r.valid_end < size) {
    // A record running past the end is a torn append; only a bad record
    // inside the file can be damage with good records after it.
    if (!r.torn && !(s = CheckTailIsTorn(id, r.valid_end, r.stop_reason, &u)).ok()) return s;
    if (!u.damaged && !ctx_->read_only) {
      ctx_->Log("recovery: " + path + ": cutting " + std::to_string(size - r.valid_end) +
                "-byte torn tail at offset " + std::to_string(r.valid_end) + " (" + r.stop_reason + ")");
      if (!(s = ctx_->env->Truncate(path, r.valid_end)).ok()) return s;
    }
  }
  unsealed->push_back(std::move(u));
  return Status::OK();
}

// A bad record followed by valid ones is damage, not a torn tail: cutting
// there would throw good chunks away. Such a pack keeps every valid record,
// takes no more writes and is left as it is for chunkctl repair.
Status Shard::CheckTailIsTorn(uint64_t id, uint64_t bad_at, const std::string& reason, Unsealed* u) {
  std::string dat;
  Status s = ctx_->env->ReadFileToString(DatPath(id), &dat);
  if (!s.ok()) return s;
  // Records inside the bad record's own payload (a chunk may hold pack bytes)
  // do not count: look past it when its header is still readable.
  uint64_t after = bad_at + 1;
  records::RecordHeader bad;
  if (records::DecodeRecordHeader(std::string_view(dat).substr(bad_at), &bad).ok()) after = bad_at + bad.total_size();
  TolerantScan scan = ScanTolerant(dat);
  std::vector<IdxEntry> found;
  bool later_record = false;
  for (const auto& rec : scan.records) {
    const auto& h = rec.header;
    if (h.digest.shard() != id_) continue;  // not a record of this pack
    if (rec.offset > bad_at && rec.offset < after) continue;
    later_record |= rec.offset >= after;
    found.push_back({h.digest, rec.offset, h.raw_len, h.stored_len, h.codec});
  }
  if (!later_record) return Status::OK();
  ctx_->errors++;
  ctx_->Log("damaged pack " + DatPath(id) + ": bad record at offset " + std::to_string(bad_at) + " (" + reason +
            ") with valid records after it; pack left as it is, its readable chunks served (run chunkctl repair)");
  u->entries = std::move(found);
  u->damaged = true;
  u->valid_end = dat.size();
  return Status::OK();
}

Shard::FrozenPack Shard::FreezeEntries(std::shared_ptr<PackFile> file, uint64_t id,
                                       const std::vector<IdxEntry>& entries, uint64_t data_end,
                                       uint32_t crc, bool sealed) {
  return {std::move(file), std::make_shared<PackIdx>(FreezeTable(id, entries, data_end, crc, sealed))};
}

std::shared_ptr<const IdxTable> Shard::FreezeTable(uint64_t id, const std::vector<IdxEntry>& entries,
                                                   uint64_t data_end, uint32_t crc, bool sealed) {
  std::vector<IdxEntry> sorted;
  for (const auto& e : entries) {  // only what an idx of this pack may hold
    if (e.digest.shard() == id_ && e.offset >= kPackHeaderSize &&
        e.offset + kRecordOverhead + e.stored_len <= data_end) {
      sorted.push_back(e);
    }
  }
  SortUnique(&sorted);
  IdxHeader h{id, id_, sealed, data_end, crc, static_cast<uint32_t>(sorted.size())};
  std::string bytes;
  Status es = EncodeIdx(h, sorted, &bytes);  // cannot fail: sorted, unique, in the shard, in bounds
  assert(es.ok());
  (void)es;
  if (sealed && !ctx_->read_only) {
    Status s = ctx_->env->WriteFileAtomic(dir_, fn::IdxName(id), bytes);
    if (!s.ok()) ctx_->Log("recovery: could not write " + IdxPath(id) + ": " + s.ToString());
  }
  std::unique_ptr<IdxTable> t;
  Status ps = IdxTable::FromBytes(std::move(bytes), &t);
  if (!ps.ok()) {  // unreachable given the filter above; never leave a null table
    ctx_->Log("internal: idx of " + DatPath(id) + " rejected (" + ps.message() + "); its chunks are unavailable");
    std::string empty;
    (void)EncodeIdx(IdxHeader{id, id_, sealed, data_end, crc, 0}, {}, &empty);  // an empty idx always encodes
    (void)IdxTable::FromBytes(std::move(empty), &t);
  }
  return t;
}

void Shard::AddFrozen(FrozenPack p) {
  bytes_raw_ += p.idx->raw_bytes();
  bytes_stored_ += p.idx->stored_bytes();
  frozen_.push_back(std::move(p));
  // A pack described by the merged index is not loaded: that index's own
  // filter has its digests (BindMergedLocked loads it if not).
  if (!frozen_.back().idx->loaded()) return;
  const IdxTable& t = frozen_.back().idx->table();
  for (uint32_t i = 0; i < t.count(); ++i) FilterAdd(t.At(i).digest);
}

void Shard::FilterAdd(const Digest& d) {
  if (filter_.NeedsGrow()) RebuildFilter();
  filter_.Add(d);
}

// Sized for twice what the shard holds, so that growth is amortised.
void Shard::RebuildFilter() {
  uint64_t n = 0;
  for (const auto& p : open_) n += p->entries.size();
  auto outside_merged = [](const FrozenPack& p) { return !p.merged && p.idx->loaded(); };
  for (const auto& p : frozen_) n += outside_merged(p) ? p.idx->count() : 0;
  filter_.Reset(2 * n);
  for (const auto& p : frozen_) {
    if (!outside_merged(p)) continue;
    for (uint32_t i = 0; i < p.idx->count(); ++i) filter_.Add(p.idx->At(i).digest);
  }
  for (const auto& p : open_) {
    for (const auto& [d, e] : p->entries) filter_.Add(d);
  }
}

// Writer: the newest unsealed pack becomes the active pack again (if it has
// room); any older one (left by an interrupted seal or a retired pack) is
// sealed now.
Status Shard::FinishRecovery(std::vector<Unsealed> unsealed) {
  for (size_t i = 0; i < unsealed.size(); ++i) {
    bool newest = i + 1 == unsealed.size();
    Unsealed& u = unsealed[i];
    if (u.damaged) {  // never written to again; repair deals with it
      AddFrozen(FreezeEntries(MakePackFile(u.id), u.id, u.entries, u.valid_end, u.crc, false));
      continue;
    }
    Status s = ResumePack(std::move(u));
    if (!s.ok()) return s;
    OpenPack& p = *open_.back();
    if (newest && p.size < ctx_->settings.pack_size_limit) continue;
    p.full = true;
    std::string path = p.file->path();
    if (!(s = SealOldest()).ok()) ctx_->Log("recovery: could not seal " + path + " (will retry): " + s.ToString());
  }
  needs_sync_ = !open_.empty();
  return Status::OK();
}

Status Shard::ResumePack(Unsealed u) {
  auto p = std::make_unique<OpenPack>();
  p->file = MakePackFile(u.id);
  Status s = ctx_->env->NewAppendableFile(DatPath(u.id), &p->writer);
  if (!s.ok()) return s;
  for (const auto& e : u.entries) {
    // A record of another shard is not ours; of two records of a digest the
    // later one (entries are in file order) is the live one.
    if (e.digest.shard() == id_) p->entries.insert_or_assign(e.digest, e);
  }
  for (const auto& [d, e] : p->entries) {
    bytes_raw_ += e.raw_len;
    bytes_stored_ += e.stored_len;
  }
  p->size = p->synced_size = u.valid_end;
  p->crc = u.crc;
  p->idx_dirty = true;
  p->dir_unsynced = true;  // we cannot know; the next Sync makes sure
  // In open_ before its digests go into the filter: a FilterAdd that grows
  // the filter rebuilds it from open_ and frozen_, and would drop the
  // digests of a pack not yet in either (they were then never found).
  open_.push_back(std::move(p));
  for (const auto& [d, e] : open_.back()->entries) FilterAdd(d);
  return Status::OK();
}

// ---------------------------------------------------------------- lookups

// Open packs and frozen packs outside the merged index (filter_), then the
// merged index (its own filter, one binary search). A damaged merged index
// (found by a bucket check) is passed by: every frozen pack is searched.
bool Shard::FindLocked(const Digest& d, ChunkLocation* loc) const {
  const bool merged_ok = merged_ != nullptr && !merged_->damaged();
  const bool recent = filter_.MayContain(d);
  if (recent) {
    for (auto p = open_.rbegin(); p != open_.rend(); ++p) {
      auto it = (*p)->entries.find(d);
      if (it != (*p)->entries.end() && !IsDeletedLocked((*p)->file->id(), it->second)) {
        *loc = {(*p)->file, it->second};
        return true;
      }
    }
  }
  // Every frozen pack is either covered by merged_ (p->merged) or in
  // filter_ (BindMergedLocked): without a merged index, filter_ covers them
  // all; only a damaged one leaves packs that neither filter answers for.
  const bool merged_damaged = merged_ != nullptr && merged_->damaged();
  if (recent || merged_damaged) {
    for (auto p = frozen_.rbegin(); p != frozen_.rend(); ++p) {
      if (!(p->merged && merged_ok) && FindInPack(*p, d, loc)) return true;
    }
  }
  if (!merged_ok || !merged_->MayContain(d)) return false;
  if (FindMergedLocked(d, loc)) return true;
  if (!merged_->damaged()) return false;
  for (auto p = frozen_.rbegin(); p != frozen_.rend(); ++p) {  // damage found just now
    if (p->merged && FindInPack(*p, d, loc)) return true;
  }
  return false;
}

bool Shard::FindInPack(const FrozenPack& p, const Digest& d, ChunkLocation* loc) const {
  if (!p.idx->Find(d, &loc->entry) || IsDeletedLocked(p.file->id(), loc->entry)) return false;
  loc->pack = p.file;
  return true;
}

// Of the digest's entries (newest pack first), the first live one in a
// pack still there.
bool Shard::FindMergedLocked(const Digest& d, ChunkLocation* loc) const {
  uint64_t begin = 0, end = 0;
  if (!merged_->Range(d, &begin, &end).ok()) return false;  // damaged: the caller searches the packs
  for (uint64_t i = begin; i < end; ++i) {
    MergedIndex::Entry m = merged_->At(i);
    const auto& file = merged_files_[m.slot];
    if (file == nullptr || IsDeletedLocked(file->id(), m.entry)) continue;
    *loc = {file, m.entry, /*from_merged=*/true};
    return true;
  }
  return false;
}

bool Shard::Find(const Digest& d, ChunkLocation* loc) {
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    if (FindLocked(d, loc)) return true;
  }
  if (!ctx_->read_only || !RefreshIfChanged()) return false;
  std::shared_lock<std::shared_mutex> l(mu_);
  return FindLocked(d, loc);
}

Shard::Recheck Shard::RecheckMerged(const Digest& d, const Status& why, ChunkLocation* loc) {
  std::shared_lock<std::shared_mutex> l(mu_);
  ChunkLocation found;
  bool in_idx = false;
  for (auto p = frozen_.rbegin(); p != frozen_.rend() && !in_idx; ++p) in_idx = FindInPack(*p, d, &found);
  if (in_idx && found.pack == loc->pack && found.entry.offset == loc->entry.offset &&
      found.entry.stored_len == loc->entry.stored_len && found.entry.raw_len == loc->entry.raw_len &&
      found.entry.codec == loc->entry.codec) {
    return Recheck::kAgrees;
  }
  if (merged_ != nullptr && !merged_->damaged()) {
    merged_->MarkDamaged();
    ctx_->Log(fn::Join(dir_, fn::kMergedIndexName) + ": its entry for chunk " + d.ToHex() +
              " does not lead to the chunk (" + why.ToString() + "); using the idx files" +
              (ctx_->read_only ? "" : ", rebuilding the merged index from them"));
  }
  if (!in_idx) return Recheck::kAbsent;
  *loc = found;
  return Recheck::kMoved;
}

void Shard::Reload() {
  {
    std::lock_guard<std::mutex> rl(refresh_mu_);
    last_refresh_ = {};  // forces the next Refresh to read the folder
    dir_version_ = 0;
  }
  bool changed = false;
  Status s = Refresh(&changed);
  if (!s.ok()) ctx_->Log("re-reading " + dir_ + " failed: " + s.ToString());
}

bool Shard::RefreshIfChanged() {
  bool changed = false;
  return Refresh(&changed).ok() && changed;
}

// Read-only: reloads the pack list if the directory changed, or if the last
// look was over a second ago (directory mtimes are coarse).
Status Shard::Refresh(bool* changed) {
  *changed = false;
  std::lock_guard<std::mutex> rl(refresh_mu_);
  uint64_t version = 0;
  Status s = ctx_->env->GetDirVersion(dir_, &version);
  if (!s.ok() && s.err() != ENOENT) return s;
  auto now = std::chrono::steady_clock::now();
  if (version == dir_version_ && now - last_refresh_ < std::chrono::seconds(1)) return Status::OK();
  // Sealed packs never change: keep their loaded idx instead of re-reading.
  std::map<uint64_t, FrozenPack> sealed;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    for (const auto& p : frozen_) {
      if (p.idx->header().sealed) sealed[p.file->id()] = p;
    }
  }
  std::shared_ptr<const MergedIndex> merged = LoadMergedFile();
  std::vector<FrozenPack> frozen;
  std::vector<Unsealed> unsealed;
  {
    std::unique_lock<std::shared_mutex> l(mu_);
    if (!(s = LoadDeletionLog()).ok()) return s.WithContext("reading " + dir_);
  }
  reuse_sealed_ = &sealed;
  s = LoadAll(&frozen, &unsealed, merged.get());
  reuse_sealed_ = nullptr;
  if (!s.ok()) return s.WithContext("reading " + dir_);
  std::unique_lock<std::shared_mutex> l(mu_);
  frozen_.clear();
  filter_.Reset(0);
  bytes_raw_ = bytes_stored_ = 0;
  merged_ = std::move(merged);
  for (auto& p : frozen) AddFrozen(std::move(p));
  for (auto& u : unsealed) AddFrozen(FreezeEntries(MakePackFile(u.id), u.id, u.entries, u.valid_end, u.crc, false));
  BindMergedLocked();
  RecountDead();
  dir_version_ = version;
  last_refresh_ = now;
  *changed = true;
  return Status::OK();
}

Status Shard::CollectDigests(std::vector<Digest>* out) {
  Status s;
  bool changed = false;
  if (ctx_->read_only) s = Refresh(&changed);
  size_t first = out->size();
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    if (deletions_.empty()) {
      for (const auto& p : frozen_) p.idx->AppendDigests(out);
      for (const auto& p : open_) {
        for (const auto& [d, e] : p->entries) out->push_back(d);
      }
    } else {
      std::vector<LiveRecord> live;
      CollectLive(&live);
      for (const auto& r : live) out->push_back(r.entry.digest);
    }
  }
  std::sort(out->begin() + first, out->end());
  out->erase(std::unique(out->begin() + first, out->end()), out->end());
  return s;
}

ShardCounts Shard::GetCounts() {
  std::shared_lock<std::shared_mutex> l(mu_);
  ShardCounts c;
  for (const auto& p : frozen_) {
    c.chunks += p.idx->header().count;  // without loading a pack the merged index describes
    if (p.idx->header().sealed) c.packs_sealed++;
    else c.packs_open++;
  }
  for (const auto& p : open_) {
    c.chunks += p->entries.size();
    c.packs_open++;
  }
  c.chunks -= std::min(c.chunks, dead_count_);
  c.bytes_raw = bytes_raw_ - std::min(bytes_raw_, dead_raw_);
  c.bytes_stored = bytes_stored_ - std::min(bytes_stored_, dead_stored_);
  c.dead_bytes = dead_stored_;
  return c;
}

}  // namespace chunkfs
