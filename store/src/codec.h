// Per-chunk compression: the repository's codec (zlib or zstd) where it
// shrinks the chunk, raw where not. docs/FORMAT.md "Codecs".
// Thread safety: callable from any thread (zstd contexts are per thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkfs/codec.h"
#include "chunkfs/status.h"

namespace chunkfs::codec {

// Chooses a codec for `raw`: `codec` (kCodecZlib or kCodecZstd, which must
// be built in) or kCodecRaw. For a compressing codec *compressed gets the
// bytes to keep; for kCodecRaw it is left empty (the payload is `raw`
// itself: nothing is copied). Incompressible data is recognised from a
// small sample (three 4 KiB pieces compressed at `level`) before the whole
// chunk is compressed: random data costs one sample, not a full pass.
// level 0 disables compression.
uint8_t Encode(std::string_view raw, uint8_t codec, int level, std::string* compressed);

// Inverts Encode. Corruption if the payload does not decode to exactly
// raw_len bytes or the codec byte is unknown; NotSupported (naming the
// codec) for a known codec this build lacks (zstd without libzstd). Also
// decodes a blocked payload (codec 3, block_table.h) into the whole chunk,
// verifying each block's SHA-256.
Status Decode(uint8_t codec, std::string_view stored, uint32_t raw_len, std::string* raw);

}  // namespace chunkfs::codec
