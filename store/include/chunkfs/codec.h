// Record codecs a repository can compress new chunks with (docs/FORMAT.md
// "Codecs"): the names the CLI and mount options accept, and which of them
// this build has. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

namespace chunkfs {

// Codec ids, the same as the codec byte of a record (0 is raw: a record
// stored uncompressed, never a setting).
inline constexpr uint8_t kCodecZlib = 1;
inline constexpr uint8_t kCodecZstd = 2;

// True if this build can write and read records of `codec` (raw and zlib
// always; zstd if built with libzstd, see CHUNKFS_ZSTD).
bool CodecBuiltIn(uint8_t codec);
// The codec of new repositories: zstd if built in (faster at a similar
// ratio, docs/BENCHMARKS.md "Codecs"), zlib otherwise.
uint8_t DefaultCodec();
// "raw", "zlib", "zstd" or "unknown".
const char* CodecName(uint8_t codec);
// kCodecZlib / kCodecZstd for "zlib" / "zstd"; 0 for anything else.
uint8_t CodecFromName(std::string_view name);
// Highest compression level of a codec (zlib 9, zstd 19); 0 stores raw.
int CodecMaxLevel(uint8_t codec);

}  // namespace chunkfs
