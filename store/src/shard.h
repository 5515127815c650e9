// One of the 256 shards: the packs of the chunks whose digest starts with
// one byte value, the open packs being appended to, and their indexes.
//
// Code: loading, recovery and lookups in shard.cc; appending, syncing,
// sealing and publishing in shard_writer.cc.
//
// Thread safety: every public method may be called from any thread.
// Two locks, always taken in this order:
//  - write_mu_ serialises the writers of the shard (Append, Sync, Close) and
//    is held across their disk I/O: write, fsync, seal, idx publication.
//  - mu_ is a reader/writer lock over what lookups see (frozen_, the open
//    packs' entry maps, filter_, damaged_, the byte counters). Find and
//    CollectDigests take it shared; writers take it exclusively only for
//    in-memory updates, never across disk I/O, so a lookup or a read never
//    waits for another operation's disk I/O.
// Invariant: every entry reachable from frozen_ or open_ refers to a
// complete, checksummed record in its .dat (never to a torn tail).
//
// Lookups (shard.cc, FindLocked): filter_ covers the open packs and the
// frozen packs outside the merged index; merged_ (docs/FORMAT.md "Merged
// index") covers the other sealed packs with one sorted table and its own
// persisted filter. Its entries are used only through merged_files_, which
// holds a pack's file only while that pack is in frozen_, so an entry of a
// pack compacted away is never followed. The merged index is rebuilt (off
// the readers' lock, under compact_mu_) by Sync when enough packs were
// sealed since, at the end of a compaction, and at a writer's open.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/status.h"
#include "bloom.h"
#include "deletion_log.h"
#include "idx.h"
#include "merged_index.h"
#include "pack_file.h"
#include "records.h"
#include "store_context.h"

namespace chunkfs {

struct ChunkLocation {
  std::shared_ptr<PackFile> pack;
  IdxEntry entry;
  // Found through the merged index: if the record there is not this entry's,
  // the caller calls Shard::DistrustMerged and looks again.
  bool from_merged = false;
};

struct ShardCounts {
  uint64_t chunks = 0, bytes_raw = 0, bytes_stored = 0, packs_sealed = 0, packs_open = 0, dead_bytes = 0;
};

class Shard {
 public:
  Shard(StoreContext* ctx, uint8_t id);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  // Loads the shard's packs. A writer also recovers: torn tails cut, missing
  // or bad idx rebuilt, leftover temp files removed, interrupted seals done.
  Status Open();
  // Finds a chunk. A read-only shard re-reads its directory on a miss when
  // the directory changed (so it sees the writer's newly published idx).
  bool Find(const Digest& d, ChunkLocation* loc);
  // REQUIRES: *loc came from Find with from_merged, and reading it gave
  // Corruption (`why`). Looks d up in the idx files instead. kAgrees: they
  // say the same (the damage is in the pack; *loc unchanged). Otherwise the
  // merged index is wrong: it is marked damaged (lookups go through the idx
  // files; a writer rebuilds it from them, taking nothing from it), that is
  // logged once, and the result is kMoved (*loc: the idx files' location)
  // or kAbsent. Thread safety: any thread.
  enum class Recheck { kAgrees, kMoved, kAbsent };
  Recheck RecheckMerged(const Digest& d, const Status& why, ChunkLocation* loc);
  // Read-only: re-reads the shard folder now (packs compacted away by the
  // writer since they were loaded).
  void Reload();
  // Appends a record unless the digest is already stored (*was_new false).
  // The record is encoded and checksummed before any lock is taken, and
  // written from `payload` without a copy. A pack that fills up is sealed
  // by the next Sync, not here.
  Status Append(const Digest& d, uint32_t raw_len, uint8_t codec, const records::Payload& payload,
                bool* was_new);
  // Makes appended records durable, seals full packs and publishes the
  // active pack's idx for read-only readers (at most every kPublishInterval unless force_publish;
  // *publish_pending tells whether a publication was left for later).
  Status Sync(bool force_publish, bool* publish_pending);
  bool needs_sync() const { return needs_sync_.load(); }
  static constexpr std::chrono::milliseconds kPublishInterval{1000};
  Status Close();
  // Appends this shard's digests, sorted and unique, to *out. A read-only
  // shard first looks for newly published packs; an error doing so is
  // returned (the digests already known are still appended).
  Status CollectDigests(std::vector<Digest>* out);
  ShardCounts GetCounts();
  // A chunk whose stored copy failed verification: the next Append of the
  // same content stores it again instead of deduplicating against it.
  void MarkDamaged(const Digest& d);
  bool IsDamaged(const Digest& d) const;
  // ---- deletion and compaction (shard_prune.cc) ----
  // What one shard's prune found (or did).
  struct PruneCounts {
    uint64_t live = 0, deleted = 0, bytes_deleted = 0, stored_deleted = 0, protected_chunks = 0, missing = 0;
    std::vector<Digest> missing_digests;  // at most `max_missing`
  };
  // Deletes every live digest of the shard not in [keep_begin, keep_end)
  // (sorted) and not used since generation `since` (0: none protected).
  // REQUIRES: the range holds only digests of this shard.
  Status Prune(const Digest* keep_begin, const Digest* keep_end, uint64_t since, bool dry_run, size_t max_missing,
               PruneCounts* out);
  // A dedup hit or a touch: true (and the use recorded for open prune
  // tokens) if the chunk is stored, atomically with respect to Prune.
  bool MarkUsed(const Digest& d);
  // Forgets every recorded use (no prune token is open any more).
  void ForgetUses();
  // One compaction pass over this shard.
  Status Compact(const CompactOptions& options, CompactResult* out);

  // Largest pack id seen in the directory (0 if none).
  uint64_t max_pack_id() const { return max_pack_id_; }

 private:
  // A pack that is not appended to: sealed, or unsealed but retired.
  struct FrozenPack {
    std::shared_ptr<PackFile> file;
    std::shared_ptr<const PackIdx> idx;  // loaded on first use if the merged index described it
    bool merged = false;  // mu_: merged_ covers it (its slot in merged_files_ is this file)
  };
  // A pack with a writer: the active one (takes appends) or a full one
  // waiting for its seal. Fields other than `file` and `entries` are the
  // writer's (write_mu_); `entries` changes only with both locks held.
  struct OpenPack {
    std::shared_ptr<PackFile> file;
    std::unique_ptr<WritableFile> writer;
    std::unordered_map<Digest, IdxEntry, DigestHash> entries;
    uint64_t size = 0;         // bytes written (all valid records)
    uint64_t synced_size = 0;  // bytes known durable
    uint32_t crc = 0;          // CRC-32 of [0, size)
    bool full = false;         // takes no more appends; sealed by the next Sync
    bool dir_unsynced = false; // the .dat's directory entry is not durable yet
    bool idx_dirty = false;    // the published idx is behind `entries`
    std::chrono::steady_clock::time_point published_at{};
  };
  // An unsealed pack found at open.
  struct Unsealed {
    uint64_t id = 0;
    std::vector<IdxEntry> entries;
    uint64_t valid_end = 0;
    uint32_t crc = 0;
    bool damaged = false;  // a bad record with valid ones after it
  };

  std::string DatPath(uint64_t id) const;
  std::string IdxPath(uint64_t id) const;
  // `covering` (may be null): a merged index whose packs need no idx read.
  Status LoadAll(std::vector<FrozenPack>* frozen, std::vector<Unsealed>* unsealed, const MergedIndex* covering);
  Status LoadPack(uint64_t id, bool has_idx, std::vector<FrozenPack>* frozen,
                  std::vector<Unsealed>* unsealed);
  Status LoadSealed(uint64_t id, const records::Trailer& t, std::vector<FrozenPack>* frozen);
  // The idx of sealed pack `id`: its file if valid and it matches `t`, else
  // rebuilt from the pack (and written, by a writer).
  Status SealedIdx(uint64_t id, const records::Trailer& t, std::shared_ptr<const IdxTable>* idx);
  // A pack `covering` describes, without reading its idx: false if it does
  // not describe it, or the .dat's size disagrees (then it is loaded as before).
  bool LoadCovered(const MergedIndex& covering, uint64_t id, std::vector<FrozenPack>* frozen);
  // PackIdx's loader for such a pack (never null: empty if unreadable).
  std::shared_ptr<const IdxTable> LoadIdxLazily(uint64_t id, const records::Trailer& t);
  Status LoadUnsealed(uint64_t id, uint64_t size, bool has_idx, std::vector<Unsealed>* unsealed);
  Status CheckTailIsTorn(uint64_t id, uint64_t bad_at, const std::string& reason, Unsealed* u);
  Status LoadIdxFile(uint64_t id, std::shared_ptr<const IdxTable>* idx);
  Status ReadAt(const std::string& path, uint64_t off, size_t n, std::string* out);
  Status FinishRecovery(std::vector<Unsealed> unsealed);
  Status ResumePack(Unsealed u);
  FrozenPack FreezeEntries(std::shared_ptr<PackFile> file, uint64_t id, const std::vector<IdxEntry>& entries,
                           uint64_t data_end, uint32_t crc, bool sealed);
  std::shared_ptr<const IdxTable> FreezeTable(uint64_t id, const std::vector<IdxEntry>& entries, uint64_t data_end,
                                              uint32_t crc, bool sealed);
  void AddFrozen(FrozenPack p);
  void FilterAdd(const Digest& d);
  void RebuildFilter();
  bool FindLocked(const Digest& d, ChunkLocation* loc) const;
  bool FindInPack(const FrozenPack& p, const Digest& d, ChunkLocation* loc) const;
  bool FindMergedLocked(const Digest& d, ChunkLocation* loc) const;

  // ---- the merged index (shard.cc)
  // The file, checked as MergedIndex::Load does; null (logged) if missing or bad.
  std::shared_ptr<const MergedIndex> LoadMergedFile();
  // REQUIRES: mu_ exclusive. Marks the frozen packs merged_ covers and fills
  // merged_files_; a pack described by no merged index any more is loaded.
  void BindMergedLocked();
  // REQUIRES: mu_ held. A rebuild is due: the index is damaged, names packs
  // that are gone, or enough sealed packs are outside it.
  bool MergeDueLocked() const;
  // REQUIRES: compact_mu_. Rebuilds and installs the merged index if due; a
  // failure is logged (the index is a cache) and retried after the next seal.
  void MergeIndexIfDue();
  Status MergeIndex(std::vector<FrozenPack> packs, std::shared_ptr<const MergedIndex> old,
                    std::vector<std::shared_ptr<PackFile>> old_files);
  bool RefreshIfChanged();
  Status Refresh(bool* changed);

  std::shared_ptr<PackFile> MakePackFile(uint64_t id) const;

  // Deletions (shard_prune.cc). A record is live unless deletions_ says so.
  bool IsDeletedLocked(uint64_t pack, const IdxEntry& e) const { return deletions_.IsDeleted(pack, e.offset, e.digest); }
  Status LoadDeletionLog();
  void RecountDead();
  // REQUIRES: write_mu_. Appends entries to the log (opening or creating it)
  // and applies them to deletions_ (taking mu_).
  Status LogDeletions(const std::vector<DeletionEntry>& entries);
  Status SyncDeletionLog();
  Status RewriteDeletionLog();
  struct LiveRecord {
    IdxEntry entry;
    uint64_t pack_id = 0;
    std::shared_ptr<PackFile> file;
  };
  // REQUIRES: mu_ held (shared or exclusive). Every live record.
  void CollectLive(std::vector<LiveRecord>* out) const;
  struct PackUsage {
    FrozenPack pack;
    uint64_t size = 0, live_bytes = 0, live = 0;
  };
  std::vector<PackUsage> FrozenUsage() const;
  Status CopyBatch(const std::vector<PackUsage>& batch, const CompactOptions& o, CompactResult* out);
  Status CommitCompaction(const std::vector<PackUsage>& sources, std::unique_ptr<OpenPack> made,
                          CompactResult* out);
  Status RemoveDeadPacks(const std::vector<PackUsage>& dead, CompactResult* out);
  void CollectRemovedPacks();

  // Writing (shard_writer.cc). REQUIRES: write_mu_ held (or the shard not
  // yet shared); they take mu_ themselves for in-memory updates.
  OpenPack* Active() const { return !open_.empty() && !open_.back()->full ? open_.back().get() : nullptr; }
  Status NewPack(std::unique_ptr<OpenPack>* out);
  Status AppendRecord(const records::RecordHeader& h, const records::RecordParts& rec);
  Status AppendToPack(OpenPack* p, const records::RecordHeader& h, const records::RecordParts& rec);
  Status SyncPack(size_t i);
  Status SealOldest();
  Status PublishActiveIdx();
  // Sync without the merged index's rebuild (Compact holds compact_mu_ and rebuilds at its end).
  Status SyncShard(bool force_publish, bool* publish_pending);
  void Rescue(size_t i);
  void RetireAfterFailedCut(OpenPack* p);
  Status Retire(size_t i, uint64_t valid_end);
  size_t IndexOf(const OpenPack* p) const;
  std::vector<IdxEntry> SortedEntries(const OpenPack& p) const;

  StoreContext* const ctx_;
  const uint8_t id_;
  const std::string dir_;
  uint64_t max_pack_id_ = 0;

  std::mutex write_mu_;                  // see the top of this file
  mutable std::shared_mutex mu_;
  std::vector<FrozenPack> frozen_;       // oldest first
  // Writer only: packs with a writer, oldest first. All but the last are
  // full; the last is the active pack unless it is full too.
  std::vector<std::unique_ptr<OpenPack>> open_;
  // Set (under write_mu_) when the shard has work for Sync: unsynced bytes,
  // a pending seal or idx publication. Read without locks by the repository
  // to skip clean shards.
  std::atomic<bool> needs_sync_{false};
  std::set<Digest> damaged_;             // seen corrupt by a read (small: damage is rare)
  DeletionSet deletions_;                // mu_ for reads; changed with both locks held
  uint64_t dead_count_ = 0, dead_raw_ = 0, dead_stored_ = 0;  // mu_: deleted records still in packs
  // The deletion log's writer (write_mu_).
  std::unique_ptr<WritableFile> del_writer_;
  uint64_t del_size_ = 0, del_synced_ = 0;
  bool del_dir_unsynced_ = false;
  bool del_broken_ = false;  // an fsync of the log failed: rewrite it whole
  // Last prune generation in which each digest was stored or used, while a
  // prune token is open (write_mu_).
  std::unordered_map<Digest, uint64_t, DigestHash> used_gen_;
  // Compaction (compact_mu_: one pass at a time; taken before write_mu_).
  std::mutex compact_mu_;
  // The pack being written by compaction (write_mu_): its records are not
  // visible to lookups yet, but a prune deletes them too.
  std::unordered_map<Digest, IdxEntry, DigestHash> compacting_;
  uint64_t compacting_id_ = 0;
  DigestFilter filter_;                  // over every digest in open_ and in frozen_ packs not merged
  std::shared_ptr<const MergedIndex> merged_;            // mu_; null: none (or OpenOptions::merged_index off)
  std::vector<std::shared_ptr<PackFile>> merged_files_;  // mu_: per merged_ slot, the pack if in frozen_
  size_t merge_failed_at_ = SIZE_MAX;    // compact_mu_: frozen_.size() when a rebuild last failed
  bool merge_too_large_logged_ = false;  // compact_mu_: said once that it outgrew one write (EFBIG)
  uint64_t bytes_raw_ = 0, bytes_stored_ = 0;
  bool dir_exists_ = false;

  std::mutex refresh_mu_;  // read-only instances: one refresh at a time
  // During a refresh (refresh_mu_ held): sealed packs already loaded, by id.
  const std::map<uint64_t, FrozenPack>* reuse_sealed_ = nullptr;
  uint64_t dir_version_ = 0;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace chunkfs
