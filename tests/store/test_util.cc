#include "test_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace chunkfs::testutil {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/chunkfs-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

std::string TextBytes(size_t size, uint64_t seed) {
  static const char* kWords[] = {"chunk ", "store ", "pack ", "index ", "seal ", "digest ",
                                 "the ", "of ", "backup ", "\n"};
  std::mt19937_64 rng(seed);
  std::string out;
  while (out.size() < size) out += kWords[rng() % 10];
  out.resize(size);
  return out;
}

std::string ContentInShard(uint8_t shard, size_t size, uint64_t seed) {
  std::string data = RandomBytes(size, seed);
  for (uint64_t n = 0;; ++n) {
    for (size_t j = 0; j < 8 && j < data.size(); ++j) data[j] = static_cast<char>(n >> (8 * j));
    if (Sha256(data).bytes[0] == shard) return data;
  }
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFileOrDie(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string data = ReadFileOrDie(path);
  ASSERT_LT(offset, data.size()) << path;
  data[offset] = static_cast<char>(data[offset] ^ 0x5a);
  WriteFileOrDie(path, data);
}

uint64_t FileSize(const std::string& path) { return fs::file_size(path); }

std::string FileHash(const std::string& path) { return Sha256(ReadFileOrDie(path)).ToHex(); }

std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> AllPackFiles(const std::string& repo, const std::string& suffix) {
  std::vector<std::string> out;
  for (int s = 0; s < 256; ++s) {
    for (auto& f : ListFiles(ShardDir(repo, static_cast<uint8_t>(s)), suffix)) out.push_back(f);
  }
  return out;
}

std::set<Digest> PublishedDigests(const std::string& repo) {
  // idx := header(48: "CHUNKIDX", version, flags, u64 pack_id, u32 count at
  // 24, ...) fanout(u32[256]) entry(56: digest first){count} crc(u32).
  constexpr size_t kEntries = 48 + 1024, kEntrySize = 56;
  std::set<Digest> out;
  for (const auto& path : AllPackFiles(repo, ".idx")) {
    std::string b = ReadFileOrDie(path);
    if (b.size() < kEntries + 4 || b.compare(0, 8, "CHUNKIDX") != 0) continue;
    uint32_t count = 0;
    for (int i = 3; i >= 0; --i) count = (count << 8) | static_cast<uint8_t>(b[24 + i]);
    if (b.size() != kEntries + kEntrySize * count + 4) continue;
    for (uint32_t i = 0; i < count; ++i) {
      Digest d;
      std::memcpy(d.bytes.data(), b.data() + kEntries + kEntrySize * i, d.bytes.size());
      out.insert(d);
    }
  }
  return out;
}

std::string ShardDir(const std::string& repo, uint8_t shard) {
  static const char* kHex = "0123456789abcdef";
  std::string name = {kHex[shard >> 4], kHex[shard & 15]};
  return repo + "/shards/" + name;
}

std::vector<std::pair<std::string, std::string>> TreeHashes(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) out.emplace_back(e.path().string(), FileHash(e.path().string()));
    else out.emplace_back(e.path().string(), "dir");
  }
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t FindUnique(const std::string& haystack, const std::string& needle) {
  size_t first = haystack.find(needle);
  EXPECT_NE(first, std::string::npos) << "content not found in file";
  if (first == std::string::npos) return 0;
  EXPECT_EQ(haystack.find(needle, first + 1), std::string::npos) << "content found twice";
  return first;
}

RepoSettings SmallSettings(uint64_t pack_size_limit, uint32_t max_chunk) {
  RepoSettings s;
  s.pack_size_limit = pack_size_limit;
  s.max_chunk_size = max_chunk;
  s.compression_level = 1;
  return s;
}

void CreateRepoOrDie(const std::string& path, const RepoSettings& settings, Env* env) {
  Status s = Repository::Create(path, settings, env);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::unique_ptr<Repository> OpenOrDie(const std::string& path, bool read_only, Env* env) {
  OpenOptions options;
  options.read_only = read_only;
  options.env = env;
  std::unique_ptr<Repository> repo;
  Status s = Repository::Open(path, options, &repo);
  EXPECT_TRUE(s.ok()) << "open " << path << ": " << s.ToString();
  return repo;
}

Digest PutOrDie(Repository* repo, const std::string& data) {
  PutResult r;
  Status s = repo->Put(data, &r);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(r.digest, Sha256(data));
  return Sha256(data);
}

::testing::AssertionResult HasChunk(Repository* repo, const std::string& data) {
  Digest d = Sha256(data);
  std::string got;
  Status s = repo->Get(d, &got);
  if (!s.ok()) return ::testing::AssertionFailure() << d.ToHex() << ": " << s.ToString();
  if (got != data) {
    return ::testing::AssertionFailure() << d.ToHex() << ": WRONG BYTES (" << got.size() << " vs "
                                         << data.size() << ")";
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult NeverWrongBytes(Repository* repo, const std::string& data) {
  Digest d = Sha256(data);
  std::string got;
  Status s = repo->Get(d, &got);
  if (s.ok() && got != data) {
    return ::testing::AssertionFailure() << d.ToHex() << ": Get returned OK with WRONG BYTES";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace chunkfs::testutil
