// An Env under test and the repository/folder to use in it: the POSIX Env on
// a temporary folder, ObjectEnv over MemoryObjectStore, or ObjectEnv over a
// real RADOS pool (tests/rados/rados_cluster_test.cc). The conformance suites
// (env_conformance.h, store_conformance.h) run the same tests on each.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "chunkfs/env.h"

namespace chunkfs::testing_env {

struct EnvUnderTest {
  std::shared_ptr<Env> owner;  // null for Env::Default()
  Env* env = nullptr;
  std::string dir;   // an existing, empty folder
  std::string repo;  // where a repository may be created (missing or empty)
  // Opens a second Env on the same storage (another process would), or
  // nullptr where that makes no sense.
  std::function<std::shared_ptr<Env>()> reopen;
  std::function<void()> cleanup;
};

struct EnvKind {
  const char* name;
  std::function<EnvUnderTest()> make;
};
inline std::ostream& operator<<(std::ostream& os, const EnvKind& k) { return os << k.name; }
inline std::string KindName(const ::testing::TestParamInfo<EnvKind>& info) { return info.param.name; }

}  // namespace chunkfs::testing_env
