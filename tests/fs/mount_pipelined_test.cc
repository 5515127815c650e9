// Pipelined ingest through the mount (issue 9): large files written into
// /incoming are hashed and encoded while written and stored as blocks at
// close(); whatever the writer does, /chunks holds exactly the final content
// under its SHA-256, and close() reports what SPEC §3 says it reports.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

constexpr size_t kMiB = 1 << 20;

// Writes `data` at `off` through `fd`; 0 or the errno.
int PwriteAll(int fd, const std::string& data, off_t off) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, off + static_cast<off_t>(done));
    if (n < 0) return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

class PipelinedMountTest : public MountTest {
 protected:
  // The file at `path` below the mount and its chunk hold exactly `want`.
  void ExpectStored(const std::string& path, const std::string& want) {
    std::string hex = Sha256Hex(want);
    EXPECT_EQ(DigestXattr(path), hex);
    std::string chunk = ReadFile(ChunkPath(hex));
    EXPECT_EQ(chunk.size(), want.size());
    EXPECT_TRUE(chunk == want) << "chunk bytes differ";
  }
};

TEST_F(PipelinedMountTest, CpOfLargeRandomAndTextFiles) {
  ASSERT_EQ(Sh("mkdir -p " + Q(work_ + "/src")), 0);
  WriteFile(work_ + "/src/random", RandomBytes(16 * kMiB, 1));
  WriteFile(work_ + "/src/text", TextBytes(16 * kMiB, 2));
  WriteFile(work_ + "/src/odd", TextBytes(3 * kMiB + 12345, 3));
  WriteFile(work_ + "/src/one-block", RandomBytes(kMiB, 4));
  ASSERT_EQ(Sh("cp -r " + Q(work_ + "/src") + " " + Q(Incoming() + "/dst")), 0);
  ExpectTreeStored(work_ + "/src", Incoming() + "/dst");
}

TEST_F(PipelinedMountTest, RandomOffsetsOverwritesAndTruncation) {
  std::string want = TextBytes(5 * kMiB, 5);
  std::string path = Incoming() + "/patched";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  for (size_t off = 0; off < want.size(); off += 256 << 10) {  // sequential: blocks are encoded ahead
    ASSERT_EQ(PwriteAll(fd, want.substr(off, 256 << 10), static_cast<off_t>(off)), 0);
  }
  std::string patch(4096, 'P');
  ASSERT_EQ(PwriteAll(fd, patch, static_cast<off_t>(kMiB + 7)), 0);  // over an encoded block
  want.replace(kMiB + 7, patch.size(), patch);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(4 * kMiB + 10)), 0);  // down, then up with zeros
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(6 * kMiB)), 0);
  want.resize(4 * kMiB + 10);
  want.resize(6 * kMiB, '\0');
  std::string hole_end = RandomBytes(1000, 6);  // beyond a hole
  ASSERT_EQ(PwriteAll(fd, hole_end, static_cast<off_t>(7 * kMiB)), 0);
  want.resize(7 * kMiB, '\0');
  want += hole_end;
  ASSERT_EQ(::close(fd), 0);
  ExpectStored(path, want);
}

TEST_F(PipelinedMountTest, DupedDescriptorCommitsAtEachClose) {
  std::string first = RandomBytes(3 * kMiB, 7);
  std::string path = Incoming() + "/dup";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(PwriteAll(fd, first, 0), 0);
  int fd2 = ::dup(fd);
  ASSERT_GE(fd2, 0);
  ASSERT_EQ(::close(fd2), 0);  // commits what stands now
  ExpectStored(path, first);
  std::string more = TextBytes(2 * kMiB, 8);
  ASSERT_EQ(PwriteAll(fd, more, static_cast<off_t>(first.size())), 0);
  ASSERT_EQ(::close(fd), 0);
  ExpectStored(path, first + more);
}

TEST_F(PipelinedMountTest, WrongDigestNameIsRefusedByClose) {
  std::string data = TextBytes(3 * kMiB, 9);
  std::string wrong = Sha256Hex(data + "x");
  int fd = ::open((Incoming() + "/" + wrong).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(PwriteAll(fd, data, 0), 0);
  EXPECT_EQ(Errno(::close(fd)), EIO);
  EXPECT_NE(::access(ChunkPath(Sha256Hex(data)).c_str(), F_OK), 0);  // nothing stored
  std::string right = Sha256Hex(data);
  fd = ::open((Incoming() + "/" + right).c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(PwriteAll(fd, data, 0), 0);
  EXPECT_EQ(::close(fd), 0);
  ExpectStored(Incoming() + "/" + right, data);
}

TEST_F(PipelinedMountTest, TooLargeWriteFailsAndCloseReportsIt) {
  std::string path = Incoming() + "/big";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  std::string data = RandomBytes(16 * kMiB, 10);
  ASSERT_EQ(PwriteAll(fd, data, 0), 0);
  EXPECT_EQ(PwriteAll(fd, "x", static_cast<off_t>(data.size())), EFBIG);
  EXPECT_EQ(Errno(::close(fd)), EFBIG);  // nothing partial stored
  EXPECT_NE(::access(ChunkPath(Sha256Hex(data)).c_str(), F_OK), 0);
}

// A tiny write_buffer: uploads spill, and blocks fall back to the commit.
class PipelinedSpillMountTest : public PipelinedMountTest {
 protected:
  std::vector<std::string> MountOptions() const override { return {"write_buffer=2M"}; }
};

TEST_F(PipelinedSpillMountTest, SpilledUploadsStoreTheirContent) {
  ASSERT_EQ(Sh("mkdir -p " + Q(work_ + "/src")), 0);
  for (int i = 0; i < 3; i++) {
    WriteFile(work_ + "/src/r" + std::to_string(i), RandomBytes(6 * kMiB + static_cast<size_t>(i), 20 + i));
    WriteFile(work_ + "/src/t" + std::to_string(i), TextBytes(6 * kMiB + static_cast<size_t>(i), 30 + i));
  }
  ASSERT_EQ(Sh("cp -r " + Q(work_ + "/src") + " " + Q(Incoming() + "/dst")), 0);
  ExpectTreeStored(work_ + "/src", Incoming() + "/dst");
}

}  // namespace
}  // namespace chunkfs::fs::testing
