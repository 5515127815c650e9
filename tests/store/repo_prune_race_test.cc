// Races of prune and compaction with writers and readers (issue 8), on
// PosixEnv (a temp dir) and on FaultEnv:
//  - writers store and store again a set of chunks while prunes (each with a
//    token taken before its random keep list) run in a loop and compaction
//    runs in another thread: every chunk whose Put started after a prune's
//    token was returned is readable after that prune; no Get returns wrong
//    bytes; after a reopen each chunk is whole or NotFound, check is clean;
//  - readers Get in a loop while compaction removes the packs they read.
// CHUNKFS_SOAK_ROUNDS (default 1) multiplies the rounds for longer runs.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "fault_util.h"
#include "prune_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

int SoakRounds(int base) {
  const char* v = getenv("CHUNKFS_SOAK_ROUNDS");
  const int n = v != nullptr ? atoi(v) : 1;
  return base * (n > 0 ? n : 1);
}

struct Where {
  Env* env;
  std::string repo;
};

// Every chunk is whole or NotFound (never wrong bytes, never damaged), and
// check finds no damage.
void ExpectWholeOrNotFound(const Where& w, const std::vector<std::string>& chunks) {
  auto repo = OpenOrDie(w.repo, false, w.env);
  ASSERT_NE(repo, nullptr);
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string got;
    Status s = repo->Get(Sha256(chunks[i]), &got);
    ASSERT_TRUE(s.IsNotFound() || (s.ok() && got == chunks[i])) << "chunk " << i << ": " << s.ToString();
  }
  ASSERT_TRUE(repo->Close().ok());
  repo.reset();
  ASSERT_NO_FATAL_FAILURE(ExpectCheckClean(w.repo, w.env));
}

class StoreWhilePruning {
 public:
  explicit StoreWhilePruning(Repository* repo) : repo_(repo) {
    for (int i = 0; i < 48; ++i) chunks_.push_back(FaultRepoTest::Chunk(i));
  }
  const std::vector<std::string>& chunks() const { return chunks_; }

  // Runs `rounds` prunes against 3 writers and a compactor.
  void Run(int rounds) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) threads.emplace_back([this, t] { Writer(t); });
    threads.emplace_back([this] { Compactor(); });
    std::mt19937_64 rng(7);
    for (int r = 0; r < rounds && !::testing::Test::HasFatalFailure(); ++r) PruneOnce(&rng);
    stop_ = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(wrong_.load(), 0) << "Gets returned wrong bytes";
    EXPECT_EQ(errors_.load(), 0) << "Put, Get or Compact failed";
    printf("[ race ] %d prunes (%llu chunks deleted), %llu puts, %llu compaction passes, %llu puts checked after "
           "their prune\n",
           rounds, static_cast<unsigned long long>(deleted_), static_cast<unsigned long long>(puts_.load()),
           static_cast<unsigned long long>(compactions_.load()), static_cast<unsigned long long>(checked_));
  }

 private:
  struct Done {
    size_t chunk;
    uint64_t started;  // seq_ when the Put started
  };

  void Writer(int t) {
    std::mt19937_64 rng(100 + t);
    while (!stop_) {
      const size_t i = rng() % chunks_.size();
      const uint64_t started = ++seq_;
      PutResult r;
      if (!repo_->Put(chunks_[i], &r).ok()) {
        errors_++;
        continue;
      }
      puts_++;
      {
        std::lock_guard<std::mutex> l(mu_);
        done_.push_back({i, started});
      }
      const size_t j = rng() % chunks_.size();
      std::string got;
      Status s = repo_->Get(Sha256(chunks_[j]), &got);
      if (s.ok() && got != chunks_[j]) wrong_++;
      if (!s.ok() && !s.IsNotFound()) errors_++;
    }
  }

  void Compactor() {
    CompactOptions o;
    o.min_dead_share = 0.05;
    while (!stop_) {
      CompactResult c;
      if (!repo_->Compact(o, &c).ok()) errors_++;
      compactions_++;
      std::this_thread::yield();
    }
  }

  // A token, then a random keep list, then the prune: every Put that
  // started after the token was returned is readable afterwards.
  void PruneOnce(std::mt19937_64* rng) {
    // Let the writers work between prunes (they may not have started yet).
    const uint64_t want = puts_.load() + 50;
    while (puts_.load() < want && errors_.load() == 0) std::this_thread::yield();
    PruneToken token;
    ASSERT_TRUE(repo_->BeginPrune(&token).ok());
    const uint64_t token_seq = ++seq_;
    std::vector<Digest> keep;
    for (auto& c : chunks_) {
      if ((*rng)() % 2 == 0) keep.push_back(Sha256(c));
    }
    std::sort(keep.begin(), keep.end());
    PruneResult r;
    Status s = repo_->Prune(keep, Forced(&token), &r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    deleted_ += r.chunks_deleted;
    std::vector<Done> done;
    {
      std::lock_guard<std::mutex> l(mu_);
      done.swap(done_);
    }
    for (const auto& d : done) {
      if (d.started <= token_seq) continue;
      checked_++;
      ASSERT_TRUE(HasChunk(repo_, chunks_[d.chunk])) << "chunk " << d.chunk << " put after the token, lost";
    }
  }

  Repository* const repo_;
  std::vector<std::string> chunks_;
  std::atomic<uint64_t> seq_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Done> done_;  // mu_: Puts that returned OK
  std::atomic<int> wrong_{0}, errors_{0};
  std::atomic<uint64_t> puts_{0}, compactions_{0};
  uint64_t deleted_ = 0, checked_ = 0;  // the pruning thread's
};

void StoreWhilePruningAndCompacting(const Where& w, int rounds) {
  CreateRepoOrDie(w.repo, SmallSettings(8192), w.env);
  std::vector<std::string> chunks;
  {
    auto repo = OpenOrDie(w.repo, false, w.env);
    ASSERT_NE(repo, nullptr);
    StoreWhilePruning race(repo.get());
    race.Run(rounds);
    chunks = race.chunks();
    ASSERT_TRUE(repo->Close().ok());
  }
  ExpectWholeOrNotFound(w, chunks);
}

TEST(PruneRaceTest, StoreAndStoreAgainWhilePruningAndCompactingOnPosix) {
  TempDir dir;
  StoreWhilePruningAndCompacting({nullptr, dir.Sub("r")}, SoakRounds(25));
}

TEST(PruneRaceTest, StoreAndStoreAgainWhilePruningAndCompactingOnFaultEnv) {
  FaultEnv env;
  StoreWhilePruningAndCompacting({&env, kFaultRepo}, SoakRounds(60));
}

// A dedup hit whose lookup found the chunk, then a whole prune (token,
// deletion, end) ran before the hit was checked against prunes: the Put
// must not report the chunk stored unless it is there afterwards. It did:
// the check read "no token open" once the prune had ended (PruneRaceTest
// above hit it about once in 80 soak runs). The hook holds the Put between
// its lookup and that check while the prune runs.
class DedupAcrossAPrune {
 public:
  explicit DedupAcrossAPrune(const std::string& repo) : chunk_(FaultRepoTest::Chunk(7)) {
    CreateRepoOrDie(repo, SmallSettings(8192));
    OpenOptions o;
    o.test_after_dedup_lookup = [this](const Digest&) { Pause(); };
    EXPECT_TRUE(Repository::Open(repo, o, &repo_).ok());
  }
  Repository* repo() { return repo_.get(); }
  const std::string& chunk() const { return chunk_; }

  // Put of the chunk on another thread, held after its lookup until Resume.
  void StartHeldPut() {
    armed_ = true;
    put_ = std::thread([this] { put_status_ = repo_->Put(chunk_, &put_result_); });
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return held_; });
  }
  Status FinishHeldPut() {
    {
      std::lock_guard<std::mutex> l(mu_);
      go_ = true;
    }
    cv_.notify_all();
    put_.join();
    return put_status_;
  }
  // A whole prune that keeps nothing, with a token taken now.
  void PruneEverything() {
    PruneToken token;
    ASSERT_TRUE(repo_->BeginPrune(&token).ok());
    PruneEverything(token);
  }
  void PruneEverything(const PruneToken& token) {
    PruneResult r;
    ASSERT_TRUE(repo_->Prune({}, Forced(&token), &r).ok());
  }

 private:
  void Pause() {
    if (!armed_.exchange(false)) return;
    std::unique_lock<std::mutex> l(mu_);
    held_ = true;
    cv_.notify_all();
    cv_.wait(l, [this] { return go_; });
  }

  const std::string chunk_;
  std::unique_ptr<Repository> repo_;
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false, go_ = false;  // mu_
  std::thread put_;
  Status put_status_;
  PutResult put_result_;
};

TEST(PruneRaceTest, DedupHitOverlappingAPruneWhoseTokenCameFirstKeepsTheChunk) {
  TempDir dir;
  DedupAcrossAPrune t(dir.Sub("r"));
  PutOrDie(t.repo(), t.chunk());
  PruneToken token;
  ASSERT_TRUE(t.repo()->BeginPrune(&token).ok());
  t.StartHeldPut();  // started after the token: the prune must not delete its chunk
  ASSERT_NO_FATAL_FAILURE(t.PruneEverything(token));
  ASSERT_TRUE(t.FinishHeldPut().ok());
  EXPECT_TRUE(HasChunk(t.repo(), t.chunk()));
  ASSERT_TRUE(t.repo()->Close().ok());
}

TEST(PruneRaceTest, DedupHitOverlappingAWholePruneNeverReportsADeletedChunkStored) {
  TempDir dir;
  DedupAcrossAPrune t(dir.Sub("r"));
  PutOrDie(t.repo(), t.chunk());
  t.StartHeldPut();  // the prune's token comes after this Put's lookup
  ASSERT_NO_FATAL_FAILURE(t.PruneEverything());
  ASSERT_TRUE(t.FinishHeldPut().ok());
  EXPECT_TRUE(HasChunk(t.repo(), t.chunk())) << "the Put returned OK for a chunk the prune had deleted";
  ASSERT_TRUE(t.repo()->Close().ok());
}

// Readers Get the kept chunks in a loop while prunes delete the others a
// few at a time and compaction rewrites and removes the packs the readers
// use (few open files: the file cache closes and reopens them).
void ReadWhileCompacting(const Where& w) {
  CreateRepoOrDie(w.repo, SmallSettings(16 << 10), w.env);
  std::vector<std::string> chunks;
  for (int i = 0; i < 160; ++i) chunks.push_back(ContentInShard(static_cast<uint8_t>(i % 2), 900, i));
  OpenOptions o;
  o.env = w.env;
  o.max_open_files = 2;
  std::unique_ptr<Repository> repo;
  ASSERT_TRUE(Repository::Open(w.repo, o, &repo).ok());
  for (auto& c : chunks) PutOrDie(repo.get(), c);
  ASSERT_TRUE(repo->Sync().ok());
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, during{0}, bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      for (size_t k = t * 7; !stop; ++k) {
        const size_t i = k * 4 % chunks.size();  // the kept ones
        const bool compacting = repo->GetStats().compaction_running != 0;
        auto ok = HasChunk(repo.get(), chunks[i]);
        if (!ok && bad++ == 0) ADD_FAILURE() << "chunk " << i << ": " << ok.message();
        reads++;
        if (compacting) during++;
      }
    });
  }
  uint64_t removed = 0;
  for (size_t first = 1; first < chunks.size() && !testing::Test::HasFailure(); first += 12) {
    std::vector<Digest> keep;  // every 4th, and those not deleted yet but the next 12
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (i % 4 == 0 || i >= first + 12) keep.push_back(Sha256(chunks[i]));
    }
    std::sort(keep.begin(), keep.end());
    PruneResult r;
    EXPECT_TRUE(repo->Prune(keep, Forced(), &r).ok());
    CompactResult c;
    EXPECT_TRUE(repo->Compact(CompactOptions{}, &c).ok());
    removed += c.packs_removed;
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0u) << "reads failed or returned wrong bytes";
  EXPECT_GT(removed, 0u);
  printf("[ reads during compaction ] %llu reads (%llu while a compaction ran), %llu packs removed\n",
         static_cast<unsigned long long>(reads.load()), static_cast<unsigned long long>(during.load()),
         static_cast<unsigned long long>(removed));
  ASSERT_TRUE(repo->Close().ok());
}

TEST(PruneRaceTest, ReadsDuringCompactionGetTheRightBytesOnPosix) {
  TempDir dir;
  ReadWhileCompacting({nullptr, dir.Sub("r")});
}

TEST(PruneRaceTest, ReadsDuringCompactionGetTheRightBytesOnFaultEnv) {
  FaultEnv env;
  ReadWhileCompacting({&env, kFaultRepo});
}

}  // namespace
}  // namespace chunkfs
