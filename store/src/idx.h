// The .idx file: a sorted, fanout-indexed table of a pack's records
// (docs/FORMAT.md). Encoding, validation and lookup.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/env.h"
#include "chunkfs/status.h"

namespace chunkfs {

// Where a chunk's record is in its pack.
struct IdxEntry {
  Digest digest;
  uint64_t offset = 0;      // of the record's first byte in the .dat
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;  // payload bytes
  uint8_t codec = 0;
};

struct IdxHeader {
  uint64_t pack_id = 0;
  uint8_t shard = 0;
  bool sealed = false;
  uint64_t data_end = 0;  // .dat bytes covered: records end here
  uint32_t data_crc = 0;  // CRC-32 of the .dat bytes [0, data_end)
  uint32_t count = 0;
};

// REQUIRES: entries sorted by digest, no duplicates (checked: InvalidArgument).
Status EncodeIdx(const IdxHeader& h, const std::vector<IdxEntry>& entries, std::string* out);

// A validated idx held in memory (mapped or owned). Immutable once built,
// so it may be read from any thread without locks.
class IdxTable {
 public:
  // Validates magic, version, CRC, fanout, sort order, shard and bounds.
  // Corruption (with the reason) if any check fails.
  static Status Load(std::unique_ptr<MappedFile> file, std::unique_ptr<IdxTable>* out);
  static Status FromBytes(std::string bytes, std::unique_ptr<IdxTable>* out);

  const IdxHeader& header() const { return header_; }
  uint32_t count() const { return header_.count; }
  // Fanout (over digest byte 1, since byte 0 is the shard) + binary search.
  bool Find(const Digest& d, IdxEntry* e) const;
  IdxEntry At(uint32_t i) const;
  // Appends all digests (sorted) to *out.
  void AppendDigests(std::vector<Digest>* out) const;

 private:
  IdxTable() = default;
  static Status Parse(const char* data, size_t size, IdxTable* t);
  const char* data_ = nullptr;
  size_t size_ = 0;
  IdxHeader header_;
  std::unique_ptr<MappedFile> file_;
  std::string owned_;
};

// A pack's idx as a shard holds it: loaded (and validated) at once, or, for
// a pack the merged index covers, described by the merged index's pack
// table and loaded (validated, or rebuilt by the loader) on first use, so
// that opening a shard reads no idx. header(), raw_bytes() and
// stored_bytes() never load; everything that reads entries does.
// Thread safety: any thread; the first use loads once (std::call_once).
class PackIdx {
 public:
  // Must return a table (an empty one if the pack cannot be read).
  using Loader = std::function<std::shared_ptr<const IdxTable>()>;
  explicit PackIdx(std::shared_ptr<const IdxTable> table);
  PackIdx(const IdxHeader& meta, uint64_t raw_bytes, uint64_t stored_bytes, Loader loader);

  const IdxHeader& header() const { return header_; }
  uint64_t raw_bytes() const { return raw_; }
  uint64_t stored_bytes() const { return stored_; }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  const IdxTable& table() const;
  uint32_t count() const { return table().count(); }
  bool Find(const Digest& d, IdxEntry* e) const { return table().Find(d, e); }
  IdxEntry At(uint32_t i) const { return table().At(i); }
  void AppendDigests(std::vector<Digest>* out) const { table().AppendDigests(out); }

 private:
  IdxHeader header_;
  uint64_t raw_ = 0, stored_ = 0;
  Loader loader_;
  mutable std::once_flag once_;
  mutable std::shared_ptr<const IdxTable> table_;
  mutable std::atomic<bool> loaded_{false};
};

// Adds (sign 1) or subtracts (sign -1) the raw and stored lengths of every
// entry of `t`.
void SumIdxBytes(const IdxTable& t, uint64_t* raw, uint64_t* stored, int sign);

}  // namespace chunkfs
