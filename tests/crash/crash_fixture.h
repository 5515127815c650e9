// Shared by the kill -9 tests of tests/crash: the number of rounds and the
// kill / clear / remount step of a round.
#pragma once

#include <signal.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {

// CHUNKFS_CRASH_ROUNDS, or `fallback` when it is unset or not a positive number.
inline int CrashRounds(int fallback) {
  const char* v = std::getenv("CHUNKFS_CRASH_ROUNDS");
  int n = v ? std::atoi(v) : fallback;
  return n > 0 ? n : fallback;
}

// A MountTest whose mount is killed with SIGKILL and remounted, round after
// round. Not thread-safe: call from the test's main thread.
class CrashMountTest : public MountTest {
 protected:
  // SIGKILL to chunkfs; expects it to die of it (within 30 s).
  void KillMount() { EXPECT_EQ(SignalAndWait(SIGKILL, 30), -1) << "chunkfs did not die of SIGKILL"; }

  // The mount is dead (ENOTCONN): clears it and remounts, on even rounds with
  // `fusermount3 -u` first, on odd ones through -o clear_stale (which clears
  // it itself). Fatal on failure.
  void ClearAndRemount(int round) {
    if (round % 2 == 0) {
      ASSERT_EQ(Sh("fusermount3 -u " + Q(mnt_)), 0);
    }
    Mount(round % 2 == 0 ? std::vector<std::string>{} : std::vector<std::string>{"clear_stale"});
    ASSERT_TRUE(Mounted()) << Log();
  }
};

}  // namespace chunkfs::fs::testing
