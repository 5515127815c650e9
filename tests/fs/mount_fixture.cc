#include "mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "chunkfs/digest.h"
#include "chunkfs/repository.h"
#include "test_util.h"

#ifndef CHUNKFS_BINARY
#error "CHUNKFS_BINARY must name the chunkfs executable"
#endif

namespace chunkfs::fs::testing {

namespace {
void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
}  // namespace

std::string Q(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

int Sh(const std::string& cmd) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execl("/bin/bash", "bash", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

FILE* ShStart(const std::string& cmd, bool merge_stderr) {
  std::string full = "bash -c " + Q(cmd) + (merge_stderr ? " 2>&1" : "");
  return ::popen(full.c_str(), "r");
}

int ShOut(const std::string& cmd, std::string* out, bool merge_stderr) {
  return ShFinish(ShStart(cmd, merge_stderr), out);
}

int ShFinish(FILE* f, std::string* out) {
  if (!f) return -1;
  out->clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  int status = ::pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool ReadFileChecked(const std::string& path, std::string* out, int* err) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = errno;
    return false;
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  *err = 0;
  return ::close(fd) == 0;
}

std::string ReadFile(const std::string& path) {
  std::string out;
  int err = 0;
  EXPECT_TRUE(ReadFileChecked(path, &out, &err)) << path << ": " << std::strerror(err);
  return out;
}

void WriteFile(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    ASSERT_GT(n, 0) << path << ": " << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
  ASSERT_EQ(::close(fd), 0) << path << ": " << std::strerror(errno);
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (; i < n; i++) s[i] = static_cast<char>(rng());
  return s;
}

std::string TextBytes(size_t n, uint64_t seed) {
  static const char* kWords[] = {"chunk ", "store ", "backup ", "digest ", "pack ", "index ",
                                 "shard ", "\n", "fuse ", "mount "};
  std::mt19937_64 rng(seed);
  std::string s;
  s.reserve(n + 8);
  while (s.size() < n) s += kWords[rng() % 10];
  s.resize(n);
  return s;
}

std::string Sha256Hex(const std::string& data) { return chunkfs::Sha256(data).ToHex(); }

std::string DigestXattr(const std::string& path, int* err) {
  char buf[256];
  ssize_t n = ::getxattr(path.c_str(), "user.chunkfs.digest", buf, sizeof buf);
  if (n < 0) {
    if (err) *err = errno;
    return "";
  }
  if (err) *err = 0;
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<std::pair<std::string, std::string>> Sha256sumTree(const std::string& root) {
  std::string out;
  int rc = ShOut("cd " + Q(root) + " && find . -type f -print0 | sort -z | xargs -0 -r sha256sum",
                 &out);
  EXPECT_EQ(rc, 0) << "sha256sum of " << root;
  std::vector<std::pair<std::string, std::string>> r;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 67) continue;
    r.emplace_back(line.substr(66), line.substr(0, 64));
  }
  return r;
}

int64_t StatsField(const std::string& json, const std::string& name) {
  size_t from = 0;
  std::string field = name;
  size_t dot = name.find('.');
  if (dot != std::string::npos) {
    from = json.find("\"" + name.substr(0, dot) + "\"");
    if (from == std::string::npos) return -1;
    field = name.substr(dot + 1);
  }
  size_t at = json.find("\"" + field + "\": ", from);
  if (at == std::string::npos) return -1;
  return std::strtoll(json.c_str() + at + field.size() + 4, nullptr, 10);
}

int Errno(int rc) { return rc == 0 ? 0 : errno; }

void MakeTree(const std::string& root, uint64_t seed) {
  const char* dirs[] = {"", "/a", "/a/b", "/a/b/c", "/d", "/d/empty-dir", "/with space"};
  for (const char* d : dirs) ::mkdir((root + d).c_str(), 0755);
  const size_t sizes[] = {0, 1, 100, 4095, 4096, 65536, 131073, 1 << 20, (3 << 20) + 7, 200000};
  int i = 0;
  for (const char* d : {"", "/a", "/a/b", "/a/b/c", "/d", "/with space"}) {
    for (int k = 0; k < 4; k++, i++) {
      size_t n = sizes[(i * 7 + k) % 10];
      std::string data = (i % 3 == 0) ? TextBytes(n, seed + i) : RandomBytes(n, seed + i);
      std::string path = root + d + "/file" + std::to_string(i) + (k == 3 ? ".bin" : ".txt");
      WriteFile(path, data);
      ::chmod(path.c_str(), (i % 2) ? 0644 : 0600);
    }
  }
  WriteFile(root + "/a/dup1", "same content\n");
  WriteFile(root + "/d/dup2", "same content\n");
  ::chmod((root + "/a/b").c_str(), 0700);
}

// ------------------------------------------------------------------ fixture

void MountTest::SetUp() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/fuse is not usable here";
  char tmpl[] = "/tmp/chunkfs-mount-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
  dir_ = tmpl;
  repo_ = dir_ + "/repo";
  mnt_ = dir_ + "/mnt";
  work_ = dir_ + "/work";
  ASSERT_EQ(::mkdir(mnt_.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(work_.c_str(), 0755), 0);
  RepoSettings settings;
  settings.max_chunk_size = RepoMaxChunk();
  Status s = Repository::Create(repo_, settings);
  ASSERT_TRUE(s.ok()) << s.ToString();
  BeforeMount();
  if (HasFatalFailure()) return;
  Mount();
}

void MountTest::TearDown() {
  if (pid_ > 0) Unmount();
  if (!dir_.empty() && !Mounted()) Sh("rm -rf " + Q(dir_));
}

std::set<std::string> MountTest::MountIds() const {
  std::set<std::string> ids;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string id, parent, devno, root, point;
    f >> id >> parent >> devno >> root >> point;
    if (point == mnt_) ids.insert(id);
  }
  return ids;
}

bool MountTest::Mounted() const { return !MountIds().empty(); }

int64_t StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}

bool MountTest::EventuallyPublished(const std::string& hex, int timeout_s) const {
  Digest d;
  EXPECT_TRUE(Digest::FromHex(hex, &d)) << hex;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (!chunkfs::testutil::PublishedDigests(repo_).count(d)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string MountTest::Log() const {
  std::string out;
  int err;
  ReadFileChecked(dir_ + "/chunkfs.log", &out, &err);
  return "chunkfs log:\n" + out;
}

void MountTest::Mount(const std::vector<std::string>& extra) {
  ASSERT_EQ(pid_, -1) << "already mounted";
  std::vector<std::string> opts = MountOptions();
  opts.insert(opts.end(), extra.begin(), extra.end());
  std::vector<std::string> args = {"chunkfs", repo_, mnt_, "-f"};
  for (const auto& o : opts) {
    args.push_back("-o");
    args.push_back(o);
  }
  std::string log = dir_ + "/chunkfs.log";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(CHUNKFS_BINARY, argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  mounts_++;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  // Mounted and answering: statfs of mnt_ answered by a FUSE file system.
  // Neither a dead mount left on mnt_ (it answers ENOTCONN) nor the bare
  // folder that shows for a moment after -o clear_stale detached the dead
  // mount and before the new one is made (it answers with its own file
  // system's magic: checking Mounted() and statfs one after the other
  // passed there, and the test then read the bare folder: ENOENT).
  constexpr long kFuseSuperMagic = 0x65735546;
  auto up = [&] {
    struct statfs sfs;
    return ::statfs(mnt_.c_str(), &sfs) == 0 && static_cast<long>(sfs.f_type) == kFuseSuperMagic && Mounted();
  };
  while (!up()) {
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      FAIL() << "chunkfs exited before mounting (status " << status << ")\n" << Log();
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      FAIL() << "chunkfs did not mount within 15 s\n" << Log();
    }
    SleepMs(10);
  }
}

int MountTest::WaitExit(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return -2;
    SleepMs(10);
  }
}

int MountTest::SignalAndWait(int sig, int timeout_s) {
  ::kill(pid_, sig);
  return WaitExit(timeout_s);
}

void MountTest::Unmount() {
  if (pid_ < 0) return;
  int st = Sh("fusermount3 -u " + Q(mnt_));
  EXPECT_EQ(st, 0) << "fusermount3 -u failed\n" << Log();
  if (st != 0) Sh("fusermount3 -u -z " + Q(mnt_));
  int rc = WaitExit(60);
  if (rc == -2) {
    ::kill(pid_, SIGKILL);
    WaitExit(10);
    pid_ = -1;
    ADD_FAILURE() << "chunkfs did not exit after the unmount\n" << Log();
    return;
  }
  EXPECT_EQ(rc, 0) << "chunkfs exit status after unmount\n" << Log();
  EXPECT_FALSE(Mounted());
}

void MountTest::ExpectTreeStored(const std::string& src, const std::string& dst) {
  auto want = Sha256sumTree(src);
  auto got = Sha256sumTree(dst);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(want, got) << "tree " << dst;
  for (const auto& [path, hex] : got) {
    std::string file = dst + "/" + path;
    int err = 0;
    EXPECT_EQ(DigestXattr(file, &err), hex) << file << ": " << std::strerror(err);
    std::string chunk;
    ASSERT_TRUE(ReadFileChecked(ChunkPath(hex), &chunk, &err)) << hex << ": " << std::strerror(err);
    EXPECT_EQ(Sha256Hex(chunk), hex);
  }
}

bool FlipStoredByte(const std::string& repo, const std::string& needle) {
  std::string packs;
  if (ShOut("find " + Q(repo + "/shards") + " -name '*.dat'", &packs) != 0) return false;
  for (size_t pos = 0; pos < packs.size();) {
    size_t nl = packs.find('\n', pos);
    std::string path = packs.substr(pos, nl - pos);
    pos = nl + 1;
    std::string content = ReadFile(path);
    size_t at = content.find(needle);
    if (at == std::string::npos) continue;
    int fd = ::open(path.c_str(), O_WRONLY);
    if (fd < 0) return false;
    char c = static_cast<char>(content[at + 10] ^ 0x01);
    bool ok = ::pwrite(fd, &c, 1, static_cast<off_t>(at + 10)) == 1;
    ::close(fd);
    return ok;
  }
  return false;
}

}  // namespace chunkfs::fs::testing
