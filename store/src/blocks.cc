// EncodeBlock (chunkfs/blocks.h): one block of a blocked record, hashed and
// compressed on the caller's thread (the mount's worker pool calls it).
#include "chunkfs/blocks.h"

#include "codec.h"
#include "format.h"

namespace chunkfs {

Status EncodeBlock(std::string_view raw, uint8_t codec, int level, EncodedBlock* out) {
  if (raw.empty() || raw.size() > kBlockSize) {
    return Status::InvalidArgument("a block holds 1 to " + std::to_string(kBlockSize) + " bytes, not " +
                                   std::to_string(raw.size()));
  }
  if (codec != format::kCodecRaw && codec != kCodecZlib && codec != kCodecZstd) {
    return Status::InvalidArgument("unknown codec " + std::to_string(codec));
  }
  if (!CodecBuiltIn(codec)) {
    return Status::NotSupported(std::string("codec ") + CodecName(codec) + " is not built into this chunkfs");
  }
  out->raw_len = static_cast<uint32_t>(raw.size());
  out->hash = Sha256(raw);
  out->codec = codec::Encode(raw, codec, level, &out->bytes);
  if (out->codec == format::kCodecRaw) out->bytes.assign(raw.data(), raw.size());
  out->crc = format::Crc32(out->bytes);
  return Status::OK();
}

}  // namespace chunkfs
