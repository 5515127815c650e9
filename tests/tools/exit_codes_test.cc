// The exit statuses every chunkctl command shares (tools/cli.h, `chunkctl
// --help`, README "Exit codes"): 0 success, 1 error, 2 bad command line,
// 3 damage (check found some; repair lost chunks). One small test per
// (command, case), from a table.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "check_util.h"

namespace chunkfs::checktest {
namespace {

struct ExitCase {
  const char* name;                // the test's name
  std::vector<std::string> args;   // $REPO, $DAMAGED, $DIGEST, $ABSENT, $FILE, $KEEP, $MISSING, $NEW
  int code;
};

// $REPO: a clean repository holding $DIGEST (also listed in the file $KEEP);
// $DAMAGED: one with a flipped record byte (a chunk lost to repair);
// $FILE: a readable file; $ABSENT: a digest not stored; $MISSING: no such
// path; $NEW: a path where init may create a repository.
void PrintTo(const ExitCase& c, std::ostream* os) { *os << c.name; }

const std::vector<ExitCase> kCases = {
    {"InitOk", {"init", "$NEW"}, 0},
    {"InitUsage", {"init"}, 2},
    {"InitExists", {"init", "$REPO"}, 1},
    {"PutOk", {"put", "$REPO", "$FILE"}, 0},
    {"PutUsage", {"put", "$REPO"}, 2},
    {"PutMissingFile", {"put", "$REPO", "$MISSING"}, 1},
    {"GetOk", {"get", "$REPO", "$DIGEST"}, 0},
    {"GetUsage", {"get", "$REPO", "not-a-digest"}, 2},
    {"GetAbsent", {"get", "$REPO", "$ABSENT"}, 1},
    {"LsOk", {"ls", "$REPO"}, 0},
    {"LsUsage", {"ls", "$REPO", "$REPO"}, 2},
    {"LsMissingRepo", {"ls", "$MISSING"}, 1},
    {"StatOk", {"stat", "$REPO", "$DIGEST"}, 0},
    {"StatUsage", {"stat", "$REPO"}, 2},
    {"StatAbsent", {"stat", "$REPO", "$ABSENT"}, 1},
    {"CheckOk", {"check", "$REPO", "--read-data"}, 0},
    {"CheckUsage", {"check", "$REPO", "--bogus"}, 2},
    {"CheckMissingRepo", {"check", "$MISSING"}, 1},
    {"CheckDamage", {"check", "$DAMAGED"}, 3},
    {"RepairOk", {"repair", "$REPO"}, 0},
    {"RepairUsage", {"repair"}, 2},
    {"RepairMissingRepo", {"repair", "$MISSING"}, 1},
    {"RepairLost", {"repair", "$DAMAGED"}, 3},
    {"PruneOk", {"prune", "$REPO", "--keep", "$KEEP"}, 0},
    {"PruneUsage", {"prune", "$REPO"}, 2},
    {"PruneMissingRepo", {"prune", "$MISSING", "--keep", "$KEEP"}, 1},
    {"PruneMissingKeep", {"prune", "$REPO", "--keep", "$MISSING"}, 1},
    {"PruneBeginOk", {"prune-begin", "$REPO"}, 0},
    {"PruneBeginUsage", {"prune-begin"}, 2},
    {"PruneBeginMissingRepo", {"prune-begin", "$MISSING"}, 1},
    {"CompactOk", {"compact", "$REPO"}, 0},
    {"CompactUsage", {"compact", "$REPO", "--bogus"}, 2},
    {"CompactMissingRepo", {"compact", "$MISSING"}, 1},
    {"StatsOk", {"stats", "$REPO", "--json"}, 0},
    {"StatsUsage", {"stats"}, 2},
    {"StatsMissingRepo", {"stats", "$MISSING"}, 1},
    {"HelpOk", {"--help"}, 0},
    {"HelpUnknownCommand", {"help", "bogus"}, 2},
    {"UnknownCommand", {"bogus"}, 2},
    {"NoCommand", {}, 2},
};

class ExitCodeTest : public RepoTest, public ::testing::WithParamInterface<ExitCase> {
 protected:
  void SetUp() override {
    Fill(4096, 8, 0);
    digest_ = Sha256(chunks_[0]).ToHex();
    WriteFileOrDie(dir_.Sub("file"), "some bytes to put");
    WriteFileOrDie(dir_.Sub("keep"), [this] {
      std::string keep;
      for (const std::string& c : chunks_) keep += Sha256(c).ToHex() + "\n";
      return keep;
    }());
  }

  // A copy of the repository with the record of chunk 1 damaged.
  std::string Damaged() {
    const std::string path = dir_.Sub("damaged");
    fs::copy(Repo(), path, fs::copy_options::recursive);
    auto [dat, rec] = Locate(1);
    FlipByte(path + dat.substr(Repo().size()), rec.begin + kRecordHeader + 100);
    return path;
  }

  std::vector<std::string> Expand(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    for (const std::string& a : args) {
      if (a == "$REPO") out.push_back(Repo());
      else if (a == "$DAMAGED") out.push_back(Damaged());
      else if (a == "$DIGEST") out.push_back(digest_);
      else if (a == "$ABSENT") out.push_back(std::string(64, 'e'));
      else if (a == "$FILE") out.push_back(dir_.Sub("file"));
      else if (a == "$KEEP") out.push_back(dir_.Sub("keep"));
      else if (a == "$MISSING") out.push_back(dir_.Sub("missing"));
      else if (a == "$NEW") out.push_back(dir_.Sub("new"));
      else out.push_back(a);
    }
    return out;
  }

  std::string digest_;
};

TEST_P(ExitCodeTest, Status) {
  const ExitCase& c = GetParam();
  CliResult r = RunChunkctl(Expand(c.args), dir_.path());
  EXPECT_EQ(r.exit_code, c.code) << "stdout: " << r.out << "\nstderr: " << r.err;
  if (c.code == 1 || c.code == 2) {  // an error: one clear line
    EXPECT_EQ(r.err.rfind("chunkctl: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

INSTANTIATE_TEST_SUITE_P(Commands, ExitCodeTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ExitCase>& p) { return std::string(p.param.name); });

// The help text lists the same statuses.
TEST(ExitCodeHelpTest, HelpListsEveryStatus) {
  TempDir dir;
  CliResult r = RunChunkctl({"--help"}, dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* line : {"  0  success", "  1  error", "  2  bad command line", "  3  damage"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " missing from:\n" << r.out;
  }
}

}  // namespace
}  // namespace chunkfs::checktest
