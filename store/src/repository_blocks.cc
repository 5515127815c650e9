// Blocked records (chunkfs/blocks.h, docs/FORMAT.md "Blocked records"):
// RepositoryImpl::PutBlocks, OpenChunk and the blocked half of Put; the
// shared append path is RepositoryImpl::Store (repository_impl.cc).
#include "block_chunk_reader.h"
#include "block_table.h"
#include "chunkfs/blocks.h"
#include "codec.h"
#include "filenames.h"
#include "format.h"
#include "records.h"
#include "repository_impl.h"

namespace chunkfs {

namespace {

// Rewrites the header as version 4, settings as stored (not as overridden
// by an open). REQUIRES: the owner lock.
Status RaiseToBlocksVersion(Env* env, const std::string& repo) {
  std::string bytes, damage;
  RepoSettings stored;
  Status s = env->ReadFileToString(filenames::HeaderPath(repo), &bytes);
  if (s.ok()) s = records::DecodeRepoHeader(bytes, &stored, &damage);
  if (!s.ok() || stored.format_version >= format::kRepoVersionBlocks) return s;
  stored.format_version = format::kRepoVersionBlocks;
  return env->WriteFileAtomic(repo, filenames::kHeaderName, records::EncodeRepoHeader(stored));
}

// Passes a damaged block on to the repository (DamageSink), so that the
// next Put of the chunk's content stores it again.
class ReportingReader final : public ChunkReader {
 public:
  ReportingReader(std::unique_ptr<ChunkReader> inner, const Digest& d, std::shared_ptr<DamageSink> sink)
      : inner_(std::move(inner)), digest_(d), sink_(std::move(sink)) {}
  uint64_t size() const override { return inner_->size(); }
  uint32_t block_count() const override { return inner_->block_count(); }
  uint64_t block_size() const override { return inner_->block_size(); }
  Status ReadBlock(uint32_t i, std::string* out) override {
    Status s = inner_->ReadBlock(i, out);
    if (s.IsCorruption()) sink_->Report(digest_);
    return s;
  }

 private:
  const std::unique_ptr<ChunkReader> inner_;
  const Digest digest_;
  const std::shared_ptr<DamageSink> sink_;
};

}  // namespace

bool RepositoryImpl::BlocksAllowed() {
  if (ctx_->format_version.load() >= format::kRepoVersionBlocks) return true;
  std::lock_guard<std::mutex> l(header_mu_);
  if (ctx_->format_version.load() >= format::kRepoVersionBlocks) return true;
  Status s = RaiseToBlocksVersion(ctx_->env, ctx_->repo);
  if (!s.ok()) {
    ctx_->Log("cannot mark " + ctx_->repo + " as format version 4 (" + s.ToString() +
              "): large chunks are stored as plain records");
    return false;
  }
  ctx_->format_version = format::kRepoVersionBlocks;
  return true;
}

void RepositoryImpl::EncodePlain(std::string_view data, uint8_t* codec, std::string* owned, std::string_view* payload) {
  *codec = codec::Encode(data, ctx_->settings.codec, ctx_->settings.compression_level, owned);
  *payload = *codec == format::kCodecRaw ? data : std::string_view(*owned);
}

Status RepositoryImpl::EncodeLarge(std::string_view data, uint8_t* codec, std::string* owned, std::string_view* payload) {
  std::vector<EncodedBlock> blocks((data.size() + kBlockSize - 1) / kBlockSize);
  for (size_t i = 0; i < blocks.size(); ++i) {
    Status s = EncodeBlock(data.substr(i * kBlockSize, kBlockSize), ctx_->settings.codec,
                           ctx_->settings.compression_level, &blocks[i]);
    if (!s.ok()) return s;
  }
  *owned = blocks::EncodePayload(blocks);
  *codec = format::kCodecBlocks;
  *payload = *owned;
  return Status::OK();
}

Status RepositoryImpl::PutBlocks(const Digest& digest, std::vector<EncodedBlock> blocks, PutResult* result) {
  uint64_t raw_size = 0;
  Status s = blocks::CheckBlocks(blocks, &raw_size);
  if (s.ok()) s = Admit(raw_size);
  const Digest whole = blocks.size() == 1 ? blocks[0].hash : Sha256("");
  if (s.ok() && blocks.size() <= 1 && whole != digest) {
    s = Status::Corruption("content hashes to " + whole.ToHex() + ", not to its name " + digest.ToHex());
  }
  if (!s.ok()) return Fail(s);
  // A zstd record needs version 3 or more: a lone zstd block in an older
  // zlib repository raises it as a blocked record would.
  bool zstd = false;
  for (const auto& b : blocks) zstd |= b.codec == kCodecZstd;
  const bool needs_version = blocks.size() > 1 || (zstd && ctx_->format_version.load() < format::kRepoVersionZstd);
  auto encode = [&](uint8_t* codec, std::string* owned, records::Payload* payload) {
    const bool plain = needs_version && !BlocksAllowed();
    if (!plain && blocks.size() > 1) {
      // Table, then each block from its own buffer: one writev, and the
      // blocks' CRCs (computed where they were encoded) are combined.
      *codec = format::kCodecBlocks;
      *owned = blocks::EncodeTable(blocks);
      payload->pieces = {*owned};
      payload->crcs = {format::Crc32(*owned)};
      for (const auto& b : blocks) {
        payload->pieces.push_back(b.bytes);
        payload->crcs.push_back(b.crc ? *b.crc : format::Crc32(b.bytes));
      }
      return Status::OK();
    }
    if (plain) {  // the whole chunk as one plain record
      std::string raw;
      Status d = blocks::DecodePayload(blocks::EncodePayload(blocks), static_cast<uint32_t>(raw_size), &raw);
      if (!d.ok()) return d;
      std::string compressed;
      *codec = codec::Encode(raw, ctx_->settings.codec, ctx_->settings.compression_level, &compressed);
      *owned = *codec == format::kCodecRaw ? std::move(raw) : std::move(compressed);
    } else {  // one block is the whole chunk: a plain record (none: the empty chunk)
      *codec = blocks.empty() ? format::kCodecRaw : blocks[0].codec;
      if (!blocks.empty() && blocks[0].crc) payload->crcs = {*blocks[0].crc};
      if (!blocks.empty()) *owned = std::move(blocks[0].bytes);
    }
    payload->pieces = {*owned};
    return Status::OK();
  };
  return Store(digest, raw_size, encode, result);
}

Status RepositoryImpl::OpenChunk(const Digest& digest, std::unique_ptr<ChunkReader>* out) {
  ChunkLocation loc;
  if (!shards_[digest.shard()]->Find(digest, &loc)) return Status::NotFound("chunk " + digest.ToHex());
  std::shared_ptr<RandomAccessFile> file;
  Status s = loc.pack->OpenFile(&file);
  if (RefindAfterCompaction(&s, digest, &loc)) s = loc.pack->OpenFile(&file);
  if (s.ok() && loc.from_merged) {  // a merged index is a cache: its entry is checked before use
    s = loc.pack->CheckRecordHeader(*file, loc.entry);
    if (RefindPastMerged(&s, digest, &loc)) s = loc.pack->OpenFile(&file);
  }
  if (s.IsCorruption()) NoteCorruptRead(digest);
  if (!s.ok()) return Fail(s);
  *out = std::make_unique<ReportingReader>(NewChunkReader(std::move(loc.pack), std::move(file), loc.entry), digest,
                                           damage_sink_);
  return Status::OK();
}

}  // namespace chunkfs
