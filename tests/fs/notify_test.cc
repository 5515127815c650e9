// The systemd notify protocol without systemd (SPEC §8, docs/MOUNT.md
// "systemd"): chunkfs -f started with $NOTIFY_SOCKET naming a datagram socket
// the test made sends READY=1 once the mount answers, and STOPPING=1 when a
// SIGTERM starts the unmount, then exits 0.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class NotifyTest : public MountTest {
 protected:
  // A file-system socket, or an abstract one ("@name", as systemd may use).
  virtual bool Abstract() const { return false; }

  // Runs before SetUp's Mount(): the socket, $NOTIFY_SOCKET (chunkfs inherits
  // it), and a thread that notes whether the mount answered when READY=1 came.
  void BeforeMount() override {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0) << std::strerror(errno);
    std::string name = Abstract() ? "@chunkfs-notify-test-" + std::to_string(::getpid()) : dir_ + "/notify";
    struct sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    ASSERT_LT(name.size(), sizeof addr.sun_path);
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (Abstract()) addr.sun_path[0] = '\0';
    auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + name.size());
    ASSERT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << std::strerror(errno);
    ASSERT_EQ(::setenv("NOTIFY_SOCKET", name.c_str(), 1), 0);
    waiter_ = std::thread([this] {
      ready_message_ = Receive(30);
      struct statfs sfs;
      answered_at_ready_ = Mounted() && ::statfs(mnt_.c_str(), &sfs) == 0;
    });
  }

  void TearDown() override {
    ::unsetenv("NOTIFY_SOCKET");
    if (waiter_.joinable()) waiter_.join();
    MountTest::TearDown();
    if (fd_ >= 0) ::close(fd_);
  }

  // The next datagram on the socket, or "" after `timeout_s` seconds.
  std::string Receive(int timeout_s) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[512];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n >= 0) return std::string(buf, static_cast<size_t>(n));
    }
    return "";
  }

  void ExpectReadyThenStopping() {
    waiter_.join();
    EXPECT_EQ(ready_message_, "READY=1");
    EXPECT_TRUE(answered_at_ready_) << "READY=1 came before the mount answered";
    // The mount works; nothing else was sent meanwhile.
    WriteFile(Incoming() + "/x", "notify");
    EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex("notify"))), "notify");
    EXPECT_EQ(SignalAndWait(SIGTERM), 0) << Log();
    EXPECT_EQ(Receive(30), "STOPPING=1") << Log();
    EXPECT_FALSE(Mounted());
  }

  int fd_ = -1;
  std::thread waiter_;
  std::string ready_message_;
  bool answered_at_ready_ = false;
};

TEST_F(NotifyTest, ReadyOnceMountedStoppingOnSigterm) { ExpectReadyThenStopping(); }

class AbstractNotifyTest : public NotifyTest {
  bool Abstract() const override { return true; }
};

TEST_F(AbstractNotifyTest, ReadyOnceMountedStoppingOnSigterm) { ExpectReadyThenStopping(); }

}  // namespace
}  // namespace chunkfs::fs::testing
