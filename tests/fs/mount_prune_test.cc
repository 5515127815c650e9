// chunkctl prune / prune-begin / compact / stats on a live mount (SPEC §7):
// the work happens inside the mount, through MOUNTPOINT/.control.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class PruneMountTest : public MountTest {
 protected:
  // Background compaction off: compact is on demand here (and `du` only
  // drops when the test says so).
  std::vector<std::string> MountOptions() const override { return {"compact=off"}; }

  std::string Ctl(const std::string& args) const { return std::string(CHUNKCTL_BINARY) + " " + args; }
  // Runs chunkctl; its exit status, stdout and stderr merged into *out.
  int RunCtl(const std::string& args, std::string* out) const { return ShOut(Ctl(args), out, true); }

  // Stores `n` chunks of `size` random bytes through /incoming; their digests.
  std::vector<std::string> Store(int n, size_t size, uint64_t seed) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      std::string data = RandomBytes(size, seed + i);
      WriteFile(Incoming() + "/c" + std::to_string(seed + i), data);
      out.push_back(Sha256Hex(data));
    }
    return out;
  }
  std::string KeepFile(const std::vector<std::string>& digests) {
    std::string path = work_ + "/keep";
    std::string text;
    for (const auto& d : digests) text += d + "\n";
    WriteFile(path, text);
    return path;
  }
  bool Exists(const std::string& hex) const {
    struct stat st;
    return ::stat(ChunkPath(hex).c_str(), &st) == 0;
  }
  std::string Listing() const {
    std::string out;
    EXPECT_EQ(ShOut("ls " + Q(Chunks()), &out), 0);
    return out;
  }
  uint64_t RepoBytes() const {
    std::string out;
    EXPECT_EQ(ShOut("du -sb " + Q(repo_) + " | cut -f1", &out), 0);
    return std::stoull(out);
  }
};

TEST_F(PruneMountTest, DeletedChunksAreGoneAtOnceAndKeptOnesReadBack) {
  std::vector<std::string> d = Store(6, 20000, 1);
  for (const auto& h : d) ASSERT_TRUE(Exists(h)) << h;  // the kernel now caches every name
  std::vector<std::string> keep(d.begin(), d.begin() + 3);
  std::string out;
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(KeepFile(keep)), &out), 0) << out;
  EXPECT_NE(out.find("deleted: 3 chunks, 60000 bytes"), std::string::npos) << out;
  std::string listing = Listing();
  for (int i = 0; i < 6; ++i) {
    if (i < 3) {
      EXPECT_EQ(ReadFile(ChunkPath(d[i])), RandomBytes(20000, 1 + i)) << i;
      EXPECT_NE(listing.find(d[i]), std::string::npos) << i;
    } else {
      struct stat st;
      EXPECT_EQ(Errno(::stat(ChunkPath(d[i]).c_str(), &st)), ENOENT) << "a cached name of a deleted chunk: " << i;
      EXPECT_EQ(listing.find(d[i]), std::string::npos) << i;
    }
  }
  EXPECT_EQ(RunCtl("stats " + Q(mnt_), &out), 0) << out;
  EXPECT_NE(out.find("chunks_deleted: 3\n"), std::string::npos) << out;
}

TEST_F(PruneMountTest, TokenProtectsWhatIsStoredStoredAgainOrTouchedAfterIt) {
  std::vector<std::string> old = Store(8, 5000, 10);
  std::string token, out;
  ASSERT_EQ(ShOut(Ctl("prune-begin " + Q(mnt_)), &token), 0);
  ASSERT_EQ(token.size(), 16 + 1 + 1 + 1u) << token;  // "<16 hex>-1\n"
  token.pop_back();
  std::vector<std::string> fresh = Store(1, 5000, 100);                   // stored after the token
  WriteFile(Incoming() + "/again", RandomBytes(5000, 10));                 // old[0] stored again (dedup)
  ASSERT_EQ(Sh("touch " + Q(ChunkPath(old[1]))), 0);                      // old[1] touched
  ASSERT_EQ(Sh("touch -d @0 " + Q(ChunkPath(old[2]))), 0);                // old[2]: explicit times too
  std::vector<std::string> keep(old.begin() + 3, old.begin() + 5);        // old[3], old[4] kept
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --since " + token + " --force --keep " + Q(KeepFile(keep)), &out), 0)
      << out;
  EXPECT_NE(out.find("protected (stored, stored again or touched since the token): 4 chunks"), std::string::npos)
      << out;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Exists(old[i]), i < 5) << i;
  EXPECT_TRUE(Exists(fresh[0]));
  // The touched chunk is unchanged: times are the epoch, mode 0444.
  struct stat st;
  ASSERT_EQ(::stat(ChunkPath(old[1]).c_str(), &st), 0);
  EXPECT_EQ(st.st_mtime, 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444u);
  EXPECT_EQ(ReadFile(ChunkPath(old[1])), RandomBytes(5000, 11));
  // Used up.
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --since " + token + " --force --keep " + Q(KeepFile(keep)), &out), 1);
  EXPECT_NE(out.find("no longer valid"), std::string::npos) << out;
}

TEST_F(PruneMountTest, TouchIsTheOnlyChangeAChunkAccepts) {
  std::vector<std::string> d = Store(1, 100, 1);
  const std::string p = ChunkPath(d[0]);
  EXPECT_EQ(Sh("touch " + Q(p)), 0);
  EXPECT_NE(Sh("chmod 644 " + Q(p) + " 2>/dev/null"), 0);
  EXPECT_NE(Sh("chown 1:1 " + Q(p) + " 2>/dev/null"), 0);
  EXPECT_EQ(Errno(::truncate(p.c_str(), 0)), EROFS);
  EXPECT_EQ(ReadFile(p), RandomBytes(100, 1));
}

TEST_F(PruneMountTest, TokenFromBeforeARemountIsRefused) {
  std::vector<std::string> d = Store(4, 3000, 1);
  std::string token, out;
  ASSERT_EQ(ShOut(Ctl("prune-begin " + Q(mnt_)), &token), 0);
  token.pop_back();
  Unmount();
  Mount();
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --since " + token + " --force --keep " + Q(KeepFile({})), &out), 1);
  EXPECT_NE(out.find("remount"), std::string::npos) << out;
  for (const auto& h : d) EXPECT_TRUE(Exists(h)) << h;
}

TEST_F(PruneMountTest, RefusalsDryRunAndMalformedKeepListDeleteNothing) {
  std::vector<std::string> d = Store(4, 3000, 1);
  std::string out;
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(KeepFile({})), &out), 1);
  EXPECT_NE(out.find("keep list is empty"), std::string::npos) << out;
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(KeepFile({d[0]})), &out), 1) << "75 % without --force";
  EXPECT_NE(out.find("--force"), std::string::npos) << out;
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --dry-run --force --keep " + Q(KeepFile({})), &out), 0) << out;
  EXPECT_NE(out.find("would delete: 4 chunks"), std::string::npos) << out;
  WriteFile(work_ + "/bad", d[0] + "\n\n" + d[1] + "x\n");
  EXPECT_EQ(RunCtl("prune " + Q(mnt_) + " --force --keep " + Q(work_ + "/bad"), &out), 1);
  EXPECT_NE(out.find("keep list line 3"), std::string::npos) << out;
  for (const auto& h : d) EXPECT_TRUE(Exists(h)) << h;
  // From standard input, with a digest that is not stored: reported, no failure.
  std::string missing = Sha256Hex("not stored");
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --keep - < " + Q(KeepFile({d[0], d[1], missing})), &out), 0) << out;
  EXPECT_NE(out.find("keep list digests not stored: 1\n  " + missing), std::string::npos) << out;
  EXPECT_TRUE(Exists(d[0]) && Exists(d[1]) && !Exists(d[2]) && !Exists(d[3]));
}

TEST_F(PruneMountTest, CompactThroughTheMountGivesTheSpaceBack) {
  std::vector<std::string> d = Store(40, 64 << 10, 1);
  ASSERT_EQ(Sh("sync -f " + Q(Incoming())), 0);
  std::vector<std::string> keep;
  for (size_t i = 0; i < d.size(); i += 2) keep.push_back(d[i]);
  std::string out;
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(KeepFile(keep)), &out), 0) << out;
  uint64_t before = RepoBytes();
  ASSERT_EQ(RunCtl("compact " + Q(mnt_), &out), 0) << out;
  EXPECT_NE(out.find("bytes reclaimed: "), std::string::npos) << out;
  uint64_t after = RepoBytes();
  EXPECT_LT(after + 20 * (64 << 10), before + (64 << 10)) << "du of the repository must drop by ~the deleted bytes";
  for (size_t i = 0; i < d.size(); i += 2) EXPECT_EQ(ReadFile(ChunkPath(d[i])), RandomBytes(64 << 10, 1 + i)) << i;
}

class BackgroundCompactionTest : public PruneMountTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"compact_interval=0.2"}; }
};

TEST_F(BackgroundCompactionTest, APruneIsFollowedByCompaction) {
  std::vector<std::string> d = Store(20, 32 << 10, 1);
  std::vector<std::string> keep(d.begin(), d.begin() + 10);
  std::string out;
  ASSERT_EQ(RunCtl("prune " + Q(mnt_) + " --keep " + Q(KeepFile(keep)), &out), 0) << out;
  int64_t reclaimed = 0;
  for (int i = 0; i < 300 && reclaimed <= 0; ++i) {  // poll with a deadline (30 s)
    reclaimed = StatsField(ReadFile(mnt_ + "/.stats"), "bytes_reclaimed");
    if (reclaimed <= 0) Sh("sleep 0.1");
  }
  EXPECT_GT(reclaimed, 10 * (32 << 10)) << ReadFile(mnt_ + "/.stats");
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_GE(StatsField(stats, "compactor.rounds"), 1) << stats;
  EXPECT_EQ(StatsField(stats, "compactor.failures"), 0) << stats;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ReadFile(ChunkPath(d[i])), RandomBytes(32 << 10, 1 + i)) << i;
}

}  // namespace
}  // namespace chunkfs::fs::testing
