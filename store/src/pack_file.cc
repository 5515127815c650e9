#include "pack_file.h"

#include <algorithm>

#include "chunkfs/digest.h"
#include "codec.h"
#include "format.h"
#include "records.h"

namespace chunkfs {
using namespace chunkfs::format;

PackFile::~PackFile() {
  if (remove_env_ == nullptr) return;
  files_->Evict(path_);
  // Best effort: a file left behind is a dead pack, removed at the next open.
  (void)remove_env_->RemoveFile(path_);
  (void)remove_env_->RemoveFile(remove_idx_);
}

void PackFile::RemoveWhenUnused(Env* env, std::string idx_path) {
  remove_idx_ = std::move(idx_path);
  remove_env_ = env;
}

Status PackFile::ReadRange(uint64_t offset, size_t n, std::string* out) {
  std::shared_ptr<RandomAccessFile> file;
  Status s = files_->Get(path_, &file);
  if (!s.ok()) return s;
  return file->Read(offset, n, out);
}

Status PackFile::VerifyRecordBytes(const IdxEntry& e, std::string_view rec) const {
  auto where = [&] { return path_ + " at offset " + std::to_string(e.offset) + ": "; };
  if (rec.size() != kRecordOverhead + uint64_t{e.stored_len}) return Status::Corruption(where() + "record truncated");
  records::RecordHeader h;
  std::string_view payload;
  Status s = records::VerifyRecord(rec, &h, &payload);
  if (!s.ok()) return Status::Corruption(where() + s.message());
  if (h.digest != e.digest || h.raw_len != e.raw_len || h.codec != e.codec) {
    return Status::Corruption(where() + "record does not match its index entry");
  }
  return Status::OK();
}

Status PackFile::CheckRecordHeader(const RandomAccessFile& file, const IdxEntry& e) const {
  std::string buf;
  Status s = file.Read(e.offset, kRecordHeaderSize, &buf);
  if (!s.ok()) return s;
  records::RecordHeader h;
  if (buf.size() != kRecordHeaderSize) {
    s = Status::Corruption("record truncated");
  } else if ((s = records::DecodeRecordHeader(buf, &h)).ok() &&
             (h.digest != e.digest || h.raw_len != e.raw_len || h.stored_len != e.stored_len || h.codec != e.codec)) {
    s = Status::Corruption("record does not match its index entry");
  }
  if (s.ok()) return s;
  return Status::Corruption(path_ + " at offset " + std::to_string(e.offset) + ": " + s.message());
}

Status PackFile::ReadRecordBytes(const IdxEntry& e, std::string* rec) {
  Status s = ReadRange(e.offset, kRecordOverhead + uint64_t{e.stored_len}, rec);
  return s.ok() ? VerifyRecordBytes(e, *rec) : s;
}

Status PackFile::ReadChunk(const IdxEntry& e, std::string* out) {
  std::shared_ptr<RandomAccessFile> file;
  Status s = OpenFile(&file);
  return s.ok() ? ReadChunkFrom(*file, e, out) : s;
}

Status PackFile::ReadChunkFrom(const RandomAccessFile& file, const IdxEntry& e, std::string* out) const {
  std::string rec;
  Status s = file.Read(e.offset, kRecordOverhead + uint64_t{e.stored_len}, &rec);
  if (s.ok()) s = VerifyRecordBytes(e, rec);
  if (!s.ok()) return s;
  std::string_view payload(rec.data() + kRecordHeaderSize, e.stored_len);
  auto where = [&] { return path_ + " at offset " + std::to_string(e.offset) + ": "; };
  s = codec::Decode(e.codec, payload, e.raw_len, out);
  if (s.code() == Status::Code::kNotSupported) return Status::NotSupported(where() + s.message());  // not damage
  if (!s.ok()) return Status::Corruption(where() + s.message());
  if (Sha256(*out) != e.digest) {
    out->clear();
    return Status::Corruption(where() + "content does not match digest " + e.digest.ToHex());
  }
  return Status::OK();
}

namespace {

// Sequential reader over [pos, end) with a large buffer.
class BlockReader {
 public:
  BlockReader(RandomAccessFile* f, uint64_t pos, uint64_t end) : f_(f), end_(end), base_(pos) {}
  // Makes at least n bytes from pos available (fewer only at end).
  Status Fill(size_t n) {
    if (buf_.size() - off_ >= n) return Status::OK();
    buf_.erase(0, off_);
    base_ += off_;
    off_ = 0;
    uint64_t next = base_ + buf_.size();
    size_t want = std::max<size_t>(n - buf_.size(), kBlock);
    want = static_cast<size_t>(std::min<uint64_t>(want, end_ - next));
    if (want == 0) return Status::OK();
    std::string more;
    Status s = f_->Read(next, want, &more);
    buf_ += more;
    return s;
  }
  std::string_view View(size_t n) const { return std::string_view(buf_).substr(off_, n); }
  size_t Available() const { return buf_.size() - off_; }
  void Skip(size_t n) { off_ += n; }
  uint64_t pos() const { return base_ + off_; }

 private:
  static constexpr size_t kBlock = 1 << 20;
  RandomAccessFile* f_;
  uint64_t end_;
  uint64_t base_;
  std::string buf_;
  size_t off_ = 0;
};

}  // namespace

Status ScanPack(Env* env, const std::string& path, uint64_t start, uint32_t crc, uint64_t end,
                ScanResult* out) {
  std::unique_ptr<RandomAccessFile> f;
  Status s = env->NewRandomAccessFile(path, &f);
  if (!s.ok()) return s;
  out->entries.clear();
  out->file_size = end;
  BlockReader r(f.get(), start, end);
  while (r.pos() < end) {
    if (!(s = r.Fill(kRecordHeaderSize)).ok()) return s;
    records::RecordHeader h;
    if (r.Available() < kRecordHeaderSize) { out->stop_reason = "torn record header"; out->torn = true; break; }
    Status hs = records::DecodeRecordHeader(r.View(kRecordHeaderSize), &h);
    if (!hs.ok()) { out->stop_reason = hs.message(); break; }
    if (!(s = r.Fill(h.total_size())).ok()) return s;
    if (r.Available() < h.total_size()) { out->stop_reason = "torn record"; out->torn = true; break; }
    std::string_view rec = r.View(h.total_size()), payload;
    Status vs = records::VerifyRecord(rec, &h, &payload);
    if (!vs.ok()) { out->stop_reason = vs.message(); break; }
    IdxEntry e{h.digest, r.pos(), h.raw_len, h.stored_len, h.codec};
    out->entries.push_back(e);
    crc = Crc32(rec, crc);
    r.Skip(h.total_size());
  }
  out->valid_end = r.pos();
  out->crc = crc;
  return Status::OK();
}

}  // namespace chunkfs
