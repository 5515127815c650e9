// Create and Open: refusals with a clear status, and nothing created or
// changed by mistake.
#include <gtest/gtest.h>
#include <zlib.h>

#include <unistd.h>

#include <cstring>

#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

Status TryOpen(const std::string& path, bool read_only) {
  OpenOptions options;
  options.read_only = read_only;
  std::unique_ptr<Repository> repo;
  return Repository::Open(path, options, &repo);
}

// Rewrites the header's version field (u32 LE at offset 8) and its CRC
// (u32 LE at offset 60, zlib crc32 of bytes [0, 60)); see docs/FORMAT.md.
void PatchHeaderVersion(const std::string& repo, uint32_t version) {
  std::string h = ReadFileOrDie(repo + "/chunkfs.repo");
  ASSERT_EQ(h.size(), 128u);  // two copies of 64 bytes (docs/FORMAT.md)
  for (size_t base : {0u, 64u}) {
    for (int i = 0; i < 4; ++i) h[base + 8 + i] = static_cast<char>(version >> (8 * i));
    uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(h.data() + base), 60));
    for (int i = 0; i < 4; ++i) h[base + 60 + i] = static_cast<char>(crc >> (8 * i));
  }
  WriteFileOrDie(repo + "/chunkfs.repo", h);
}

TEST(RepoOpen, CreateThenOpenBothModes) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings(12345, 777));
  for (bool ro : {false, true}) {
    auto repo = OpenOrDie(dir.Sub("r"), ro);
    ASSERT_NE(repo, nullptr);
    EXPECT_EQ(repo->settings().pack_size_limit, 12345u);
    EXPECT_EQ(repo->settings().max_chunk_size, 777u);
    EXPECT_EQ(repo->settings().compression_level, 1);
  }
}

TEST(RepoOpen, CreateMakesMissingDirectory) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("new"), SmallSettings());
  EXPECT_TRUE(fs::exists(dir.Sub("new/chunkfs.repo")));
}

TEST(RepoOpen, CreateOnNonEmptyDirRefused) {
  TempDir dir;
  fs::create_directory(dir.Sub("d"));
  WriteFileOrDie(dir.Sub("d/precious"), "keep me");
  Status s = Repository::Create(dir.Sub("d"), SmallSettings());
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(ReadFileOrDie(dir.Sub("d/precious")), "keep me");
  EXPECT_FALSE(fs::exists(dir.Sub("d/chunkfs.repo")));
  EXPECT_FALSE(fs::exists(dir.Sub("d/shards")));
}

TEST(RepoOpen, CreateOverExistingRepositoryRefused) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  {
    auto repo = OpenOrDie(dir.Sub("r"));
    PutOrDie(repo.get(), "data");
  }
  auto before = TreeHashes(dir.Sub("r"));
  EXPECT_FALSE(Repository::Create(dir.Sub("r"), SmallSettings()).ok());
  EXPECT_EQ(TreeHashes(dir.Sub("r")), before);
}

TEST(RepoOpen, CreateOnRegularFileRefused) {
  TempDir dir;
  WriteFileOrDie(dir.Sub("f"), "a file");
  EXPECT_FALSE(Repository::Create(dir.Sub("f"), SmallSettings()).ok());
  EXPECT_EQ(ReadFileOrDie(dir.Sub("f")), "a file");
}

TEST(RepoOpen, CreateRejectsNonsenseSettings) {
  TempDir dir;
  RepoSettings bad_level = SmallSettings();
  bad_level.compression_level = 20;  // above zstd's 19 and zlib's 9
  EXPECT_EQ(Repository::Create(dir.Sub("a"), bad_level).code(), Status::Code::kInvalidArgument);
  RepoSettings zero_max = SmallSettings();
  zero_max.max_chunk_size = 0;
  EXPECT_EQ(Repository::Create(dir.Sub("b"), zero_max).code(), Status::Code::kInvalidArgument);
  RepoSettings zero_pack = SmallSettings();
  zero_pack.pack_size_limit = 0;
  EXPECT_EQ(Repository::Create(dir.Sub("c"), zero_pack).code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir.Sub("a/chunkfs.repo")));
}

TEST(RepoOpen, MissingPathRefusedNothingCreated) {
  TempDir dir;
  for (bool ro : {false, true}) {
    Status s = TryOpen(dir.Sub("missing"), ro);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.IsNotFound() || s.IsIOError()) << s.ToString();
    EXPECT_FALSE(s.message().empty());
    EXPECT_FALSE(fs::exists(dir.Sub("missing")));
  }
}

TEST(RepoOpen, NotARepositoryRefusedNothingChanged) {
  TempDir dir;
  fs::create_directory(dir.Sub("d"));
  WriteFileOrDie(dir.Sub("d/x"), "unrelated");
  for (bool ro : {false, true}) {
    Status s = TryOpen(dir.Sub("d"), ro);
    EXPECT_FALSE(s.ok());
    EXPECT_FALSE(s.message().empty());
    EXPECT_EQ(TreeHashes(dir.Sub("d")).size(), 1u) << "open created files in a foreign directory";
  }
  fs::create_directory(dir.Sub("empty"));
  EXPECT_FALSE(TryOpen(dir.Sub("empty"), false).ok());
  EXPECT_TRUE(fs::is_empty(dir.Sub("empty")));
}

TEST(RepoOpen, HeaderBadMagicInBothCopiesRefused) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  FlipByte(dir.Sub("r/chunkfs.repo"), 0);
  FlipByte(dir.Sub("r/chunkfs.repo"), 64);
  auto before = TreeHashes(dir.Sub("r"));
  for (bool ro : {false, true}) EXPECT_FALSE(TryOpen(dir.Sub("r"), ro).ok());
  EXPECT_EQ(TreeHashes(dir.Sub("r")), before);
}

// The header holds two copies: one damaged byte loses no setting.
TEST(RepoOpen, OneDamagedHeaderCopyKeepsTheSettings) {
  for (size_t off : {0u, 20u, 60u, 64u, 84u, 124u}) {
    SCOPED_TRACE("flipped byte " + std::to_string(off));
    TempDir dir;
    CreateRepoOrDie(dir.Sub("r"), SmallSettings(12345, 777));
    FlipByte(dir.Sub("r/chunkfs.repo"), off);
    for (bool ro : {false, true}) {
      auto repo = OpenOrDie(dir.Sub("r"), ro);
      ASSERT_NE(repo, nullptr);
      EXPECT_EQ(repo->settings().pack_size_limit, 12345u);
      EXPECT_EQ(repo->settings().max_chunk_size, 777u);
    }
  }
}

// A damaged header (magic intact) is either refused, or the repository is
// opened with a logged warning and its data served; never silently.
void ExpectDamagedHeaderRefusedOrLogged(const std::string& repo, const std::string& chunk) {
  for (bool ro : {false, true}) {
    std::vector<std::string> lines;
    OpenOptions options;
    options.read_only = ro;
    options.log = [&lines](const std::string& line) { lines.push_back(line); };
    std::unique_ptr<Repository> r;
    Status s = Repository::Open(repo, options, &r);
    if (!s.ok()) continue;
    bool logged = false;
    for (auto& l : lines) logged |= l.find("chunkfs.repo") != std::string::npos;
    EXPECT_TRUE(logged) << "damaged header accepted without a log line";
    EXPECT_TRUE(HasChunk(r.get(), chunk));
  }
}

TEST(RepoOpen, HeaderBadCrcRefusedOrLogged) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  { auto repo = OpenOrDie(dir.Sub("r")); PutOrDie(repo.get(), "data"); }
  FlipByte(dir.Sub("r/chunkfs.repo"), 20);  // inside the settings
  ExpectDamagedHeaderRefusedOrLogged(dir.Sub("r"), "data");
}

TEST(RepoOpen, TruncatedHeaderRefusedOrLogged) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  { auto repo = OpenOrDie(dir.Sub("r")); PutOrDie(repo.get(), "data"); }
  fs::resize_file(dir.Sub("r/chunkfs.repo"), 30);
  ExpectDamagedHeaderRefusedOrLogged(dir.Sub("r"), "data");
}

TEST(RepoOpen, NewerFormatVersionRefusedNothingChanged) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  {
    auto repo = OpenOrDie(dir.Sub("r"));
    PutOrDie(repo.get(), "old data");
  }
  PatchHeaderVersion(dir.Sub("r"), 5);  // this program reads versions up to 4
  auto before = TreeHashes(dir.Sub("r"));
  for (bool ro : {false, true}) {
    Status s = TryOpen(dir.Sub("r"), ro);
    EXPECT_EQ(s.code(), Status::Code::kNotSupported) << s.ToString();
    EXPECT_NE(s.message().find("version"), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(TreeHashes(dir.Sub("r")), before);
}

TEST(RepoOpen, SecondWriterRefusedBusyNamingHolder) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  auto first = OpenOrDie(dir.Sub("r"));
  PutOrDie(first.get(), "held");
  Status s = TryOpen(dir.Sub("r"), false);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find(std::to_string(getpid())), std::string::npos)
      << "message should name the holder: " << s.ToString();
  // Readers are still welcome, and the writer is undisturbed.
  EXPECT_TRUE(TryOpen(dir.Sub("r"), true).ok());
  EXPECT_TRUE(HasChunk(first.get(), "held"));
  ASSERT_TRUE(first->Close().ok());
  EXPECT_TRUE(TryOpen(dir.Sub("r"), false).ok());
}

TEST(RepoOpen, ReadOnlyRefusesPutAndWritesNothing) {
  TempDir dir;
  CreateRepoOrDie(dir.Sub("r"), SmallSettings());
  auto before = TreeHashes(dir.Sub("r"));
  auto repo = OpenOrDie(dir.Sub("r"), true);
  PutResult r;
  EXPECT_FALSE(repo->Put("nope", &r).ok());
  EXPECT_FALSE(repo->Contains(Sha256("nope")));
  EXPECT_TRUE(repo->Sync().ok());  // nothing to sync read-only
  EXPECT_TRUE(repo->Close().ok());
  EXPECT_EQ(TreeHashes(dir.Sub("r")), before);
}

}  // namespace
}  // namespace chunkfs
