#include "format.h"

#include <zlib.h>

#include <algorithm>

namespace chunkfs::format {

uint32_t Crc32(std::string_view data, uint32_t crc) {
  uLong c = crc;
  while (!data.empty()) {  // zlib takes uInt lengths: feed in pieces
    size_t n = std::min<size_t>(data.size(), 1u << 30);
    c = crc32(c, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(n));
    data.remove_prefix(n);
  }
  return static_cast<uint32_t>(c);
}

uint32_t Crc32Combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(crc32_combine(crc_a, crc_b, static_cast<z_off_t>(len_b)));
}

}  // namespace chunkfs::format
