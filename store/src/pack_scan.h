// A tolerant scan of a whole .dat in memory for check and repair: unlike the
// recovery scan it does not stop at the first bad record but resynchronises
// on the next valid one, so that every readable record is found.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "records.h"

namespace chunkfs {

struct ScannedRecord {
  uint64_t offset = 0;
  records::RecordHeader header;
};

struct DamagedRange {
  uint64_t begin = 0, end = 0;  // bytes [begin, end) hold no valid record
  std::string reason;           // why the record at `begin` failed
};

struct TolerantScan {
  bool header_ok = false;
  std::string header_error;
  bool sealed = false;
  records::Trailer trailer;
  uint64_t data_end = 0;  // trailer start if sealed, else file size
  std::vector<ScannedRecord> records;
  std::vector<DamagedRange> damaged;
};

// REQUIRES: `dat` is the whole file.
TolerantScan ScanTolerant(std::string_view dat);

}  // namespace chunkfs
