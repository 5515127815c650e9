#include "pack_scan.h"

#include <cstring>

#include "format.h"

namespace chunkfs {
using namespace chunkfs::format;

namespace {

bool ValidRecordAt(std::string_view dat, uint64_t off, uint64_t end, records::RecordHeader* h,
                   std::string* reason) {
  std::string_view rest = dat.substr(off, end - off);
  Status s = records::DecodeRecordHeader(rest, h);
  if (s.ok() && rest.size() < h->total_size()) s = Status::Corruption("record runs past the end of the data");
  std::string_view payload;
  if (s.ok()) s = records::VerifyRecord(rest.substr(0, h->total_size()), h, &payload);
  if (!s.ok() && reason) *reason = s.message();
  return s.ok();
}

// Next offset after `from` where a valid record starts, or `end`.
uint64_t Resync(std::string_view dat, uint64_t from, uint64_t end) {
  char magic[4];
  PutU32(magic, kRecordMagic);
  for (uint64_t off = from + 1; off + kRecordOverhead <= end; ++off) {
    const void* hit = memmem(dat.data() + off, end - off, magic, 4);
    if (hit == nullptr) break;
    off = static_cast<const char*>(hit) - dat.data();
    records::RecordHeader h;
    if (ValidRecordAt(dat, off, end, &h, nullptr)) return off;
  }
  return end;
}

}  // namespace

TolerantScan ScanTolerant(std::string_view dat) {
  TolerantScan r;
  uint8_t shard;
  uint64_t id;
  Status hs = records::DecodePackHeader(dat, &shard, &id);
  r.header_ok = hs.ok();
  r.header_error = hs.message();
  r.data_end = dat.size();
  if (dat.size() >= kPackHeaderSize + kTrailerSize &&
      records::DecodeTrailer(dat.substr(dat.size() - kTrailerSize), &r.trailer) &&
      r.trailer.data_end == dat.size() - kTrailerSize) {
    r.sealed = true;
    r.data_end = r.trailer.data_end;
  }
  uint64_t off = std::min<uint64_t>(kPackHeaderSize, dat.size());
  while (off < r.data_end) {
    records::RecordHeader h;
    std::string reason;
    if (ValidRecordAt(dat, off, r.data_end, &h, &reason)) {
      r.records.push_back({off, h});
      off += h.total_size();
      continue;
    }
    uint64_t next = Resync(dat, off, r.data_end);
    r.damaged.push_back({off, next, reason});
    off = next;
  }
  return r;
}

}  // namespace chunkfs
