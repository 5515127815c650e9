// Per-chunk compression: zlib where it shrinks the chunk, raw where not.
// Thread safety: stateless; call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkfs/status.h"

namespace chunkfs::codec {

// Chooses a codec for `raw`. For a compressing codec *compressed gets the
// bytes to keep; for kCodecRaw it is left empty (the payload is `raw`
// itself: nothing is copied). Incompressible data is recognised from a
// small sample (a few KiB deflated at level 1) before the whole chunk is
// compressed: random data costs one sample, not a full deflate. level 0
// disables compression.
uint8_t Encode(std::string_view raw, int level, std::string* compressed);

// Inverts Encode. Corruption if the payload does not inflate to exactly
// raw_len bytes or the codec is unknown.
Status Decode(uint8_t codec, std::string_view stored, uint32_t raw_len, std::string* raw);

}  // namespace chunkfs::codec
