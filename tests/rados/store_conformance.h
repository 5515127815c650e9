// The store on an Env: the same repository tests on each EnvKind that
// includes this file and instantiates StoreConformance (the local folder,
// ObjectEnv over memory, ObjectEnv over a real RADOS pool).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "chunkfs/check.h"
#include "chunkfs/repository.h"
#include "env_under_test.h"
#include "test_util.h"

namespace chunkfs::testing_env {

class StoreConformance : public ::testing::TestWithParam<EnvKind> {
 protected:
  void SetUp() override {
    t_ = GetParam().make();
    ASSERT_NE(t_.env, nullptr) << "no Env to test (see above)";
    Status s = Repository::Create(t_.repo, testutil::SmallSettings(64 << 10, 64 << 10), t_.env);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    if (t_.cleanup) t_.cleanup();
  }
  Status Open(std::unique_ptr<Repository>* out, bool read_only = false, Env* env = nullptr) {
    OpenOptions o;
    o.env = env != nullptr ? env : t_.env;
    o.read_only = read_only;
    return Repository::Open(t_.repo, o, out);
  }
  std::unique_ptr<Repository> OpenOrDie(bool read_only = false) {
    std::unique_ptr<Repository> r;
    Status s = Open(&r, read_only);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }
  // `n` chunks of 4..12 KiB, all in shard 0x2c (so its packs fill and seal).
  static std::vector<std::string> Chunks(int n, uint64_t seed) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(testutil::ContentInShard(0x2c, 4096 + 97 * (i % 83), seed + i));
    return out;
  }
  static void PutAll(Repository* repo, const std::vector<std::string>& chunks) {
    for (const auto& c : chunks) testutil::PutOrDie(repo, c);
  }
  static void ExpectAll(Repository* repo, const std::vector<std::string>& chunks) {
    for (const auto& c : chunks) {
      std::string got;
      Status s = repo->Get(Sha256(c), &got);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(got, c);
    }
  }

  EnvUnderTest t_;
};

TEST_P(StoreConformance, PutSyncGetSealAndReopen) {
  auto chunks = Chunks(60, 1);  // ~500 KiB: several sealed 64 KiB packs
  {
    auto repo = OpenOrDie();
    PutAll(repo.get(), chunks);
    ExpectAll(repo.get(), chunks);  // before Sync: read back from the active pack
    ASSERT_TRUE(repo->Sync().ok());
    EXPECT_GE(repo->GetStats().packs_sealed, 3u);
    ASSERT_TRUE(repo->Close().ok());
  }
  auto repo = OpenOrDie();
  ExpectAll(repo.get(), chunks);
  EXPECT_EQ(repo->GetStats().chunks, chunks.size());
  PutAll(repo.get(), Chunks(5, 1000));
  ASSERT_TRUE(repo->Close().ok());
  CheckOptions co;
  co.env = t_.env;
  co.read_data = true;
  CheckReport report;
  Status s = CheckRepository(t_.repo, co, &report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0].what);
  EXPECT_EQ(report.records, 65u);
}

TEST_P(StoreConformance, SecondWritableOpenIsRefusedNamingTheHolder) {
  auto repo = OpenOrDie();
  std::shared_ptr<Env> other = t_.reopen();
  std::unique_ptr<Repository> second;
  Status s = Open(&second, false, other.get());
  ASSERT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_NE(s.message().find("pid " + std::to_string(getpid())), std::string::npos) << s.ToString();
  ASSERT_TRUE(repo->Close().ok());
  repo.reset();
  s = Open(&second, false, other.get());
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_P(StoreConformance, ReaderOnAnotherOpenSeesWhatTheWriterSynced) {
  auto writer = OpenOrDie();
  auto chunks = Chunks(30, 7);
  PutAll(writer.get(), chunks);
  ASSERT_TRUE(writer->Sync().ok());
  std::shared_ptr<Env> other = t_.reopen();
  std::unique_ptr<Repository> reader;
  Status s = Open(&reader, true, other.get());
  ASSERT_TRUE(s.ok()) << s.ToString();
  // Sealed packs at once; the active pack's published idx after a Sync
  // (at most once a second per shard): poll with a deadline.
  for (const auto& c : chunks) {
    std::string got;
    for (int i = 0; i < 100 && !reader->Get(Sha256(c), &got).ok(); ++i) {
      ASSERT_TRUE(writer->Sync().ok());
      usleep(50000);
    }
    ASSERT_EQ(got, c);
  }
  ASSERT_TRUE(writer->Close().ok());
}

TEST_P(StoreConformance, TornTailOfTheActivePackIsCutAtOpen) {
  auto chunks = Chunks(3, 11);  // one pack, not full
  {
    auto repo = OpenOrDie();
    PutAll(repo.get(), chunks);
    ASSERT_TRUE(repo->Close().ok());
  }
  const std::string shard = t_.repo + "/shards/2c";
  std::vector<std::string> names;
  ASSERT_TRUE(t_.env->GetChildren(shard, &names).ok());
  std::string dat;
  for (const auto& n : names) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".dat") dat = shard + "/" + n;
  }
  ASSERT_FALSE(dat.empty());
  uint64_t before = 0, after = 0;
  ASSERT_TRUE(t_.env->GetFileSize(dat, &before).ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(t_.env->NewAppendableFile(dat, &f).ok());
  ASSERT_TRUE(f->Append(std::string(777, 'x')).ok());  // a torn record
  ASSERT_TRUE(f->Close().ok());
  auto repo = OpenOrDie();
  ExpectAll(repo.get(), chunks);
  ASSERT_TRUE(t_.env->GetFileSize(dat, &after).ok());
  EXPECT_EQ(after, before);
  auto more = Chunks(3, 50);
  PutAll(repo.get(), more);
  ASSERT_TRUE(repo->Sync().ok());
  ExpectAll(repo.get(), more);
  ASSERT_TRUE(repo->Close().ok());
}

TEST_P(StoreConformance, PruneAndCompactGiveSpaceBack) {
  auto chunks = Chunks(60, 21);
  auto repo = OpenOrDie();
  PutAll(repo.get(), chunks);
  ASSERT_TRUE(repo->Sync().ok());
  std::vector<Digest> keep;
  for (size_t i = 0; i < chunks.size(); i += 3) keep.push_back(Sha256(chunks[i]));
  std::sort(keep.begin(), keep.end());
  PruneOptions po;
  po.force = true;  // most chunks go
  PruneResult pr;
  Status s = repo->Prune(keep, po, &pr);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(pr.chunks_deleted, chunks.size() - keep.size());
  CompactResult cr;
  ASSERT_TRUE((s = repo->Compact(CompactOptions{}, &cr)).ok()) << s.ToString();
  EXPECT_GT(cr.packs_removed, 0u);
  EXPECT_GT(cr.bytes_reclaimed, 0u);
  ASSERT_TRUE(repo->Close().ok());
  repo = OpenOrDie();
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string got;
    EXPECT_EQ(repo->Get(Sha256(chunks[i]), &got).ok(), i % 3 == 0) << i;
  }
  ASSERT_TRUE(repo->Close().ok());
}

}  // namespace chunkfs::testing_env
