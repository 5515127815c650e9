// The deletion log of a shard (shards/XX/deleted.log, docs/FORMAT.md
// "Deletions"): which records are deleted and which packs are dead. Pure
// encoding and decoding, plus the in-memory set it describes. Records are
// named by where they are (pack id, offset), never by digest alone, so a
// chunk stored again after its deletion is a new, live record.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/status.h"

namespace chunkfs {

struct DeletionEntry {
  uint8_t kind = 0;  // format::kDelRecord or kDelPack
  uint64_t pack_id = 0;
  uint64_t offset = 0;  // kDelRecord: the record's offset in its pack
  Digest digest{};      // kDelRecord: the record's digest (for check and repair)
};

// What a shard's log says, in memory. Not thread-safe: the shard's locks
// guard it.
class DeletionSet {
 public:
  void Apply(const DeletionEntry& e);
  bool IsDeleted(uint64_t pack_id, uint64_t offset) const {
    if (packs_.count(pack_id) != 0) return true;
    if (records_.empty()) return false;
    auto it = records_.find(pack_id);
    return it != records_.end() && it->second.count(offset) != 0;
  }
  // The record of `digest` at (pack_id, offset) is deleted. An entry whose
  // digest differs names another record (the log's entry reached the disk,
  // the record it named did not, and a new record took its place): it
  // deletes nothing.
  bool IsDeleted(uint64_t pack_id, uint64_t offset, const Digest& digest) const {
    if (packs_.count(pack_id) != 0) return true;
    if (records_.empty()) return false;
    auto it = records_.find(pack_id);
    if (it == records_.end()) return false;
    auto r = it->second.find(offset);
    return r != it->second.end() && r->second == digest;
  }
  bool IsPackDead(uint64_t pack_id) const { return packs_.count(pack_id) != 0; }
  bool empty() const { return packs_.empty() && records_.empty(); }
  // Forgets a pack whose files are gone (its entries are no longer needed).
  void ForgetPack(uint64_t pack_id);
  const std::set<uint64_t>& dead_packs() const { return packs_; }
  // Packs (not dead) that have deleted records.
  std::vector<uint64_t> packs_with_deletions() const;
  // The whole set as log entries (for rewriting the log).
  std::vector<DeletionEntry> Entries() const;

 private:
  std::set<uint64_t> packs_;
  std::unordered_map<uint64_t, std::unordered_map<uint64_t, Digest>> records_;  // pack -> offset -> digest
};

namespace deletion_log {

std::string EncodeHeader(uint8_t shard);
std::string EncodeEntry(const DeletionEntry& e);
// A whole log holding `entries`.
std::string Encode(uint8_t shard, const std::vector<DeletionEntry>& entries);

struct Parsed {
  std::vector<DeletionEntry> entries;
  uint64_t valid_end = 0;     // end of the last valid entry
  std::string stop_reason;    // why parsing stopped before the end ("" if it did not)
  std::string header_damage;  // a damaged header ("" if intact): entries are read anyway
};
// NotSupported for a newer version. A damaged header is reported in
// header_damage and the entries (each with its own CRC) are still read: a
// lost deletion would bring a deleted chunk back. A torn or damaged entry
// ends the valid part (stop_reason says which).
Status Decode(std::string_view bytes, uint8_t shard, Parsed* out);

}  // namespace deletion_log
}  // namespace chunkfs
