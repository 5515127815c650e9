// RADOS repositories against a real cluster: the Env and store conformance
// suites on a RADOS pool, takeover after kill -9 of a writer process, a real
// mount writing and reading, and an -o ro reader mount beside it.
//
// The cluster: see rados_test_util.h. The OSD restart under load is
// rados_osd_restart_test.cc (it runs alone).
#include <fcntl.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "chunkfs/repo_env.h"
#include "chunkfs/repository.h"
#include "env_conformance.h"
#include "mount_fixture.h"
#include "rados_test_util.h"
#include "store_conformance.h"
#include "test_util.h"

namespace chunkfs::testing_env {
namespace {

EnvUnderTest RadosKind() {
  EnvUnderTest t;
  if (CephConf().empty()) {
    ADD_FAILURE() << "CHUNKFS_CEPH_CONF is not set: start a cluster (tools/ceph-test-cluster up DIR) and set it "
                     "to DIR/ceph.conf, or run these tests through ctest";
    return t;
  }
  const std::string repo = FreshRepo();
  t.owner = Connect(repo);
  if (t.owner == nullptr) return t;
  t.env = t.owner.get();
  t.dir = repo;
  t.repo = repo;
  t.reopen = [repo] { return Connect(repo); };
  Status s = t.env->CreateDir(t.dir);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return t;
}

const EnvKind kKinds[] = {{"Rados", RadosKind}};
INSTANTIATE_TEST_SUITE_P(Env, EnvConformance, ::testing::ValuesIn(kKinds), KindName);
INSTANTIATE_TEST_SUITE_P(Store, StoreConformance, ::testing::ValuesIn(kKinds), KindName);

// ---------------------------------------------------------------- kill -9 of a writer

std::vector<std::string> WriterChunks() {
  std::vector<std::string> out;
  for (int i = 0; i < 40; ++i) out.push_back(testutil::RandomBytes(3000 + 17 * i, 900 + i));
  return out;
}

// What a fenced writer tries to store after it wakes up.
std::vector<std::string> LateChunks() {
  std::vector<std::string> out;
  for (int i = 0; i < 10; ++i) out.push_back(testutil::RandomBytes(5000 + i, 7000 + i));
  return out;
}

// Stores `chunks` and syncs.
Status PutAndSync(Repository* r, const std::vector<std::string>& chunks) {
  Status s;
  for (const auto& c : chunks) {
    PutResult pr;
    if (s.ok()) s = r->Put(c, &pr);
  }
  return s.ok() ? r->Sync() : s;
}

// The writer process (this binary with --hold-writer REPO [late]): opens
// REPO for writing, stores WriterChunks(), syncs and says "ready". Then it
// waits to be killed, or with "late" reads a line from stdin, tries to store
// LateChunks() and says "wrote" or "failed: <why>".
int HoldWriter(const std::string& repo, bool late) {
  OpenedEnv opened;
  Status s = EnvForRepository(repo, Options(), &opened);
  std::unique_ptr<Repository> r;
  OpenOptions o;
  o.env = opened.env;
  o.env_owner = opened.owner;
  if (s.ok()) s = Repository::Open(opened.path, o, &r);
  for (const auto& c : WriterChunks()) {
    PutResult pr;
    if (s.ok()) s = r->Put(c, &pr);
  }
  if (s.ok()) s = r->Sync();  // acknowledged by the cluster: must survive the kill
  if (!s.ok()) {
    std::fprintf(stderr, "writer: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  if (!late) {
    for (;;) pause();
  }
  char line[16];
  if (std::fgets(line, sizeof(line), stdin) == nullptr) return 1;
  s = PutAndSync(r.get(), LateChunks());
  std::printf("%s\n", s.ok() ? "wrote" : ("failed: " + s.ToString()).c_str());
  std::fflush(stdout);
  (void)r->Close();  // fails too once fenced; what matters was said above
  return 0;
}

// Starts this binary as a writer process (HoldWriter) with pipes to its stdin
// and from its stdout; returns its pid, or -1.
pid_t StartWriter(const std::string& repo, bool late, int* to_child, FILE** from_child) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return -1;
  pid_t child = fork();
  if (child == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execl("/proc/self/exe", "rados_cluster_test", "--hold-writer", repo.c_str(), late ? "late" : "",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  *to_child = in[1];
  *from_child = fdopen(out[0], "r");
  return child;
}

std::string ReadLine(FILE* f) {
  char buf[4096];
  return std::fgets(buf, sizeof(buf), f) != nullptr ? std::string(buf) : std::string();
}

// A fresh repository in the pool and a writer process on it (HoldWriter),
// killed and reaped at the end whatever happened.
class RadosTakeoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(CephConf().empty()) << "CHUNKFS_CEPH_CONF is not set (see the top of this file)";
    env_ = Connect(repo_);
    ASSERT_NE(env_, nullptr);
    ASSERT_TRUE(Repository::Create(repo_, RepoSettings{}, env_.get()).ok());
  }
  void TearDown() override {
    if (from_child_ != nullptr) fclose(from_child_);
    if (to_child_ >= 0) close(to_child_);
    if (child_ > 0) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
  }
  // Starts the writer and waits until it has stored and synced WriterChunks().
  void StartReadyWriter(bool late) {
    child_ = StartWriter(repo_, late, &to_child_, &from_child_);
    ASSERT_GT(child_, 0);
    ASSERT_EQ(ReadLine(from_child_), "ready\n") << "the writer process did not get ready";
  }

  const std::string repo_ = FreshRepo();
  std::shared_ptr<Env> env_;
  pid_t child_ = -1;
  int to_child_ = -1;
  FILE* from_child_ = nullptr;
};

TEST_F(RadosTakeoverTest, KillNineOfTheWriterThenANewOpenTakesOverAndLosesNothing) {
  StartReadyWriter(/*late=*/false);
  const std::string& repo = repo_;
  const pid_t child = child_;
  OpenOptions o;
  o.env = env_.get();
  std::unique_ptr<Repository> r;
  Status s = Repository::Open(repo, o, &r);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("pid " + std::to_string(child)), std::string::npos) << s.ToString();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  child_ = -1;  // reaped
  // At once: the holder's pid is gone on this host, so its lock is broken.
  s = Repository::Open(repo, o, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const auto& c : WriterChunks()) {
    std::string got;
    ASSERT_TRUE(r->Get(Sha256(c), &got).ok());
    ASSERT_EQ(got, c);
  }
  ASSERT_TRUE(r->Close().ok());
}

// A writer that was only paused (SIGSTOP: a stuck host) is fenced by
// takeover and can never write again after it wakes.
TEST_F(RadosTakeoverTest, APausedWriterIsFencedByTakeoverAndNeverWritesAgain) {
  StartReadyWriter(/*late=*/true);
  const std::string& repo = repo_;
  const pid_t child = child_;
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  OpenOptions o;
  o.env = env_.get();
  std::unique_ptr<Repository> r;
  ASSERT_TRUE(Repository::Open(repo, o, &r).IsBusy());  // a live holder is never broken by an open
  std::string fenced;
  Status s = TakeOverRepository(repo, Options(), &fenced);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_NE(fenced.find("pid " + std::to_string(child)), std::string::npos) << fenced;
  s = Repository::Open(repo, o, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(PutAndSync(r.get(), {"written by the new writer"}).ok());
  ASSERT_EQ(kill(child, SIGCONT), 0);
  ASSERT_EQ(write(to_child_, "go\n", 3), 3);
  const std::string said = ReadLine(from_child_);
  EXPECT_EQ(said.rfind("failed: ", 0), 0u) << "the fenced writer said: " << said;
  ASSERT_TRUE(r->Close().ok());
  s = Repository::Open(repo, o, &r);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::string got;
  for (const auto& c : WriterChunks()) ASSERT_TRUE(r->Get(Sha256(c), &got).ok());
  ASSERT_TRUE(r->Get(Sha256("written by the new writer"), &got).ok());
  for (const auto& c : LateChunks()) EXPECT_FALSE(r->Get(Sha256(c), &got).ok()) << "a fenced writer's chunk landed";
  ASSERT_TRUE(r->Close().ok());
}

// ---------------------------------------------------------------- mounts

using fs::testing::MountTest;
using fs::testing::Q;
using fs::testing::Sh;

TEST_F(RadosMountTest, WritesReadBackAndSurviveARemount) {
  fs::testing::MakeTree(work_ + "/tree", 5);
  ASSERT_EQ(Sh("cp -r " + Q(work_ + "/tree") + " " + Q(Incoming() + "/tree") + " && sync"), 0) << Log();
  ExpectTreeStored(work_ + "/tree", Incoming() + "/tree");
  Unmount();
  Mount();
  for (const auto& [rel, hex] : fs::testing::Sha256sumTree(work_ + "/tree")) {
    EXPECT_EQ(Sh("cmp -s " + Q(ChunkPath(hex)) + " " + Q(work_ + "/tree/" + rel)), 0) << rel << "\n" << Log();
  }
}

TEST_F(RadosMountTest, AReadOnlyMountBesideTheWriterSeesItsChunks) {
  const std::string mnt2 = dir_ + "/mnt-ro";
  ASSERT_EQ(Sh("mkdir " + Q(mnt2)), 0);
  const std::string data = fs::testing::RandomBytes(300000, 77);
  const std::string hex = fs::testing::Sha256Hex(data);
  fs::testing::WriteFile(work_ + "/f", data);
  ASSERT_EQ(Sh("cp " + Q(work_ + "/f") + " " + Q(Incoming() + "/f")), 0) << Log();
  FILE* reader = fs::testing::ShStart("exec " + Q(CHUNKFS_BINARY) + " " + Q(repo_) + " " + Q(mnt2) +
                                      " -f -o ro,ceph_conf=" + Q(CephConf()));
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(WaitMounted(mnt2)) << "the -o ro mount did not come up";
  // The reader finds a chunk the writer has stored by re-reading the shard
  // (on a miss, at most once a second): poll with a deadline.
  int rc = 1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    rc = Sh("cmp -s " + Q(mnt2 + "/chunks/" + hex) + " " + Q(work_ + "/f"));
    if (rc != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(rc, 0) << "the reader never served the writer's chunk";
  EXPECT_NE(Sh("touch " + Q(mnt2 + "/incoming/x") + " 2>/dev/null"), 0);  // read-only
  EXPECT_EQ(Sh("fusermount3 -u " + Q(mnt2)), 0);
  std::string out;
  EXPECT_EQ(fs::testing::ShFinish(reader, &out), 0) << out;
}


// kill -9 of the writer mount: every chunk whose fsync returned 0 is in the
// pool, and a new mount on this host takes the dead writer's lock over at
// once (its pid is gone) and serves them.
TEST_F(RadosMountTest, KillNineOfTheWriterMountLosesNothingAcknowledged) {
  std::vector<std::string> acked;
  for (int i = 0; i < 30; ++i) {
    const std::string data = fs::testing::RandomBytes(20000 + 1000 * i, 300 + i);
    const std::string path = Incoming() + "/k" + std::to_string(i);
    int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::fsync(fd), 0);
    ASSERT_EQ(::close(fd), 0);
    acked.push_back(data);
  }
  // One more, written and closed but never fsync'ed: it may or may not survive.
  fs::testing::WriteFile(Incoming() + "/unsynced", fs::testing::RandomBytes(50000, 999));
  EXPECT_EQ(SignalAndWait(SIGKILL), -1);
  ASSERT_NO_FATAL_FAILURE(Mount({"clear_stale"}));  // would fail "in use" if the lock were not taken over
  for (size_t i = 0; i < acked.size(); ++i) {
    std::string got;
    int err = 0;
    ASSERT_TRUE(fs::testing::ReadFileChecked(ChunkPath(fs::testing::Sha256Hex(acked[i])), &got, &err))
        << "acknowledged chunk " << i << " lost, errno " << err << "\n" << Log();
    EXPECT_TRUE(got == acked[i]) << "acknowledged chunk " << i << " reads back wrong bytes";
  }
  std::string got;
  int err = 0;
  if (fs::testing::ReadFileChecked(ChunkPath(fs::testing::Sha256Hex(fs::testing::RandomBytes(50000, 999))), &got,
                                   &err)) {
    EXPECT_TRUE(got == fs::testing::RandomBytes(50000, 999)) << "the unsynced chunk reads back wrong bytes";
  }
}

// df on the mount shows the pool's share of the cluster, as `ceph df` does
// (the test pool keeps one copy), not the local disk.
TEST_F(RadosMountTest, DfShowsThePoolsShareOfTheCluster) {
  std::string out;
  ASSERT_EQ(fs::testing::ShOut("ceph -c " + Q(CephConf()) + " df -f json | python3 -c 'import json,sys; "
                               "s=json.load(sys.stdin)[\"stats\"]; print(s[\"total_bytes\"], s[\"total_avail_bytes\"])'",
                               &out),
            0)
      << out;
  uint64_t total = 0, avail = 0;
  ASSERT_EQ(std::sscanf(out.c_str(), "%" SCNu64 " %" SCNu64, &total, &avail), 2) << out;
  struct statvfs st;
  ASSERT_EQ(::statvfs(mnt_.c_str(), &st), 0);
  const double mount_total = double(st.f_blocks) * st.f_frsize;
  const double mount_avail = double(st.f_bavail) * st.f_frsize;
  EXPECT_NEAR(mount_total, double(total), 0.01 * double(total));
  EXPECT_NEAR(mount_avail, double(avail), 0.05 * double(total));
}

// Prune and compaction through a real mount on RADOS (chunkctl on the
// mountpoint; the work runs inside the mount, on the pool's objects).
class RadosPruneMountTest : public RadosMountTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"ceph_conf=" + CephConf(), "compact=off"}; }
  int RunCtl(const std::string& args, std::string* out) const {
    return fs::testing::ShOut(std::string(CHUNKCTL_BINARY) + " " + args, out, true);
  }
  // Stores `n` chunks of `size` random bytes through /incoming; their digests.
  std::vector<std::string> Store(int n, size_t size, uint64_t seed) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      std::string data = fs::testing::RandomBytes(size, seed + i);
      fs::testing::WriteFile(Incoming() + "/c" + std::to_string(seed + i), data);
      out.push_back(fs::testing::Sha256Hex(data));
    }
    return out;
  }
  // The bytes of every object below the repository's shards (their catalogs
  // list them: the pool is never listed).
  uint64_t PackBytes() {
    std::shared_ptr<Env> env = Connect(repo_);
    uint64_t total = 0;
    std::vector<std::string> shards;
    EXPECT_TRUE(env->GetChildren(repo_ + "/shards", &shards).ok());
    for (const auto& sh : shards) {
      std::vector<std::string> files;
      EXPECT_TRUE(env->GetChildren(repo_ + "/shards/" + sh, &files).ok());
      for (const auto& f : files) {
        uint64_t size = 0;
        if (env->GetFileSize(repo_ + "/shards/" + sh + "/" + f, &size).ok()) total += size;
      }
    }
    return total;
  }
};

TEST_F(RadosPruneMountTest, PruneAndCompactThroughTheMountGiveTheSpaceBack) {
  constexpr size_t kSize = 64 << 10;
  std::vector<std::string> d = Store(40, kSize, 1);
  ASSERT_EQ(Sh("sync -f " + Q(Incoming())), 0);
  std::string keep_text;
  for (size_t i = 0; i < d.size(); i += 2) keep_text += d[i] + "\n";
  fs::testing::WriteFile(work_ + "/keep", keep_text);
  std::string out;
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(work_ + "/keep"), &out), 0) << out;
  EXPECT_NE(out.find("deleted: 20 chunks"), std::string::npos) << out;
  const uint64_t before = PackBytes();
  ASSERT_EQ(RunCtl("compact " + Q(mnt_), &out), 0) << out;
  EXPECT_NE(out.find("bytes reclaimed: "), std::string::npos) << out;
  const uint64_t after = PackBytes();
  EXPECT_LT(after + 20 * kSize, before + kSize) << "the pool's objects must shrink by ~the deleted bytes";
  for (size_t i = 0; i < d.size(); ++i) {
    std::string got;
    int err = 0;
    const bool read = fs::testing::ReadFileChecked(ChunkPath(d[i]), &got, &err);
    if (i % 2 == 0) {
      EXPECT_TRUE(read && got == fs::testing::RandomBytes(kSize, 1 + i)) << i << " errno " << err;
    } else {
      EXPECT_FALSE(read) << "deleted chunk " << i << " still reads";
    }
  }
  // And from the pool itself, after the mount is gone: check reads every byte.
  Unmount();
  ASSERT_EQ(RunCtl("--ceph-conf " + Q(CephConf()) + " check --read-data " + Q(repo_), &out), 0) << out;
  Mount();
  for (size_t i = 0; i < d.size(); i += 2) {
    EXPECT_EQ(fs::testing::ReadFile(ChunkPath(d[i])), fs::testing::RandomBytes(kSize, 1 + i)) << i;
  }
}

}  // namespace
}  // namespace chunkfs::testing_env

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--hold-writer") {
    return chunkfs::testing_env::HoldWriter(argv[2], std::string(argv[3]) == "late");
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
