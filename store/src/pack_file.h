// Reading packs: positional record reads, and the sequential scan that
// recovery uses to rebuild an idx from a .dat alone.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "chunkfs/env.h"
#include "chunkfs/status.h"
#include "file_cache.h"
#include "idx.h"

namespace chunkfs {

// Read access to one .dat, shared by readers through shared_ptr. The file
// is not kept open: each read takes it from the repository's FileCache,
// which bounds the open descriptors however many packs there are.
// Thread safety: every method may be called from any thread.
class PackFile {
 public:
  PackFile(FileCache* files, std::string path, uint64_t id) : files_(files), path_(std::move(path)), id_(id) {}
  // Removes the pack's files (the .dat, then `idx_path`) when the last
  // reference goes, so that a reader holding the pack finishes its read.
  ~PackFile();
  PackFile(const PackFile&) = delete;
  PackFile& operator=(const PackFile&) = delete;
  // Set once (compaction), before the shard drops its reference.
  void RemoveWhenUnused(Env* env, std::string idx_path);
  const std::string& path() const { return path_; }
  uint64_t id() const { return id_; }
  // Reads the record at e.offset, checks its CRC, its digest and lengths
  // against `e`, inflates it and verifies the SHA-256 of the result.
  // Corruption (naming the file and offset) on any mismatch.
  Status ReadChunk(const IdxEntry& e, std::string* out);
  // The pack's open file (from the FileCache): who keeps it can read the
  // pack after it has been removed (compaction), as long as it holds it.
  Status OpenFile(std::shared_ptr<RandomAccessFile>* out) { return files_->Get(path_, out); }
  // ReadChunk through `file` (this pack's, from OpenFile).
  Status ReadChunkFrom(const RandomAccessFile& file, const IdxEntry& e, std::string* out) const;
  // Reads only the header of e's record: Corruption unless it is there and
  // names e's digest, sizes and codec.
  Status CheckRecordHeader(const RandomAccessFile& file, const IdxEntry& e) const;
  // Reads the whole record of `e` (header, payload, CRC) and checks its CRC
  // and that it is the record `e` describes.
  Status ReadRecordBytes(const IdxEntry& e, std::string* rec);
  // Reads [offset, offset + n) of the .dat (fewer bytes at its end).
  Status ReadRange(uint64_t offset, size_t n, std::string* out);
  // Checks that `rec` is the whole, intact record `e` describes (CRC,
  // header fields); Corruption naming the file and offset if not.
  Status VerifyRecordBytes(const IdxEntry& e, std::string_view rec) const;

 private:
  FileCache* const files_;
  const std::string path_;
  const uint64_t id_;
  Env* remove_env_ = nullptr;  // set: remove the files in the destructor
  std::string remove_idx_;
};

// What a scan of a .dat found.
struct ScanResult {
  std::vector<IdxEntry> entries;  // in file order
  uint64_t valid_end = 0;         // end of the last valid record
  uint32_t crc = 0;               // CRC-32 of [0, valid_end)
  uint64_t file_size = 0;
  std::string stop_reason;        // why the scan stopped before file_size
  bool torn = false;              // it stopped at a record running past the end
};

// Scans records from `start` (with `crc` the CRC-32 of [0, start)) up to
// `end` (the file size, or a sealed pack's data_end). Stops at the first
// record that is torn or fails its checks. Reads in large blocks.
Status ScanPack(Env* env, const std::string& path, uint64_t start, uint32_t crc, uint64_t end,
                ScanResult* out);

}  // namespace chunkfs
