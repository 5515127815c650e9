// Pipelined ingest (issue 9): an Upload with an IngestPipeline hashes and
// encodes blocks as they are written; whatever the writer does, the digest
// and the stored blocks are those of the final content. The encoder is a
// fake (raw blocks, counted, failing on demand) so that these tests do not
// depend on the store's codecs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <random>
#include <thread>

#include "block_buffers.h"
#include "fault_env.h"
#include "ingest_pipeline.h"
#include "upload.h"
#include "worker_pool.h"

namespace chunkfs::fs {
namespace {

constexpr uint64_t kB = chunkfs::kBlockSize;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Polls `cond` until it holds or 30 s passed (no timing assumption: a
// deadline only against hanging).
bool Eventually(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

class PipelinedUploadTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(env_.CreateDir("/tmp").ok()); }

  // The fake encoder: raw blocks, with their hash; fails while fail_ is set
  // (fail_once_: for one call only).
  IngestPipeline::EncodeFn Encoder() {
    return [this](std::string_view raw, EncodedBlock* out) {
      encodes_.fetch_add(1);
      if (fail_once_.exchange(false) || fail_.load()) return Status::IOError("injected encode failure", EIO);
      out->codec = 0;
      out->raw_len = static_cast<uint32_t>(raw.size());
      out->hash = Sha256(raw);
      out->bytes.assign(raw);
      return Status::OK();
    };
  }
  std::unique_ptr<Upload> NewUpload(WriteBudget* budget, uint64_t max_size = 64 << 20) {
    return std::make_unique<Upload>(budget, "/tmp", max_size, &env_,
                                    std::make_unique<IngestPipeline>(&pool_, budget, Encoder(), &buffers_));
  }
  // Commits through both put functions; what was stored lands in stored_
  // (blocks checked and joined), its digest in digest_.
  int Commit(Upload& u, bool* did_put = nullptr) {
    Upload::PutFn put = [this](std::string_view content, CommitResult* r) {
      whole_puts_++;
      stored_.assign(content);
      r->digest = digest_ = Sha256(content);
      return 0;
    };
    Upload::PutBlocksFn put_blocks = [this](const Digest& d, std::vector<EncodedBlock> blocks, CommitResult* r) {
      block_puts_++;
      stored_.clear();
      for (size_t i = 0; i < blocks.size(); i++) {
        const EncodedBlock& b = blocks[i];
        EXPECT_EQ(b.raw_len, b.bytes.size());
        EXPECT_EQ(b.hash, Sha256(b.bytes)) << "block " << i;
        if (i + 1 < blocks.size()) {
          EXPECT_EQ(b.raw_len, kB) << "block " << i;
        }
        stored_ += b.bytes;
      }
      r->digest = digest_ = d;
      return 0;
    };
    CommitResult r;
    return u.Commit(put, &r, did_put, nullptr, &put_blocks);
  }
  // Commits and checks that exactly `want` was stored, under its SHA-256.
  void ExpectStores(Upload& u, const std::string& want) {
    ASSERT_EQ(Commit(u), 0);
    EXPECT_EQ(stored_.size(), want.size());
    EXPECT_TRUE(stored_ == want) << "stored bytes differ from the final content";
    EXPECT_EQ(digest_, Sha256(want));
  }
  // Waits until the upload's pipeline has no encode pending and `n` encoded.
  void AwaitEncoded(Upload& u, uint64_t n) {
    ASSERT_TRUE(Eventually([&] { return pool_.queued() == 0 && u.pipeline()->blocks_encoded_ahead() >= n; }));
  }

  FaultEnv env_;
  WriteBudget budget_{64 << 20};
  std::atomic<int> encodes_{0};
  std::atomic<bool> fail_{false}, fail_once_{false};
  int whole_puts_ = 0, block_puts_ = 0;
  std::string stored_;
  Digest digest_;
  BlockBuffers buffers_{2, kB};  // staged blocks come from here (reused)
  WorkerPool pool_{2};  // after what its tasks use: joined first
};

// Writes `content` in pieces of `piece` bytes, in order.
void WriteSequentially(Upload& u, const std::string& content, size_t piece) {
  for (size_t off = 0; off < content.size(); off += piece) {
    ASSERT_EQ(u.Write(off, std::string_view(content).substr(off, piece)), 0);
  }
}

TEST_F(PipelinedUploadTest, SequentialWritesOfEverySize) {
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, kB - 1, kB, kB * 7 / 2}) {
    SCOPED_TRACE(size);
    whole_puts_ = block_puts_ = 0;
    std::string content = RandomBytes(size, static_cast<uint32_t>(size));
    auto u = NewUpload(&budget_);
    WriteSequentially(*u, content, 100000);  // pieces not aligned to blocks
    EXPECT_EQ(u->pipeline()->hashed(), size);
    ExpectStores(*u, content);
    EXPECT_EQ(block_puts_, size >= kB ? 1 : 0);  // small chunks keep the whole-content path
    EXPECT_EQ(whole_puts_, size >= kB ? 0 : 1);
  }
}

TEST_F(PipelinedUploadTest, FullBlocksAreEncodedWhileWritingAndOnlyTheTailAtCommit) {
  std::string content = RandomBytes(kB * 7 / 2, 1);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  AwaitEncoded(*u, 3);
  EXPECT_EQ(encodes_.load(), 3);
  EXPECT_GE(budget_.used(), 3 * kB);  // the encoded blocks count against the budget
  ExpectStores(*u, content);
  EXPECT_EQ(encodes_.load(), 4);  // the half block at the end
  u.reset();
  EXPECT_EQ(budget_.used(), 0u);
}

// Staged blocks come from reused buffers: uploads one after another, some
// overwriting a staged block, each store exactly their own final content
// (never bytes a buffer held for an earlier block).
TEST_F(PipelinedUploadTest, ReusedStageBuffersStoreEachUploadsOwnContent) {
  for (uint32_t round = 0; round < 4; round++) {
    std::string content = RandomBytes(3 * kB + 1000 * round, 40 + round);
    auto u = NewUpload(&budget_);
    WriteSequentially(*u, content, 128 << 10);
    if (round % 2) {  // an overwrite inside the last staged block
      content.replace(3 * kB - 10, 5, "ZZZZZ");
      ASSERT_EQ(u->Write(3 * kB - 10, "ZZZZZ"), 0);
    }
    ExpectStores(*u, content);
  }
  EXPECT_GT(buffers_.reused(), 0u);
  EXPECT_LE(buffers_.idle(), 2u);
}

TEST_F(PipelinedUploadTest, FinishOfTinyContentWithoutAPool) {
  // The pipeline alone (no pool: Finish encodes on the caller's thread).
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, kB - 1, kB, kB + 1}) {
    SCOPED_TRACE(size);
    std::string content = RandomBytes(size, 7);
    IngestPipeline p(nullptr, &budget_, Encoder());
    if (size > 0) p.Wrote(0, content);
    Digest d;
    std::vector<EncodedBlock> blocks;
    auto read = [&](uint64_t off, size_t n, std::string*, std::string_view* view) {
      *view = std::string_view(content).substr(off, n);
      return 0;
    };
    ASSERT_EQ(p.Finish(size, read, &d, &blocks), 0);
    EXPECT_EQ(d, Sha256(content));
    std::string joined;
    for (const auto& b : blocks) joined += b.bytes;
    EXPECT_TRUE(joined == content);
    EXPECT_EQ(blocks.size(), (size + kB - 1) / kB);
  }
}

TEST_F(PipelinedUploadTest, RandomOffsetWrites) {
  std::string content = RandomBytes(kB * 7 / 2, 2);
  const size_t piece = 96 << 10;
  std::vector<size_t> offsets;
  for (size_t off = 0; off < content.size(); off += piece) offsets.push_back(off);
  std::shuffle(offsets.begin(), offsets.end(), std::mt19937(3));
  auto u = NewUpload(&budget_);
  for (size_t off : offsets) ASSERT_EQ(u->Write(off, std::string_view(content).substr(off, piece)), 0);
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, OverwriteOfAnEncodedBlock) {
  std::string content = RandomBytes(3 * kB, 4);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  AwaitEncoded(*u, 3);
  // Patch bytes inside block 1 (a header rewritten after the data, say).
  std::string patch(50, 'P');
  ASSERT_EQ(u->Write(kB + 100, patch), 0);
  content.replace(kB + 100, patch.size(), patch);
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, OverwriteOfTheStagedBlockAndRewriteFromTheStart) {
  std::string content = RandomBytes(2 * kB + 5000, 5);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  std::string patch(3000, 'Q');
  ASSERT_EQ(u->Write(2 * kB + 1000, patch), 0);  // in the block being assembled
  content.replace(2 * kB + 1000, patch.size(), patch);
  std::string rest = RandomBytes(kB, 55);  // which then fills and is encoded ahead
  ASSERT_EQ(u->Write(content.size(), rest), 0);
  content += rest;
  AwaitEncoded(*u, 3);
  ExpectStores(*u, content);
  std::string again = RandomBytes(content.size(), 6);  // the whole file rewritten
  WriteSequentially(*u, again, 200000);
  ExpectStores(*u, again);
}

TEST_F(PipelinedUploadTest, TruncateDownAndUpAfterBlocksWereEncoded) {
  std::string content = RandomBytes(3 * kB, 7);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  AwaitEncoded(*u, 3);
  ASSERT_EQ(u->Truncate(kB + kB / 2), 0);
  ASSERT_EQ(u->Truncate(2 * kB + kB / 2), 0);  // zeros from 1.5 blocks on
  content.resize(kB + kB / 2);
  content.resize(2 * kB + kB / 2, '\0');
  std::string tail = RandomBytes(kB, 8);  // and written on past the end
  ASSERT_EQ(u->Write(content.size(), tail), 0);
  content += tail;
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, TruncateBelowTheHashedPrefixThenAppend) {
  std::string content = RandomBytes(2 * kB + 10, 9);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  ASSERT_EQ(u->Truncate(kB / 2), 0);
  content.resize(kB / 2);
  std::string more = RandomBytes(2 * kB, 10);
  WriteSequentially(*u, content + more, 300000);  // rewrites the kept half too
  ExpectStores(*u, content + more);
}

TEST_F(PipelinedUploadTest, DupedDescriptorFlushedTwiceStoresOnce) {
  std::string content = RandomBytes(2 * kB + 3, 11);
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  ExpectStores(*u, content);
  bool did_put = true;
  stored_.clear();
  ASSERT_EQ(Commit(*u, &did_put), 0);  // the second flush
  EXPECT_FALSE(did_put);
  EXPECT_EQ(block_puts_, 1);
  EXPECT_TRUE(stored_.empty());
  EXPECT_EQ(digest_, Sha256(content));
  // Written on after the first flush: the running hash goes on.
  std::string more = RandomBytes(kB, 12);
  ASSERT_EQ(u->Write(content.size(), more), 0);
  ExpectStores(*u, content + more);
  EXPECT_EQ(block_puts_, 2);
}

TEST_F(PipelinedUploadTest, SpilledUploadWithoutBudgetForBlocks) {
  WriteBudget tiny(64 << 10);  // spills at once; no block fits the budget
  std::string content = RandomBytes(kB * 7 / 2, 13);
  auto u = NewUpload(&tiny);
  WriteSequentially(*u, content, 128 << 10);
  EXPECT_TRUE(u->spilled());
  EXPECT_EQ(u->pipeline()->blocks_encoded_ahead(), 0u);
  EXPECT_EQ(u->pipeline()->hashed(), content.size());  // hashed as it arrived all the same
  ExpectStores(*u, content);
  EXPECT_LE(tiny.used(), tiny.limit());
}

TEST_F(PipelinedUploadTest, SpilledUploadEncodesFromTheWrittenData) {
  WriteBudget small(3 * kB);  // the content spills, blocks are still encoded ahead
  std::string content = RandomBytes(6 * kB, 14);
  auto u = NewUpload(&small);
  WriteSequentially(*u, content, 128 << 10);
  EXPECT_TRUE(u->spilled());
  AwaitEncoded(*u, 1);
  EXPECT_LE(small.used(), small.limit());
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, EncodeFailureIsReportedByTheCommit) {
  std::string content = RandomBytes(2 * kB + 7, 15);
  fail_ = true;
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  bool did_put = false;
  EXPECT_EQ(Commit(*u, &did_put), EIO);
  EXPECT_TRUE(did_put);  // attempted (counted as a failed commit)
  EXPECT_EQ(block_puts_, 0);
  EXPECT_EQ(Commit(*u), EIO);  // that version's outcome, again
  fail_ = false;
  ASSERT_EQ(u->Write(0, content.substr(0, 1)), 0);  // a new version: tried again
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, BackgroundEncodeFailureIsRetriedAtCommit) {
  std::string content = RandomBytes(2 * kB, 16);
  fail_once_ = true;
  auto u = NewUpload(&budget_);
  WriteSequentially(*u, content, 128 << 10);
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, WriteErrorAfterEncodingStartedPoisonsTheCommit) {
  WriteBudget small(3 * kB);
  std::string content = RandomBytes(3 * kB, 17);
  auto u = NewUpload(&small);
  WriteSequentially(*u, content, 128 << 10);
  ASSERT_TRUE(u->spilled());
  AwaitEncoded(*u, 1);
  env_.InjectError(FaultOp::kTempWrite, ENOSPC);
  EXPECT_EQ(u->Write(kB / 2, std::string(1000, 'x')), ENOSPC);  // over an encoded block
  bool did_put = true;
  EXPECT_EQ(Commit(*u, &did_put), ENOSPC);
  EXPECT_FALSE(did_put);
  EXPECT_EQ(block_puts_ + whole_puts_, 0);
  ASSERT_EQ(u->Truncate(3 * kB), 0);  // the writer starts over
  ASSERT_EQ(u->Write(kB / 2, content.substr(kB / 2, 1000)), 0);
  ExpectStores(*u, content);
}

TEST_F(PipelinedUploadTest, TooLargeWritePoisonsTheCommit) {
  std::string content = RandomBytes(2 * kB, 18);
  auto u = NewUpload(&budget_, 2 * kB);
  WriteSequentially(*u, content, 128 << 10);
  EXPECT_EQ(u->Write(2 * kB - 10, std::string(100, 'x')), EFBIG);
  EXPECT_EQ(Commit(*u), EFBIG);
  EXPECT_EQ(block_puts_, 0);
}

}  // namespace
}  // namespace chunkfs::fs
