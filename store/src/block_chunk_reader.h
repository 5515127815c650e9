// ChunkReader over one stored record (chunkfs/blocks.h): a blocked record
// (codec 3) is read block by block, a plain record as one block.
#pragma once

#include <memory>

#include "chunkfs/blocks.h"
#include "chunkfs/env.h"
#include "idx.h"
#include "pack_file.h"

namespace chunkfs {

// A reader of the record `e` of `pack`, through `file` (the pack's, open:
// the reader keeps reading it after the pack is compacted away or the
// chunk pruned). Reads nothing until ReadBlock. A blocked record's table is
// read (one pread of the record header and table) at the first ReadBlock,
// then each ReadBlock preads only its block. Thread safety: ReadBlock may
// be called from several threads at once (the table is loaded once, under
// a mutex); the rest is immutable.
std::unique_ptr<ChunkReader> NewChunkReader(std::shared_ptr<PackFile> pack, std::shared_ptr<RandomAccessFile> file,
                                            const IdxEntry& e);

}  // namespace chunkfs
