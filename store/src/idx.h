// The .idx file: a sorted, fanout-indexed table of a pack's records
// (docs/FORMAT.md). Encoding, validation and lookup.
#pragma once

#include <cstdint>
#include <memory>
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

// Adds (sign 1) or subtracts (sign -1) the raw and stored lengths of every
// entry of `t`.
void SumIdxBytes(const IdxTable& t, uint64_t* raw, uint64_t* stored, int sign);

}  // namespace chunkfs
