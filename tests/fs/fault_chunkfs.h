// A ChunkFs (the mount's operations, without FUSE) on a repository at /repo
// in a FaultEnv, for the fault tests of tests/fs.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "chunkfs.h"
#include "fault_env.h"

namespace chunkfs::fs::faultfs {

// Creates /repo (and /repo/tmp) in *env and starts a ChunkFs on it, which
// owns the repository; *repo gets a pointer to it (null to skip).
inline void StartFaultChunkFs(FaultEnv* env, FsConfig cfg, std::unique_ptr<ChunkFs>* fs, Repository** repo = nullptr) {
  ASSERT_TRUE(Repository::Create("/repo", RepoSettings{}, env).ok());
  ASSERT_TRUE(env->CreateDir("/repo/tmp").ok());
  OpenOptions oo;
  oo.env = env;
  std::unique_ptr<Repository> r;
  ASSERT_TRUE(Repository::Open("/repo", oo, &r).ok());
  if (repo != nullptr) *repo = r.get();
  cfg.tmp_dir = "/repo/tmp";
  cfg.env = env;
  *fs = std::make_unique<ChunkFs>(cfg, nullptr);
  (*fs)->Attach(std::move(r), 1 << 20);
}

}  // namespace chunkfs::fs::faultfs
