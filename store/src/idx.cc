#include "idx.h"

#include <cstring>

#include "format.h"

namespace chunkfs {
using namespace chunkfs::format;

namespace {
constexpr size_t kEntriesOff = kIdxHeaderSize + kIdxFanoutSize;

const char* EntryPtr(const char* data, uint32_t i) { return data + kEntriesOff + size_t{i} * kIdxEntrySize; }

void EncodeEntry(const IdxEntry& e, char* p) {
  std::memset(p, 0, kIdxEntrySize);
  std::memcpy(p, e.digest.bytes.data(), Digest::kSize);
  PutU64(p + 32, e.offset);
  PutU32(p + 40, e.raw_len);
  PutU32(p + 44, e.stored_len);
  p[48] = static_cast<char>(e.codec);
}

IdxEntry DecodeEntry(const char* p) {
  IdxEntry e;
  std::memcpy(e.digest.bytes.data(), p, Digest::kSize);
  e.offset = GetU64(p + 32);
  e.raw_len = GetU32(p + 40);
  e.stored_len = GetU32(p + 44);
  e.codec = static_cast<uint8_t>(p[48]);
  return e;
}
}  // namespace

Status EncodeIdx(const IdxHeader& h, const std::vector<IdxEntry>& entries, std::string* out) {
  uint32_t fanout[256] = {};
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0 && !(entries[i - 1].digest < entries[i].digest)) {
      return Status::InvalidArgument("idx entries not strictly sorted");
    }
    fanout[entries[i].digest.bytes[1]]++;
  }
  out->assign(kIdxFixedSize + entries.size() * kIdxEntrySize, '\0');
  char* p = out->data();
  std::memcpy(p, kIdxMagic, 8);
  PutU32(p + 8, kIdxVersion);
  PutU32(p + 12, h.sealed ? kIdxFlagSealed : 0);
  PutU64(p + 16, h.pack_id);
  PutU32(p + 24, static_cast<uint32_t>(entries.size()));
  PutU32(p + 28, h.shard);
  PutU64(p + 32, h.data_end);
  PutU32(p + 40, h.data_crc);
  uint32_t cum = 0;
  for (int b = 0; b < 256; ++b) {
    cum += fanout[b];
    PutU32(p + kIdxHeaderSize + 4 * b, cum);
  }
  for (size_t i = 0; i < entries.size(); ++i) EncodeEntry(entries[i], p + kEntriesOff + i * kIdxEntrySize);
  size_t crc_off = out->size() - 4;
  PutU32(p + crc_off, Crc32(std::string_view(p, crc_off)));
  return Status::OK();
}

Status IdxTable::Parse(const char* data, size_t size, IdxTable* t) {
  if (size < kIdxFixedSize) return Status::Corruption("idx truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(data, kIdxMagic, 8) != 0) return Status::Corruption("idx: bad magic");
  if (GetU32(data + size - 4) != Crc32(std::string_view(data, size - 4))) {
    return Status::Corruption("idx: checksum mismatch");
  }
  if (GetU32(data + 8) != kIdxVersion) return Status::Corruption("idx: unknown version");
  IdxHeader h;
  h.sealed = (GetU32(data + 12) & kIdxFlagSealed) != 0;
  h.pack_id = GetU64(data + 16);
  h.count = GetU32(data + 24);
  uint32_t shard = GetU32(data + 28);
  h.data_end = GetU64(data + 32);
  h.data_crc = GetU32(data + 40);
  if (shard > 255) return Status::Corruption("idx: shard out of range");
  h.shard = static_cast<uint8_t>(shard);
  if (size != kIdxFixedSize + size_t{h.count} * kIdxEntrySize) return Status::Corruption("idx: size does not match count");
  // Fanout must be cumulative, end at count, and agree with every entry;
  // entries strictly ascending, in this shard, inside the pack.
  uint32_t prev = 0;
  for (int b = 0; b < 256; ++b) {
    uint32_t f = GetU32(data + kIdxHeaderSize + 4 * b);
    if (f < prev) return Status::Corruption("idx: fanout not monotonic");
    for (uint32_t i = prev; i < f && i < h.count; ++i) {
      const char* e = EntryPtr(data, i);
      if (static_cast<uint8_t>(e[1]) != b) return Status::Corruption("idx: fanout disagrees with entries");
    }
    prev = f;
  }
  if (prev != h.count) return Status::Corruption("idx: fanout total is not the entry count");
  for (uint32_t i = 0; i < h.count; ++i) {
    const char* e = EntryPtr(data, i);
    if (static_cast<uint8_t>(e[0]) != h.shard) return Status::Corruption("idx: entry in the wrong shard");
    if (i > 0 && std::memcmp(EntryPtr(data, i - 1), e, Digest::kSize) >= 0) {
      return Status::Corruption("idx: entries out of order");
    }
    IdxEntry ent = DecodeEntry(e);
    if (ent.offset < kPackHeaderSize || ent.offset + kRecordOverhead + ent.stored_len > h.data_end) {
      return Status::Corruption("idx: entry points outside the pack");
    }
  }
  t->data_ = data;
  t->size_ = size;
  t->header_ = h;
  return Status::OK();
}

Status IdxTable::Load(std::unique_ptr<MappedFile> file, std::unique_ptr<IdxTable>* out) {
  std::unique_ptr<IdxTable> t(new IdxTable());
  Status s = Parse(file->data(), file->size(), t.get());
  if (!s.ok()) return s;
  t->file_ = std::move(file);
  *out = std::move(t);
  return Status::OK();
}

Status IdxTable::FromBytes(std::string bytes, std::unique_ptr<IdxTable>* out) {
  std::unique_ptr<IdxTable> t(new IdxTable());
  t->owned_ = std::move(bytes);
  Status s = Parse(t->owned_.data(), t->owned_.size(), t.get());
  if (!s.ok()) return s;
  *out = std::move(t);
  return Status::OK();
}

bool IdxTable::Find(const Digest& d, IdxEntry* e) const {
  uint8_t b = d.bytes[1];
  uint32_t lo = b == 0 ? 0 : GetU32(data_ + kIdxHeaderSize + 4 * (b - 1));
  uint32_t hi = GetU32(data_ + kIdxHeaderSize + 4 * b);
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = std::memcmp(EntryPtr(data_, mid), d.bytes.data(), Digest::kSize);
    if (c == 0) {
      *e = DecodeEntry(EntryPtr(data_, mid));
      return true;
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

IdxEntry IdxTable::At(uint32_t i) const { return DecodeEntry(EntryPtr(data_, i)); }

void IdxTable::AppendDigests(std::vector<Digest>* out) const {
  for (uint32_t i = 0; i < header_.count; ++i) {
    Digest d;
    std::memcpy(d.bytes.data(), EntryPtr(data_, i), Digest::kSize);
    out->push_back(d);
  }
}

void SumIdxBytes(const IdxTable& t, uint64_t* raw, uint64_t* stored, int sign) {
  for (uint32_t i = 0; i < t.count(); ++i) {
    IdxEntry e = t.At(i);
    *raw += sign > 0 ? e.raw_len : -uint64_t{e.raw_len};
    *stored += sign > 0 ? e.stored_len : -uint64_t{e.stored_len};
  }
}

PackIdx::PackIdx(std::shared_ptr<const IdxTable> table) : header_(table->header()), table_(std::move(table)) {
  SumIdxBytes(*table_, &raw_, &stored_, 1);
  std::call_once(once_, [] {});  // loaded: table() never calls a loader
  loaded_ = true;
}

PackIdx::PackIdx(const IdxHeader& meta, uint64_t raw_bytes, uint64_t stored_bytes, Loader loader)
    : header_(meta), raw_(raw_bytes), stored_(stored_bytes), loader_(std::move(loader)) {}

const IdxTable& PackIdx::table() const {
  std::call_once(once_, [this] {
    table_ = loader_();
    if (table_ == nullptr) {  // a loader breaking its contract still leaves a usable (empty) table
      std::string empty;
      std::unique_ptr<IdxTable> t;
      IdxHeader h = header_;
      h.count = 0;
      (void)EncodeIdx(h, {}, &empty);  // an empty idx always encodes
      (void)IdxTable::FromBytes(std::move(empty), &t);  // and parses
      table_ = std::move(t);
    }
    loaded_.store(true, std::memory_order_release);
  });
  return *table_;
}

}  // namespace chunkfs
