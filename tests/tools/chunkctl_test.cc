// Runs the built chunkctl through the "done when" scenario (at CI
// size) and through its error cases: exit status 2 for a bad command line,
// 1 for a failure, and exactly one "chunkctl: ..." line on stderr.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

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
  EXPECT_NE(r.out.find("zlib"), std::string::npos) << r.out;
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
  EXPECT_TRUE(FailsWith(Run({"init", Sub("x"), "--compression", "11"}), 2));
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
  WriteFile(Sub("big"), std::string((1 << 20) + 1, 'b'));
  Result r = Run({"put", Sub("repo"), Sub("big")});
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
  EXPECT_TRUE(FailsWith(Run({"get", Sub("repo"), digest, "-o", Sub("nodir/out")}), 1));
  EXPECT_FALSE(fs::exists(Sub("nodir")));
  // An existing file is replaced whole.
  WriteFile(Sub("dest/out"), "old old old old old");
  r = Run({"get", Sub("repo"), digest, "--output", Sub("dest/out")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(Sub("dest/out")), "payload");
  EXPECT_EQ(std::distance(fs::directory_iterator(Sub("dest")), fs::directory_iterator()), 1);
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

}  // namespace
