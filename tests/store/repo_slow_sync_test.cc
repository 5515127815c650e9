// Readers never wait for another operation's disk I/O: a Sync (and the seal
// it does) blocked inside fsync must not hold up lookups or reads of the
// same shard. The fsync is blocked by a FaultEnv hook until the test lets it
// go, so a read that waited for it would never finish: no timing involved.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "fault_util.h"

namespace chunkfs {
namespace {

using namespace testutil;

// Blocks the n-th sync (Sync or SyncDir) after Arm() until Release().
class SyncGate {
 public:
  explicit SyncGate(FaultEnv* env) : env_(env) {
    env_->SetBeforeSyncHook([this](const std::string&) { OnSync(); });
  }
  ~SyncGate() {
    Release();
    env_->SetBeforeSyncHook(nullptr);
  }
  void Arm(int nth) {
    std::lock_guard<std::mutex> l(mu_);
    countdown_ = nth;
  }
  // Waits (at most 60 s) until a sync is blocked in the gate.
  bool WaitBlocked() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(60), [&] { return blocked_; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void OnSync() {
    std::unique_lock<std::mutex> l(mu_);
    if (countdown_ <= 0 || --countdown_ > 0) return;
    blocked_ = true;
    cv_.notify_all();
    cv_.wait(l, [&] { return released_; });
  }
  FaultEnv* env_;
  std::mutex mu_;
  std::condition_variable cv_;
  int countdown_ = 0;
  bool blocked_ = false, released_ = false;
};

// Runs `f` on another thread: true if it finished within 30 s and returned
// true. If it did not finish (it waits for the blocked fsync), the gate is
// opened so that the test ends instead of hanging.
template <typename F>
bool FinishesWhileSyncIsBlocked(SyncGate* gate, F f) {
  auto done = std::async(std::launch::async, f);
  if (done.wait_for(std::chrono::seconds(30)) == std::future_status::ready) return done.get();
  gate->Release();
  return false;
}

class SlowSyncTest : public FaultRepoTest, public ::testing::WithParamInterface<int> {};

// Parameter: which sync of the round blocks (1: the pack's fdatasync; with
// a full pack, 2..4 are the seal's idx file, directory and trailer syncs).
TEST_P(SlowSyncTest, ReadsOfTheSameShardDoNotWaitForFsyncOrSeal) {
  CreateRepo(4096);
  auto repo = Open();
  const std::string old_chunk = ContentInShard(5, 1500, 1);
  const Digest old_digest = PutOrDie(repo.get(), old_chunk);
  ASSERT_TRUE(repo->Sync().ok());
  std::vector<std::string> fresh;
  for (int i = 0; i < 3; ++i) {  // fills the pack: the next Sync also seals it
    fresh.push_back(ContentInShard(5, 1500, 10 + i));
    PutOrDie(repo.get(), fresh.back());
  }
  SyncGate gate(&env_);
  gate.Arm(GetParam());
  std::thread syncer([&] { EXPECT_TRUE(repo->Sync().ok()); });
  ASSERT_TRUE(gate.WaitBlocked()) << "the Sync never reached sync number " << GetParam();
  Repository* r = repo.get();
  EXPECT_TRUE(FinishesWhileSyncIsBlocked(&gate, [&] { return static_cast<bool>(HasChunk(r, old_chunk)); }))
      << "a Get of a durable chunk waited for another operation's fsync";
  EXPECT_TRUE(FinishesWhileSyncIsBlocked(&gate, [&] { return static_cast<bool>(HasChunk(r, fresh.back())); }))
      << "a Get of a chunk being synced waited for the fsync";
  EXPECT_TRUE(FinishesWhileSyncIsBlocked(&gate, [&] { return !r->Contains(Sha256("absent")); }))
      << "an absent lookup waited for the fsync";
  EXPECT_TRUE(FinishesWhileSyncIsBlocked(&gate, [&] { return r->Contains(old_digest); }));
  EXPECT_TRUE(FinishesWhileSyncIsBlocked(&gate, [&] {
    auto it = r->NewIterator();
    return it->Valid() && it->status().ok();
  })) << "a listing waited for the fsync";
  gate.Release();
  syncer.join();
  EXPECT_GE(repo->GetStats().packs_sealed, 1u);
  for (auto& c : fresh) EXPECT_TRUE(HasChunk(repo.get(), c));
}

INSTANTIATE_TEST_SUITE_P(EverySyncOfTheRound, SlowSyncTest, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace chunkfs
