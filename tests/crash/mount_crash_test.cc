// kill -9 of the mount at random moments while a writer stores chunks with
// fsync: after the dead mount is cleared and the repository remounted, every
// chunk whose fsync() returned 0 reads back with exactly its content.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crash_fixture.h"

namespace chunkfs::fs::testing {
namespace {

// Content of chunk `i` of round `round`: random or text, 0 to 300 KiB.
std::string Content(int round, int i) {
  uint64_t seed = uint64_t(round) * 1000003u + i;
  size_t size = (seed * 2654435761u) % (300 * 1024);
  return i % 3 == 0 ? TextBytes(size, seed) : RandomBytes(size, seed);
}

// The writer (a child process): for i = 0, 1, ...: create incoming/r<round>-<i>,
// write, fsync, and after fsync returned 0 append "<i>\n" to `acked` (a file
// outside the mount, fsynced). Stops at the first error (the mount died).
[[noreturn]] void Writer(const std::string& incoming, const std::string& acked, int round) {
  int log = ::open(acked.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  for (int i = 0;; ++i) {
    std::string path = incoming + "/r" + std::to_string(round) + "-" + std::to_string(i);
    std::string data = Content(round, i);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(0);
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n <= 0) ::_exit(0);
      off += size_t(n);
    }
    if (::fsync(fd) != 0) ::_exit(0);
    std::string line = std::to_string(i) + "\n";
    if (::write(log, line.data(), line.size()) != ssize_t(line.size()) || ::fsync(log) != 0) ::_exit(1);
    ::close(fd);
  }
}

std::vector<int> ReadAcked(const std::string& acked) {
  std::vector<int> v;
  std::ifstream in(acked);
  int i;
  while (in >> i) v.push_back(i);
  return v;
}

class CrashTest : public CrashMountTest {};

TEST_F(CrashTest, KillDashNineLosesNoFsyncedChunk) {
  const int rounds = CrashRounds(20);
  std::mt19937 rng(20261125);
  size_t total_acked = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::string acked = work_ + "/acked-" + std::to_string(round);
    pid_t writer = ::fork();
    ASSERT_GE(writer, 0);
    if (writer == 0) Writer(Incoming(), acked, round);
    ::usleep(std::uniform_int_distribution<int>(20, 600)(rng) * 1000);
    KillMount();
    int status = 0;
    ::kill(writer, SIGKILL);  // in case it is not blocked on the dead mount
    ::waitpid(writer, &status, 0);
    ClearAndRemount(round);
    for (int i : ReadAcked(acked)) {
      std::string want = Content(round, i);
      std::string got;
      int err = 0;
      ASSERT_TRUE(ReadFileChecked(ChunkPath(Sha256Hex(want)), &got, &err))
          << "fsynced chunk r" << round << "-" << i << " missing after kill -9 (errno " << err << ")\n" << Log();
      ASSERT_EQ(got == want, true) << "chunk r" << round << "-" << i << " has wrong content";
      total_acked++;
    }
  }
  // The store's recovery is logged; the run must have acknowledged something.
  EXPECT_GT(total_acked, 0u);
  std::printf("crash test: %d kill -9 rounds, %zu fsynced chunks verified, 0 lost\n", rounds, total_acked);
}

}  // namespace
}  // namespace chunkfs::fs::testing
