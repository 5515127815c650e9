// chunkctl's progress line (tools/progress.h): on a terminal, the long
// commands (check, repair, put of several files, prune, compact) show
// "<command>: ..." on stderr and erase it before they finish; with stderr on
// a file they write nothing there. The terminal is a pseudo-terminal
// (openpty); stdout goes to a file in both cases.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "check_util.h"

namespace chunkfs::checktest {
namespace {

struct TtyResult {
  int exit_code = -1;
  std::string err;  // everything written to the terminal
};

// Runs chunkctl with `args`, stderr on a new pseudo-terminal, stdin from
// /dev/null, stdout to a file in `scratch`. Reads the terminal until the
// child has exited and closed it.
TtyResult RunOnTty(const std::vector<std::string>& args, const std::string& scratch) {
  TtyResult r;
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) return r;
  const std::string out = scratch + "/.tty.out";
  pid_t pid = fork();
  if (pid == 0) {
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int i = open("/dev/null", O_RDONLY);
    if (o < 0 || i < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(slave, 2) < 0) _exit(126);
    close(master);
    std::vector<char*> argv{const_cast<char*>(CHUNKCTL_PATH)};
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(CHUNKCTL_PATH, argv.data());
    _exit(127);
  }
  close(slave);
  char buf[4096];
  for (;;) {  // EIO (Linux) or 0 once the child's end is closed
    ssize_t n = read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.err.append(buf, static_cast<size_t>(n));
  }
  close(master);
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid) r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct ProgressCase {
  const char* name;
  std::vector<std::string> args;  // $REPO, $FILES (three files), $KEEP
  const char* shown;              // what the progress line shows
};

void PrintTo(const ProgressCase& c, std::ostream* os) { *os << c.name; }

const std::vector<ProgressCase> kCases = {
    {"Check", {"check", "$REPO", "--read-data"}, "\rcheck: "},
    {"Repair", {"repair", "$REPO"}, "\rrepair: "},
    {"Put", {"put", "$REPO", "$FILES"}, "\rput: 0/3 files"},
    {"Prune", {"prune", "$REPO", "--keep", "$KEEP", "--force"}, "\rprune: "},
    {"Compact", {"compact", "$REPO"}, "\rcompact: "},
};

class ProgressTest : public RepoTest, public ::testing::WithParamInterface<ProgressCase> {
 protected:
  void SetUp() override {
    Fill(4096, 8);
    WriteFileOrDie(dir_.Sub("keep"), Sha256(chunks_[0]).ToHex() + "\n");
  }
  std::vector<std::string> Args() {
    std::vector<std::string> out;
    for (const std::string& a : GetParam().args) {
      if (a == "$REPO") {
        out.push_back(Repo());
      } else if (a == "$KEEP") {
        out.push_back(dir_.Sub("keep"));
      } else if (a == "$FILES") {
        for (int i = 0; i < 3; ++i) {
          out.push_back(dir_.Sub("in" + std::to_string(i)));
          WriteFileOrDie(out.back(), RandomBytes(1000, i));
        }
      } else {
        out.push_back(a);
      }
    }
    return out;
  }
};

TEST_P(ProgressTest, ShownOnTerminalAndErased) {
  TtyResult r = RunOnTty(Args(), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(GetParam().shown), std::string::npos) << "no progress line on the terminal: [" << r.err << "]";
  // The last thing written is the erase: the report starts on a clean line.
  EXPECT_TRUE(r.err.size() >= 4 && r.err.compare(r.err.size() - 4, 4, "\r\033[K") == 0) << "[" << r.err << "]";
}

TEST_P(ProgressTest, SilentWhenNotATerminal) {
  CliResult r = RunChunkctl(Args(), dir_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "stderr is a file: no progress wanted";
}

INSTANTIATE_TEST_SUITE_P(Commands, ProgressTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ProgressCase>& p) {
                           return std::string(p.param.name);
                         });

}  // namespace
}  // namespace chunkfs::checktest
