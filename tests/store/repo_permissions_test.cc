// Private data (issue 10, SPEC §8): every folder and file the store creates
// is 0700/0600 whatever the umask, or 02750/0640 with the repository's group
// in a repository shared with a group (RepoSettings::group, chunkctl init
// --group); an older repository (world-readable files) still opens, gets
// private files for what is written from then on, and is named by
// WorldAccessWarning until fixed with chmod.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "chunkfs/check.h"
#include "chunkfs/permissions.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

// Sets the umask for the life of the object (the test is single-threaded
// when it is made and destroyed).
class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t m) : old_(::umask(m)) {}
  ~ScopedUmask() { ::umask(old_); }

 private:
  mode_t old_;
};

struct Mode {
  mode_t mode = 0;  // permission bits with setgid
  gid_t gid = 0;
};

Mode ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return {st.st_mode & 07777, st.st_gid};
}

// Calls fn(path, is_dir) for `root` and everything below it.
void Walk(const std::string& root, const std::function<void(const std::string&, bool)>& fn) {
  fn(root, true);
  for (const auto& e : fs::recursive_directory_iterator(root)) fn(e.path().string(), e.is_directory());
}

// Every folder below (and including) `root` has `dir_mode`, every file
// `file_mode`; with gid >= 0 all belong to that group. Returns how many
// files were seen.
size_t ExpectModes(const std::string& root, mode_t dir_mode, mode_t file_mode, int64_t gid = -1) {
  size_t files = 0;
  Walk(root, [&](const std::string& p, bool is_dir) {
    Mode m = ModeOf(p);
    EXPECT_EQ(m.mode, is_dir ? dir_mode : file_mode) << p << " has mode 0" << std::oct << m.mode;
    if (gid >= 0) {
      EXPECT_EQ(m.gid, static_cast<gid_t>(gid)) << p;
    }
    if (!is_dir) ++files;
  });
  return files;
}

// The modes of the temporary files open in this process below `dir` (an
// unnamed file is reached through /proc/self/fd).
std::vector<mode_t> OpenTempFileModes(const std::string& dir) {
  std::vector<mode_t> out;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    fs::path target = fs::read_symlink(e.path(), ec);
    if (ec || target.string().rfind(dir + "/", 0) != 0) continue;
    struct stat st;  // stat follows the link to the open file
    EXPECT_EQ(::stat(e.path().c_str(), &st), 0) << e.path();
    out.push_back(st.st_mode & 07777);
  }
  return out;
}

// Writes packs (sealed and open), idx files, a deletion log (a prune), a
// compacted pack, a temporary file, a quarantine (a repair of a damaged
// pack): everything the store creates. The repository is closed at the end.
void CreateEverything(const std::string& path, const RepoSettings& settings) {
  CreateRepoOrDie(path, settings);
  std::vector<Digest> digests;
  {
    auto repo = OpenOrDie(path);
    for (int i = 0; i < 60; ++i) digests.push_back(PutOrDie(repo.get(), RandomBytes(3000, 100 + i)));
    ASSERT_TRUE(repo->Sync().ok());
    std::vector<Digest> keep(digests.begin(), digests.begin() + 40);
    std::sort(keep.begin(), keep.end());
    PruneResult pr;
    ASSERT_TRUE(repo->Prune(keep, PruneOptions{}, &pr).ok());
    EXPECT_EQ(pr.chunks_deleted, 20u);
    CompactResult cr;
    CompactOptions co;
    co.min_dead_share = 0.01;
    ASSERT_TRUE(repo->Compact(co, &cr).ok());
    ASSERT_TRUE(repo->Close().ok());
  }
  auto dats = AllPackFiles(path, ".dat");
  ASSERT_FALSE(dats.empty());
  FlipByte(dats.front(), 40);  // inside the first record: repair quarantines the pack
  RepairReport rr;
  ASSERT_TRUE(RepairRepository(path, nullptr, &rr).ok());
  EXPECT_FALSE(rr.quarantined.empty());
  ASSERT_TRUE(fs::exists(path + "/quarantine"));
}

class RepoPermissions : public ::testing::TestWithParam<mode_t> {
 protected:
  TempDir dir_;
};

TEST_P(RepoPermissions, EveryFolderIs0700AndEveryFile0600) {
  ScopedUmask umask(GetParam());
  const std::string path = dir_.Sub("r");
  CreateEverything(path, SmallSettings());
  EXPECT_GE(ExpectModes(path, 0700, 0600), 10u);
  EXPECT_TRUE(fs::exists(path + "/lock"));
  EXPECT_EQ(WorldAccessWarning(path), "");
}

TEST_P(RepoPermissions, TemporaryFilesAre0600) {
  ScopedUmask umask(GetParam());
  const std::string tmp = dir_.Sub("tmp");
  ASSERT_TRUE(Env::Default()->CreateDir(tmp).ok());
  EXPECT_EQ(ModeOf(tmp).mode, 0700u);
  std::unique_ptr<TempFile> f;
  ASSERT_TRUE(Env::Default()->NewTempFile(tmp, &f).ok());
  ASSERT_TRUE(f->Write(0, "spilled").ok());
  EXPECT_EQ(OpenTempFileModes(tmp), std::vector<mode_t>{0600});
}

TEST_P(RepoPermissions, AnExistingEmptyFolderBecomesPrivate) {
  ScopedUmask umask(GetParam());
  const std::string path = dir_.Sub("r");
  ASSERT_EQ(::mkdir(path.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0777), 0);
  CreateRepoOrDie(path, SmallSettings());
  EXPECT_EQ(ModeOf(path).mode, 0700u);
  ExpectModes(path, 0700, 0600);
}

// The group setting: folders 02750 and files 0640 of the group, even under
// umask 077 (a hardened service's) that would take the group's bits away.
TEST_P(RepoPermissions, AGroupRepositoryIsReadableByItsGroupOnly) {
  // Root may give a repository to any group; another user to its own.
  const int64_t group = ::geteuid() == 0 ? 4242 : static_cast<int64_t>(::getegid());
  ScopedUmask umask(GetParam() == 0 ? 0 : 077);
  const std::string path = dir_.Sub("r");
  RepoSettings settings = SmallSettings();
  settings.group = group;
  CreateEverything(path, settings);
  EXPECT_GE(ExpectModes(path, 02750, 0640, group), 10u);
  EXPECT_EQ(WorldAccessWarning(path), "");
  // Temporary files in such a folder (the mount's REPO/tmp) follow it.
  const std::string tmp = path + "/tmp";
  ASSERT_TRUE(Env::Default()->CreateDir(tmp).ok());
  std::unique_ptr<TempFile> f;
  ASSERT_TRUE(Env::Default()->NewTempFile(tmp, &f).ok());
  EXPECT_EQ(OpenTempFileModes(tmp), std::vector<mode_t>{0640});
}

INSTANTIATE_TEST_SUITE_P(Umask, RepoPermissions, ::testing::Values(mode_t{0}, mode_t{022}),
                         [](const ::testing::TestParamInfo<mode_t>& p) { return p.param == 0 ? "umask0" : "umask022"; });

// A repository made by an earlier program (files 0644, folders 0755) opens,
// reads and writes; what is written from then on is private; the warning
// names it until `chmod -R go-rwx` is run, then it is silent.
TEST(RepoPermissionsCompat, AnOldWorldReadableRepositoryOpensAndIsWarnedAbout) {
  TempDir dir;
  const std::string path = dir.Sub("r");
  fs::copy(std::string(CHUNKFS_FIXTURES_DIR) + "/repo-v1/repo", path, fs::copy_options::recursive);
  Walk(path, [](const std::string& p, bool is_dir) { ASSERT_EQ(::chmod(p.c_str(), is_dir ? 0755 : 0644), 0); });
  const std::string warning = WorldAccessWarning(path);
  EXPECT_NE(warning.find(path + " has mode 0755"), std::string::npos) << warning;
  EXPECT_NE(warning.find("chmod -R go-rwx " + path), std::string::npos) << warning;
  const auto before = AllPackFiles(path, ".dat");
  {
    auto repo = OpenOrDie(path);
    std::string content = ContentInShard(0x42, 2000, 5);
    Digest d = PutOrDie(repo.get(), content);
    EXPECT_TRUE(HasChunk(repo.get(), content)) << d.ToHex();
    ASSERT_TRUE(repo->Close().ok());
  }
  for (const auto& dat : AllPackFiles(path, ".dat")) {
    bool old = std::find(before.begin(), before.end(), dat) != before.end();
    EXPECT_EQ(ModeOf(dat).mode, old ? 0644u : 0600u) << dat;
  }
  ASSERT_EQ(std::system(("chmod -R go-rwx '" + path + "'").c_str()), 0);
  EXPECT_EQ(WorldAccessWarning(path), "");
  // A single file others may write is named too.
  ASSERT_EQ(::chmod((path + "/chunkfs.repo").c_str(), 0602), 0);
  EXPECT_NE(WorldAccessWarning(path).find(path + "/chunkfs.repo has mode 0602"), std::string::npos);
}

TEST(RepoPermissionsGroup, ParseGroupTakesANameOrANumber) {
  int64_t gid = -1;
  ASSERT_TRUE(ParseGroup("0", &gid).ok());
  EXPECT_EQ(gid, 0);
  ASSERT_TRUE(ParseGroup("root", &gid).ok());
  EXPECT_EQ(gid, 0);
  ASSERT_TRUE(ParseGroup("4242", &gid).ok());
  EXPECT_EQ(gid, 4242);
  Status s = ParseGroup("no-such-group-here", &gid);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no-such-group-here"), std::string::npos) << s.ToString();
  EXPECT_FALSE(ParseGroup("", &gid).ok());
  EXPECT_FALSE(ParseGroup("-1", &gid).ok());
  EXPECT_FALSE(ParseGroup("4294967295", &gid).ok());
}

}  // namespace
}  // namespace chunkfs
