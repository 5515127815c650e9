// The libfuse low-level operations table of chunkfs (ops_table.cc). The
// session's userdata must be the ChunkFs object.
#pragma once

#include <fuse_lowlevel.h>

namespace chunkfs::fs {

const struct fuse_lowlevel_ops& ChunkFsOps();

}  // namespace chunkfs::fs
