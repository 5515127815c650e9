// What the tests against a real cluster share: where the cluster is, a fresh
// repository per test, and MountTest with its repository in the pool.
//
// The cluster: CHUNKFS_CEPH_CONF names its ceph.conf (set by the ctest
// fixture that runs tools/ceph-test-cluster, tests/rados/CMakeLists.txt) and
// CHUNKFS_CEPH_POOL its pool (default chunkfs-test). Without it every test
// FAILS: a missing cluster is never a pass.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "chunkfs/repo_env.h"
#include "chunkfs/repository.h"
#include "mount_fixture.h"

namespace chunkfs::testing_env {

inline std::string CephConf() {
  const char* c = std::getenv("CHUNKFS_CEPH_CONF");
  return c != nullptr ? c : "";
}

inline std::string Pool() {
  const char* p = std::getenv("CHUNKFS_CEPH_POOL");
  return p != nullptr && *p != '\0' ? p : "chunkfs-test";
}

// A fresh namespace of the test pool for each call: "rados:POOL/t-PID-N".
inline std::string FreshRepo() {
  static std::atomic<int> n{0};
  return "rados:" + Pool() + "/t-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

inline RepoEnvOptions Options() {
  RepoEnvOptions o;
  o.ceph_conf = CephConf();
  return o;
}

// Another connection to the cluster, as another process would have.
inline std::shared_ptr<Env> Connect(const std::string& repo) {
  OpenedEnv opened;
  Status s = EnvForRepository(repo, Options(), &opened);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return s.ok() ? opened.owner : nullptr;
}

// MountTest with the repository in a RADOS pool instead of its folder.
class RadosMountTest : public fs::testing::MountTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"ceph_conf=" + CephConf()}; }
  void BeforeMount() override {
    ASSERT_FALSE(CephConf().empty()) << "CHUNKFS_CEPH_CONF is not set (see the top of this file)";
    repo_ = FreshRepo();
    std::shared_ptr<Env> env = Connect(repo_);
    ASSERT_NE(env, nullptr);
    Status s = Repository::Create(repo_, RepoSettings{}, env.get());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Waits (with a deadline) until `dir` is a mountpoint.
  static bool WaitMounted(const std::string& dir) {
    for (int i = 0; i < 300; ++i) {
      std::ifstream in("/proc/self/mountinfo");
      std::string line;
      while (std::getline(in, line)) {
        if (line.find(" " + dir + " ") != std::string::npos) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

}  // namespace chunkfs::testing_env
