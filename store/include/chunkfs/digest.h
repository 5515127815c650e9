// Digest: the SHA-256 of a chunk's uncompressed content, its name in the store.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chunkfs {

struct Digest {
  static constexpr size_t kSize = 32;
  static constexpr size_t kHexSize = 64;
  std::array<uint8_t, kSize> bytes{};

  // The shard a chunk belongs to: its first digest byte (0..255).
  uint8_t shard() const { return bytes[0]; }
  // 64 lowercase hex characters.
  std::string ToHex() const;
  // Accepts exactly 64 lowercase hex characters; anything else returns false
  // (upper case is refused so that every chunk has exactly one name).
  static bool FromHex(std::string_view hex, Digest* out);

  auto operator<=>(const Digest&) const = default;
};

// SHA-256 through OpenSSL's EVP API.
Digest Sha256(std::string_view data);

// Incremental SHA-256 (for content that arrives in pieces).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(std::string_view data);
  Digest Finish();

 private:
  void* ctx_;  // EVP_MD_CTX*, owned; kept opaque so OpenSSL stays out of the header
};

struct DigestHash {
  size_t operator()(const Digest& d) const {
    size_t h;
    static_assert(sizeof(h) <= Digest::kSize);
    __builtin_memcpy(&h, d.bytes.data() + 8, sizeof(h));
    return h;
  }
};

}  // namespace chunkfs
