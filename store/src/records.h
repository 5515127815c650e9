// Encoding and decoding of the repository header, pack header, pack records
// and pack trailer (docs/FORMAT.md). Pure functions over bytes: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"
#include "chunkfs/status.h"

namespace chunkfs::records {

// The header file holds two identical 64-byte copies, so that one damaged
// byte never loses the settings.
// Writes s.codec (0: DefaultCodec()) and the version RepoHeaderVersion(s).
std::string EncodeRepoHeader(const RepoSettings& s);
// kRepoVersionBlocks if s.format_version already is, or for a new header
// (format_version 0) whose chunks may exceed one block (kBlockSize); else
// kRepoVersionZstd if the codec is zstd or s.format_version already is, else
// kRepoVersion: a zlib repository stays readable by version-2 programs.
uint32_t RepoHeaderVersion(const RepoSettings& s);
// Uses the first intact copy; *damage describes a damaged copy ("" if none).
// NotSupported for a newer version; InvalidArgument for a foreign file;
// Corruption if no copy is intact.
Status DecodeRepoHeader(std::string_view bytes, RepoSettings* s, std::string* damage);

std::string EncodePackHeader(uint8_t shard, uint64_t pack_id);
Status DecodePackHeader(std::string_view bytes, uint8_t* shard, uint64_t* pack_id);

struct RecordHeader {
  uint8_t codec = 0;
  uint32_t raw_len = 0;
  uint32_t stored_len = 0;
  Digest digest;
  uint64_t total_size() const;  // header + payload + crc
};

// A record's payload as pieces of the caller's bytes (a blocked record's
// table, then each block), each with its CRC-32 when already known, so
// that it is written with one writev and never copied or read again.
struct Payload {
  std::vector<std::string_view> pieces;  // must outlive every use
  std::vector<uint32_t> crcs;            // empty, or CRC-32 of each piece
  uint64_t size() const;
};

// A record as the pieces to append (header, payload pieces, CRC).
struct RecordParts {
  std::string header;                    // kRecordHeaderSize bytes
  std::vector<std::string_view> payload;  // the caller's bytes: must outlive the parts
  uint64_t payload_size = 0;
  std::string crc;                       // 4 bytes: CRC-32 of header + payload
  uint32_t whole_crc = 0;                // CRC-32 of all of it (for the pack's running CRC)
  uint64_t size() const { return header.size() + payload_size + crc.size(); }
};
// Reads the payload once for its CRC, unless payload.crcs gives it
// (REQUIRES: then one per piece). h.stored_len must be payload.size().
RecordParts EncodeRecordParts(const RecordHeader& h, const Payload& payload);
RecordParts EncodeRecordParts(const RecordHeader& h, std::string_view payload);
// Header, payload and CRC as one string (tests and small records).
std::string EncodeRecord(const RecordHeader& h, std::string_view payload);
// Parses the fixed header at the start of `bytes` (>= kRecordHeaderSize).
// Corruption if the magic or lengths are impossible.
Status DecodeRecordHeader(std::string_view bytes, RecordHeader* h);
// Checks a whole record (header + payload + crc) and returns its payload.
Status VerifyRecord(std::string_view record, RecordHeader* h, std::string_view* payload);

struct Trailer {
  uint32_t record_count = 0;
  uint32_t pack_crc = 0;   // CRC-32 of the .dat bytes [0, data_end)
  uint64_t data_end = 0;   // where the trailer starts
};
std::string EncodeTrailer(const Trailer& t);
// True if `bytes` (kTrailerSize) is a well-formed trailer.
bool DecodeTrailer(std::string_view bytes, Trailer* t);

}  // namespace chunkfs::records
