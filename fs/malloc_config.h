// How the mount process uses malloc (docs/MOUNT.md, "Memory").
#pragma once

#include <cstddef>

namespace chunkfs::fs {

// Blocks of at least this size get their own mapping (see below).
constexpr size_t kMallocMmapThreshold = 1 << 20;

// glibc serves a block of at least M_MMAP_THRESHOLD bytes with its own mmap
// and unmaps it when it is freed. By default that threshold rises (up to
// 32 MiB) each time such a block is freed, after which chunk-sized buffers
// (uploads, chunks being stored or read) come from the heap and the
// per-thread arenas, which keep what is freed: 414 MiB stayed resident after
// 32 writers stored 64 chunks of 16 MiB (docs/BENCHMARKS.md). A fixed
// threshold (setting it also fixes the trim threshold) keeps every large
// buffer in a mapping of its own, so its memory goes back when it is freed.
// Call once at start, before any thread exists. Does nothing on other C
// libraries.
void ConfigureMallocForMount();

}  // namespace chunkfs::fs
