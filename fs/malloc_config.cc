#include "malloc_config.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace chunkfs::fs {

void ConfigureMallocForMount() {
#if defined(__GLIBC__)
  // mallopt returns 0 on a bad value only; this one is valid, and a failure
  // would merely leave glibc's default in place.
  (void)::mallopt(M_MMAP_THRESHOLD, static_cast<int>(kMallocMmapThreshold));
#endif
}

}  // namespace chunkfs::fs
