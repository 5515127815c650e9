// /incoming semantics through a real mount: zero-length chunks, digest names,
// EFBIG, random writes against a model, dup'ed and forked descriptors,
// metadata on names, renames, xattrs, the name table bound.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>

#include "mount_fixture.h"

namespace chunkfs::fs::testing {
namespace {

constexpr const char* kEmptySha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A name whose upload failed goes at RELEASE, which the kernel sends just
// after the last close() returns: wait a little for it.
bool GoneSoon(const std::string& path) {
  for (int i = 0; i < 200; i++) {
    if (!Exists(path)) return true;
    usleep(10000);
  }
  return false;
}

class IncomingTest : public MountTest {};

TEST_F(IncomingTest, ZeroLengthChunk) {
  ASSERT_EQ(Sh(": > " + Q(Incoming() + "/empty")), 0);
  struct stat st;
  ASSERT_EQ(::stat((Incoming() + "/empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/empty"), kEmptySha);
  ASSERT_EQ(::stat(ChunkPath(kEmptySha).c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(ReadFile(ChunkPath(kEmptySha)), "");
  // touch makes one too, and so does a digest-named empty file.
  ASSERT_EQ(Sh("touch " + Q(Incoming() + "/touched")), 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/touched"), kEmptySha);
  ASSERT_EQ(Sh("touch " + Q(Incoming() + "/" + kEmptySha)), 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/" + kEmptySha), kEmptySha);
}

TEST_F(IncomingTest, WrongDigestNameFailsAndStoresNothing) {
  std::string data = RandomBytes(200000, 7);
  WriteFile(work_ + "/src", data);
  std::string wrong = Sha256Hex("something else");
  std::string out;
  EXPECT_NE(ShOut("cp " + Q(work_ + "/src") + " " + Q(Incoming() + "/" + wrong), &out, true), 0);
  EXPECT_NE(out.find("Input/output error"), std::string::npos) << out;
  EXPECT_FALSE(Exists(ChunkPath(Sha256Hex(data))));  // nothing stored
  EXPECT_FALSE(Exists(ChunkPath(wrong)));
  EXPECT_TRUE(GoneSoon(Incoming() + "/" + wrong));  // a failed copy leaves no name
  std::string names;
  ASSERT_EQ(ShOut("ls -A " + Q(Incoming()), &names), 0);
  EXPECT_EQ(names, "");
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_EQ(StatsField(stats, "chunks"), 0) << stats;
  EXPECT_EQ(StatsField(stats, "digest_mismatches"), 1) << stats;
}

// Renamed while open onto a 64-hex name that is not its digest: close()
// checks the content against the new name and fails with EIO.
TEST_F(IncomingTest, RenameWhileOpenOntoWrongDigestNameFailsAtClose) {
  std::string data = RandomBytes(5000, 8);
  std::string a = Incoming() + "/a", wrong = Incoming() + "/" + Sha256Hex("not this");
  int fd = ::open(a.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), ssize_t(data.size()));
  ASSERT_EQ(::fsync(fd), 0);  // stored under the plain name "a"
  ASSERT_EQ(::rename(a.c_str(), wrong.c_str()), 0);
  errno = 0;
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EIO);
}

// Writing a name again right after its upload failed (the kernel may still
// cache the name for a moment) stores it under that name.
TEST_F(IncomingTest, RewriteRightAfterAFailedUpload) {
  std::string name = Incoming() + "/" + Sha256Hex("right");
  WriteFile(work_ + "/wrong", "wrong");
  WriteFile(work_ + "/right", "right");
  EXPECT_NE(Sh("cp " + Q(work_ + "/wrong") + " " + Q(name) + " 2>/dev/null"), 0);
  EXPECT_EQ(Sh("cp " + Q(work_ + "/right") + " " + Q(name)), 0);
  EXPECT_EQ(ReadFile(name), "right");
  EXPECT_EQ(DigestXattr(name), Sha256Hex("right"));
  usleep(1200000);  // past the kernel's entry timeout: still there
  EXPECT_EQ(DigestXattr(name), Sha256Hex("right"));
  std::string out;
  ASSERT_EQ(ShOut("ls " + Q(Incoming()), &out), 0);
  EXPECT_EQ(out, Sha256Hex("right") + "\n");
}

TEST_F(IncomingTest, UpperCaseDigestNames) {
  std::string data = "upper case\n";
  std::string hex = Sha256Hex(data);
  std::string upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  // In /incoming an upper-case digest name is verified like a lower-case one.
  WriteFile(Incoming() + "/" + upper, data);
  EXPECT_EQ(DigestXattr(Incoming() + "/" + upper), hex);
  std::string wrong = Sha256Hex("x");
  std::transform(wrong.begin(), wrong.end(), wrong.begin(), ::toupper);
  WriteFile(work_ + "/src", data);
  EXPECT_NE(Sh("cp " + Q(work_ + "/src") + " " + Q(Incoming() + "/" + wrong) + " 2>/dev/null"), 0);
  // In /chunks only the lower-case name exists.
  EXPECT_TRUE(Exists(ChunkPath(hex)));
  struct stat st;
  EXPECT_EQ(Errno(::stat(ChunkPath(upper).c_str(), &st)), ENOENT);
  EXPECT_EQ(Errno(::stat(ChunkPath(hex.substr(0, 63)).c_str(), &st)), ENOENT);
  EXPECT_EQ(Errno(::stat(ChunkPath(hex + "0").c_str(), &st)), ENOENT);
  EXPECT_EQ(Errno(::stat(ChunkPath("zz" + hex.substr(2)).c_str(), &st)), ENOENT);
  EXPECT_EQ(Errno(::stat(ChunkPath("not-a-digest").c_str(), &st)), ENOENT);
}

TEST_F(IncomingTest, ChunkStoredAfterFailedLookupBecomesVisible) {
  std::string data = "appears later";
  std::string hex = Sha256Hex(data);
  struct stat st;
  EXPECT_EQ(Errno(::stat(ChunkPath(hex).c_str(), &st)), ENOENT);
  WriteFile(Incoming() + "/later", data);
  EXPECT_EQ(::stat(ChunkPath(hex).c_str(), &st), 0);  // no negative caching
  EXPECT_EQ(ReadFile(ChunkPath(hex)), data);
}

// write() beyond the maximum chunk size: EFBIG, and close() fails too;
// nothing is stored.
TEST_F(IncomingTest, TooLargeIsEfbig) {
  std::string block = RandomBytes(1 << 20, 8);
  int fd = ::open((Incoming() + "/big").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  for (int i = 0; i < 16; i++) ASSERT_EQ(::write(fd, block.data(), block.size()), (ssize_t)block.size());
  errno = 0;
  EXPECT_EQ(::write(fd, "x", 1), -1);
  EXPECT_EQ(errno, EFBIG);
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EFBIG);
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_EQ(StatsField(stats, "chunks"), 0) << stats;
  EXPECT_TRUE(GoneSoon(Incoming() + "/big"));
  // A pwrite far beyond the limit as well; exactly the limit is fine.
  fd = ::open((Incoming() + "/far").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::pwrite(fd, "x", 1, 16 << 20), -1);
  EXPECT_EQ(errno, EFBIG);
  ::close(fd);
  fd = ::open((Incoming() + "/exact").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::pwrite(fd, "x", 1, (16 << 20) - 1), 1);
  EXPECT_EQ(::close(fd), 0);
  struct stat st;
  ASSERT_EQ(::stat((Incoming() + "/exact").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 16 << 20);
  // cat of a too-large file exits non-zero.
  WriteFile(work_ + "/huge", std::string((16 << 20) + 1, 'h'));
  EXPECT_NE(Sh("cat " + Q(work_ + "/huge") + " > " + Q(Incoming() + "/huge") + " 2>/dev/null"), 0);
  EXPECT_FALSE(Exists(ChunkPath(Sha256Hex(std::string((16 << 20) + 1, 'h')))));
}

class SmallMaxChunkTest : public MountTest {
  std::vector<std::string> MountOptions() const override { return {"max_chunk=64K"}; }
};

TEST_F(SmallMaxChunkTest, MaxChunkOption) {
  WriteFile(work_ + "/ok", std::string(65536, 'a'));
  WriteFile(work_ + "/big", std::string(65537, 'a'));
  EXPECT_EQ(Sh("cp " + Q(work_ + "/ok") + " " + Q(Incoming() + "/ok")), 0);
  std::string out;
  EXPECT_NE(ShOut("dd status=none if=" + Q(work_ + "/big") + " of=" + Q(Incoming() + "/big"), &out,
                  true),
            0);
  EXPECT_NE(out.find("File too large"), std::string::npos) << out;
}

// Random writes, overwrites, truncations and reads through one descriptor,
// compared with a model; the stored chunk is the final content.
void RandomWriteModel(MountTest* t, const std::string& path, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string model;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  for (int op = 0; op < 400; op++) {
    int kind = static_cast<int>(rng() % 10);
    if (kind < 6) {
      size_t off = rng() % (3 << 20);
      size_t len = 1 + rng() % 70000;
      std::string data = RandomBytes(len, rng());
      ASSERT_EQ(::pwrite(fd, data.data(), len, static_cast<off_t>(off)), (ssize_t)len);
      if (model.size() < off + len) model.resize(off + len, '\0');
      model.replace(off, len, data);
    } else if (kind < 8) {
      size_t off = model.empty() ? 0 : rng() % (model.size() + 100);
      size_t len = 1 + rng() % 100000;
      std::string buf(len, '\0');
      ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(off));
      std::string want = off < model.size() ? model.substr(off, len) : "";
      ASSERT_EQ(n, (ssize_t)want.size()) << "op " << op;
      ASSERT_EQ(buf.substr(0, static_cast<size_t>(n)), want) << "op " << op;
    } else if (kind == 8) {
      size_t size = rng() % (3 << 20);
      ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
      model.resize(size, '\0');
    } else {
      struct stat st;
      ASSERT_EQ(::fstat(fd, &st), 0);
      ASSERT_EQ(st.st_size, (off_t)model.size()) << "op " << op;
    }
  }
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(path), model);
  std::string hex = Sha256Hex(model);
  EXPECT_EQ(DigestXattr(path), hex);
  EXPECT_EQ(ReadFile(t->ChunkPath(hex)), model);
}

TEST_F(IncomingTest, RandomWritesMatchModel) {
  RandomWriteModel(this, Incoming() + "/random", 11);
}

class SpillTest : public MountTest {
  // No memory for writes in flight: every upload spills to REPO/tmp.
  std::vector<std::string> MountOptions() const override { return {"write_buffer=0"}; }
};

TEST_F(SpillTest, RandomWritesMatchModelWhenSpilled) {
  RandomWriteModel(this, Incoming() + "/random", 12);
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_GE(StatsField(stats, "uploads.spills"), 1) << stats;
  EXPECT_EQ(StatsField(stats, "uploads.memory_bytes"), 0) << stats;
  std::string data = RandomBytes(5 << 20, 13);
  WriteFile(work_ + "/src", data);
  ASSERT_EQ(Sh("cp " + Q(work_ + "/src") + " " + Q(Incoming() + "/copied")), 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/copied"), Sha256Hex(data));
  // Nothing is left behind in REPO/tmp.
  std::string out;
  ASSERT_EQ(ShOut("ls -A " + Q(repo_ + "/tmp"), &out), 0);
  EXPECT_EQ(out, "");
}

TEST_F(IncomingTest, ReopenWithoutTruncStartsFromStoredContent) {
  WriteFile(Incoming() + "/f", "0123456789");
  int fd = ::open((Incoming() + "/f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "ab", 2, 3), 2);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(Incoming() + "/f"), "012ab56789");
  EXPECT_EQ(DigestXattr(Incoming() + "/f"), Sha256Hex("012ab56789"));
  ASSERT_EQ(Sh("echo -n new > " + Q(Incoming() + "/f")), 0);  // O_TRUNC
  EXPECT_EQ(ReadFile(Incoming() + "/f"), "new");
  EXPECT_EQ(DigestXattr(Incoming() + "/f"), Sha256Hex("new"));
  ASSERT_EQ(Sh("echo -n ' more' >> " + Q(Incoming() + "/f")), 0);  // O_APPEND
  EXPECT_EQ(ReadFile(Incoming() + "/f"), "new more");
  ASSERT_EQ(::truncate((Incoming() + "/f").c_str(), 3), 0);  // by path, nobody writing
  EXPECT_EQ(ReadFile(Incoming() + "/f"), "new");
  EXPECT_EQ(DigestXattr(Incoming() + "/f"), Sha256Hex("new"));
  // All versions were stored.
  for (const char* v : {"0123456789", "012ab56789", "new", "new more"}) {
    EXPECT_TRUE(Exists(ChunkPath(Sha256Hex(v)))) << v;
  }
}

TEST_F(IncomingTest, DupedDescriptorCommitsAtEachClose) {
  int fd = ::open((Incoming() + "/dup").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "first", 5), 5);
  int fd2 = ::dup(fd);
  ASSERT_GE(fd2, 0);
  EXPECT_EQ(::close(fd2), 0);  // flush: commits "first"
  EXPECT_EQ(DigestXattr(Incoming() + "/dup"), Sha256Hex("first"));
  EXPECT_TRUE(Exists(ChunkPath(Sha256Hex("first"))));
  ASSERT_EQ(::write(fd, "+second", 7), 7);
  EXPECT_EQ(::close(fd), 0);  // the name follows the last commit
  EXPECT_EQ(ReadFile(Incoming() + "/dup"), "first+second");
  EXPECT_EQ(DigestXattr(Incoming() + "/dup"), Sha256Hex("first+second"));
  // The shell's `echo x > FILE` flushes a duplicate before writing.
  ASSERT_EQ(Sh("echo hello > " + Q(Incoming() + "/echo")), 0);
  EXPECT_EQ(ReadFile(Incoming() + "/echo"), "hello\n");
  EXPECT_EQ(DigestXattr(Incoming() + "/echo"), Sha256Hex("hello\n"));
}

TEST_F(IncomingTest, DupedDescriptorWithWrongDigestFailsEveryClose) {
  std::string name = Incoming() + "/" + Sha256Hex("right");
  int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "wrong", 5), 5);
  int fd2 = ::dup(fd);
  EXPECT_EQ(::close(fd2), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_FALSE(Exists(ChunkPath(Sha256Hex("wrong"))));
}

TEST_F(IncomingTest, ForkedDescriptor) {
  int fd = ::open((Incoming() + "/forked").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "parent1;", 8), 8);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bool ok = ::write(fd, "child;", 6) == 6;  // shares the file offset
    ok = ::close(fd) == 0 && ok;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/forked"), Sha256Hex("parent1;child;"));
  ASSERT_EQ(::write(fd, "parent2", 7), 7);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(ReadFile(Incoming() + "/forked"), "parent1;child;parent2");
  EXPECT_EQ(DigestXattr(Incoming() + "/forked"), Sha256Hex("parent1;child;parent2"));
}

TEST_F(IncomingTest, ReadWhileWriting) {
  int fd = ::open((Incoming() + "/rw").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abcdef", 6), 6);
  char buf[16] = {};
  ASSERT_EQ(::pread(fd, buf, sizeof buf, 2), 4);
  EXPECT_EQ(std::string(buf, 4), "cdef");
  // Another reader sees what is written so far; no digest yet.
  EXPECT_EQ(ReadFile(Incoming() + "/rw"), "abcdef");
  int err = 0;
  EXPECT_EQ(DigestXattr(Incoming() + "/rw", &err), "");
  EXPECT_EQ(err, ENODATA);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(DigestXattr(Incoming() + "/rw"), Sha256Hex("abcdef"));
}

TEST_F(IncomingTest, FsyncReturnsAfterTheChunkIsStored) {
  int fd = ::open((Incoming() + "/synced").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "durable", 7), 7);
  ASSERT_EQ(::fsync(fd), 0);
  EXPECT_TRUE(Exists(ChunkPath(Sha256Hex("durable"))));  // committed by fsync
  ASSERT_EQ(::fdatasync(fd), 0);
  ASSERT_EQ(::close(fd), 0);
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_GE(StatsField(stats, "syncs"), 1) << stats;
}

TEST_F(IncomingTest, NameMetadataChmodChownUtimes) {
  WriteFile(Incoming() + "/meta", "metadata");
  std::string hex = Sha256Hex("metadata");
  ASSERT_EQ(::chmod((Incoming() + "/meta").c_str(), 0600), 0);
  ASSERT_EQ(::chown((Incoming() + "/meta").c_str(), 1000, 1001), 0);
  ASSERT_EQ(Sh("touch -m -d '2001-02-03 04:05:06.789' " + Q(Incoming() + "/meta")), 0);
  struct stat st;
  ASSERT_EQ(::stat((Incoming() + "/meta").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mtim.tv_nsec, 789000000);
  EXPECT_EQ(st.st_size, 8);
  // Recorded on the name, never on the chunk.
  ASSERT_EQ(::stat(ChunkPath(hex).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(DigestXattr(Incoming() + "/meta"), hex);
  // Directories, /incoming itself included, accept chmod and utimes.
  ASSERT_EQ(::mkdir((Incoming() + "/sub").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((Incoming() + "/sub").c_str(), 0700), 0);
  ASSERT_EQ(::chmod(Incoming().c_str(), 0775), 0);
  ASSERT_EQ(Sh("touch -d '2002-01-01' " + Q(Incoming()) + " " + Q(Incoming() + "/sub")), 0);
  ASSERT_EQ(::stat((Incoming() + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(Incoming().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0775u);
}

TEST_F(IncomingTest, RenameAndRemove) {
  WriteFile(Incoming() + "/.tmp.XXXXXX", "renamed content");
  std::string hex = Sha256Hex("renamed content");
  ASSERT_EQ(::mkdir((Incoming() + "/dir").c_str(), 0755), 0);
  ASSERT_EQ(::rename((Incoming() + "/.tmp.XXXXXX").c_str(), (Incoming() + "/dir/final").c_str()), 0);
  EXPECT_FALSE(Exists(Incoming() + "/.tmp.XXXXXX"));
  EXPECT_EQ(ReadFile(Incoming() + "/dir/final"), "renamed content");
  EXPECT_EQ(DigestXattr(Incoming() + "/dir/final"), hex);
  // Over an existing name; to its own digest name; not to a wrong one.
  WriteFile(Incoming() + "/other", "other");
  ASSERT_EQ(::rename((Incoming() + "/dir/final").c_str(), (Incoming() + "/other").c_str()), 0);
  EXPECT_EQ(ReadFile(Incoming() + "/other"), "renamed content");
  ASSERT_EQ(::rename((Incoming() + "/other").c_str(), (Incoming() + "/" + hex).c_str()), 0);
  EXPECT_EQ(Errno(::rename((Incoming() + "/" + hex).c_str(),
                           (Incoming() + "/" + Sha256Hex("nope")).c_str())),
            EIO);
  // Directories move too; not below themselves.
  ASSERT_EQ(::mkdir((Incoming() + "/dir/sub").c_str(), 0755), 0);
  ASSERT_EQ(::rename((Incoming() + "/dir").c_str(), (Incoming() + "/moved").c_str()), 0);
  EXPECT_TRUE(Exists(Incoming() + "/moved/sub"));
  EXPECT_EQ(Errno(::rename((Incoming() + "/moved").c_str(), (Incoming() + "/moved/sub/x").c_str())),
            EINVAL);
  EXPECT_EQ(Errno(::rmdir((Incoming() + "/moved").c_str())), ENOTEMPTY);
  ASSERT_EQ(::rmdir((Incoming() + "/moved/sub").c_str()), 0);
  ASSERT_EQ(::rmdir((Incoming() + "/moved").c_str()), 0);
  // rm removes the name; the chunk stays.
  ASSERT_EQ(::unlink((Incoming() + "/" + hex).c_str()), 0);
  EXPECT_FALSE(Exists(Incoming() + "/" + hex));
  EXPECT_EQ(ReadFile(ChunkPath(hex)), "renamed content");
  ASSERT_EQ(Sh("rm -rf " + Q(Incoming()) + "/*"), 0);
  std::string out;
  ASSERT_EQ(ShOut("ls -A " + Q(Incoming()), &out), 0);
  EXPECT_EQ(out, "");
}

TEST_F(IncomingTest, WriterKeepsWritingAfterUnlink) {
  int fd = ::open((Incoming() + "/gone").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "still ", 6), 6);
  ASSERT_EQ(::unlink((Incoming() + "/gone").c_str()), 0);
  ASSERT_EQ(::write(fd, "stored", 6), 6);
  EXPECT_EQ(::close(fd), 0);
  EXPECT_TRUE(Exists(ChunkPath(Sha256Hex("still stored"))));
  EXPECT_FALSE(Exists(Incoming() + "/gone"));
}

TEST_F(IncomingTest, Xattrs) {
  WriteFile(Incoming() + "/x", "xattr");
  std::string hex = Sha256Hex("xattr");
  char list[256];
  ssize_t n = ::listxattr((Incoming() + "/x").c_str(), list, sizeof list);
  ASSERT_EQ(n, 20);
  EXPECT_EQ(std::string(list, 19), "user.chunkfs.digest");
  EXPECT_EQ(::getxattr((Incoming() + "/x").c_str(), "user.chunkfs.digest", nullptr, 0), 64);
  char small[10];
  EXPECT_EQ(::getxattr((Incoming() + "/x").c_str(), "user.chunkfs.digest", small, sizeof small), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(DigestXattr(ChunkPath(hex)), hex);  // chunks carry it too
  EXPECT_EQ(::getxattr((Incoming() + "/x").c_str(), "user.other", list, sizeof list), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(::getxattr(Incoming().c_str(), "user.chunkfs.digest", list, sizeof list), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(Errno(::setxattr((Incoming() + "/x").c_str(), "user.chunkfs.digest", "a", 1, 0)), EPERM);
  EXPECT_EQ(Errno(::setxattr((Incoming() + "/x").c_str(), "user.other", "a", 1, 0)), ENOTSUP);
  EXPECT_EQ(Errno(::removexattr((Incoming() + "/x").c_str(), "user.chunkfs.digest")), EPERM);
  EXPECT_EQ(DigestXattr(Incoming() + "/x"), hex);
}

TEST_F(IncomingTest, StatfsIsTheRepositoryFileSystem) {
  struct statvfs a, b;
  ASSERT_EQ(::statvfs(mnt_.c_str(), &a), 0);
  ASSERT_EQ(::statvfs(repo_.c_str(), &b), 0);
  EXPECT_EQ(a.f_blocks, b.f_blocks);
  EXPECT_EQ(a.f_bsize, b.f_bsize);
  EXPECT_EQ(a.f_files, b.f_files);
  EXPECT_EQ(Sh("df " + Q(mnt_) + " > /dev/null"), 0);
}

TEST_F(IncomingTest, StatsFileIsJson) {
  WriteFile(Incoming() + "/a", "one");
  WriteFile(Incoming() + "/b", "one");  // dedup
  WriteFile(Incoming() + "/c", "two");
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_EQ(stats.front(), '{');
  EXPECT_EQ(StatsField(stats, "chunks"), 2) << stats;
  EXPECT_EQ(StatsField(stats, "commits"), 3) << stats;
  EXPECT_EQ(StatsField(stats, "dedup_hits"), 1) << stats;
  EXPECT_EQ(StatsField(stats, "bytes_raw"), 6) << stats;
  EXPECT_GE(StatsField(stats, "packs_open"), 1) << stats;
  EXPECT_EQ(StatsField(stats, "names.count"), 3) << stats;
  struct stat st;
  ASSERT_EQ(::stat((mnt_ + "/.stats").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_GT(st.st_size, 0);
  if (Sh("command -v python3 > /dev/null") == 0) {
    EXPECT_EQ(Sh("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " + Q(mnt_ + "/.stats")), 0);
  }
}

class NameBoundTest : public MountTest {
  std::vector<std::string> MountOptions() const override { return {"max_names=100"}; }
};

TEST_F(NameBoundTest, LeastRecentlyUsedNamesAreDropped) {
  ASSERT_EQ(::mkdir((Incoming() + "/d").c_str(), 0755), 0);
  for (int i = 0; i < 150; i++) {
    WriteFile(Incoming() + "/d/f" + std::to_string(i), "content " + std::to_string(i));
    EXPECT_EQ(ReadFile(Incoming() + "/d/f0"), "content 0") << i;  // kept in use
  }
  std::string out;
  ASSERT_EQ(ShOut("ls " + Q(Incoming() + "/d") + " | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 99);  // 100 names, one of them the directory
  EXPECT_TRUE(Exists(Incoming() + "/d/f0"));
  EXPECT_TRUE(Exists(Incoming() + "/d/f149"));
  std::string stats = ReadFile(mnt_ + "/.stats");
  EXPECT_EQ(StatsField(stats, "names.count"), 100) << stats;
  EXPECT_EQ(StatsField(stats, "names.dropped"), 51) << stats;
  // Every chunk is stored, named or not.
  for (int i = 0; i < 150; i++) {
    EXPECT_TRUE(Exists(ChunkPath(Sha256Hex("content " + std::to_string(i))))) << i;
  }
}

}  // namespace
}  // namespace chunkfs::fs::testing
