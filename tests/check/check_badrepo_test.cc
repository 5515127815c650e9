// Bad repositories: open, check and repair (API and chunkctl) each give a
// clear Status / one "chunkctl: ..." line and exit 1, never crash, and never
// change a byte (tree hashes identical, the lock file included where no lock
// may be taken). A full disk at open (FaultEnv) loses nothing acknowledged.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>

#include "check_util.h"
#include "fault_util.h"

namespace chunkfs::checktest {
namespace {

class BadRepoTest : public RepoTest {
 protected:
  // API open (both modes), check and repair all fail with `code`, and the
  // message mentions `part`; chunkctl check/repair/ls exit 1 with one line.
  void ExpectRefused(const std::string& path, Status::Code code, const std::string& part) {
    auto before = TreeHashes(dir_.path());
    for (bool ro : {false, true}) {
      OpenOptions o;
      o.read_only = ro;
      std::unique_ptr<Repository> repo;
      Status s = Repository::Open(path, o, &repo);
      EXPECT_EQ(s.code(), code) << "open ro=" << ro << ": " << s.ToString();
      EXPECT_NE(s.ToString().find(part), std::string::npos) << s.ToString();
    }
    CheckReport cr;
    Status s = CheckRepository(path, CheckOptions{}, &cr);
    EXPECT_EQ(s.code(), code) << "check: " << s.ToString();
    EXPECT_NE(s.ToString().find(part), std::string::npos) << s.ToString();
    RepairReport rr;
    s = RepairRepository(path, nullptr, &rr);
    EXPECT_EQ(s.code(), code) << "repair: " << s.ToString();
    EXPECT_TRUE(rr.actions.empty());
    for (auto args : std::vector<std::vector<std::string>>{
             {"check", path}, {"check", path, "--read-data"}, {"repair", path}, {"ls", path}}) {
      CliResult cli = RunChunkctl(args, dir_.path());
      EXPECT_EQ(cli.exit_code, 1) << args[0] << ": " << cli.out << cli.err;
      EXPECT_EQ(cli.err.rfind("chunkctl: ", 0), 0u) << cli.err;
      EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
      EXPECT_NE(cli.err.find(part), std::string::npos) << cli.err;
    }
    EXPECT_EQ(TreeHashes(dir_.path()), before) << "a refused command changed files";
  }
};

TEST_F(BadRepoTest, MissingPath) {
  ExpectRefused(dir_.Sub("nothing"), Status::Code::kNotFound, "nothing");
  EXPECT_FALSE(fs::exists(dir_.Sub("nothing")));
}

TEST_F(BadRepoTest, FileInsteadOfDirectory) {
  WriteFileOrDie(dir_.Sub("file"), "not a repository");
  ExpectRefused(dir_.Sub("file"), Status::Code::kInvalidArgument, "not a directory");
}

TEST_F(BadRepoTest, DirectoryThatIsNotARepository) {
  fs::create_directories(dir_.Sub("home/sub"));
  WriteFileOrDie(dir_.Sub("home/a.txt"), "hello");
  WriteFileOrDie(dir_.Sub("home/sub/b"), "world");
  ExpectRefused(dir_.Sub("home"), Status::Code::kInvalidArgument, "not a chunkfs repository");
  EXPECT_FALSE(fs::exists(dir_.Sub("home/lock")));
}

TEST_F(BadRepoTest, NewerFormatVersion) {
  Fill(4096, 8);
  std::string h = ReadFileOrDie(Repo() + "/chunkfs.repo");
  ASSERT_EQ(h.size(), 128u);
  for (size_t copy : {size_t{0}, size_t{64}}) {  // both copies say version 5 (4 is blocked records'), valid CRCs
    PutU32(&h, copy + 8, 5);
    PutU32(&h, copy + 60, Crc(h, copy, 60));
  }
  WriteFileOrDie(Repo() + "/chunkfs.repo", h);
  ExpectRefused(Repo(), Status::Code::kNotSupported, "newer");
}

// Permission: as root, permission bits do not apply, so chunkctl runs as
// "nobody" (uid 65534) in a child process; as another user, directly.
TEST_F(BadRepoTest, NoPermission) {
  Fill(4096, 8);
  const bool root = geteuid() == 0;
  const int uid = root ? 65534 : -1;
  fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  auto before = TreeHashes(Repo());
  const std::string input = dir_.Sub("input.bin");  // a regular file every user can read
  WriteFileOrDie(input, "content to put");
  fs::permissions(input, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                             fs::perms::others_read);
  if (root) {
    CliResult probe = RunChunkctl({"--version"}, "/tmp", uid);
    if (probe.exit_code != 0) GTEST_SKIP() << "cannot run chunkctl as uid 65534 (exit " << probe.exit_code << ")";
  }
  // 1. The repository folder is unreadable: every command fails clearly.
  fs::permissions(Repo(), fs::perms::none);
  for (auto args : std::vector<std::vector<std::string>>{
           {"check", Repo()}, {"repair", Repo()}, {"ls", Repo()}, {"put", Repo(), input}}) {
    CliResult cli = RunChunkctl(args, "/tmp", uid);
    EXPECT_EQ(cli.exit_code, 1) << args[0] << ": " << cli.out << cli.err;
    EXPECT_NE(cli.err.find("Permission denied"), std::string::npos) << args[0] << ": " << cli.err;
    EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
  }
  // 2. Readable but not writable (owned by another user, 0755): readers
  //    work, writers (repair, put) are refused.
  fs::permissions(Repo(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  //    Everything below too (the store makes it 0700/0600; an earlier one 0755/0644).
  for (const auto& e : fs::recursive_directory_iterator(Repo())) {
    const fs::perms x = e.is_directory() ? fs::perms::group_exec | fs::perms::others_exec : fs::perms::none;
    fs::permissions(e.path(), fs::perms::group_read | fs::perms::others_read | x, fs::perm_options::add);
  }
  if (root) {
    CliResult cli = RunChunkctl({"check", Repo(), "--read-data"}, "/tmp", uid);
    EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
    cli = RunChunkctl({"ls", Repo()}, "/tmp", uid);
    EXPECT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_EQ(std::count(cli.out.begin(), cli.out.end(), '\n'), static_cast<long>(chunks_.size()));
    for (auto args : std::vector<std::vector<std::string>>{{"repair", Repo()}, {"put", Repo(), input}}) {
      cli = RunChunkctl(args, "/tmp", uid);
      EXPECT_EQ(cli.exit_code, 1) << args[0] << ": " << cli.out << cli.err;
      EXPECT_NE(cli.err.find("Permission denied"), std::string::npos) << args[0] << ": " << cli.err;
    }
  }
  fs::permissions(Repo(), fs::perms::owner_all);
  EXPECT_EQ(TreeHashes(Repo()), before) << "a refused command changed files";
}

// A full disk while recovery needs to write (torn tails to cut, an idx to
// rebuild, packs to seal): open answers with a Status or works on what it
// has; nothing acknowledged is lost; once space is back all is well.
class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CreateRepoOrDie("/repo", SmallSettings(4096), &env_);
    auto repo = OpenOrDie("/repo", false, &env_);
    for (int i = 0; i < 40; ++i) {
      chunks_.push_back(FaultRepoTest::Chunk(i));
      PutOrDie(repo.get(), chunks_.back());
    }
    ASSERT_TRUE(repo->Sync().ok());
    for (int i = 0; i < 5; ++i) PutOrDie(repo.get(), FaultRepoTest::Chunk(100 + i));  // unsynced
    env_.PowerCut();
    repo.reset();
    std::vector<std::string> names;
    ASSERT_TRUE(env_.GetChildren("/repo/shards/01", &names).ok());
    for (auto& n : names) {
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".idx") == 0) {
        ASSERT_TRUE(env_.RemoveFile("/repo/shards/01/" + n).ok());
        break;
      }
    }
    ASSERT_TRUE(env_.SyncDir("/repo/shards/01").ok());
    state_ = env_.DurableSnapshot();
  }
  void ExpectAllAfterSpaceIsBack(const std::string& what) {
    SCOPED_TRACE(what);
    env_.SetSpaceLimit(0);
    env_.ClearFaults();
    env_.PowerCut();
    auto repo = OpenOrDie("/repo", false, &env_);
    ASSERT_NE(repo, nullptr);
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
    PutOrDie(repo.get(), FaultRepoTest::Chunk(999));
    ASSERT_TRUE(repo->Close().ok());
    CheckReport r = CheckOrDie("/repo", true, &env_);
    EXPECT_TRUE(r.ok()) << Describe(r);
  }
  void OpenWithFullDisk(const std::string& what) {
    SCOPED_TRACE(what);
    std::unique_ptr<Repository> repo;
    OpenOptions o;
    o.env = &env_;
    Status s = Repository::Open("/repo", o, &repo);
    if (s.ok()) {
      for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
      PutResult r;
      Status p = repo->Put(FaultRepoTest::Chunk(555), &r);
      EXPECT_TRUE(p.ok() || p.ToErrno() == ENOSPC) << p.ToString();
    } else {
      EXPECT_EQ(s.ToErrno(), ENOSPC) << s.ToString();
    }
  }
  FaultEnv env_;
  std::vector<std::string> chunks_;
  FaultEnv::Snapshot state_;
};

TEST_F(FullDiskTest, SpaceLimitReachedAtOpen) {
  env_.SetSpaceLimit(env_.used_bytes());
  OpenWithFullDisk("space limit");
  ExpectAllAfterSpaceIsBack("space limit");
}

TEST_F(FullDiskTest, EnospcOnEveryWriteAndCreateAtOpen) {
  env_.InjectError(FaultOp::kAppend, ENOSPC, 0, -1);
  env_.InjectError(FaultOp::kCreate, ENOSPC, 0, -1);
  OpenWithFullDisk("append+create");
  ExpectAllAfterSpaceIsBack("append+create");
}

TEST_F(FullDiskTest, RepairWithFullDiskFailsCleanly) {
  env_.SetSpaceLimit(env_.used_bytes());
  RepairReport rep;
  Status s = RepairRepository("/repo", &env_, &rep);
  EXPECT_TRUE(s.ok() || s.ToErrno() == ENOSPC) << s.ToString();
  EXPECT_TRUE(rep.lost.empty());
  ExpectAllAfterSpaceIsBack("repair");
}

}  // namespace
}  // namespace chunkfs::checktest
