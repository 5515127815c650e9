// ChunkFs without a mount: operations called as the FUSE loop calls them, on
// a real repository in a temporary directory. For interleavings a mount test
// could only hit by timing: a test seam (SetAfterLoadHookForTest) runs a
// second "process" at the exact point where the first one waits for a load.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "chunkfs.h"
#include "test_util.h"

namespace chunkfs::fs {
namespace {

class ChunkFsOpsTest : public ::testing::Test {
 protected:
  void SetUp() override { testutil::CreateRepoOrDie(dir_.Sub("r"), RepoSettings{}); }

  // Mounts (without FUSE) `repo`, or the repository in dir_ if null.
  void Start(std::unique_ptr<Repository> repo = nullptr, uint64_t flush_interval_ms = 5000) {
    FsConfig cfg;
    cfg.tmp_dir = dir_.path();
    cfg.flush_interval_ms = flush_interval_ms;
    fs_ = std::make_unique<ChunkFs>(cfg, [this](const std::string& m) {
      std::lock_guard<std::mutex> l(log_mu_);
      log_ += m + "\n";
    });
    if (!repo) repo = testutil::OpenOrDie(dir_.Sub("r"));
    fs_->Attach(std::move(repo), 16u << 20);
  }

  // open(2) of an existing name; the handle id.
  uint64_t Open(fuse_ino_t ino, int flags) {
    fuse_file_info fi{};
    fi.flags = flags;
    EXPECT_EQ(fs_->Open(ino, &fi), 0);
    return fi.fh;
  }
  void Write(fuse_ino_t ino, uint64_t fh, const std::string& data, off_t off) {
    fuse_file_info fi{};
    fi.fh = fh;
    EXPECT_EQ(fs_->Write(ino, data.data(), data.size(), off, &fi), 0);
  }
  // close(2): FLUSH then RELEASE.
  void Close(fuse_ino_t ino, uint64_t fh) {
    fuse_file_info fi{};
    fi.fh = fh;
    EXPECT_EQ(fs_->Flush(ino, &fi), 0);
    EXPECT_EQ(fs_->Release(ino, &fi), 0);
  }
  // Rewrites an existing name: open(O_TRUNC), write `data`, close.
  void Rewrite(fuse_ino_t ino, const std::string& data) {
    uint64_t fh = Open(ino, O_WRONLY | O_TRUNC);
    Write(ino, fh, data, 0);
    Close(ino, fh);
  }
  // Creates /incoming/NAME holding `data`; its inode.
  fuse_ino_t CreateFile(const char* name, const std::string& data) {
    fuse_ctx ctx{};
    fuse_file_info fi{};
    fi.flags = O_WRONLY | O_CREAT;
    fuse_entry_param e;
    EXPECT_EQ(fs_->Create(&ctx, kIncomingIno, name, 0644, &fi, &e), 0);
    Write(e.ino, fi.fh, data, 0);
    Close(e.ino, fi.fh);
    return e.ino;
  }
  uint64_t Size(fuse_ino_t ino) {
    struct stat st;
    double timeout;
    EXPECT_EQ(fs_->Getattr(ino, &st, &timeout), 0);
    return static_cast<uint64_t>(st.st_size);
  }
  // truncate(2) of the name (no open file).
  void Truncate(fuse_ino_t ino, off_t size) {
    fuse_ctx ctx{};
    struct stat attr{};
    attr.st_size = size;
    struct stat out;
    double timeout;
    EXPECT_EQ(fs_->Setattr(&ctx, ino, attr, FUSE_SET_ATTR_SIZE, nullptr, &out, &timeout), 0);
    EXPECT_EQ(out.st_size, size);
  }
  // The name's content, read through a read-only open.
  std::string Content(fuse_ino_t ino) {
    uint64_t fh = Open(ino, O_RDONLY);
    fuse_file_info fi{};
    fi.fh = fh;
    ReadReply r;
    EXPECT_EQ(fs_->Read(ino, 1 << 30, 0, &fi, &r), 0);
    std::string out(r.data, r.size);
    EXPECT_EQ(fs_->Release(ino, &fi), 0);
    return out;
  }
  // Runs `fn` once, the first time a writer's load of stored content ends.
  void OnFirstLoad(std::function<void()> fn) {
    fs_->SetAfterLoadHookForTest([this, fn = std::move(fn)] {
      if (loads_++ == 0) fn();
    });
  }

  testutil::TempDir dir_;
  std::unique_ptr<ChunkFs> fs_;
  int loads_ = 0;
  std::mutex log_mu_;
  std::string log_;
};

// Issue 7 item 3: A opens a stored name with O_APPEND; while A's open loads
// the old content, B opens it with O_TRUNC, writes "B" and closes. A then
// appends "A". A plain file gives "BA"; B's write must not be lost.
TEST_F(ChunkFsOpsTest, AppendOpenDuringTruncatingWriterKeepsTheWriterContent) {
  Start();
  fuse_ino_t ino = CreateFile("f", "old content, long");
  OnFirstLoad([&] { Rewrite(ino, "B"); });
  uint64_t a = Open(ino, O_WRONLY | O_APPEND);
  EXPECT_EQ(loads_, 2) << "A's open loads again after B's commit";
  Write(ino, a, "A", static_cast<off_t>(Size(ino)));  // O_APPEND: at the end
  Close(ino, a);
  EXPECT_EQ(Content(ino), "BA");
}

// The same for `truncate NAME` (setattr of a stored name nobody has open):
// B's write lands before or after the truncation, never lost.
TEST_F(ChunkFsOpsTest, TruncateDuringWriterKeepsTheWriterContent) {
  Start();
  fuse_ino_t ino = CreateFile("f", "old content, long");
  OnFirstLoad([&] { Rewrite(ino, "new data"); });
  Truncate(ino, 3);
  EXPECT_EQ(Content(ino), "new");
}

// A writer opening a stored name while `truncate NAME` of it is loading
// shares the truncation's upload: both changes are kept.
TEST_F(ChunkFsOpsTest, WriterOpeningDuringTruncateSharesIt) {
  Start();
  fuse_ino_t ino = CreateFile("f", "0123456789");
  uint64_t b = 0;
  OnFirstLoad([&] { b = Open(ino, O_WRONLY); });  // loads too (a second load)
  Truncate(ino, 4);
  Write(ino, b, "xy", 4);
  Close(ino, b);
  EXPECT_EQ(Content(ino), "0123xy");
}

// A repository whose Sync throws std::bad_alloc the first `throws` times.
class ThrowingSyncRepo : public Repository {
 public:
  ThrowingSyncRepo(std::unique_ptr<Repository> inner, int throws) : inner_(std::move(inner)), throws_(throws) {}
  Status Put(std::string_view data, PutResult* r, const Digest* expected) override {
    return inner_->Put(data, r, expected);
  }
  Status Get(const Digest& d, std::string* out) override { return inner_->Get(d, out); }
  Status Stat(const Digest& d, ChunkInfo* info) override { return inner_->Stat(d, info); }
  Status PutBlocks(const Digest& d, std::vector<EncodedBlock> b, PutResult* r) override {
    return inner_->PutBlocks(d, std::move(b), r);
  }
  Status OpenChunk(const Digest& d, std::unique_ptr<ChunkReader>* out) override { return inner_->OpenChunk(d, out); }
  Status Sync() override {
    if (calls_.fetch_add(1) < throws_) throw std::bad_alloc();
    return inner_->Sync();
  }
  std::unique_ptr<DigestIterator> NewIterator() override { return inner_->NewIterator(); }
  RepoStats GetStats() override { return inner_->GetStats(); }
  const RepoSettings& settings() const override { return inner_->settings(); }
  const std::string& path() const override { return inner_->path(); }
  Status Close() override { return inner_->Close(); }
  Status BeginPrune(PruneToken* t) override { return inner_->BeginPrune(t); }
  Status Prune(const std::vector<Digest>& keep, const PruneOptions& o, PruneResult* r) override {
    return inner_->Prune(keep, o, r);
  }
  Status Touch(const Digest& d) override { return inner_->Touch(d); }
  Status Compact(const CompactOptions& o, CompactResult* r) override { return inner_->Compact(o, r); }
  int calls() const { return calls_.load(); }

 private:
  std::unique_ptr<Repository> inner_;
  const int throws_;
  std::atomic<int> calls_{0};
};

// Issue 7 item 12: an exception in the flusher (bad_alloc) is logged and the
// sync retried at the next interval; it does not terminate the mount.
TEST_F(ChunkFsOpsTest, FlusherSurvivesAnException) {
  auto repo = std::make_unique<ThrowingSyncRepo>(testutil::OpenOrDie(dir_.Sub("r")), 1);
  ThrowingSyncRepo* throwing = repo.get();
  Start(std::move(repo), /*flush_interval_ms=*/10);
  fs_->StartThreads();
  CreateFile("f", "synced after a failed round");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fs_->counters().background_syncs.load() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(fs_->counters().background_syncs.load(), 1u) << "no retry after the exception";
  EXPECT_GE(throwing->calls(), 2);
  EXPECT_EQ(fs_->counters().sync_errors.load(), 1u);
  EXPECT_TRUE(fs_->Shutdown().ok());
  std::lock_guard<std::mutex> l(log_mu_);
  EXPECT_NE(log_.find("background sync failed: exception: std::bad_alloc"), std::string::npos) << log_;
}

// A chunk stored right after a publication (here: fsync of another file)
// is synced by the flusher's next round while the store still holds its
// publication back (at most once a second per shard). The flusher goes on
// syncing until that interval has passed, so read-only readers see the
// chunk without waiting for another one to be stored.
TEST_F(ChunkFsOpsTest, FlusherPublishesWhatItsRoundLeftPending) {
  Start(nullptr, /*flush_interval_ms=*/10);
  fs_->StartThreads();
  // Both in one shard, so that one publication interval applies to both.
  std::string a = testutil::ContentInShard(0x42, 100, 1), b = testutil::ContentInShard(0x42, 100, 2);
  fuse_ctx ctx{};
  fuse_file_info fi{};
  fi.flags = O_WRONLY | O_CREAT;
  fuse_entry_param e;
  ASSERT_EQ(fs_->Create(&ctx, kIncomingIno, "a", 0644, &fi, &e), 0);
  Write(e.ino, fi.fh, a, 0);
  EXPECT_EQ(fs_->Fsync(e.ino, &fi), 0);  // synced and published now
  Close(e.ino, fi.fh);
  CreateFile("b", b);  // the flusher's next round: publication held back
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!testutil::PublishedDigests(dir_.Sub("r")).count(Sha256(b)) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(testutil::PublishedDigests(dir_.Sub("r")).count(Sha256(a)));
  EXPECT_TRUE(testutil::PublishedDigests(dir_.Sub("r")).count(Sha256(b))) << "b never published";
}

}  // namespace
}  // namespace chunkfs::fs
