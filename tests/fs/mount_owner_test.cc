// One owner: while chunkfs holds a repository, a writing chunkctl command is
// refused with a message naming the holder's pid and changes nothing, and
// read-only commands work beside the mount.
#include <string>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class OwnerTest : public MountTest {
 protected:
  std::string Ctl(const std::string& args) const { return std::string(CHUNKCTL_BINARY) + " " + args; }
};

TEST_F(OwnerTest, ChunkctlPutWhileMountedIsRefusedNamingThePid) {
  WriteFile(work_ + "/a", "stored through the mount");
  ASSERT_EQ(Sh("cp " + Q(work_ + "/a") + " " + Q(Incoming() + "/a")), 0);
  WriteFile(work_ + "/b", "must not be stored by chunkctl");
  std::string before, after, out;
  ASSERT_EQ(ShOut("find " + Q(repo_ + "/shards") + " -type f | sort | xargs sha256sum", &before), 0);
  EXPECT_EQ(ShOut(Ctl("put " + Q(repo_) + " " + Q(work_ + "/b")), &out, true), 1) << out;
  EXPECT_NE(out.find("pid " + std::to_string(pid())), std::string::npos) << out;
  ASSERT_EQ(ShOut("find " + Q(repo_ + "/shards") + " -type f | sort | xargs sha256sum", &after), 0);
  EXPECT_EQ(before, after) << "a refused chunkctl changed the repository";
  EXPECT_EQ(ShOut(Ctl("repair " + Q(repo_)), &out, true), 1) << out;
  EXPECT_NE(out.find("pid " + std::to_string(pid())), std::string::npos) << out;
}

TEST_F(OwnerTest, ReadOnlyCommandsWorkBesideTheMount) {
  std::string data = RandomBytes(100000, 5);
  WriteFile(work_ + "/c", data);
  ASSERT_EQ(Sh("cp " + Q(work_ + "/c") + " " + Q(Incoming() + "/c")), 0);
  ASSERT_EQ(Sh("sync -f " + Q(Incoming() + "/c")), 0);  // fsync: published to readers soon
  std::string digest = Sha256Hex(data), out;
  // Readers see what the mount has published (its flusher runs every few
  // seconds); retry for a while.
  int rc = 1;
  for (int i = 0; i < 100 && rc != 0; ++i) {
    rc = ShOut(Ctl("get " + Q(repo_) + " " + digest + " -o " + Q(work_ + "/out")), &out, true);
    if (rc != 0) Sh("sleep 0.1");
  }
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(ReadFile(work_ + "/out"), data);
  EXPECT_TRUE(EventuallyPublished(digest)) << "the mount never published its index";
  EXPECT_EQ(ShOut(Ctl("ls " + Q(repo_)), &out), 0);
  EXPECT_NE(out.find(digest), std::string::npos);
  EXPECT_EQ(ShOut(Ctl("check " + Q(repo_)), &out, true), 0) << out;
}

}  // namespace
}  // namespace chunkfs::fs::testing
