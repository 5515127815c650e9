#include "deletion_log.h"

#include <cstring>

#include "format.h"

namespace chunkfs {
using namespace chunkfs::format;

void DeletionSet::Apply(const DeletionEntry& e) {
  if (e.kind == kDelPack) {
    packs_.insert(e.pack_id);
    records_.erase(e.pack_id);
  } else if (e.kind == kDelRecord && packs_.count(e.pack_id) == 0) {
    records_[e.pack_id][e.offset] = e.digest;
  }
}

std::vector<uint64_t> DeletionSet::packs_with_deletions() const {
  std::vector<uint64_t> out;
  for (const auto& [p, offs] : records_) out.push_back(p);
  return out;
}

void DeletionSet::ForgetPack(uint64_t pack_id) {
  packs_.erase(pack_id);
  records_.erase(pack_id);
}

std::vector<DeletionEntry> DeletionSet::Entries() const {
  std::vector<DeletionEntry> out;
  for (uint64_t p : packs_) out.push_back({kDelPack, p, 0, Digest{}});
  for (const auto& [p, offs] : records_) {
    for (const auto& [off, d] : offs) out.push_back({kDelRecord, p, off, d});
  }
  return out;
}

namespace deletion_log {

std::string EncodeHeader(uint8_t shard) {
  std::string b(kDelHeaderSize, '\0');
  std::memcpy(b.data(), kDelMagic, 8);
  PutU32(&b[8], kDelVersion);
  PutU32(&b[12], shard);
  PutU32(&b[28], Crc32(std::string_view(b.data(), 28)));
  return b;
}

std::string EncodeEntry(const DeletionEntry& e) {
  std::string b(kDelEntrySize, '\0');
  b[0] = static_cast<char>(e.kind);
  PutU64(&b[4], e.pack_id);
  PutU64(&b[12], e.offset);
  std::memcpy(&b[20], e.digest.bytes.data(), Digest::kSize);
  PutU32(&b[52], Crc32(std::string_view(b.data(), 52)));
  return b;
}

std::string Encode(uint8_t shard, const std::vector<DeletionEntry>& entries) {
  std::string b = EncodeHeader(shard);
  for (const auto& e : entries) b += EncodeEntry(e);
  return b;
}

Status Decode(std::string_view b, uint8_t shard, Parsed* out) {
  out->entries.clear();
  out->stop_reason.clear();
  out->header_damage.clear();
  if (b.size() < kDelHeaderSize) {
    out->header_damage = "header truncated";
  } else if (std::memcmp(b.data(), kDelMagic, 8) != 0) {
    out->header_damage = "bad magic";
  } else if (GetU32(&b[28]) != Crc32(b.substr(0, 28))) {
    out->header_damage = "header checksum mismatch";
  } else if (GetU32(&b[8]) > kDelVersion) {
    return Status::NotSupported("deletion log version " + std::to_string(GetU32(&b[8])) +
                                " is newer than this program supports");
  } else if (GetU32(&b[12]) != shard) {
    out->header_damage = "header names another shard";
  }
  size_t pos = kDelHeaderSize;
  for (; pos + kDelEntrySize <= b.size(); pos += kDelEntrySize) {
    std::string_view e = b.substr(pos, kDelEntrySize);
    if (GetU32(&e[52]) != Crc32(e.substr(0, 52))) {
      out->stop_reason = "entry checksum mismatch at offset " + std::to_string(pos);
      break;
    }
    DeletionEntry d;
    d.kind = static_cast<uint8_t>(e[0]);
    d.pack_id = GetU64(&e[4]);
    d.offset = GetU64(&e[12]);
    std::memcpy(d.digest.bytes.data(), &e[20], Digest::kSize);
    if (d.kind != kDelRecord && d.kind != kDelPack) {
      out->stop_reason = "unknown entry kind at offset " + std::to_string(pos);
      break;
    }
    out->entries.push_back(d);
  }
  if (out->stop_reason.empty() && pos < b.size()) out->stop_reason = "torn entry at offset " + std::to_string(pos);
  out->valid_end = pos;
  return Status::OK();
}

}  // namespace deletion_log
}  // namespace chunkfs
