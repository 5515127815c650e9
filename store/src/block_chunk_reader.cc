#include "block_chunk_reader.h"

#include <algorithm>
#include <mutex>

#include "block_table.h"
#include "format.h"
#include "records.h"

namespace chunkfs {
using namespace chunkfs::format;

namespace {

// Shared by both readers: the pack, its open file and the record.
class RecordReader : public ChunkReader {
 public:
  RecordReader(std::shared_ptr<PackFile> pack, std::shared_ptr<RandomAccessFile> file, const IdxEntry& e)
      : pack_(std::move(pack)), file_(std::move(file)), e_(e) {}
  uint64_t size() const override { return e_.raw_len; }

 protected:
  Status OutOfRange(uint32_t i) const {
    return Status::InvalidArgument("block " + std::to_string(i) + " of a chunk of " +
                                   std::to_string(block_count()) + " blocks");
  }
  // "chunk <digest> (<pack> at offset N): " before a message.
  Status Where(const Status& s) const {
    if (s.ok()) return s;
    return s.WithContext("chunk " + e_.digest.ToHex() + " (" + pack_->path() + " at offset " +
                         std::to_string(e_.offset) + ")");
  }

  const std::shared_ptr<PackFile> pack_;
  const std::shared_ptr<RandomAccessFile> file_;
  const IdxEntry e_;
};

// A plain record: one block, the whole chunk, verified against its digest.
class PlainReader final : public RecordReader {
 public:
  using RecordReader::RecordReader;
  uint32_t block_count() const override { return 1; }
  uint64_t block_size() const override { return e_.raw_len; }
  Status ReadBlock(uint32_t i, std::string* out) override {
    if (i != 0) return OutOfRange(i);
    return pack_->ReadChunkFrom(*file_, e_, out);  // names the pack and offset
  }
};

// A blocked record: block i is read and verified alone.
class BlockedReader final : public RecordReader {
 public:
  using RecordReader::RecordReader;
  // Every record this program writes has kBlockSize blocks; a table that
  // says otherwise is refused at the first ReadBlock.
  uint32_t block_count() const override {
    return static_cast<uint32_t>((uint64_t{e_.raw_len} + kBlockSize - 1) / kBlockSize);
  }
  uint64_t block_size() const override { return kBlockSize; }

  Status ReadBlock(uint32_t i, std::string* out) override {
    out->clear();
    if (i >= block_count()) return OutOfRange(i);
    Status s = LoadTable();
    if (!s.ok()) return s;
    const blocks::BlockEntry& b = table_.blocks[i];
    if (b.codec == kCodecRaw) {  // stored as is: read into *out, no copy
      s = file_->Read(e_.offset + kRecordHeaderSize + b.stored_offset, b.stored_len, out);
      if (!s.ok()) return Where(s);
      return Where(blocks::VerifyBlock(table_, i, out));
    }
    std::string stored;
    s = file_->Read(e_.offset + kRecordHeaderSize + b.stored_offset, b.stored_len, &stored);
    if (!s.ok()) return Where(s);
    if (stored.size() != b.stored_len) return Where(Status::Corruption("block " + std::to_string(i) + " truncated"));
    return Where(blocks::DecodeBlock(table_, i, stored, out));
  }

 private:
  // Reads and checks the record header and the table once; the outcome is kept.
  Status LoadTable() {
    std::lock_guard<std::mutex> l(mu_);
    if (!loaded_) {
      table_status_ = Where(ReadTable());
      // An I/O error may pass: try again next time. Damage stays.
      loaded_ = table_status_.ok() || table_status_.IsCorruption();
    }
    return table_status_;
  }

  // One pread of the header and the table as kBlockSize blocks make it (a
  // second one only for a table of another size, which is then refused).
  Status ReadTable() {
    const uint64_t guess = kRecordHeaderSize + std::min<uint64_t>(e_.stored_len, blocks::TableSize(block_count()));
    std::string buf;
    Status s = file_->Read(e_.offset, guess, &buf);
    if (!s.ok()) return s;
    if (buf.size() != guess) return Status::Corruption("record truncated");
    records::RecordHeader h;
    if (!(s = records::DecodeRecordHeader(buf, &h)).ok()) return s;
    if (h.digest != e_.digest || h.raw_len != e_.raw_len || h.stored_len != e_.stored_len || h.codec != e_.codec) {
      return Status::Corruption("record does not match its index entry");
    }
    uint64_t table_size = 0;
    std::string_view payload = std::string_view(buf).substr(kRecordHeaderSize);
    if (!(s = blocks::TableSizeOf(payload, e_.stored_len, &table_size)).ok()) return s;
    if (table_size > payload.size()) {
      if (!(s = file_->Read(e_.offset, kRecordHeaderSize + table_size, &buf)).ok()) return s;
      payload = std::string_view(buf).substr(std::min<size_t>(buf.size(), kRecordHeaderSize));
    }
    if (!(s = blocks::DecodeTable(payload, e_.raw_len, e_.stored_len, &table_)).ok()) return s;
    if (table_.block_size != kBlockSize) {
      return Status::NotSupported("written with blocks of " + std::to_string(table_.block_size) +
                                  " bytes; this chunkfs reads blocks of " + std::to_string(kBlockSize));
    }
    return Status::OK();
  }

  std::mutex mu_;
  bool loaded_ = false;  // table_status_ and table_ are final
  Status table_status_;
  blocks::BlockTable table_;
};

}  // namespace

std::unique_ptr<ChunkReader> NewChunkReader(std::shared_ptr<PackFile> pack, std::shared_ptr<RandomAccessFile> file,
                                            const IdxEntry& e) {
  if (e.codec == kCodecBlocks) return std::make_unique<BlockedReader>(std::move(pack), std::move(file), e);
  return std::make_unique<PlainReader>(std::move(pack), std::move(file), e);
}

}  // namespace chunkfs
