// Runs the built chunkctl through the "done when" scenario (at CI
// size) and through its error cases: exit status 2 for a bad command line,
// 1 for a failure, and exactly one "chunkctl: ..." line on stderr.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "chunkfs/codec.h"
#include "chunkfs/digest.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// True unless another process holds the flock on `path` (the repository lock).
bool LockIsFree(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;  // no lock file: nobody holds it
  bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);  // drops our lock at once
  return free;
}

// Names in `dir` that look like chunkctl's temporary files.
std::vector<std::string> Leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".chunkctl-") != std::string::npos) out.push_back(e.path());
  }
  return out;
}

class ChunkctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/chunkctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Sub(const std::string& name) const { return dir_ + "/" + name; }

  // Runs chunkctl with `args` (and optional stdin from a file).
  Result Run(const std::vector<std::string>& args, const std::string& stdin_file = "",
             const std::string& prefix = "") {
    std::string cmd = prefix + Quote(CHUNKCTL_PATH);
    for (auto& a : args) cmd += " " + Quote(a);
    cmd += " <" + Quote(stdin_file.empty() ? "/dev/null" : stdin_file);
    cmd += " >" + Quote(Sub(".out")) + " 2>" + Quote(Sub(".err"));
    int status = system(cmd.c_str());
    Result r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadFile(Sub(".out"));
    r.err = ReadFile(Sub(".err"));
    return r;
  }

  // The command failed with `code` and one clear line on stderr.
  static ::testing::AssertionResult FailsWith(const Result& r, int code) {
    if (r.exit_code != code)
      return ::testing::AssertionFailure() << "exit " << r.exit_code << ", want " << code << "; stderr: " << r.err;
    if (r.err.rfind("chunkctl: ", 0) != 0 || std::count(r.err.begin(), r.err.end(), '\n') != 1 ||
        r.err.back() != '\n')
      return ::testing::AssertionFailure() << "stderr is not one 'chunkctl: ' line: [" << r.err << "]";
    return ::testing::AssertionSuccess();
  }

  void Init(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"init", Sub("repo")};
    args.insert(args.end(), extra.begin(), extra.end());
    Result r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(r.err.empty()) << r.err;
  }
  // Puts files, returns file -> digest from the sha256sum-style output.
  std::map<std::string, std::string> Put(const std::vector<std::string>& files) {
    std::vector<std::string> args = {"put", Sub("repo")};
    args.insert(args.end(), files.begin(), files.end());
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> out;
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      EXPECT_GT(line.size(), 66u);
      EXPECT_EQ(line.substr(64, 2), "  ") << line;
      out[line.substr(66)] = line.substr(0, 64);
    }
    EXPECT_EQ(out.size(), files.size());
    return out;
  }
  // Stores `data` (from a file named "payload"), returns its digest.
  std::string PutData(const std::string& data) {
    WriteFile(Sub("payload"), data);
    return Put({Sub("payload")})[Sub("payload")];
  }

  std::string dir_;
};

std::string RandomBytes(size_t size, std::mt19937_64& rng) {
  std::string s(size, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string Text(size_t size, std::mt19937_64& rng) {
  static const char* kWords[] = {"alpha ", "beta ", "gamma ", "delta\n", "chunk ", "pack "};
  std::string s;
  while (s.size() < size) s += kWords[rng() % 6];
  s.resize(size);
  return s;
}

TEST_F(ChunkctlTest, DoneWhenScenarioWithManySeals) {
  Init({"--pack-size", "256K"});
  std::mt19937_64 rng(42);
  fs::create_directory(Sub("in"));
  std::vector<std::string> files;
  for (int i = 0; i < 1000; ++i) {  // the "done when": 1,000 files of 0 to 1 MiB
    std::string path = Sub("in/f" + std::to_string(i));
    size_t size = i == 0 ? 0 : i == 1 ? 1 : i == 2 ? (1 << 20) : rng() % ((1 << 20) + 1);
    WriteFile(path, i % 11 == 5 ? Text(size, rng) : RandomBytes(size, rng));
    files.push_back(path);
  }
  std::map<std::string, std::string> digests;
  for (size_t i = 0; i < files.size(); i += 60) {  // several processes
    std::vector<std::string> batch(files.begin() + i, files.begin() + std::min(files.size(), i + 60));
    for (auto& [f, d] : Put(batch)) digests[f] = d;
  }
  ASSERT_EQ(digests.size(), files.size());
  for (auto& [f, d] : digests) ASSERT_EQ(d, chunkfs::Sha256(ReadFile(f)).ToHex()) << f;

  size_t packs = 0;
  std::set<std::string> shards;
  for (auto& e : fs::recursive_directory_iterator(Sub("repo"))) {
    if (e.path().extension() != ".dat") continue;
    packs++;
    shards.insert(e.path().parent_path().string());
  }
  EXPECT_GT(packs, shards.size() + 50) << "a 256K pack size must force many seals";

  for (auto& [f, d] : digests) {  // each get is a new process: a reopen
    Result r = Run({"get", Sub("repo"), d, "-o", Sub("got")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(ReadFile(Sub("got")) == ReadFile(f)) << f;
  }
  Result r = Run({"get", Sub("repo"), digests[files[7]]});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(r.out == ReadFile(files[7]));

  r = Run({"ls", Sub("repo")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> unique;
  for (auto& [f, d] : digests) unique.insert(d);
  std::string want;
  for (auto& d : unique) want += d + "\n";
  EXPECT_EQ(r.out, want);

  // Putting everything again stores nothing new.
  uintmax_t before = 0, after = 0;
  for (auto& e : fs::recursive_directory_iterator(Sub("repo")))
    if (e.is_regular_file() && e.path().extension() == ".dat") before += e.file_size();
  auto again = Put(std::vector<std::string>(files.begin(), files.begin() + 50));
  for (auto& [f, d] : again) EXPECT_EQ(d, digests[f]);
  for (auto& e : fs::recursive_directory_iterator(Sub("repo")))
    if (e.is_regular_file() && e.path().extension() == ".dat") after += e.file_size();
  EXPECT_EQ(after, before);
}

TEST_F(ChunkctlTest, PutFromStdinAndStat) {
  Init();
  WriteFile(Sub("text"), std::string(100000, 'z'));
  Result r = Run({"put", Sub("repo"), "-"}, Sub("text"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string digest = chunkfs::Sha256(std::string(100000, 'z')).ToHex();
  EXPECT_EQ(r.out, digest + "  -\n");
  r = Run({"stat", Sub("repo"), digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("raw_size: 100000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(chunkfs::CodecName(chunkfs::DefaultCodec())), std::string::npos) << r.out;
}

TEST_F(ChunkctlTest, HelpAndVersion) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}, {"help", "get"}, {"put", "--help"}}) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("usage"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty());
  }
  Result r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("chunkctl ", 0), 0u) << r.out;
}

TEST_F(ChunkctlTest, UsageErrorsExitTwo) {
  Init();
  std::string d = std::string(64, 'a');
  EXPECT_TRUE(FailsWith(Run({}), 2));
  EXPECT_TRUE(FailsWith(Run({"frobnicate"}), 2));
  EXPECT_TRUE(FailsWith(Run({"help", "frobnicate"}), 2));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--bogus"}), 2));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--pack-size", "12Q"}), 2));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--pack-size"}), 2));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--compression", "20"}), 2));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--max-chunk", "99G"}), 2));
  EXPECT_FALSE(fs::exists(Sub("x")));
  EXPECT_TRUE(FailsWith(Run({"init"}), 2));
  EXPECT_TRUE(FailsWith(Run({"put", Sub("repo")}), 2));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo")}), 2));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), "xyz"}), 2));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), std::string(64, 'A')}), 2));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), std::string(63, 'a')}), 2));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), d, "-o"}), 2));
  EXPECT_TRUE(FailsWith(Run({"stat", Sub("repo"), "zz"}), 2));
  EXPECT_TRUE(FailsWith(Run({"ls", Sub("repo"), "extra"}), 2));
  EXPECT_TRUE(FailsWith(Run({"ls", Sub("repo"), "--all"}), 2));
}

TEST_F(ChunkctlTest, FailuresExitOne) {
  Init({"--max-chunk", "1M"});
  std::string absent = chunkfs::Sha256("absent").ToHex();
  EXPECT_TRUE(FailsWith(Run({"ls", Sub("missing")}), 1));
  EXPECT_TRUE(FailsWith(Run({"put", Sub("missing"), "/etc/hostname"}), 1));
  EXPECT_FALSE(fs::exists(Sub("missing")));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), absent}), 1));
  EXPECT_TRUE(FailsWith(Run({"stat", Sub("repo"), absent}), 1));
  EXPECT_TRUE(FailsWith(Run({"init", Sub("repo")}), 1));
  EXPECT_TRUE(FailsWith(Run({"ls", dir_}), 1));  // not a repository
  EXPECT_TRUE(FailsWith(Run({"put", Sub("repo"), Sub("no-such-file")}), 1));
  EXPECT_TRUE(FailsWith(Run({"put", Sub("repo"), dir_}), 1));  // a directory
  Result r = Run({"put", Sub("repo"), "/dev/null"});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("/dev/null is a character device, not a regular file"), std::string::npos) << r.err;
  WriteFile(Sub("big"), std::string((1 << 20) + 1, 'b'));
  r = Run({"put", Sub("repo"), Sub("big")});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("large"), std::string::npos) << r.err;
  r = Run({"ls", Sub("repo")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "") << "nothing stored by failed puts";
}

TEST_F(ChunkctlTest, PutStoresGoodFilesDespiteABadOne) {
  Init();
  WriteFile(Sub("good"), "good content");
  Result r = Run({"put", Sub("repo"), Sub("absent"), Sub("good")});
  EXPECT_TRUE(FailsWith(r, 1));
  std::string digest = chunkfs::Sha256("good content").ToHex();
  EXPECT_EQ(r.out, digest + "  " + Sub("good") + "\n");
  r = Run({"get", Sub("repo"), digest});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "good content");
}

TEST_F(ChunkctlTest, FailedGetLeavesNoOutputFile) {
  Init();
  std::string absent = chunkfs::Sha256("absent").ToHex();
  fs::create_directory(Sub("dest"));
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), absent, "-o", Sub("dest/out")}), 1));
  EXPECT_TRUE(fs::is_empty(Sub("dest")));
  WriteFile(Sub("f"), "payload");
  Result r = Run({"put", Sub("repo"), Sub("f")});
  ASSERT_EQ(r.exit_code, 0);
  std::string digest = r.out.substr(0, 64);
  r = Run({"get", Sub("repo"), digest, "-o", Sub("nodir/out")});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("create " + Sub("nodir/out") + ": No such file or directory"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Sub("nodir")));
  // An existing file is replaced whole, atomically (a new inode renamed over it), and keeps its mode.
  WriteFile(Sub("dest/out"), "old old old old old");
  ASSERT_EQ(chmod(Sub("dest/out").c_str(), 0640), 0);
  struct stat before, after;
  ASSERT_EQ(stat(Sub("dest/out").c_str(), &before), 0);
  r = Run({"get", Sub("repo"), digest, "--output", Sub("dest/out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(Sub("dest/out")), "payload");
  ASSERT_EQ(stat(Sub("dest/out").c_str(), &after), 0);
  EXPECT_NE(after.st_ino, before.st_ino) << "written in place, not replaced";
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_EQ(std::distance(fs::directory_iterator(Sub("dest")), fs::directory_iterator()), 1);
}

TEST_F(ChunkctlTest, GetRefusesADirectoryOrAnEmptyNameNamingIt) {
  Init();
  std::string digest = PutData("payload");
  fs::create_directory(Sub("dir"));
  Result r = Run({"get", Sub("repo"), digest, "-o", Sub("dir")});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find(Sub("dir") + ": Is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(".chunkctl-"), std::string::npos) << "names the temporary file: " << r.err;
  EXPECT_TRUE(fs::is_empty(Sub("dir")));
  r = Run({"get", Sub("repo"), digest, "-o", ""});
  EXPECT_TRUE(FailsWith(r, 2));
  EXPECT_NE(r.err.find("-o '': expected a file name"), std::string::npos) << r.err;
  EXPECT_TRUE(Leftovers(dir_).empty());
}

TEST_F(ChunkctlTest, GetIntoAFullDeviceFailsWithEnospcAndKeepsTheDevice) {
  Init();
  std::string digest = PutData("payload");
  // Our own node of /dev/full's device: a broken chunkctl can only replace this one.
  if (mknod(Sub("full").c_str(), S_IFCHR | 0666, makedev(1, 7)) != 0) GTEST_SKIP() << "mknod: " << strerror(errno);
  fs::create_symlink("full", Sub("full-link"));
  for (const std::string& target : {Sub("full"), Sub("full-link")}) {
    Result r = Run({"get", Sub("repo"), digest, "-o", target});
    EXPECT_TRUE(FailsWith(r, 1)) << target;
    EXPECT_NE(r.err.find("write " + target + ": IO error: write " + target + ": No space left on device"),
              std::string::npos)
        << r.err;
  }
  struct stat st;
  ASSERT_EQ(lstat(Sub("full").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 7));
  EXPECT_TRUE(fs::is_symlink(Sub("full-link")));
  EXPECT_TRUE(Leftovers(dir_).empty());
}

TEST_F(ChunkctlTest, GetFollowsSymlinksAndKeepsThemLinks) {
  Init();
  std::string digest = PutData("payload");
  fs::create_directory(Sub("a"));
  fs::create_directory(Sub("b"));
  WriteFile(Sub("b/real"), "old content");
  fs::create_symlink("../b/hop", Sub("a/lnk"));  // relative links: each from its own directory
  fs::create_symlink("real", Sub("b/hop"));
  Result r = Run({"get", Sub("repo"), digest, "-o", Sub("a/lnk")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(fs::is_symlink(Sub("a/lnk")));
  EXPECT_EQ(fs::read_symlink(Sub("a/lnk")), "../b/hop");
  EXPECT_TRUE(fs::is_symlink(Sub("b/hop")));
  EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(Sub("b/real"))));
  EXPECT_EQ(ReadFile(Sub("b/real")), "payload");

  // A dangling link: the file it names is created, the link stays.
  fs::create_symlink("made", Sub("b/dangling"));
  r = Run({"get", Sub("repo"), digest, "-o", Sub("b/dangling")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(Sub("b/dangling")));
  EXPECT_EQ(ReadFile(Sub("b/made")), "payload");

  // A link to our stdout (as /dev/stdout is): the output lands where stdout goes.
  fs::create_symlink("/proc/self/fd/1", Sub("stdout-link"));
  r = Run({"get", Sub("repo"), digest, "-o", Sub("stdout-link")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "payload");
  EXPECT_TRUE(fs::is_symlink(Sub("stdout-link")));
  EXPECT_TRUE(Leftovers(Sub("a")).empty());
  EXPECT_TRUE(Leftovers(Sub("b")).empty());
}

TEST_F(ChunkctlTest, GetIntoAFifoWritesThroughIt) {
  Init();
  std::mt19937_64 rng(3);
  std::string data = RandomBytes(300000, rng);  // several pipe buffers
  std::string digest = PutData(data);
  ASSERT_EQ(mkfifo(Sub("fifo").c_str(), 0600), 0);
  // Opened without blocking before chunkctl runs, so its open for writing succeeds at once. poll() reports
  // nothing until a writer has come (data) and gone (POLLHUP).
  int rfd = open(Sub("fifo").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(rfd, 0);
  std::string got;
  std::thread reader([&] {
    pollfd p{rfd, POLLIN, 0};
    char buf[1 << 16];
    for (;;) {
      if (poll(&p, 1, -1) < 0 && errno != EINTR) return;
      ssize_t n = read(rfd, buf, sizeof(buf));
      if (n > 0) got.append(buf, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;  // writer gone
    }
  });
  Result r = Run({"get", Sub("repo"), digest, "-o", Sub("fifo")}, "", "timeout 60 ");
  // If chunkctl never opened the FIFO, come and go as a writer so that the reader ends (through our descriptor:
  // a broken chunkctl may have put a regular file at the FIFO's path).
  int wfd = open(("/proc/self/fd/" + std::to_string(rfd)).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (wfd >= 0) close(wfd);
  reader.join();
  close(rfd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
  struct stat st;
  ASSERT_EQ(lstat(Sub("fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_TRUE(Leftovers(dir_).empty());
}

TEST_F(ChunkctlTest, PutOfAFifoFailsAtOnceWithoutTakingTheLock) {
  Init();
  ASSERT_EQ(mkfifo(Sub("fifo").c_str(), 0600), 0);
  WriteFile(Sub("good"), "good");
  std::atomic<bool> finished{false}, fed{false}, locked_while_read{false};
  // Plays the FIFO's writer so that even a chunkctl that reads the FIFO cannot hang the test: once a reader has it
  // open (an open for writing then succeeds), notes whether the repository is locked, writes and closes.
  std::thread writer([&] {
    while (!finished) {
      int fd = open(Sub("fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO while nobody reads
      if (fd < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll until chunkctl exits
        continue;
      }
      locked_while_read = !LockIsFree(Sub("repo/lock"));
      if (write(fd, "fifo", 4) != 4) ADD_FAILURE() << "write to the FIFO: " << strerror(errno);
      close(fd);
      fed = true;
      return;
    }
  });
  Result r = Run({"put", Sub("repo"), Sub("fifo"), Sub("good")}, "", "timeout 60 ");
  finished = true;
  writer.join();
  EXPECT_TRUE(FailsWith(r, 1));  // 124: timed out
  EXPECT_NE(r.err.find("put " + Sub("fifo") + ": Invalid argument: " + Sub("fifo") + " is a FIFO"), std::string::npos)
      << r.err;
  EXPECT_FALSE(fed) << "chunkctl opened the FIFO";
  EXPECT_FALSE(locked_while_read) << "chunkctl read the FIFO holding the repository lock";
  EXPECT_EQ(r.out, chunkfs::Sha256("good").ToHex() + "  " + Sub("good") + "\n");
}

TEST_F(ChunkctlTest, PutReadsAPipeOnStdinWholeBeforeTakingTheLock) {
  Init();
  std::signal(SIGPIPE, SIG_IGN);  // a chunkctl that exits early gives EPIPE, not a dead test
  ASSERT_EQ(mkfifo(Sub("in").c_str(), 0600), 0);
  std::mt19937_64 rng(4);
  std::string data = RandomBytes(1 << 20, rng);  // many times a pipe buffer
  bool locked_while_read = true;
  std::thread writer([&] {
    int fd = open(Sub("in").c_str(), O_WRONLY | O_CLOEXEC);  // waits for the shell to open chunkctl's stdin
    if (fd < 0) {
      ADD_FAILURE() << "open: " << strerror(errno);
      return;
    }
    // When this write returns, chunkctl has read all but a pipe buffer of it and waits for the rest.
    bool ok = write(fd, data.data(), data.size() - 1) == static_cast<ssize_t>(data.size() - 1);
    locked_while_read = !LockIsFree(Sub("repo/lock"));
    ok = ok && write(fd, data.data() + data.size() - 1, 1) == 1;
    if (!ok) ADD_FAILURE() << "write to chunkctl: " << strerror(errno);
    close(fd);
  });
  Result r = Run({"put", Sub("repo"), "-"}, Sub("in"), "timeout 60 ");
  writer.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(locked_while_read) << "chunkctl read stdin holding the repository lock";
  EXPECT_EQ(r.out, chunkfs::Sha256(data).ToHex() + "  -\n");
}

TEST_F(ChunkctlTest, PutWhileAnotherProcessHoldsTheLockFailsBusy) {
  Init();
  WriteFile(Sub("f"), "locked out");
  std::string holder = "flock " + Quote(Sub("repo/lock")) + " ";
  Result r = Run({"put", Sub("repo"), Sub("f")}, "", holder);
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("Busy"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  r = Run({"ls", Sub("repo")}, "", holder);  // readers take no lock
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(ChunkctlTest, LsOfEmptyRepository) {
  Init();
  Result r = Run({"ls", Sub("repo")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(ChunkctlTest, DamagedChunkGivesOneLineError) {
  Init();
  std::mt19937_64 rng(1);
  WriteFile(Sub("f"), RandomBytes(5000, rng));
  Result r = Run({"put", Sub("repo"), Sub("f")});
  ASSERT_EQ(r.exit_code, 0);
  std::string digest = r.out.substr(0, 64);
  std::string content = ReadFile(Sub("f"));
  for (auto& e : fs::recursive_directory_iterator(Sub("repo"))) {
    if (e.path().extension() != ".dat") continue;
    std::string dat = ReadFile(e.path());
    size_t pos = dat.find(content);
    if (pos == std::string::npos) continue;
    dat[pos + 10] ^= 1;
    WriteFile(e.path(), dat);
  }
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), digest, "-o", Sub("out")}), 1));
  EXPECT_FALSE(fs::exists(Sub("out")));
}


// ---------------------------------------------------------------------------
// prune, prune-begin, compact and stats on a repository (offline: chunkctl
// takes the lock). The same commands through a mount: tests/fs/mount_prune_test.cc.

class ChunkctlPruneTest : public ChunkctlTest {
 protected:
  // Six chunks of 30,000 random bytes; their digests, in file order.
  std::vector<std::string> PutSix() {
    Init();
    std::mt19937_64 rng(7);
    std::vector<std::string> files;
    for (int i = 0; i < 6; ++i) {
      files.push_back(Sub("f" + std::to_string(i)));
      WriteFile(files.back(), RandomBytes(30000, rng));
    }
    std::map<std::string, std::string> by_file = Put(files);
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(by_file[f]);
    return out;
  }
  std::string Listed() { return Run({"ls", Sub("repo")}).out; }
  uint64_t RepoBytes() {
    uint64_t total = 0;
    for (auto& e : fs::recursive_directory_iterator(Sub("repo"))) {
      if (e.is_regular_file()) total += e.file_size();
    }
    return total;
  }
};

TEST_F(ChunkctlPruneTest, DeletesWhatIsNotKeptAndReportsMissingDigests) {
  std::vector<std::string> d = PutSix();
  std::string upper = d[1];
  for (char& c : upper) c = static_cast<char>(toupper(c));
  std::string missing = chunkfs::Sha256("not stored").ToHex();
  WriteFile(Sub("keep"), d[0] + "\n\n  " + upper + "\r\n" + d[2] + "\n" + d[0] + "\n" + missing);  // no final newline
  Result r = Run({"prune", Sub("repo"), "--keep", Sub("keep")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("deleted: 3 chunks, 90000 bytes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kept: 3 of 6 chunks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("keep list digests not stored: 1\n  " + missing + "\n"), std::string::npos) << r.out;
  std::string ls = Listed();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(ls.find(d[i]) != std::string::npos, i < 3) << i;
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), d[4]}), 1));
}

TEST_F(ChunkctlPruneTest, RefusalsDryRunAndMalformedLinesDeleteNothing) {
  std::vector<std::string> d = PutSix();
  const std::string all = Listed();
  WriteFile(Sub("empty"), "\n\n");
  Result r = Run({"prune", Sub("repo"), "--keep", Sub("empty")});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("keep list is empty"), std::string::npos) << r.err;
  WriteFile(Sub("one"), d[0] + "\n");
  r = Run({"prune", Sub("repo"), "--keep", Sub("one")});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  r = Run({"prune", Sub("repo"), "--keep", Sub("one"), "--force", "--dry-run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would delete: 5 chunks"), std::string::npos) << r.out;
  WriteFile(Sub("bad"), d[0] + "\n" + d[1] + "\n\n" + d[2].substr(1) + "\n" + d[3] + "\n");
  r = Run({"prune", Sub("repo"), "--keep", "-", "--force"}, Sub("bad"));
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("keep list line 4"), std::string::npos) << r.err;
  EXPECT_EQ(Listed(), all) << "a refused prune deleted something";
  EXPECT_TRUE(FailsWith(Run({"prune", Sub("repo")}), 2)) << "--keep is required";
  EXPECT_TRUE(FailsWith(Run({"prune", Sub("repo"), "--keep", Sub("one"), "--since", "x"}), 2));
  EXPECT_TRUE(FailsWith(Run({"prune", Sub("nothing"), "--keep", Sub("one")}), 1));
}

TEST_F(ChunkctlPruneTest, CompactGivesTheSpaceBackAndStatsShowIt) {
  std::vector<std::string> d = PutSix();
  WriteFile(Sub("keep"), d[0] + "\n" + d[1] + "\n" + d[2] + "\n");
  ASSERT_EQ(Run({"prune", Sub("repo"), "--keep", Sub("keep")}).exit_code, 0);
  Result r = Run({"stats", Sub("repo")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("chunks: 3\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("dead_bytes: 0\n"), std::string::npos) << r.out;
  uint64_t before = RepoBytes();
  r = Run({"compact", Sub("repo")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("bytes reclaimed: "), std::string::npos) << r.out;
  EXPECT_LT(RepoBytes() + 3 * 30000, before + 1000) << "the deleted chunks' bytes must be gone";
  r = Run({"stats", Sub("repo"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"dead_bytes\": 0,"), std::string::npos) << r.out;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Run({"get", Sub("repo"), d[i]}).exit_code, 0) << i;
}

TEST_F(ChunkctlPruneTest, AnOfflineTokenIsUselessToALaterCommandAndSaysSo) {
  std::vector<std::string> d = PutSix();
  Result r = Run({"prune-begin", Sub("repo")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not mounted"), std::string::npos) << r.err;
  std::string token = r.out.substr(0, r.out.size() - 1);
  WriteFile(Sub("keep"), d[0] + "\n" + d[1] + "\n" + d[2] + "\n");
  r = Run({"prune", Sub("repo"), "--keep", Sub("keep"), "--since", token});
  EXPECT_TRUE(FailsWith(r, 1));
  EXPECT_NE(r.err.find("remount"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"ls", Sub("repo")}).out.size(), 6 * 65u);
}

}  // namespace
