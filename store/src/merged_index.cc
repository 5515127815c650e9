#include "merged_index.h"

#include <algorithm>
#include <cstring>

#include "bloom.h"
#include "format.h"

namespace chunkfs {
using namespace chunkfs::format;

namespace {
constexpr size_t kFanoutBytes = 256 * 4;
// Buckets larger than this are searched by interpolation first.
constexpr uint64_t kInterpolateAbove = 1;

// Offsets of the sections after the header (docs/FORMAT.md "Merged index").
struct Layout {
  size_t packs, fanout, bucket_crcs, meta_crc, filter, filter_crc, entries, size;
  Layout(uint64_t npacks, uint64_t filter_blocks, uint64_t count) {
    packs = kMidxHeaderSize;
    fanout = packs + npacks * kMidxPackSize;
    bucket_crcs = fanout + kFanoutBytes;
    meta_crc = bucket_crcs + kFanoutBytes;
    filter = meta_crc + 4;
    filter_crc = filter + filter_blocks * DigestFilter::kBlockBytes;
    entries = filter_crc + 4;
    size = entries + count * kMidxEntrySize;
  }
};

void EncodeEntry(const MergedIndex::Entry& m, char* p) {
  std::memset(p, 0, kMidxEntrySize);
  std::memcpy(p, m.entry.digest.bytes.data(), Digest::kSize);
  PutU64(p + 32, m.entry.offset);
  PutU32(p + 40, m.entry.raw_len);
  PutU32(p + 44, m.entry.stored_len);
  PutU32(p + 48, m.slot);
  p[52] = static_cast<char>(m.entry.codec);
}

MergedIndex::Entry DecodeEntry(const char* p) {
  MergedIndex::Entry m;
  std::memcpy(m.entry.digest.bytes.data(), p, Digest::kSize);
  m.entry.offset = GetU64(p + 32);
  m.entry.raw_len = GetU32(p + 40);
  m.entry.stored_len = GetU32(p + 44);
  m.slot = GetU32(p + 48);
  m.entry.codec = static_cast<uint8_t>(p[52]);
  return m;
}

// Strict order of entries: digest ascending, then pack id descending.
bool Before(const MergedIndex::Entry& a, uint64_t pack_a, const MergedIndex::Entry& b, uint64_t pack_b) {
  int c = std::memcmp(a.entry.digest.bytes.data(), b.entry.digest.bytes.data(), Digest::kSize);
  return c < 0 || (c == 0 && pack_a > pack_b);
}
}  // namespace

Status MergedIndex::Encode(uint8_t shard, const std::vector<Pack>& packs, const std::vector<Entry>& entries,
                           std::string* out) {
  uint32_t fanout[256] = {};
  DigestFilter filter;
  filter.Reset(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.slot >= packs.size() || e.entry.digest.bytes[0] != shard) {
      return Status::InvalidArgument("merged index entry names no pack or another shard");
    }
    if (i > 0 && !Before(entries[i - 1], packs[entries[i - 1].slot].id, e, packs[e.slot].id)) {
      return Status::InvalidArgument("merged index entries not strictly sorted");
    }
    fanout[e.entry.digest.bytes[1]]++;
    filter.Add(e.entry.digest);
  }
  const Layout l(packs.size(), filter.block_count(), entries.size());
  out->assign(l.size, '\0');
  char* p = out->data();
  std::memcpy(p, kMidxMagic, 8);
  PutU32(p + 8, kMidxVersion);
  PutU32(p + 12, shard);
  PutU32(p + 16, static_cast<uint32_t>(packs.size()));
  PutU64(p + 24, entries.size());
  PutU64(p + 32, filter.block_count());
  PutU32(p + 60, Crc32(std::string_view(p, 60)));
  for (size_t i = 0; i < packs.size(); ++i) {
    char* q = p + l.packs + i * kMidxPackSize;
    PutU64(q, packs[i].id);
    PutU64(q + 8, packs[i].data_end);
    PutU32(q + 16, packs[i].data_crc);
    PutU32(q + 20, packs[i].count);
    PutU64(q + 24, packs[i].raw_bytes);
    PutU64(q + 32, packs[i].stored_bytes);
  }
  for (size_t i = 0; i < entries.size(); ++i) EncodeEntry(entries[i], p + l.entries + i * kMidxEntrySize);
  uint64_t cum = 0;
  for (int b = 0; b < 256; ++b) {
    const uint64_t begin = cum;
    cum += fanout[b];
    PutU32(p + l.fanout + 4 * b, static_cast<uint32_t>(cum));
    std::string_view bucket(p + l.entries + begin * kMidxEntrySize, (cum - begin) * kMidxEntrySize);
    PutU32(p + l.bucket_crcs + 4 * b, Crc32(bucket));
  }
  PutU32(p + l.meta_crc, Crc32(std::string_view(p + l.packs, l.meta_crc - l.packs)));
  std::string bits;
  filter.AppendTo(&bits);
  std::memcpy(p + l.filter, bits.data(), bits.size());
  PutU32(p + l.filter_crc, Crc32(bits));
  return Status::OK();
}

Status MergedIndex::Load(std::unique_ptr<MappedFile> file, uint8_t shard, std::unique_ptr<MergedIndex>* out) {
  const char* d = file->data();
  const size_t size = file->size();
  if (size < kMidxHeaderSize) return Status::Corruption("merged index truncated (" + std::to_string(size) + " bytes)");
  if (std::memcmp(d, kMidxMagic, 8) != 0) return Status::Corruption("merged index: bad magic");
  if (GetU32(d + 60) != Crc32(std::string_view(d, 60))) return Status::Corruption("merged index: header checksum mismatch");
  if (GetU32(d + 8) != kMidxVersion) return Status::NotSupported("merged index: version " + std::to_string(GetU32(d + 8)));
  if (GetU32(d + 12) != shard) return Status::Corruption("merged index names another shard");
  const uint64_t npacks = GetU32(d + 16), count = GetU64(d + 24), blocks = GetU64(d + 32);
  if (count > (uint64_t{1} << 32) || blocks > (uint64_t{1} << 32)) return Status::Corruption("merged index: sizes out of range");
  const Layout l(npacks, blocks, count);
  if (size != l.size) return Status::Corruption("merged index: size does not match its header (truncated?)");
  if (GetU32(d + l.meta_crc) != Crc32(std::string_view(d + l.packs, l.meta_crc - l.packs))) {
    return Status::Corruption("merged index: pack table or fanout checksum mismatch");
  }
  const size_t filter_bytes = l.filter_crc - l.filter;
  if (GetU32(d + l.filter_crc) != Crc32(std::string_view(d + l.filter, filter_bytes))) {
    return Status::Corruption("merged index: filter checksum mismatch");
  }
  std::unique_ptr<MergedIndex> m(new MergedIndex());
  uint32_t prev = 0;
  for (int b = 0; b < 256; ++b) {
    uint32_t f = GetU32(d + l.fanout + 4 * b);
    if (f < prev) return Status::Corruption("merged index: fanout not monotonic");
    prev = f;
  }
  if (prev != count) return Status::Corruption("merged index: fanout total is not the entry count");
  for (uint64_t i = 0; i < npacks; ++i) {
    const char* q = d + l.packs + i * kMidxPackSize;
    m->packs_.push_back({GetU64(q), GetU64(q + 8), GetU32(q + 16), GetU32(q + 20), GetU64(q + 24), GetU64(q + 32)});
    if (i > 0 && m->packs_[i - 1].id >= m->packs_[i].id) return Status::Corruption("merged index: pack ids not ascending");
  }
  m->data_ = d;
  m->size_ = size;
  m->shard_ = shard;
  m->count_ = count;
  m->fanout_ = d + l.fanout;
  m->bucket_crcs_ = d + l.bucket_crcs;
  m->filter_ = d + l.filter;
  m->filter_blocks_ = blocks;
  m->entries_ = d + l.entries;
  m->file_ = std::move(file);
  *out = std::move(m);
  return Status::OK();
}

int64_t MergedIndex::SlotOf(uint64_t id) const {
  auto it = std::lower_bound(packs_.begin(), packs_.end(), id, [](const Pack& p, uint64_t x) { return p.id < x; });
  return it != packs_.end() && it->id == id ? it - packs_.begin() : -1;
}

bool MergedIndex::MayContain(const Digest& d) const { return DigestFilter::Probe(filter_, filter_blocks_, d); }

uint64_t MergedIndex::BucketBegin(unsigned b) const { return b == 0 ? 0 : GetU32(fanout_ + 4 * (b - 1)); }
uint64_t MergedIndex::BucketEnd(unsigned b) const { return GetU32(fanout_ + 4 * b); }

// CRC, then every entry: in the shard and the bucket, strictly ordered,
// naming a pack of the table, inside that pack's records.
Status MergedIndex::CheckBucket(unsigned b) const {
  uint8_t state = checked_[b].load(std::memory_order_acquire);
  if (state == 1) return Status::OK();
  Status s;
  const uint64_t begin = BucketBegin(b), end = BucketEnd(b);
  const char* p = entries_ + begin * kMidxEntrySize;
  if (state == 2 || GetU32(bucket_crcs_ + 4 * b) != Crc32(std::string_view(p, (end - begin) * kMidxEntrySize))) {
    s = Status::Corruption("merged index: checksum mismatch in bucket " + std::to_string(b));
  }
  for (uint64_t i = begin; s.ok() && i < end; ++i) {
    Entry e = At(i);
    const IdxEntry& x = e.entry;
    if (x.digest.bytes[0] != shard_ || x.digest.bytes[1] != b || e.slot >= packs_.size()) {
      s = Status::Corruption("merged index: entry " + std::to_string(i) + " out of place");
    } else if (x.offset < kPackHeaderSize || x.offset + kRecordOverhead + x.stored_len > packs_[e.slot].data_end) {
      s = Status::Corruption("merged index: entry " + std::to_string(i) + " points outside its pack");
    } else if (i > begin) {
      Entry prev = At(i - 1);
      if (!Before(prev, packs_[prev.slot].id, e, packs_[e.slot].id)) {
        s = Status::Corruption("merged index: entries out of order at " + std::to_string(i));
      }
    }
  }
  checked_[b].store(s.ok() ? 1 : 2, std::memory_order_release);
  if (!s.ok()) damaged_.store(true, std::memory_order_relaxed);
  return s;
}

Status MergedIndex::Range(const Digest& d, uint64_t* begin, uint64_t* end) const {
  const unsigned b = d.bytes[1];
  Status s = CheckBucket(b);
  if (!s.ok()) return s;
  uint64_t lo = BucketBegin(b), hi = BucketEnd(b);
  auto less = [&](uint64_t i) { return std::memcmp(entries_ + i * kMidxEntrySize, d.bytes.data(), Digest::kSize) < 0; };
  // The first entry not below d is in [lo, hi]: every entry before lo is
  // below, every one from hi on is not. Digests are uniform, so bytes 2..9
  // say where in the bucket d falls: guess there, gallop to bracket it,
  // then bisect (2 to 4 reads instead of log2 of the bucket).
  if (hi - lo > kInterpolateAbove) {
    uint64_t key = 0;
    for (int i = 2; i < 10; ++i) key = key << 8 | d.bytes[i];
    const uint64_t g = lo + static_cast<uint64_t>((static_cast<unsigned __int128>(key) * (hi - lo)) >> 64);
    if (less(g)) {
      uint64_t p = g, step = 1;
      for (lo = g + 1; (p = g + step) < hi && less(p); step *= 2) lo = p + 1;
      hi = std::min(p, hi);
    } else {
      uint64_t step = 1;
      for (hi = g; step <= g - lo && !less(g - step); step *= 2) hi = g - step;
      if (step <= g - lo) lo = g - step + 1;
    }
  }
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (less(mid)) lo = mid + 1;
    else hi = mid;
  }
  *begin = *end = lo;
  const uint64_t last = BucketEnd(b);
  while (*end < last && std::memcmp(entries_ + *end * kMidxEntrySize, d.bytes.data(), Digest::kSize) == 0) ++*end;
  return Status::OK();
}

MergedIndex::Entry MergedIndex::At(uint64_t i) const { return DecodeEntry(entries_ + i * kMidxEntrySize); }

Status MergedIndex::VerifyAll() const {
  for (unsigned b = 0; b < 256; ++b) {
    Status s = CheckBucket(b);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace chunkfs
