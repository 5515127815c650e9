// Spill I/O errors through the mount's operations (ChunkFs without FUSE, on
// a FaultEnv): ENOSPC and EIO of an upload's temporary file surface from
// write() or close() as that errno, nothing partial is stored and the failed
// upload leaves no name.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "chunkfs.h"
#include "fault_chunkfs.h"
#include "fault_env.h"

namespace chunkfs::fs {
namespace {

class SpillFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FsConfig cfg;
    cfg.write_buffer = 0;  // every upload spills
    faultfs::StartFaultChunkFs(&env_, cfg, &fs_, &repo_);  // repo_ is owned by fs_
  }

  // creat(2) of /incoming/NAME: *ino and the handle id.
  uint64_t Create(const char* name, fuse_ino_t* ino) {
    fuse_ctx ctx{};
    fuse_file_info fi{};
    fi.flags = O_WRONLY | O_CREAT | O_TRUNC;
    fuse_entry_param e;
    EXPECT_EQ(fs_->Create(&ctx, kIncomingIno, name, 0644, &fi, &e), 0);
    *ino = e.ino;
    return fi.fh;
  }
  int Write(fuse_ino_t ino, uint64_t fh, const std::string& data, off_t off) {
    fuse_file_info fi{};
    fi.fh = fh;
    return fs_->Write(ino, data.data(), data.size(), off, &fi);
  }
  // close(2): the FLUSH's result; then RELEASE.
  int Close(fuse_ino_t ino, uint64_t fh) {
    fuse_file_info fi{};
    fi.fh = fh;
    int err = fs_->Flush(ino, &fi);
    EXPECT_EQ(fs_->Release(ino, &fi), 0);
    return err;
  }
  // Create() and a successful Write() of `data` at 0.
  uint64_t CreateWith(const char* name, const std::string& data, fuse_ino_t* ino) {
    uint64_t fh = Create(name, ino);
    EXPECT_EQ(Write(*ino, fh, data, 0), 0);
    return fh;
  }
  bool NameExists(const char* name) {
    fuse_entry_param e;
    int err = fs_->Lookup(kIncomingIno, name, &e);
    if (err == 0) fs_->Forget(e.ino, 1);
    return err == 0;
  }
  uint64_t StoredChunks() { return repo_->GetStats().chunks; }

  FaultEnv env_;
  Repository* repo_ = nullptr;
  std::unique_ptr<ChunkFs> fs_;
};

TEST_F(SpillFaultTest, SpillWriteErrorSurfacesFromWriteAndClose) {
  for (int err : {ENOSPC, EIO}) {
    SCOPED_TRACE(err);
    fuse_ino_t ino;
    uint64_t fh = CreateWith("f", "first part ", &ino);
    env_.InjectError(FaultOp::kTempWrite, err);
    EXPECT_EQ(Write(ino, fh, "second part", 11), err);
    EXPECT_EQ(Close(ino, fh), err);  // the writer that ignored write() hears it here
    EXPECT_EQ(StoredChunks(), 0u);
    EXPECT_FALSE(repo_->Contains(Sha256("first part ")));
    EXPECT_FALSE(NameExists("f"));  // a failed upload leaves no name
  }
}

TEST_F(SpillFaultTest, NoSpaceForTheSpillFileSurfacesFromWrite) {
  fuse_ino_t ino;
  uint64_t fh = Create("g", &ino);
  env_.InjectError(FaultOp::kTempCreate, ENOSPC);
  EXPECT_EQ(Write(ino, fh, "data", 0), ENOSPC);
  EXPECT_EQ(Close(ino, fh), ENOSPC);
  EXPECT_EQ(StoredChunks(), 0u);
  EXPECT_FALSE(NameExists("g"));
}

TEST_F(SpillFaultTest, SpillReadErrorAtCommitSurfacesFromClose) {
  fuse_ino_t ino;
  std::string data(300 << 10, 'x');
  uint64_t fh = CreateWith("h", data, &ino);
  env_.InjectError(FaultOp::kTempRead, EIO);
  EXPECT_EQ(Close(ino, fh), EIO);
  EXPECT_EQ(StoredChunks(), 0u);
  EXPECT_FALSE(repo_->Contains(Sha256(data)));
  EXPECT_FALSE(NameExists("h"));
}

TEST_F(SpillFaultTest, WithoutFaultsSpilledUploadsAreStored) {
  fuse_ino_t ino;
  std::string data(300 << 10, 'y');
  uint64_t fh = CreateWith("ok", data, &ino);
  EXPECT_EQ(Close(ino, fh), 0);
  EXPECT_TRUE(repo_->Contains(Sha256(data)));
  EXPECT_TRUE(NameExists("ok"));
  EXPECT_GE(env_.op_count(FaultOp::kTempWrite), 1);  // it did go through the spill file
}

}  // namespace
}  // namespace chunkfs::fs
