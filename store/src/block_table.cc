#include "block_table.h"

#include <cstring>

#include "codec.h"
#include "format.h"

namespace chunkfs::blocks {
using namespace chunkfs::format;

namespace {

bool IsBlockCodec(uint8_t codec) { return codec == kCodecRaw || codec == kCodecZlib || codec == kCodecZstd; }

std::string BlockName(uint32_t i, size_t count) {
  return "block " + std::to_string(i) + " of " + std::to_string(count);
}

// Corruption naming block i of `t` and its raw bytes, with the cause.
Status BlockDamage(const BlockTable& t, uint32_t i, const Status& cause) {
  const BlockEntry& e = t.blocks[i];
  return Status::Corruption(BlockName(i, t.blocks.size()) + " (raw bytes " + std::to_string(e.raw_offset) + ".." +
                            std::to_string(e.raw_offset + e.raw_len) + "): " + cause.message());
}

// The entry at `p` (kBlockEntrySize bytes): Corruption if it is impossible.
Status DecodeEntry(const char* p, BlockEntry* e) {
  e->codec = static_cast<uint8_t>(p[0]);
  if (p[1] != 0 || p[2] != 0 || p[3] != 0) return Status::Corruption("reserved bytes set");
  e->raw_len = GetU32(p + 4);
  e->stored_len = GetU32(p + 8);
  std::memcpy(e->hash.bytes.data(), p + 12, Digest::kSize);
  if (!IsBlockCodec(e->codec)) return Status::Corruption("unknown codec " + std::to_string(e->codec));
  if (e->stored_len == 0 || (e->codec == kCodecRaw && e->stored_len != e->raw_len)) {
    return Status::Corruption("stored length " + std::to_string(e->stored_len) + " impossible for its codec");
  }
  return Status::OK();
}

}  // namespace

uint64_t TableSize(uint64_t count) { return kBlockTableHeaderSize + kBlockEntrySize * count + 4; }

Status CheckBlocks(const std::vector<EncodedBlock>& blocks, uint64_t* raw_size) {
  *raw_size = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const EncodedBlock& b = blocks[i];
    const bool last = i + 1 == blocks.size();
    std::string fault;
    if (b.raw_len == 0 || b.raw_len > kBlockSize || (!last && b.raw_len != kBlockSize)) {
      fault = "holds " + std::to_string(b.raw_len) + " raw bytes (every block but the last holds " +
              std::to_string(kBlockSize) + ", the last 1 to that)";
    } else if (!IsBlockCodec(b.codec)) {
      fault = "has unknown codec " + std::to_string(b.codec);
    } else if (!CodecBuiltIn(b.codec)) {
      return Status::NotSupported(BlockName(static_cast<uint32_t>(i), blocks.size()) + " is compressed with " +
                                  CodecName(b.codec) + ", which this chunkfs was built without");
    } else if (b.bytes.empty() || (b.codec == kCodecRaw && b.bytes.size() != b.raw_len)) {
      fault = "has " + std::to_string(b.bytes.size()) + " stored bytes for " + std::to_string(b.raw_len) + " raw";
    }
    if (!fault.empty()) return Status::InvalidArgument(BlockName(static_cast<uint32_t>(i), blocks.size()) + " " + fault);
    *raw_size += b.raw_len;
  }
  return Status::OK();
}

std::string EncodePayload(const std::vector<EncodedBlock>& blocks) {
  uint64_t total = TableSize(blocks.size());
  for (const auto& b : blocks) total += b.bytes.size();
  std::string p = EncodeTable(blocks);
  p.reserve(total);
  for (const auto& b : blocks) p.append(b.bytes);
  return p;
}

std::string EncodeTable(const std::vector<EncodedBlock>& blocks) {
  std::string p;
  p.reserve(TableSize(blocks.size()));
  AppendU32(&p, kBlockSize);
  AppendU32(&p, static_cast<uint32_t>(blocks.size()));
  for (const auto& b : blocks) {
    p.push_back(static_cast<char>(b.codec));
    p.append(3, '\0');
    AppendU32(&p, b.raw_len);
    AppendU32(&p, static_cast<uint32_t>(b.bytes.size()));
    p.append(reinterpret_cast<const char*>(b.hash.bytes.data()), Digest::kSize);
  }
  AppendU32(&p, Crc32(p));
  return p;
}

Status TableSizeOf(std::string_view prefix, uint32_t stored_len, uint64_t* size) {
  if (prefix.size() < kBlockTableHeaderSize || stored_len < TableSize(0)) {
    return Status::Corruption("truncated block table: the payload is shorter than a table header");
  }
  const uint32_t count = GetU32(prefix.data() + 4);
  *size = TableSize(count);
  if (*size > stored_len) {
    return Status::Corruption("truncated block table: " + std::to_string(count) + " blocks need " +
                              std::to_string(*size) + " bytes, the payload has " + std::to_string(stored_len));
  }
  return Status::OK();
}

Status DecodeTable(std::string_view bytes, uint32_t raw_len, uint32_t stored_len, BlockTable* t) {
  uint64_t size = 0;
  Status s = TableSizeOf(bytes, stored_len, &size);
  if (!s.ok()) return s;
  if (bytes.size() < size) return Status::Corruption("truncated block table: " + std::to_string(bytes.size()) + " of " + std::to_string(size) + " bytes");
  if (GetU32(bytes.data() + size - 4) != Crc32(bytes.substr(0, size - 4))) {
    return Status::Corruption("block table checksum mismatch");
  }
  t->block_size = GetU32(bytes.data());
  const uint32_t count = GetU32(bytes.data() + 4);
  const uint64_t want = t->block_size == 0 ? 0 : (uint64_t{raw_len} + t->block_size - 1) / t->block_size;
  if (t->block_size == 0 || count == 0 || count != want) {
    return Status::Corruption("bad block count: " + std::to_string(count) + " blocks of " +
                              std::to_string(t->block_size) + " bytes for a chunk of " + std::to_string(raw_len));
  }
  t->blocks.assign(count, BlockEntry{});
  uint64_t raw_off = 0, stored_off = size;
  for (uint32_t i = 0; i < count; ++i) {
    BlockEntry& e = t->blocks[i];
    if (!(s = DecodeEntry(bytes.data() + kBlockTableHeaderSize + i * kBlockEntrySize, &e)).ok()) {
      return Status::Corruption(BlockName(i, count) + ": " + s.message());
    }
    const uint64_t want_raw = i + 1 < count ? t->block_size : raw_len - raw_off;
    if (e.raw_len != want_raw) {
      return Status::Corruption("block lengths disagree with the record: " + BlockName(i, count) + " holds " +
                                std::to_string(e.raw_len) + " raw bytes, not " + std::to_string(want_raw));
    }
    e.raw_offset = raw_off;
    e.stored_offset = stored_off;
    raw_off += e.raw_len;
    stored_off += e.stored_len;
  }
  if (stored_off != stored_len) {
    return Status::Corruption("block lengths disagree with the record: table and blocks take " +
                              std::to_string(stored_off) + " bytes, the payload " + std::to_string(stored_len));
  }
  return Status::OK();
}

Status DecodeBlock(const BlockTable& t, uint32_t i, std::string_view stored, std::string* raw) {
  const BlockEntry& e = t.blocks[i];
  Status s = codec::Decode(e.codec, stored, e.raw_len, raw);
  if (s.code() == Status::Code::kNotSupported) return s;  // not damage
  if (!s.ok()) {
    raw->clear();
    return BlockDamage(t, i, s);
  }
  return VerifyBlock(t, i, raw);
}

Status VerifyBlock(const BlockTable& t, uint32_t i, std::string* raw) {
  const BlockEntry& e = t.blocks[i];
  Status s;
  if (raw->size() != e.raw_len) {
    s = Status::Corruption("read " + std::to_string(raw->size()) + " bytes of " + std::to_string(e.raw_len));
  } else if (Sha256(*raw) != e.hash) {
    s = Status::Corruption("content does not match its SHA-256");
  }
  if (s.ok()) return s;
  raw->clear();
  return BlockDamage(t, i, s);
}

Status DecodePayload(std::string_view stored, uint32_t raw_len, std::string* raw) {
  BlockTable t;
  Status s = DecodeTable(stored, raw_len, static_cast<uint32_t>(stored.size()), &t);
  std::string block;
  raw->clear();
  if (s.ok()) raw->reserve(raw_len);
  for (uint32_t i = 0; s.ok() && i < t.blocks.size(); ++i) {
    const BlockEntry& e = t.blocks[i];
    s = DecodeBlock(t, i, stored.substr(e.stored_offset, e.stored_len), &block);
    raw->append(block);
  }
  if (!s.ok()) raw->clear();
  return s;
}

}  // namespace chunkfs::blocks
