// One of the 256 shards: the packs of the chunks whose digest starts with
// one byte value, the active pack being appended to, and their indexes.
//
// Thread safety: every public method may be called from any thread. mu_ is a
// reader/writer lock: Find and CollectDigests take it shared; Append, Sync
// and sealing take it exclusive. Shards never take each other's locks.
// Invariant: every entry reachable from frozen_ or active_ refers to a
// complete, checksummed record in its .dat (never to a torn tail).
#pragma once

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
#include "idx.h"
#include "pack_file.h"
#include "records.h"
#include "store_context.h"

namespace chunkfs {

struct ChunkLocation {
  std::shared_ptr<PackFile> pack;
  IdxEntry entry;
};

struct ShardCounts {
  uint64_t chunks = 0, bytes_raw = 0, bytes_stored = 0, packs_sealed = 0, packs_open = 0;
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
  // Appends a record unless the digest is already stored (*was_new false).
  Status Append(const Digest& d, uint32_t raw_len, uint8_t codec, std::string_view stored,
                bool* was_new);
  // Makes appended records durable and publishes the active pack's idx for
  // read-only readers (at most every kPublishInterval unless force_publish;
  // *publish_pending tells whether a publication was left for later).
  Status Sync(bool force_publish, bool* publish_pending);
  static constexpr std::chrono::milliseconds kPublishInterval{1000};
  Status Close();
  // Appends this shard's digests, sorted and unique, to *out.
  void CollectDigests(std::vector<Digest>* out);
  ShardCounts GetCounts();
  // A chunk whose stored copy failed verification: the next Append of the
  // same content stores it again instead of deduplicating against it.
  void MarkDamaged(const Digest& d);
  bool IsDamaged(const Digest& d) const;
  // Largest pack id seen in the directory (0 if none).
  uint64_t max_pack_id() const { return max_pack_id_; }

 private:
  // A pack that is not appended to: sealed, or unsealed but retired.
  struct FrozenPack {
    std::shared_ptr<PackFile> file;
    std::shared_ptr<const IdxTable> idx;
  };
  struct ActivePack {
    std::shared_ptr<PackFile> file;
    std::unique_ptr<WritableFile> writer;
    std::unordered_map<Digest, IdxEntry, DigestHash> entries;
    uint64_t size = 0;         // bytes written (all valid records)
    uint64_t synced_size = 0;  // bytes known durable
    uint32_t crc = 0;          // CRC-32 of [0, size)
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
  Status LoadAll(std::vector<FrozenPack>* frozen, std::vector<Unsealed>* unsealed);
  Status LoadPack(uint64_t id, bool has_idx, std::vector<FrozenPack>* frozen,
                  std::vector<Unsealed>* unsealed);
  Status LoadSealed(uint64_t id, const records::Trailer& t, std::vector<FrozenPack>* frozen);
  Status LoadUnsealed(uint64_t id, uint64_t size, bool has_idx, std::vector<Unsealed>* unsealed);
  Status CheckTailIsTorn(uint64_t id, uint64_t bad_at, const std::string& reason, Unsealed* u);
  Status LoadIdxFile(uint64_t id, std::shared_ptr<const IdxTable>* idx);
  Status ReadAt(const std::string& path, uint64_t off, size_t n, std::string* out);
  Status FinishRecovery(std::vector<Unsealed> unsealed);
  Status ResumePack(Unsealed u);
  FrozenPack FreezeEntries(std::shared_ptr<PackFile> file, uint64_t id, const std::vector<IdxEntry>& entries,
                           uint64_t data_end, uint32_t crc, bool sealed);
  void AddFrozen(FrozenPack p);
  void FilterAdd(const Digest& d);
  void RebuildFilter();
  bool FindLocked(const Digest& d, ChunkLocation* loc) const;
  bool RefreshIfChanged();

  // REQUIRES: mu_ held exclusively (or the shard not yet shared).
  Status StartPack();
  Status SealActive();
  Status SyncActive();
  Status PublishActiveIdx();
  Status AppendRecord(const records::RecordHeader& h, const std::string& rec);
  void RetireActive();
  void RetireAfterFailedCut();
  void CopyForwardUnsynced();
  std::vector<IdxEntry> SortedActiveEntries() const;

  StoreContext* const ctx_;
  const uint8_t id_;
  const std::string dir_;
  uint64_t max_pack_id_ = 0;

  mutable std::shared_mutex mu_;
  std::vector<FrozenPack> frozen_;       // oldest first
  std::unique_ptr<ActivePack> active_;   // writer only
  std::set<Digest> damaged_;             // seen corrupt by a read (small: damage is rare)
  DigestFilter filter_;                  // over every digest in frozen_ and active_
  uint64_t bytes_raw_ = 0, bytes_stored_ = 0;
  bool dir_exists_ = false;

  std::mutex refresh_mu_;  // read-only instances: one refresh at a time
  // During a refresh (refresh_mu_ held): sealed packs already loaded, by id.
  const std::map<uint64_t, FrozenPack>* reuse_sealed_ = nullptr;
  uint64_t dir_version_ = 0;
  std::chrono::steady_clock::time_point last_refresh_{};
};

}  // namespace chunkfs
