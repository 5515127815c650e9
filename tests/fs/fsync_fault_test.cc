// fsync() of a file in /incoming returns 0 only if its chunk is durable and
// readable (issue 7 item 1), through the mount's operations (ChunkFs without
// FUSE) on a FaultEnv: the store loses the chunk before it becomes durable
// (its pack's fsync fails and the record cannot be read back to be copied),
// and the still-open file's fsync stores it again before answering.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "chunkfs.h"
#include "fault_chunkfs.h"
#include "fault_env.h"

namespace chunkfs::fs {
namespace {

class FsyncFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { faultfs::StartFaultChunkFs(&env_, FsConfig{}, &fs_); }

  // creat + write + flush of /incoming/NAME (left open): the handle.
  fuse_file_info WriteAndFlush(const char* name, const std::string& data, fuse_ino_t* ino) {
    fuse_ctx ctx{};
    fuse_file_info fi{};
    fi.flags = O_WRONLY | O_CREAT | O_TRUNC;
    fuse_entry_param e;
    EXPECT_EQ(fs_->Create(&ctx, kIncomingIno, name, 0644, &fi, &e), 0);
    *ino = e.ino;
    EXPECT_EQ(fs_->Write(e.ino, data.data(), data.size(), 0, &fi), 0);
    EXPECT_EQ(fs_->Flush(e.ino, &fi), 0);
    return fi;
  }

  // What a power cut now leaves: does a fresh open find `data`?
  bool DurableAfterPowerCut(const std::string& data) {
    env_.ClearFaults();
    env_.PowerCut();
    fs_.reset();  // its shutdown sync fails on the dead files: nothing more becomes durable
    OpenOptions oo;
    oo.env = &env_;
    std::unique_ptr<Repository> repo;
    if (!Repository::Open("/repo", oo, &repo).ok()) return false;
    std::string got;
    return repo->Get(Sha256(data), &got).ok() && got == data;
  }

  FaultEnv env_;
  std::unique_ptr<ChunkFs> fs_;
};

TEST_F(FsyncFaultTest, FsyncStoresAChunkLostBeforeItWasDurableAgain) {
  const std::string data = "chunk whose first fsync fails";
  fuse_ino_t ino;
  fuse_file_info fi = WriteAndFlush("x", data, &ino);
  env_.InjectError(FaultOp::kSync, EIO);         // the pack's fdatasync fails...
  env_.InjectError(FaultOp::kRead, EIO, 0, -1);  // ...and its records cannot be read back
  ASSERT_EQ(fs_->Fsync(ino, &fi), 0) << "the open file still holds the content: store it again";
  EXPECT_TRUE(DurableAfterPowerCut(data)) << "fsync() returned 0 for a chunk that is not durable";
}

TEST_F(FsyncFaultTest, FsyncOfAnotherFileFailsWhileALostChunkIsNotStoredAgain) {
  fuse_ino_t x, y;
  fuse_file_info fx = WriteAndFlush("x", "first chunk", &x);
  ASSERT_EQ(fs_->Release(x, &fx), 0);  // closed: nothing can store it again
  fuse_file_info fy = WriteAndFlush("y", "second chunk", &y);
  env_.InjectError(FaultOp::kSync, EIO, 0, 2);   // both packs' fdatasync fail...
  env_.InjectError(FaultOp::kRead, EIO, 0, -1);  // ...and their records cannot be read back
  EXPECT_NE(fs_->Fsync(y, &fy), 0) << "the first chunk was acknowledged by close() and then lost";
  EXPECT_NE(fs_->Fsync(y, &fy), 0) << "a retried fsync must not hide the loss";
}

}  // namespace
}  // namespace chunkfs::fs
