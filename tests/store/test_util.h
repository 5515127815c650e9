// Helpers shared by the store tests: temporary directories, generated chunk
// content (also content that lands in a chosen shard), file manipulation.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"

namespace chunkfs::testutil {

namespace fs = std::filesystem;

// A fresh directory under $TMPDIR (or /tmp), removed with its content.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Incompressible bytes, a pure function of (size, seed).
std::string RandomBytes(size_t size, uint64_t seed);
// Compressible text of `size` bytes.
std::string TextBytes(size_t size, uint64_t seed);
// Random bytes of `size` (>= 8) whose SHA-256 starts with byte `shard`.
std::string ContentInShard(uint8_t shard, size_t size, uint64_t seed);

std::string ReadFileOrDie(const std::string& path);
void WriteFileOrDie(const std::string& path, const std::string& data);
void FlipByte(const std::string& path, uint64_t offset);
uint64_t FileSize(const std::string& path);
// The SHA-256 hex of a file's content.
std::string FileHash(const std::string& path);

// Files in `dir` whose names end with `suffix`, sorted by name (full paths).
std::vector<std::string> ListFiles(const std::string& dir, const std::string& suffix);
// All .dat or .idx files of a repository, sorted.
std::vector<std::string> AllPackFiles(const std::string& repo, const std::string& suffix);
// REPO/shards/XX
std::string ShardDir(const std::string& repo, uint8_t shard);
// Digests named by the valid .idx files of `repo`, parsed as docs/FORMAT.md
// describes (not through the store's code): what a read-only reader finds
// without scanning pack tails, i.e. what a writer has published.
std::set<Digest> PublishedDigests(const std::string& repo);
// name -> content hash of every file under `dir` (recursive).
std::vector<std::pair<std::string, std::string>> TreeHashes(const std::string& dir);
// Offset of the only occurrence of `needle` in `haystack`; fails the test if
// it occurs zero or several times.
uint64_t FindUnique(const std::string& haystack, const std::string& needle);

RepoSettings SmallSettings(uint64_t pack_size_limit = 4096, uint32_t max_chunk = 1 << 20);
void CreateRepoOrDie(const std::string& path, const RepoSettings& settings, Env* env = nullptr);
std::unique_ptr<Repository> OpenOrDie(const std::string& path, bool read_only = false,
                                      Env* env = nullptr);
Digest PutOrDie(Repository* repo, const std::string& data);

// Get() must return exactly `data`.
::testing::AssertionResult HasChunk(Repository* repo, const std::string& data);
// Get() must fail, or return exactly `data`: never other bytes.
::testing::AssertionResult NeverWrongBytes(Repository* repo, const std::string& data);

}  // namespace chunkfs::testutil
