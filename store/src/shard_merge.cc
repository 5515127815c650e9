// A Shard's merged index (docs/FORMAT.md "Merged index"): loading it at
// open, binding its pack slots to the frozen packs, and rebuilding it off
// the readers' path. Locks as in shard.h; a rebuild runs under compact_mu_
// (so no pack is removed meanwhile) and takes mu_ only to take a snapshot
// of the pack list and to install the new index.
#include <algorithm>
#include <cerrno>
#include <map>

#include "filenames.h"
#include "format.h"
#include "shard.h"

namespace chunkfs {
using namespace chunkfs::format;
namespace fn = chunkfs::filenames;

namespace {
// A rebuild is due once the sealed packs outside the index hold an eighth of
// what it holds (so rewriting it costs O(1) per record over time), or there
// are this many of them (each costs a search per lookup that its filter
// lets through).
constexpr size_t kMaxUnmergedPacks = 16;
constexpr uint64_t kUnmergedShare = 8;
// A shard gets its first merged index once it has this many sealed packs:
// with one, searching its idx costs the same, and the file's fixed part
// (2 KiB, a 4 KiB block on disk) would weigh on small repositories.
constexpr size_t kFirstMergePacks = 2;
}  // namespace

std::shared_ptr<const MergedIndex> Shard::LoadMergedFile() {
  if (!ctx_->merged_index) return nullptr;
  const std::string path = fn::Join(dir_, fn::kMergedIndexName);
  bool exists = false;
  if (!ctx_->env->FileExists(path, &exists).ok() || !exists) return nullptr;
  std::unique_ptr<MappedFile> file;
  std::unique_ptr<MergedIndex> m;
  Status s = ctx_->env->NewMappedFile(path, &file);
  if (s.ok()) s = MergedIndex::Load(std::move(file), id_, &m);
  if (!s.ok()) {
    ctx_->Log(path + ": " + s.message() + "; ignored (the idx files are used, and a writer rebuilds it)");
    return nullptr;
  }
  // Ids it names are never given to new packs: a slot must never match a
  // pack it did not describe.
  for (const auto& p : m->packs()) {
    if (p.id > max_pack_id_) max_pack_id_ = p.id;  // (only at open: later indexes name existing packs)
  }
  return m;
}

void Shard::BindMergedLocked() {
  merged_files_.assign(merged_ != nullptr ? merged_->packs().size() : 0, nullptr);
  for (auto& p : frozen_) {
    p.merged = false;
    const int64_t slot = merged_ != nullptr ? merged_->SlotOf(p.file->id()) : -1;
    const IdxHeader& h = p.idx->header();
    if (slot >= 0) {
      const MergedIndex::Pack& m = merged_->packs()[slot];
      p.merged = h.sealed && h.data_end == m.data_end && h.data_crc == m.data_crc && h.count == m.count;
      if (p.merged) merged_files_[slot] = p.file;
    }
    if (!p.merged && !p.idx->loaded()) {  // described by a merged index no longer in use
      const IdxTable& t = p.idx->table();
      for (uint32_t i = 0; i < t.count(); ++i) FilterAdd(t.At(i).digest);
    }
  }
}

bool Shard::MergeDueLocked() const {
  if (!ctx_->merged_index || ctx_->read_only) return false;
  if (merged_ != nullptr && merged_->damaged()) return true;
  for (const auto& f : merged_files_) {
    if (f == nullptr) return true;  // names a pack that is gone
  }
  size_t packs = 0;
  uint64_t entries = 0;
  for (const auto& p : frozen_) {
    if (p.merged || !p.idx->header().sealed) continue;
    packs++;
    entries += p.idx->header().count;
  }
  if (merged_ == nullptr) return packs >= kFirstMergePacks;
  return packs > 0 && (packs >= kMaxUnmergedPacks || entries * kUnmergedShare >= merged_->count());
}

void Shard::MergeIndexIfDue() {
  std::vector<FrozenPack> packs;
  std::shared_ptr<const MergedIndex> old;
  std::vector<std::shared_ptr<PackFile>> old_files;
  {
    std::shared_lock<std::shared_mutex> l(mu_);
    if (!MergeDueLocked() || frozen_.size() == merge_failed_at_) return;
    for (const auto& p : frozen_) {
      if (p.idx->header().sealed) packs.push_back(p);
    }
    old = merged_;
    old_files = merged_files_;
    merge_failed_at_ = frozen_.size();
  }
  Status s = MergeIndex(std::move(packs), std::move(old), std::move(old_files));
  if (s.ok()) {
    merge_failed_at_ = SIZE_MAX;
    merge_too_large_logged_ = false;
    return;
  }
  if (s.err() == EFBIG) {
    // Larger than one atomic write may be (a RADOS object's, docs/RADOS.md
    // "Limits"): the packs it would add are looked up through their idx
    // files. Said once; tried again after each seal (compaction may shrink it).
    if (!merge_too_large_logged_) {
      ctx_->Log(fn::Join(dir_, fn::kMergedIndexName) + " would be larger than one write may be; this shard's " +
                "newer packs are looked up through their idx files: " + s.ToString());
    }
    merge_too_large_logged_ = true;
    return;
  }
  ctx_->Log("rebuilding " + fn::Join(dir_, fn::kMergedIndexName) + " failed (retried after the next seal): " +
            s.ToString());
}

// Entries of packs the old index covers are taken from it (checked whole
// first); the other packs' from their idx. Written atomically (temp, fsync,
// rename, fsync of the folder), mapped again, then installed.
Status Shard::MergeIndex(std::vector<FrozenPack> packs, std::shared_ptr<const MergedIndex> old,
                         std::vector<std::shared_ptr<PackFile>> old_files) {
  if (old != nullptr && (old->damaged() || !old->VerifyAll().ok())) {
    ctx_->Log(fn::Join(dir_, fn::kMergedIndexName) + ": damaged; rebuilding it from the idx files");
    old = nullptr;
  }
  std::sort(packs.begin(), packs.end(), [](const FrozenPack& a, const FrozenPack& b) {
    return a.file->id() < b.file->id();
  });
  std::vector<MergedIndex::Pack> table;
  std::vector<MergedIndex::Entry> entries;
  std::map<uint64_t, uint32_t> slot_of;
  for (const auto& p : packs) {
    const uint32_t slot = static_cast<uint32_t>(table.size());
    const IdxHeader& h = p.idx->header();
    slot_of[p.file->id()] = slot;
    table.push_back({p.file->id(), h.data_end, h.data_crc, h.count, p.idx->raw_bytes(), p.idx->stored_bytes()});
    if (old != nullptr && p.merged) continue;  // its entries come from the old index
    const IdxTable& t = p.idx->table();
    for (uint32_t i = 0; i < t.count(); ++i) entries.push_back({t.At(i), slot});
    table.back().count = t.count();
  }
  for (uint64_t i = 0; old != nullptr && i < old->count(); ++i) {
    MergedIndex::Entry m = old->At(i);
    const auto& file = old_files[m.slot];
    if (file == nullptr) continue;  // a pack compacted away
    m.slot = slot_of.at(file->id());  // bound packs are sealed and in the snapshot
    entries.push_back(m);
  }
  std::sort(entries.begin(), entries.end(), [&table](const MergedIndex::Entry& a, const MergedIndex::Entry& b) {
    if (a.entry.digest != b.entry.digest) return a.entry.digest < b.entry.digest;
    return table[a.slot].id > table[b.slot].id;
  });
  std::string bytes;
  Status s = MergedIndex::Encode(id_, table, entries, &bytes);
  if (s.ok()) s = ctx_->env->WriteFileAtomic(dir_, fn::kMergedIndexName, bytes);
  if (!s.ok()) return s;
  bytes.clear();
  std::shared_ptr<const MergedIndex> fresh = LoadMergedFile();
  if (fresh == nullptr) return Status::Corruption("the merged index just written does not load");
  std::unique_lock<std::shared_mutex> l(mu_);
  merged_ = std::move(fresh);
  BindMergedLocked();
  return Status::OK();
}

}  // namespace chunkfs
