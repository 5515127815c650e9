// Helpers for the FaultEnv tests: a repository at /repo in a FaultEnv.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "chunkfs/repository.h"
#include "fault_env.h"
#include "test_util.h"

namespace chunkfs::testutil {

inline constexpr char kFaultRepo[] = "/repo";

class FaultRepoTest : public ::testing::Test {
 public:
  // Content for seed: spread over 3 shards, every 4th compressible.
  static std::string Chunk(uint64_t seed) {
    uint8_t shard = static_cast<uint8_t>(seed % 3);
    return seed % 4 == 0 ? TextBytes(900 + seed % 700, seed) + ContentInShard(shard, 8, seed)
                         : ContentInShard(shard, 600 + seed % 900, seed);
  }

 protected:
  void CreateRepo(uint64_t pack_limit) {
    CreateRepoOrDie(kFaultRepo, SmallSettings(pack_limit), &env_);
  }
  std::unique_ptr<Repository> Open(bool read_only = false) {
    return OpenOrDie(kFaultRepo, read_only, &env_);
  }
  // Puts `n` chunks (spread over 3 shards, some compressible), all must succeed.
  std::vector<std::string> PutMany(Repository* repo, int n, uint64_t seed) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      out.push_back(Chunk(seed + i));
      PutOrDie(repo, out.back());
    }
    return out;
  }
  FaultEnv env_;
};

}  // namespace chunkfs::testutil
