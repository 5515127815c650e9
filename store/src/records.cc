#include "records.h"

#include <cassert>
#include <cstring>

#include "chunkfs/codec.h"
#include "format.h"

namespace chunkfs::records {
using namespace chunkfs::format;

namespace {

// 0 (not chosen) is the build's default.
uint8_t ResolvedCodec(const RepoSettings& s) { return s.codec != 0 ? s.codec : DefaultCodec(); }

}  // namespace

uint32_t RepoHeaderVersion(const RepoSettings& s) {
  // format_version 0: not read from a header (Create, repair's fresh header).
  if (s.format_version >= kRepoVersionBlocks || (s.format_version == 0 && s.max_chunk_size > kBlockSize)) {
    return kRepoVersionBlocks;
  }
  return ResolvedCodec(s) == kCodecZstd || s.format_version >= kRepoVersionZstd ? kRepoVersionZstd : kRepoVersion;
}

namespace {

std::string EncodeRepoHeaderCopy(const RepoSettings& s) {
  std::string b(kRepoHeaderSize, '\0');
  std::memcpy(b.data(), kRepoMagic, 8);
  PutU32(&b[kRepoVersionOff], RepoHeaderVersion(s));
  PutU32(&b[kRepoFlagsOff], 0);
  PutU64(&b[kRepoPackLimitOff], s.pack_size_limit);
  PutU32(&b[kRepoMaxChunkOff], s.max_chunk_size);
  PutU32(&b[kRepoLevelOff], static_cast<uint32_t>(s.compression_level));
  b[kRepoCodecOff] = static_cast<char>(ResolvedCodec(s));
  PutU32(&b[kRepoCrcOff], Crc32(std::string_view(b.data(), kRepoCrcOff)));
  return b;
}

// One 64-byte copy: InvalidArgument (foreign magic), Corruption, NotSupported.
Status DecodeRepoHeaderCopy(std::string_view b, RepoSettings* s) {
  if (b.size() < kRepoHeaderSize) return Status::Corruption("truncated");
  if (std::memcmp(b.data(), kRepoMagic, 8) != 0) return Status::InvalidArgument("bad magic");
  if (GetU32(&b[kRepoCrcOff]) != Crc32(b.substr(0, kRepoCrcOff))) return Status::Corruption("checksum mismatch");
  uint32_t version = GetU32(&b[kRepoVersionOff]);
  if (version > kRepoVersionMax) {
    return Status::NotSupported("repository format version " + std::to_string(version) +
                                " is newer than this program supports (" + std::to_string(kRepoVersionMax) + ")");
  }
  if (version == 0) return Status::Corruption("format version 0");
  s->pack_size_limit = GetU64(&b[kRepoPackLimitOff]);
  s->max_chunk_size = GetU32(&b[kRepoMaxChunkOff]);
  s->compression_level = static_cast<int>(GetU32(&b[kRepoLevelOff]));
  uint8_t codec = static_cast<uint8_t>(b[kRepoCodecOff]);
  if (codec > kCodecZstd) return Status::NotSupported("unknown codec " + std::to_string(codec) + " in the header");
  s->codec = codec == kCodecRaw ? kCodecZlib : codec;  // 0: written before codecs were a setting
  s->format_version = version;
  return Status::OK();
}

}  // namespace

std::string EncodeRepoHeader(const RepoSettings& s) {
  std::string copy = EncodeRepoHeaderCopy(s);
  return copy + copy;
}

Status DecodeRepoHeader(std::string_view b, RepoSettings* s, std::string* damage) {
  damage->clear();
  Status c1 = DecodeRepoHeaderCopy(b.substr(0, std::min(b.size(), kRepoHeaderSize)), s);
  if (c1.code() == Status::Code::kNotSupported) return c1;
  RepoSettings s2;
  Status c2 = b.size() >= 2 * kRepoHeaderSize ? DecodeRepoHeaderCopy(b.substr(kRepoHeaderSize, kRepoHeaderSize), &s2)
                                              : Status::Corruption("missing");
  if (c2.code() == Status::Code::kNotSupported) return c2;
  if (c1.ok()) {
    if (!c2.ok()) *damage = "second header copy: " + c2.message();
    return Status::OK();
  }
  if (c2.ok()) {
    *s = s2;
    *damage = "first header copy: " + c1.message();
    return Status::OK();
  }
  if (c1.code() == Status::Code::kInvalidArgument && c2.code() == Status::Code::kInvalidArgument) {
    return Status::InvalidArgument("not a chunkfs repository (bad magic in header)");
  }
  if (b.size() < 8 || std::memcmp(b.data(), kRepoMagic, 8) != 0) {
    return Status::InvalidArgument("not a chunkfs repository (bad magic in header)");
  }
  return Status::Corruption("both header copies damaged (" + c1.message() + "; " + c2.message() + ")");
}

std::string EncodePackHeader(uint8_t shard, uint64_t pack_id) {
  std::string b(kPackHeaderSize, '\0');
  std::memcpy(b.data(), kPackMagic, 8);
  PutU32(&b[8], kPackVersion);
  PutU32(&b[12], shard);
  PutU64(&b[16], pack_id);
  PutU32(&b[28], Crc32(std::string_view(b.data(), 28)));
  return b;
}

Status DecodePackHeader(std::string_view b, uint8_t* shard, uint64_t* pack_id) {
  if (b.size() < kPackHeaderSize) return Status::Corruption("pack header truncated");
  if (std::memcmp(b.data(), kPackMagic, 8) != 0) return Status::Corruption("pack header: bad magic");
  if (GetU32(&b[28]) != Crc32(b.substr(0, 28))) return Status::Corruption("pack header: bad checksum");
  if (GetU32(&b[8]) != kPackVersion) return Status::NotSupported("pack version " + std::to_string(GetU32(&b[8])));
  uint32_t sh = GetU32(&b[12]);
  if (sh > 255) return Status::Corruption("pack header: shard out of range");
  *shard = static_cast<uint8_t>(sh);
  *pack_id = GetU64(&b[16]);
  return Status::OK();
}

uint64_t RecordHeader::total_size() const { return kRecordOverhead + uint64_t{stored_len}; }

uint64_t Payload::size() const {
  uint64_t n = 0;
  for (const auto& p : pieces) n += p.size();
  return n;
}

RecordParts EncodeRecordParts(const RecordHeader& h, std::string_view payload) {
  return EncodeRecordParts(h, Payload{{payload}, {}});
}

RecordParts EncodeRecordParts(const RecordHeader& h, const Payload& payload) {
  assert(payload.crcs.empty() || payload.crcs.size() == payload.pieces.size());
  RecordParts r;
  r.header.assign(kRecordHeaderSize, '\0');
  std::string& b = r.header;
  PutU32(&b[0], kRecordMagic);
  b[4] = static_cast<char>(h.codec);
  PutU32(&b[8], h.raw_len);
  r.payload_size = payload.size();
  PutU32(&b[12], static_cast<uint32_t>(r.payload_size));
  std::memcpy(&b[16], h.digest.bytes.data(), Digest::kSize);
  r.payload = payload.pieces;
  uint32_t crc = Crc32(b);
  for (size_t i = 0; i < payload.pieces.size(); ++i) {
    const std::string_view piece = payload.pieces[i];
    crc = payload.crcs.empty() ? Crc32(piece, crc) : Crc32Combine(crc, payload.crcs[i], piece.size());
  }
  AppendU32(&r.crc, crc);
  r.whole_crc = Crc32(r.crc, crc);
  return r;
}

std::string EncodeRecord(const RecordHeader& h, std::string_view payload) {
  RecordParts r = EncodeRecordParts(h, payload);
  std::string b;
  b.reserve(r.size());
  b.append(r.header);
  for (const auto& piece : r.payload) b.append(piece);
  b.append(r.crc);
  return b;
}

Status DecodeRecordHeader(std::string_view b, RecordHeader* h) {
  if (b.size() < kRecordHeaderSize) return Status::Corruption("record header truncated");
  if (GetU32(b.data()) != kRecordMagic) return Status::Corruption("record: bad magic");
  h->codec = static_cast<uint8_t>(b[4]);
  h->raw_len = GetU32(&b[8]);
  h->stored_len = GetU32(&b[12]);
  std::memcpy(h->digest.bytes.data(), &b[16], Digest::kSize);
  if (b[5] != 0 || b[6] != 0 || b[7] != 0) return Status::Corruption("record: reserved bytes set");
  if (h->raw_len > kMaxRecordPayload || h->stored_len > kMaxRecordPayload) {
    return Status::Corruption("record: impossible length");
  }
  if (h->codec > kCodecBlocks) return Status::Corruption("record: unknown codec");
  if (h->codec == kCodecRaw && h->raw_len != h->stored_len) return Status::Corruption("record: raw length mismatch");
  return Status::OK();
}

Status VerifyRecord(std::string_view rec, RecordHeader* h, std::string_view* payload) {
  Status s = DecodeRecordHeader(rec, h);
  if (!s.ok()) return s;
  if (rec.size() != h->total_size()) return Status::Corruption("record truncated");
  size_t crc_off = kRecordHeaderSize + h->stored_len;
  if (GetU32(&rec[crc_off]) != Crc32(rec.substr(0, crc_off))) {
    return Status::Corruption("record checksum mismatch");
  }
  *payload = rec.substr(kRecordHeaderSize, h->stored_len);
  return Status::OK();
}

std::string EncodeTrailer(const Trailer& t) {
  std::string b(kTrailerSize, '\0');
  std::memcpy(b.data(), kTrailerMagic, 8);
  PutU32(&b[8], t.record_count);
  PutU32(&b[12], t.pack_crc);
  PutU64(&b[16], t.data_end);
  PutU32(&b[28], Crc32(std::string_view(b.data(), 28)));
  return b;
}

bool DecodeTrailer(std::string_view b, Trailer* t) {
  if (b.size() != kTrailerSize || std::memcmp(b.data(), kTrailerMagic, 8) != 0) return false;
  if (GetU32(&b[28]) != Crc32(b.substr(0, 28))) return false;
  t->record_count = GetU32(&b[8]);
  t->pack_crc = GetU32(&b[12]);
  t->data_end = GetU64(&b[16]);
  return true;
}

}  // namespace chunkfs::records
