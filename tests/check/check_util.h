// Helpers for the check/repair tests: a repository on real disk filled with
// known chunks, the check and repair calls, the chunkctl binary as a child
// process, and a minimal parser of the .dat layout (docs/FORMAT.md) so that a
// byte offset can be mapped to the record (and chunk) it belongs to.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "chunkfs/check.h"
#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs::checktest {

using namespace testutil;
namespace fs = std::filesystem;

// The files are real, but on tmpfs when the caller did not choose a TMPDIR:
// the repair and byte-flip tests fsync a lot, which costs ~0.5 s per flip on
// a disk and ~40 ms on tmpfs (the durability model is FaultEnv's business).
inline const bool kPreferTmpfs = [] {
  if (getenv("TMPDIR") == nullptr && access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 0);
  return true;
}();

inline constexpr size_t kPackHeader = 32;
inline constexpr size_t kRecordHeader = 48;
inline constexpr size_t kTrailer = 32;
inline constexpr size_t kIdxHeader = 48;
inline constexpr size_t kIdxEntry = 56;
inline constexpr uint8_t kShard = 0x3a;

inline uint32_t Crc(const std::string& s, size_t off, size_t len) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(s.data() + off), static_cast<uInt>(len)));
}
inline void PutU32(std::string* s, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[off + i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetU32(const std::string& s, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[off + i]);
  return v;
}

// A record of a pristine .dat: [begin, end) and the digest it stores.
struct RecordSpan {
  uint64_t begin = 0, end = 0;
  Digest digest;
};
// Walks the records of an undamaged .dat (stops at a trailer).
inline std::vector<RecordSpan> ParseRecords(const std::string& dat) {
  std::vector<RecordSpan> out;
  uint64_t off = kPackHeader;
  while (off + kRecordHeader + 4 <= dat.size() && dat.compare(off, 4, "CFCR") == 0) {
    RecordSpan r;
    r.begin = off;
    r.end = off + kRecordHeader + GetU32(dat, off + 12) + 4;
    std::copy(dat.begin() + static_cast<long>(off + 16), dat.begin() + static_cast<long>(off + 48), r.digest.bytes.begin());
    out.push_back(r);
    off = r.end;
  }
  return out;
}

// TreeHashes of the repository without its lock file (which holds the pid of
// the last process that took it, and is not data).
inline std::vector<std::pair<std::string, std::string>> DataTree(const std::string& repo) {
  auto t = TreeHashes(repo);
  t.erase(std::remove_if(t.begin(), t.end(), [&](const auto& e) { return e.first == repo + "/lock"; }), t.end());
  return t;
}

inline std::string Describe(const CheckReport& r) {
  std::ostringstream o;
  for (auto& p : r.problems) {
    o << "DAMAGE " << p.file << " offset " << p.offset << ": " << p.what << " [";
    for (auto& d : p.affected) o << d.ToHex().substr(0, 12) << " ";
    o << "]\n";
  }
  for (auto& n : r.notes) o << "note: " << n << "\n";
  return o.str();
}

inline CheckReport CheckOrDie(const std::string& repo, bool read_data, Env* env = nullptr) {
  CheckOptions o;
  o.env = env;
  o.read_data = read_data;
  CheckReport r;
  Status s = CheckRepository(repo, o, &r);
  EXPECT_TRUE(s.ok()) << "check could not run: " << s.ToString();
  return r;
}

inline RepairReport RepairOrDie(const std::string& repo, Env* env = nullptr) {
  RepairReport r;
  Status s = RepairRepository(repo, env, &r);
  EXPECT_TRUE(s.ok()) << "repair failed: " << s.ToString();
  return r;
}

// The problem in `file` (path relative to the repository) at `offset`.
inline const Problem* FindProblem(const CheckReport& r, const std::string& file, uint64_t offset) {
  for (auto& p : r.problems) {
    if (p.file == file && p.offset == offset) return &p;
  }
  return nullptr;
}
inline bool Affects(const Problem& p, const Digest& d) {
  return std::find(p.affected.begin(), p.affected.end(), d) != p.affected.end();
}
// "shards/3a/pack-0000000000000001.dat" for a full path inside `repo`.
inline std::string Rel(const std::string& repo, const std::string& path) { return path.substr(repo.size() + 1); }

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The chunkctl binary as another user can run it: the build may sit below a
// folder only its owner may enter (a checkout in /root), so a copy is made
// once in a fresh world-readable folder under /tmp, removed at exit.
inline std::string ChunkctlForOtherUsers() {
  struct Copy {
    std::string dir, path;
    Copy() {
      char tmpl[] = "/tmp/chunkfs-chunkctl-XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return;
      dir = tmpl;
      path = dir + "/chunkctl";
      std::error_code ec;
      fs::copy_file(CHUNKCTL_PATH, path, ec);
      fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec, ec);
      fs::permissions(path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                fs::perms::others_read | fs::perms::others_exec, ec);
      if (ec) path = CHUNKCTL_PATH;
    }
    ~Copy() {
      std::error_code ec;
      if (!dir.empty()) fs::remove_all(dir, ec);
    }
  };
  static Copy copy;
  return copy.path.empty() ? std::string(CHUNKCTL_PATH) : copy.path;
}

// Runs the chunkctl binary with `args`; stdout and stderr go to files in
// `scratch`. If `uid` is not -1, the child runs as that user.
inline CliResult RunChunkctl(const std::vector<std::string>& args, const std::string& scratch, int uid = -1) {
  const std::string prog = uid == -1 ? std::string(CHUNKCTL_PATH) : ChunkctlForOtherUsers();
  std::string out = scratch + "/.cli.out", err = scratch + "/.cli.err";
  pid_t pid = fork();
  if (pid == 0) {
    FILE* o = freopen(out.c_str(), "w", stdout);
    FILE* e = freopen(err.c_str(), "w", stderr);
    FILE* i = freopen("/dev/null", "r", stdin);
    if (o == nullptr || e == nullptr || i == nullptr) _exit(126);
    if (uid != -1 && (setgid(static_cast<gid_t>(uid)) != 0 || setuid(static_cast<uid_t>(uid)) != 0)) _exit(125);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(prog.c_str()));
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(prog.c_str(), argv.data());
    _exit(127);
  }
  CliResult r;
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

// Lines of `text` that start with `prefix`, with the prefix removed.
inline std::vector<std::string> LinesWith(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

// A repository on disk with chunks in shard kShard (raw, 700 bytes: 6
// records fill a 4 KiB pack) and a few in other shards.
class RepoTest : public ::testing::Test {
 protected:
  std::string Repo() const { return dir_.Sub("r"); }

  // `n` chunks in kShard and `others` in shards 0x01 and 0xc4; closed.
  void Fill(uint64_t pack_limit, int n, int others = 4) {
    CreateRepoOrDie(Repo(), SmallSettings(pack_limit));
    auto repo = OpenOrDie(Repo());
    ASSERT_NE(repo, nullptr);
    for (int i = 0; i < n; ++i) {
      chunks_.push_back(ContentInShard(kShard, 700, 10 + i));
      PutOrDie(repo.get(), chunks_.back());
    }
    for (int i = 0; i < others; ++i) {
      chunks_.push_back(ContentInShard(i % 2 ? 0x01 : 0xc4, 500, 900 + i));
      PutOrDie(repo.get(), chunks_.back());
    }
    ASSERT_TRUE(repo->Close().ok());
  }
  std::vector<std::string> Dats() const { return ListFiles(ShardDir(Repo(), kShard), ".dat"); }
  static std::string IdxOf(const std::string& dat) { return dat.substr(0, dat.size() - 4) + ".idx"; }

  // The .dat holding chunk `i` and the record's span in it.
  std::pair<std::string, RecordSpan> Locate(size_t i) const {
    Digest d = Sha256(chunks_[i]);
    for (auto& dat : AllPackFiles(Repo(), ".dat")) {
      for (auto& r : ParseRecords(ReadFileOrDie(dat))) {
        if (r.digest == d) return {dat, r};
      }
    }
    ADD_FAILURE() << "chunk " << i << " not found";
    return {};
  }
  std::set<Digest> DigestsIn(const std::string& dat) const {
    std::set<Digest> out;
    for (auto& r : ParseRecords(ReadFileOrDie(dat))) out.insert(r.digest);
    return out;
  }

  // After a repair that reported `lost`: the report is exactly
  // `expect_lost`; every other chunk is readable with the right bytes; check
  // --read-data is clean; a second repair changes nothing and reports no
  // action.
  void ExpectRepaired(const RepairReport& rep, const std::set<Digest>& expect_lost) {
    std::set<Digest> lost(rep.lost.begin(), rep.lost.end());
    EXPECT_EQ(lost.size(), rep.lost.size()) << "a digest reported lost twice";
    EXPECT_EQ(lost, expect_lost) << "lost digests reported: " << rep.lost.size();
    {
      auto repo = OpenOrDie(Repo(), true);
      ASSERT_NE(repo, nullptr);
      for (auto& c : chunks_) {
        if (expect_lost.count(Sha256(c))) {
          EXPECT_TRUE(NeverWrongBytes(repo.get(), c));
        } else {
          EXPECT_TRUE(HasChunk(repo.get(), c));
        }
      }
    }
    CheckReport after = CheckOrDie(Repo(), true);
    EXPECT_TRUE(after.ok()) << "check after repair:\n" << Describe(after);
    auto before = DataTree(Repo());
    RepairReport again = RepairOrDie(Repo());
    EXPECT_TRUE(again.actions.empty()) << "second repair acted: " << again.actions.front();
    EXPECT_TRUE(again.quarantined.empty());
    EXPECT_TRUE(again.lost.empty());
    EXPECT_EQ(DataTree(Repo()), before) << "second repair changed files";
  }

  // Files in REPO/quarantine (names).
  std::vector<std::string> Quarantine() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(Repo() + "/quarantine", ec)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  std::vector<std::string> chunks_;
};

}  // namespace chunkfs::checktest
