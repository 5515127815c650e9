// A tolerant reading of a shard's deletion log for check and repair
// (defined in check.cc). deletion_log::Decode stops at the first bad entry,
// as the store must (what follows may be garbage); check reports every bad
// entry and repair keeps every intact one, including those after a damaged
// entry: each entry carries its own CRC, and dropping an intact deletion
// would bring a deleted chunk back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunkfs/status.h"
#include "deletion_log.h"

namespace chunkfs {

struct DeletionLogScan {
  std::string header_damage;            // "" if the header is intact
  std::vector<DeletionEntry> entries;   // every intact entry, in file order
  std::vector<uint64_t> entry_offsets;  // the file offset of each
  struct Bad {
    uint64_t begin = 0, end = 0;  // a run of whole entries that fail their CRC or kind
    std::string reason;
  };
  std::vector<Bad> damaged;
  uint64_t torn_begin = 0, torn_bytes = 0;  // a partial entry at the end (an interrupted append)
};

// NotSupported if the log is of a newer version; anything else goes in *out.
Status ScanDeletionLog(std::string_view bytes, uint8_t shard, DeletionLogScan* out);

}  // namespace chunkfs
