#include "codec.h"

#include <zlib.h>
#ifdef CHUNKFS_HAVE_ZSTD
#include <zstd.h>
#endif

#include <memory>

#include "block_table.h"
#include "format.h"

namespace chunkfs {

bool CodecBuiltIn(uint8_t codec) {
#ifdef CHUNKFS_HAVE_ZSTD
  if (codec == format::kCodecZstd) return true;
#endif
  return codec == format::kCodecRaw || codec == format::kCodecZlib;
}

uint8_t DefaultCodec() { return CodecBuiltIn(kCodecZstd) ? kCodecZstd : kCodecZlib; }

const char* CodecName(uint8_t codec) {
  switch (codec) {
    case format::kCodecRaw: return "raw";
    case format::kCodecZlib: return "zlib";
    case format::kCodecZstd: return "zstd";
    case format::kCodecBlocks: return "blocks";
    default: return "unknown";
  }
}

uint8_t CodecFromName(std::string_view name) {
  if (name == "zlib") return kCodecZlib;
  if (name == "zstd") return kCodecZstd;
  return 0;
}

int CodecMaxLevel(uint8_t codec) { return codec == kCodecZstd ? 19 : 9; }

namespace codec {
namespace {

constexpr size_t kSampleThreshold = 32 * 1024;  // smaller chunks: no sampling
constexpr size_t kSamplePiece = 4 * 1024;
constexpr int kSamplePieces = 3;
// Keep compression only if it saves at least 1/16 of the bytes.
bool WorthIt(size_t raw, size_t compressed) { return compressed + raw / 16 < raw; }

bool Deflate(std::string_view in, int level, std::string* out) {
  uLongf cap = compressBound(static_cast<uLong>(in.size()));
  out->resize(cap);
  int rc = compress2(reinterpret_cast<Bytef*>(out->data()), &cap,
                     reinterpret_cast<const Bytef*>(in.data()), static_cast<uLong>(in.size()), level);
  if (rc != Z_OK) return false;
  out->resize(cap);
  return true;
}

Status Inflate(std::string_view stored, uint32_t raw_len, std::string* raw) {
  raw->resize(raw_len);
  uLongf len = raw_len;
  int rc = uncompress(reinterpret_cast<Bytef*>(raw->data()), &len,
                      reinterpret_cast<const Bytef*>(stored.data()), static_cast<uLong>(stored.size()));
  if (rc != Z_OK || len != raw_len) {
    raw->clear();
    return Status::Corruption("zlib payload does not inflate to its recorded length");
  }
  return Status::OK();
}

#ifdef CHUNKFS_HAVE_ZSTD
// One compression and one decompression context per thread: creating a
// context costs more than compressing a small chunk.
struct ZstdContexts {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c{ZSTD_createCCtx(), ZSTD_freeCCtx};
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d{ZSTD_createDCtx(), ZSTD_freeDCtx};
};
ZstdContexts& Zstd() {
  thread_local ZstdContexts ctx;
  return ctx;
}

bool ZstdCompress(std::string_view in, int level, std::string* out) {
  ZSTD_CCtx* c = Zstd().c.get();
  if (c == nullptr) return false;
  out->resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(c, out->data(), out->size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) return false;
  out->resize(n);
  return true;
}

// The payload must be exactly one frame that decodes to raw_len bytes.
Status ZstdDecompress(std::string_view stored, uint32_t raw_len, std::string* raw) {
  ZSTD_DCtx* d = Zstd().d.get();
  if (d == nullptr) return Status::IOError("zstd: out of memory for a decompression context", ENOMEM);
  raw->resize(raw_len);
  size_t frame = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
  size_t n = ZSTD_isError(frame) || frame != stored.size()
                 ? frame
                 : ZSTD_decompressDCtx(d, raw->data(), raw->size(), stored.data(), stored.size());
  if (ZSTD_isError(frame) || frame != stored.size() || ZSTD_isError(n) || n != raw_len) {
    raw->clear();
    return Status::Corruption("zstd payload is not one frame of its recorded length");
  }
  return Status::OK();
}
#else
bool ZstdCompress(std::string_view, int, std::string*) { return false; }
Status ZstdDecompress(std::string_view, uint32_t, std::string* raw) {
  raw->clear();
  return Status::NotSupported("record is compressed with zstd, and this chunkfs was built without zstd "
                              "(libzstd; CHUNKFS_ZSTD=OFF): read it with a build that has zstd");
}
#endif

bool Compress(uint8_t codec, std::string_view in, int level, std::string* out) {
  return codec == format::kCodecZstd ? ZstdCompress(in, level, out) : Deflate(in, level, out);
}

// Compresses three pieces (start, middle, end); true if they look compressible.
bool SampleLooksCompressible(uint8_t codec, std::string_view raw, int level) {
  std::string sample;
  sample.reserve(kSamplePiece * kSamplePieces);
  size_t step = (raw.size() - kSamplePiece) / (kSamplePieces - 1);
  for (int i = 0; i < kSamplePieces; ++i) sample.append(raw.substr(i * step, kSamplePiece));
  std::string out;
  return Compress(codec, sample, level, &out) && WorthIt(sample.size(), out.size());
}

}  // namespace

uint8_t Encode(std::string_view raw, uint8_t codec, int level, std::string* compressed) {
  if (level > 0 && !raw.empty() && codec != format::kCodecRaw) {
    bool try_full = raw.size() < kSampleThreshold || SampleLooksCompressible(codec, raw, level);
    if (try_full && Compress(codec, raw, level, compressed) && WorthIt(raw.size(), compressed->size())) {
      compressed->shrink_to_fit();  // the bound was reserved
      return codec;
    }
  }
  std::string().swap(*compressed);  // give the buffer back
  return format::kCodecRaw;
}

Status Decode(uint8_t codec, std::string_view stored, uint32_t raw_len, std::string* raw) {
  switch (codec) {
    case format::kCodecRaw:
      if (stored.size() != raw_len) return Status::Corruption("raw record length mismatch");
      raw->assign(stored.data(), stored.size());
      return Status::OK();
    case format::kCodecZlib: return Inflate(stored, raw_len, raw);
    case format::kCodecZstd: return ZstdDecompress(stored, raw_len, raw);
    case format::kCodecBlocks: return blocks::DecodePayload(stored, raw_len, raw);
    default: return Status::Corruption("unknown codec " + std::to_string(codec));
  }
}

}  // namespace codec
}  // namespace chunkfs
