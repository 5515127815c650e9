#include "codec.h"

#include <zlib.h>

#include "format.h"

namespace chunkfs::codec {
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

// Deflates three pieces (start, middle, end); true if they look compressible.
bool SampleLooksCompressible(std::string_view raw, int level) {
  std::string sample;
  sample.reserve(kSamplePiece * kSamplePieces);
  size_t step = (raw.size() - kSamplePiece) / (kSamplePieces - 1);
  for (int i = 0; i < kSamplePieces; ++i) sample.append(raw.substr(i * step, kSamplePiece));
  std::string out;
  return Deflate(sample, level, &out) && WorthIt(sample.size(), out.size());
}

}  // namespace

uint8_t Encode(std::string_view raw, int level, std::string* compressed) {
  if (level > 0 && !raw.empty()) {
    bool try_full = raw.size() < kSampleThreshold || SampleLooksCompressible(raw, level);
    if (try_full && Deflate(raw, level, compressed) && WorthIt(raw.size(), compressed->size())) {
      compressed->shrink_to_fit();  // compressBound() was reserved
      return format::kCodecZlib;
    }
  }
  std::string().swap(*compressed);  // give the buffer back
  return format::kCodecRaw;
}

Status Decode(uint8_t codec, std::string_view stored, uint32_t raw_len, std::string* raw) {
  if (codec == format::kCodecRaw) {
    if (stored.size() != raw_len) return Status::Corruption("raw record length mismatch");
    raw->assign(stored.data(), stored.size());
    return Status::OK();
  }
  if (codec != format::kCodecZlib) return Status::Corruption("unknown codec " + std::to_string(codec));
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

}  // namespace chunkfs::codec
