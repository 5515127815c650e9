// Standard tools writing into /incoming and reading from /chunks: cp, cp -r,
// cat, dd, tee, install, rsync -a, tar -x. Each result is checked against
// sha256sum (the tool) and the user.chunkfs.digest attribute.
#include <sys/stat.h>
#include <unistd.h>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class ToolsTest : public MountTest {
 protected:
  // One source file in work_, its sha256sum (via the tool).
  std::string MakeSource(const std::string& name, const std::string& data) {
    std::string path = work_ + "/" + name;
    WriteFile(path, data);
    std::string out;
    EXPECT_EQ(ShOut("sha256sum " + Q(path), &out), 0);
    EXPECT_EQ(out.substr(0, 64), Sha256Hex(data));
    return out.substr(0, 64);
  }
  void ExpectStored(const std::string& path, const std::string& data, const std::string& hex) {
    EXPECT_EQ(ReadFile(path), data) << path;
    std::string out;
    ASSERT_EQ(ShOut("getfattr --only-values -n user.chunkfs.digest " + Q(path), &out), 0);
    EXPECT_EQ(out, hex);
    ASSERT_EQ(ShOut("sha256sum " + Q(ChunkPath(hex)), &out), 0);
    EXPECT_EQ(out.substr(0, 64), hex);
  }
};

TEST_F(ToolsTest, Cp) {
  std::string data = RandomBytes((5 << 20) + 123, 1);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("cp " + Q(work_ + "/src") + " " + Q(Incoming() + "/copied")), 0);
  ExpectStored(Incoming() + "/copied", data, hex);
  // And back out of /chunks with cp.
  ASSERT_EQ(Sh("cp " + Q(ChunkPath(hex)) + " " + Q(work_ + "/back")), 0);
  EXPECT_EQ(ReadFile(work_ + "/back"), data);
}

TEST_F(ToolsTest, CpIntoDigestName) {
  std::string data = TextBytes(300000, 2);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("cp " + Q(work_ + "/src") + " " + Q(Incoming() + "/" + hex)), 0);
  ExpectStored(Incoming() + "/" + hex, data, hex);
}

TEST_F(ToolsTest, CpRecursiveTree) {
  MakeTree(work_ + "/tree", 10);
  ASSERT_EQ(Sh("cp -r " + Q(work_ + "/tree") + " " + Q(Incoming() + "/tree")), 0) << Log();
  ExpectTreeStored(work_ + "/tree", Incoming() + "/tree");
  struct stat st;
  EXPECT_EQ(::stat((Incoming() + "/tree/d/empty-dir").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(ToolsTest, CatInAndOut) {
  std::string data = TextBytes(2 << 20, 3);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("cat " + Q(work_ + "/src") + " > " + Q(Incoming() + "/catted")), 0);
  ExpectStored(Incoming() + "/catted", data, hex);
  std::string out;
  ASSERT_EQ(ShOut("cat " + Q(ChunkPath(hex)) + " | sha256sum", &out), 0);
  EXPECT_EQ(out.substr(0, 64), hex);
}

TEST_F(ToolsTest, Dd) {
  std::string data = RandomBytes(3 << 20, 4);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("dd status=none bs=64k if=" + Q(work_ + "/src") + " of=" + Q(Incoming() + "/dd")), 0);
  ExpectStored(Incoming() + "/dd", data, hex);
  // Reading with block sizes from 4 KiB to 1 MiB gives the same bytes.
  for (const char* bs : {"4k", "128k", "1M"}) {
    std::string out;
    ASSERT_EQ(ShOut(std::string("dd status=none bs=") + bs + " if=" + Q(ChunkPath(hex)) +
                        " | sha256sum",
                    &out),
              0);
    EXPECT_EQ(out.substr(0, 64), hex) << bs;
  }
}

TEST_F(ToolsTest, Tee) {
  std::string data = TextBytes(700000, 5);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("tee " + Q(Incoming() + "/t1") + " " + Q(Incoming() + "/t2") + " < " +
               Q(work_ + "/src") + " > /dev/null"),
            0);
  ExpectStored(Incoming() + "/t1", data, hex);
  ExpectStored(Incoming() + "/t2", data, hex);
}

TEST_F(ToolsTest, Install) {
  std::string data = RandomBytes(100000, 6);
  std::string hex = MakeSource("src", data);
  ASSERT_EQ(Sh("install -m 0640 " + Q(work_ + "/src") + " " + Q(Incoming() + "/installed")), 0)
      << Log();
  ExpectStored(Incoming() + "/installed", data, hex);
  struct stat st;
  ASSERT_EQ(::stat((Incoming() + "/installed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // The chunk itself stays read-only.
  ASSERT_EQ(::stat(ChunkPath(hex).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  // install -D makes the directories.
  ASSERT_EQ(Sh("install -D -m 0600 " + Q(work_ + "/src") + " " + Q(Incoming() + "/x/y/z")), 0);
  ExpectStored(Incoming() + "/x/y/z", data, hex);
}

TEST_F(ToolsTest, RsyncArchiveTree) {
  MakeTree(work_ + "/tree", 20);
  // Times in the past (rsync leaves alone the times of source directories
  // changed within the last second, on any file system) with nanoseconds.
  ASSERT_EQ(Sh("find " + Q(work_ + "/tree") +
               " -exec touch -h -d '2020-01-02 03:04:05.123456789' {} +"),
            0);
  std::string out;
  ASSERT_EQ(ShOut("rsync -a " + Q(work_ + "/tree/") + " " + Q(Incoming() + "/r/"), &out, true), 0)
      << out << Log();
  ExpectTreeStored(work_ + "/tree", Incoming() + "/r");
  // rsync -a kept modes and times on files and directories.
  std::string a, b;
  const std::string fmt = "cd %s && find . -printf '%%p %%m %%T@\\n' | grep -v '^\\. ' | sort";
  char cmd[4096];
  std::snprintf(cmd, sizeof cmd, fmt.c_str(), Q(work_ + "/tree").c_str());
  ASSERT_EQ(ShOut(cmd, &a), 0);
  std::snprintf(cmd, sizeof cmd, fmt.c_str(), Q(Incoming() + "/r").c_str());
  ASSERT_EQ(ShOut(cmd, &b), 0);
  EXPECT_EQ(a, b);
  // A second run finds nothing to do and succeeds.
  ASSERT_EQ(ShOut("rsync -ai " + Q(work_ + "/tree/") + " " + Q(Incoming() + "/r/"), &out, true), 0)
      << out;
  EXPECT_EQ(out, "");
}

TEST_F(ToolsTest, TarExtractWithOwners) {
  MakeTree(work_ + "/tree", 30);
  ASSERT_EQ(Sh("chown -R 1234:2345 " + Q(work_ + "/tree") + " && chown 4321:5432 " +
               Q(work_ + "/tree/a/b/c/file12.txt")),
            0);
  // Whole seconds: a tar archive keeps no more.
  ASSERT_EQ(Sh("find " + Q(work_ + "/tree") + " -exec touch -h -d '2019-05-06 07:08:09' {} +"), 0);
  ASSERT_EQ(Sh("tar -C " + Q(work_) + " -cf " + Q(work_ + "/tree.tar") + " tree"), 0);
  ASSERT_EQ(::mkdir((Incoming() + "/untar").c_str(), 0755), 0);
  std::string out;
  ASSERT_EQ(ShOut("tar -C " + Q(Incoming() + "/untar") + " -xf " + Q(work_ + "/tree.tar"), &out,
                  true),
            0)
      << out << Log();
  ExpectTreeStored(work_ + "/tree", Incoming() + "/untar/tree");
  std::string a, b;
  const std::string fmt =
      "cd %s && find . -printf '%%p %%m %%U %%G %%T@ %%y\\n' | grep -v '^\\. ' | sort";
  char cmd[4096];
  std::snprintf(cmd, sizeof cmd, fmt.c_str(), Q(work_ + "/tree").c_str());
  ASSERT_EQ(ShOut(cmd, &a), 0);
  std::snprintf(cmd, sizeof cmd, fmt.c_str(), Q(Incoming() + "/untar/tree").c_str());
  ASSERT_EQ(ShOut(cmd, &b), 0);
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace chunkfs::fs::testing
