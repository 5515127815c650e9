// An OSD stopped and restarted under load (issue 11): a writer keeps storing
// chunks through a mount on RADOS (write, fsync, close) while the cluster's
// only OSD is stopped for a few seconds and started again. The mount must
// wait (or fail a write cleanly), go on storing once the OSD is back, and
// every chunk whose fsync and close returned 0 must read back byte for byte:
// through the mount, from the pool (check --read-data) and after a remount.
//
// It stops the OSD every other RADOS test uses, so ctest runs it alone
// (RUN_SERIAL, tests/rados/CMakeLists.txt). The cluster is tools/ceph-test-
// cluster's, in the folder of CHUNKFS_CEPH_CONF.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "rados_test_util.h"

namespace chunkfs::testing_env {
namespace {

using fs::testing::Q;
using fs::testing::Sh;

std::string ClusterCommand(const std::string& what) {
  const std::string conf = CephConf();
  const std::string dir = conf.substr(0, conf.rfind('/'));
  return Q(std::string(CHUNKFS_SOURCE_DIR) + "/tools/ceph-test-cluster") + " " + what + " " + Q(dir);
}

std::string ChunkData(int i) { return fs::testing::RandomBytes(100000 + i, 5000 + i); }

// Writes `data` to `path` and makes it durable; 0 or the errno of the first
// call that failed (every call is made once, as a careful writer would).
int WriteDurably(const std::string& path, const std::string& data) {
  // O_CLOEXEC: the OSD started meanwhile must not inherit it (the mount would stay busy).
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = 0;
  size_t done = 0;
  while (err == 0 && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) err = errno;
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

// A writer process storing chunk after chunk until told to stop; the test
// records which were acknowledged (fsync and close returned 0) and which
// failed, with errno. A process, not a thread: while the OSD is down its
// open file on the mount waits, and a fork of the test process (to run
// ceph-test-cluster) would close that descriptor in the child, which waits
// on the mount too (a FUSE flush).
class Writer {
 public:
  Writer(const std::string& incoming, const std::string& stop_file) : stop_file_(stop_file) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    child_ = ::fork();
    if (child_ == 0) {
      ::close(fds[0]);
      for (int i = 0; ::access(stop_file.c_str(), F_OK) != 0; ++i) {
        int err = WriteDurably(incoming + "/w" + std::to_string(i), ChunkData(i));
        if (::dprintf(fds[1], "%d %d\n", i, err) < 0) ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    if (child_ < 0) {
      ::close(fds[0]);
      return;
    }
    reader_ = std::thread([this, fd = fds[0]] { Collect(fd); });
  }
  ~Writer() { Stop(); }
  bool started() const { return child_ > 0; }
  // Tells the writer to stop after its current chunk and waits for it.
  void Stop() {
    if (child_ <= 0) return;
    fs::testing::WriteFile(stop_file_, "stop");
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = -1;
    if (reader_.joinable()) reader_.join();
  }
  int Acknowledged() const { return acked_count_.load(); }
  std::vector<int> acked() {
    std::lock_guard<std::mutex> l(mu_);
    return acked_;
  }
  std::vector<std::pair<int, int>> failed() {
    std::lock_guard<std::mutex> l(mu_);
    return failed_;
  }

 private:
  void Collect(int fd) {
    FILE* in = ::fdopen(fd, "r");
    int i = 0, err = 0;
    while (in != nullptr && std::fscanf(in, "%d %d", &i, &err) == 2) {
      std::lock_guard<std::mutex> l(mu_);
      if (err == 0) {
        acked_.push_back(i);
        ++acked_count_;
      } else {
        failed_.emplace_back(i, err);
      }
    }
    if (in != nullptr) std::fclose(in);
  }

  const std::string stop_file_;
  pid_t child_ = -1;
  std::atomic<int> acked_count_{0};
  std::mutex mu_;
  std::vector<int> acked_;
  std::vector<std::pair<int, int>> failed_;  // (chunk, errno)
  std::thread reader_;
};

// Stops the cluster's OSD; starts it again at Start() or, whatever failed, at
// destruction (declared after the Writer, it runs first: the writer's
// blocked calls can then finish, and later tests find the cluster whole).
class OsdOutage {
 public:
  ~OsdOutage() {
    if (stopped_) (void)Start();
  }
  bool Stop() {
    stopped_ = Sh(ClusterCommand("osd-stop")) == 0;
    return stopped_;
  }
  bool Start() {
    stopped_ = false;
    return Sh(ClusterCommand("osd-start")) == 0;
  }

 private:
  bool stopped_ = false;
};

// Waits (with a deadline) until `w` has acknowledged at least `n` chunks.
bool WaitAcknowledged(const Writer& w, int n, int seconds) {
  for (int i = 0; i < seconds * 10 && w.Acknowledged() < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return w.Acknowledged() >= n;
}

void ExpectAcknowledgedReadBack(fs::testing::MountTest* t, const std::vector<int>& acked, const char* when) {
  for (int i : acked) {
    const std::string want = ChunkData(i);
    std::string got;
    int err = 0;
    ASSERT_TRUE(fs::testing::ReadFileChecked(t->ChunkPath(fs::testing::Sha256Hex(want)), &got, &err))
        << when << ": acknowledged chunk " << i << " cannot be read, errno " << err;
    ASSERT_TRUE(got == want) << when << ": acknowledged chunk " << i << " reads back wrong bytes";
  }
}

TEST_F(RadosMountTest, AnOsdStoppedAndRestartedUnderLoadLosesNothingAcknowledged) {
  Writer writer(Incoming(), work_ + "/stop-writer");
  ASSERT_TRUE(writer.started());
  ASSERT_TRUE(WaitAcknowledged(writer, 5, 60)) << "the writer stored nothing before the OSD stopped\n" << Log();
  OsdOutage outage;
  ASSERT_TRUE(outage.Stop()) << "tools/ceph-test-cluster osd-stop failed";
  const int at_stop = writer.Acknowledged();
  std::this_thread::sleep_for(std::chrono::seconds(5));  // the writer waits on the cluster meanwhile
  const int during_outage = writer.Acknowledged() - at_stop;
  ASSERT_TRUE(outage.Start()) << "the OSD did not come back: later RADOS tests will fail too";
  const int at_start = writer.Acknowledged();
  const bool resumed = WaitAcknowledged(writer, at_start + 5, 120);
  writer.Stop();
  EXPECT_TRUE(resumed) << "the mount stored nothing more after the OSD came back\n" << Log();
  // With the only OSD down nothing can be acknowledged: one write may have
  // completed between the last acknowledgement counted and the stop.
  EXPECT_LE(during_outage, 1) << "chunks acknowledged while no OSD was up";
  for (const auto& [i, err] : writer.failed()) {
    ADD_FAILURE() << "chunk " << i << " failed with " << std::strerror(err)
                  << " (the mount should wait for the OSD, as documented in docs/RADOS.md)";
  }
  const std::vector<int> acked = writer.acked();
  ExpectAcknowledgedReadBack(this, acked, "through the mount");
  Unmount();
  std::string out;
  ASSERT_EQ(fs::testing::ShOut(std::string(CHUNKCTL_BINARY) + " --ceph-conf " + Q(CephConf()) +
                                   " check --read-data " + Q(repo_),
                               &out, true),
            0)
      << out;
  Mount();
  ExpectAcknowledgedReadBack(this, acked, "after a remount");
}

}  // namespace
}  // namespace chunkfs::testing_env
