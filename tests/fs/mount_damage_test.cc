// A chunk whose stored bytes are damaged gives EIO for that chunk alone:
// never wrong bytes, and the mount and every other chunk keep working.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "chunkfs/repository.h"
#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

class DamageTest : public MountTest {
 protected:
  // Stores two random (so: raw, uncompressed) chunks, then flips one byte in
  // the middle of the first one's payload inside its pack file.
  void BeforeMount() override {
    good_ = RandomBytes(300000, 1);
    bad_ = RandomBytes(300000, 2);
    {
      std::unique_ptr<Repository> repo;
      Status s = Repository::Open(repo_, OpenOptions(), &repo);
      ASSERT_TRUE(s.ok()) << s.ToString();
      PutResult r;
      ASSERT_TRUE(repo->Put(bad_, &r).ok());
      ASSERT_TRUE(repo->Put(good_, &r).ok());
      ASSERT_TRUE(repo->Close().ok());
    }
    ASSERT_TRUE(FlipStoredByte(repo_, bad_.substr(150000, 64))) << "payload not found in any pack";
  }
  std::string good_, bad_;
};

TEST_F(DamageTest, DamagedChunkIsEioOthersAreFine) {
  std::string bad_path = ChunkPath(Sha256Hex(bad_));
  struct stat st;
  ASSERT_EQ(::stat(bad_path.c_str(), &st), 0);  // listed: its index entry is fine
  std::string out;
  int err = 0;
  EXPECT_FALSE(ReadFileChecked(bad_path, &out, &err));
  EXPECT_EQ(err, EIO);
  EXPECT_TRUE(out.empty() || out != bad_);  // never the wrong bytes as if right
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex(good_))), good_);
  // Again (no cached wrong content), and through cp.
  EXPECT_FALSE(ReadFileChecked(bad_path, &out, &err));
  EXPECT_EQ(err, EIO);
  EXPECT_NE(Sh("cp " + Q(bad_path) + " " + Q(work_ + "/copy") + " 2>/dev/null"), 0);
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_GE(StatsField(stats, "read_errors"), 2) << stats;
  // The mount keeps working.
  WriteFile(Incoming() + "/other", "the mount keeps working");
  EXPECT_EQ(ReadFile(ChunkPath(Sha256Hex("the mount keeps working"))), "the mount keeps working");
}

// Lines of the mount's log that contain `text`.
int LogLines(const std::string& log, const std::string& text) {
  int n = 0;
  size_t pos = 0;
  while ((pos = log.find(text, pos)) != std::string::npos) {
    n++;
    pos = log.find('\n', pos);
    if (pos == std::string::npos) break;
  }
  return n;
}

// A client reading a damaged chunk again and again: one log line with its
// digest, the repeats summed up (at the latest at exit), never a flood.
TEST_F(DamageTest, DamagedChunkIsLoggedOnce) {
  std::string hex = Sha256Hex(bad_);
  std::string out;
  int err = 0;
  for (int i = 0; i < 10; i++) {
    EXPECT_FALSE(ReadFileChecked(ChunkPath(hex), &out, &err));
    EXPECT_EQ(err, EIO);
  }
  EXPECT_GE(StatsField(ReadFile(mnt_ + "/.stats"), "read_errors"), 10);
  EXPECT_EQ(LogLines(Log(), "reading chunk " + hex + " failed"), 1) << Log();
  Unmount();
  EXPECT_EQ(LogLines(Log(), hex), 1) << Log();
  EXPECT_EQ(LogLines(Log(), "suppressed "), 1) << Log();
}

// Content written under a 64-hex name it does not hash to: refused each
// time, logged once with the name.
TEST_F(DamageTest, WrongDigestNameIsLoggedOnce) {
  std::string name = Sha256Hex("what the name promises");
  for (int i = 0; i < 5; i++) {
    int fd = ::open((Incoming() + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::write(fd, "something else", 14), 14);
    EXPECT_EQ(Errno(::close(fd)), EIO);
  }
  EXPECT_EQ(LogLines(Log(), "refused /incoming file named " + name), 1) << Log();
}

}  // namespace
}  // namespace chunkfs::fs::testing
