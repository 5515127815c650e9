// kill -9 of the mount at random moments while a writer stores chunks (with
// fsync), stores some again and touches some, a pruner takes tokens and
// prunes through chunkctl, and compaction runs (in the background, often,
// and by `chunkctl compact`). After each kill the repository is remounted and
// checked against a model of what was promised:
//   - a chunk acknowledged (fsync returned 0) and not deleted by a prune that
//     returned reads back with its exact bytes;
//   - a chunk deleted by a prune that returned is ENOENT and absent from `ls`;
//   - a chunk whose prune or store was in flight at the kill is whole or absent;
// a prune protects what was stored, stored again or touched after its token;
// at the end `chunkctl check --read-data` of the repository finds no damage.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "crash_fixture.h"

namespace chunkfs::fs::testing {
namespace {

// Content of chunk `id`: random or text, 1 byte to 96 KiB (never empty: two
// empty chunks would share a digest).
std::string Content(uint64_t id) {
  uint64_t seed = id * 1000003u + 77;
  size_t size = 1 + (seed * 2654435761u) % (96 * 1024);
  return id % 3 == 0 ? TextBytes(size, seed) : RandomBytes(size, seed);
}

// The writer's files of /incoming must not leak into the chunkctl children
// the pruner starts: a child closing its copy (at exec: O_CLOEXEC) flushes
// the file early, which commits its content so far as a chunk (SPEC §3), a
// chunk no one stored. The writer holds this lock while it has a file open;
// the pruner while it starts a child (popen returns once the child exec'd).
std::mutex fork_mu;

// What the model says of a chunk.
enum class State {
  kLive,      // acknowledged and not deleted: must read back
  kDeleting,  // a candidate of the prune in flight
  kDeleted,   // deleted by a prune that returned 0: must be ENOENT
  kUnknown,   // whole or absent (a store or a prune was in flight at the kill)
};

struct Chunk {
  uint64_t id = 0;
  State state = State::kLive;
  uint64_t changed = 0;  // event number of the pruner's last decision on it
};

// A touch or a dedup store of a chunk already stored (both protect it from a
// prune whose token is older).
struct Refresh {
  uint64_t start = 0;
  uint64_t end = 0;  // 0: not returned (yet)
  bool ok = false;
  bool touch = false;
};

// A chunk that a returned prune deleted, with the events around it (for the
// touches that returned only after the prune was checked).
struct Deletion {
  std::string hex;
  uint64_t token_after = 0;
  uint64_t checked = 0;
};

struct Figures {
  int prunes = 0;            // prunes that returned 0
  int compacts = 0;          // chunkctl compact that returned 0
  uint64_t deleted = 0;      // chunks those prunes deleted (as checked at once)
  uint64_t protected_ = 0;   // candidates a later touch or store kept
  uint64_t stores = 0;       // acknowledged stores (new, again, deduplicated)
  uint64_t touches = 0;      // touches that returned 0
  uint64_t live_verified = 0;
  uint64_t deleted_verified = 0;
  uint64_t unknown_present = 0;
  uint64_t unknown_absent = 0;
  uint64_t wrong_bytes = 0;
  int64_t reclaimed = 0;  // bytes_reclaimed of /.stats just before each kill
};

class PruneCrashTest : public CrashMountTest {
 protected:
  // The background compactor looks often and copies slowly, so that kills
  // find it in the middle of a pack.
  std::vector<std::string> MountOptions() const override { return {"compact_interval=0.2", "compact_rate=4M"}; }

  // chunkctl ARGS; its exit status, stdout and stderr merged into *out.
  int Ctl(const std::string& args, std::string* out) const {
    std::unique_lock<std::mutex> no_files_open(fork_mu);
    FILE* f = ShStart(std::string(CHUNKCTL_BINARY) + " " + args, true);
    no_files_open.unlock();
    return ShFinish(f, out);
  }

  void RunRound(int round, std::mt19937* rng);
  void Writer(uint64_t seed);
  void Pruner(int round, uint64_t seed);
  int StoreChunk(const std::string& hex, uint64_t id, bool again);
  int TouchChunk(const std::string& hex);
  bool PruneOnce(const std::string& keep_path, std::mt19937_64* rng);
  void CheckPrune(const std::vector<std::string>& candidates, uint64_t token_before, uint64_t token_after,
                  const std::string& output);
  void AfterKill();
  void VerifyRemounted();
  std::string Prefix(const std::string& hex);
  // A failure of the mount seen by a thread: expected once the mount is
  // killed, a test failure before.
  void MountFailed(const std::string& what, const std::string& detail) {
    if (!killed_) ADD_FAILURE() << what << " failed while the mount was alive: " << detail << "\n" << Log();
  }

  // Guards everything below up to figures_ while the writer and the pruner
  // run; the main thread uses them unlocked before it starts them and after
  // it joined them.
  std::mutex mu_;
  uint64_t event_ = 0;  // numbers the events (stores, touches, tokens, checks) in order
  std::map<std::string, Chunk> chunks_;
  std::map<std::string, std::pair<uint64_t, int>> storing_;  // hex -> id, stores in flight
  std::map<std::string, std::vector<Refresh>> refreshes_;    // of the current round
  std::vector<Deletion> deletions_;                          // of the current round
  uint64_t next_id_ = 0;
  Figures figures_;

  std::atomic<bool> stop_{false};
  std::atomic<bool> killed_{false};
};

// Stores `id` through /incoming with fsync; on an fsync that returned 0 the
// chunk is acknowledged. `again`: the digest is already stored or was
// deleted (a refresh, or a store again after a prune). Returns the errno.
int PruneCrashTest::StoreChunk(const std::string& hex, uint64_t id, bool again) {
  uint64_t start;
  size_t refresh = 0;
  State before = State::kUnknown;
  {
    std::lock_guard<std::mutex> l(mu_);
    start = ++event_;
    auto& s = storing_[hex];
    s.first = id;
    s.second++;
    auto it = chunks_.find(hex);
    if (it != chunks_.end()) before = it->second.state;
    if (again && (before == State::kLive || before == State::kDeleting)) {
      refreshes_[hex].push_back({start, 0, false, false});
      refresh = refreshes_[hex].size();
    }
  }
  std::string data = Content(id);
  std::string path = Incoming() + "/s" + std::to_string(start);
  std::unique_lock<std::mutex> no_fork(fork_mu);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = fd < 0 ? errno : 0;
  for (size_t off = 0; err == 0 && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) err = n < 0 ? errno : EIO;
    if (n > 0) off += size_t(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (fd >= 0) (void)::close(fd);  // the chunk is acknowledged by fsync; close adds nothing to check
  no_fork.unlock();
  std::lock_guard<std::mutex> l(mu_);
  uint64_t end = ++event_;
  if (refresh) refreshes_[hex][refresh - 1] = {start, end, err == 0, false};
  if (err != 0) return err;  // left in storing_: AfterKill decides what it left
  if (--storing_[hex].second == 0) storing_.erase(hex);
  figures_.stores++;
  auto [it, fresh] = chunks_.try_emplace(hex, Chunk{id, State::kLive, 0});
  Chunk& c = it->second;
  if (fresh || c.state == State::kDeleting) return 0;  // a candidate: the pruner's check decides
  // Deleted by a prune checked after this store began: the store may have
  // found it just before the deletion (and the prune's token was newer).
  c.state = (c.state == State::kDeleted && c.changed > start) ? State::kUnknown : State::kLive;
  return 0;
}

// touch /chunks/<hex>; returns the errno (ENOENT is no failure: a prune
// deleted the chunk just before).
int PruneCrashTest::TouchChunk(const std::string& hex) {
  size_t refresh;
  uint64_t start;
  {
    std::lock_guard<std::mutex> l(mu_);
    start = ++event_;
    refreshes_[hex].push_back({start, 0, false, true});
    refresh = refreshes_[hex].size();
  }
  int rc = ::utimensat(AT_FDCWD, ChunkPath(hex).c_str(), nullptr, 0);
  int err = rc == 0 ? 0 : errno;
  std::lock_guard<std::mutex> l(mu_);
  refreshes_[hex][refresh - 1] = {start, ++event_, rc == 0, true};
  if (rc == 0) figures_.touches++;
  return err == ENOENT ? 0 : err;
}

// Stores new chunks (7 in 10), stores a deleted chunk again, stores a live
// one again (a dedup hit) or touches one, until stopped or the mount dies.
void PruneCrashTest::Writer(uint64_t seed) {
  std::mt19937_64 rng(seed);
  while (!stop_) {
    int op = int(rng() % 10);
    std::string hex;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      std::vector<std::pair<std::string, uint64_t>> pick;
      State want = op == 7 ? State::kDeleted : State::kLive;
      if (op >= 7) {
        for (const auto& [h, c] : chunks_) {
          if (c.state == want && !storing_.count(h)) pick.emplace_back(h, c.id);
        }
      }
      if (pick.empty()) {
        op = 0;
        id = next_id_++;
        hex = Sha256Hex(Content(id));
      } else {
        std::tie(hex, id) = pick[rng() % pick.size()];
      }
    }
    int err = op == 9 ? TouchChunk(hex) : StoreChunk(hex, id, op != 0);
    if (err != 0) return MountFailed(op == 9 ? "touch" : "store", hex + ": " + std::strerror(err));
  }
}

// One prune: token, keep list (everything live or being stored but a random
// third of the chunks live before the token), chunkctl prune. False once the
// mount is dead.
bool PruneCrashTest::PruneOnce(const std::string& keep_path, std::mt19937_64* rng) {
  std::vector<std::string> before;  // live before the token: stored before it
  uint64_t token_before, token_after;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [h, c] : chunks_) {
      if (c.state == State::kLive) before.push_back(h);
    }
    token_before = ++event_;
  }
  std::string token;
  if (Ctl("prune-begin " + Q(mnt_), &token) != 0 || token.size() < 2) {
    MountFailed("chunkctl prune-begin", token);
    return false;
  }
  token.pop_back();  // the newline
  std::vector<std::string> candidates;
  std::string keep;
  {
    std::lock_guard<std::mutex> l(mu_);
    token_after = ++event_;
    for (const auto& h : before) {
      Chunk& c = chunks_[h];
      if (c.state == State::kLive && (*rng)() % 3 == 0) {
        c.state = State::kDeleting;
        c.changed = token_after;
        candidates.push_back(h);
      }
    }
    // Everything else that is live, and every store in flight (it may have
    // reached the store before the token). Stores begun from here on are
    // protected by the token alone.
    for (const auto& [h, c] : chunks_) {
      if (c.state == State::kLive) keep += h + "\n";
    }
    for (const auto& [h, s] : storing_) keep += h + "\n";
  }
  WriteFile(keep_path, keep);
  std::string out;
  if (Ctl("prune " + Q(mnt_) + " --since " + token + " --force --keep " + Q(keep_path), &out) != 0) {
    MountFailed("chunkctl prune", out);
    return false;  // its candidates stay kDeleting: AfterKill makes them kUnknown
  }
  CheckPrune(candidates, token_before, token_after, out);
  return true;
}

// After a prune returned 0, under the lock (a store that returns meanwhile
// updates the model after this check): each candidate that nothing
// refreshed since the token must be gone, each one touched or stored again
// after the token (and back) must be there; the others are what stat says.
void PruneCrashTest::CheckPrune(const std::vector<std::string>& candidates, uint64_t token_before,
                                uint64_t token_after, const std::string& output) {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t checked = ++event_;
  uint64_t absent = 0;
  for (const auto& h : candidates) {
    bool overlapped = false, kept = false;
    for (const Refresh& r : refreshes_[h]) {
      if (r.end == 0 || r.end > token_before) overlapped = true;
      if (r.ok && r.end != 0 && r.start > token_after) kept = true;
    }
    struct stat st;
    int err = Errno(::stat(ChunkPath(h).c_str(), &st));
    Chunk& c = chunks_[h];
    c.changed = checked;
    if (err != 0 && err != ENOENT) {  // the mount died just now
      c.state = overlapped ? (kept ? State::kLive : State::kUnknown) : State::kDeleted;
      continue;
    }
    EXPECT_FALSE(!overlapped && err == 0) << h << ": the prune returned, the chunk was not in the keep list and "
                                          << "nothing stored or touched it since the token, yet it is still there";
    EXPECT_FALSE(kept && err == ENOENT) << h << ": touched or stored again after the token, yet deleted";
    c.state = err == 0 ? State::kLive : State::kDeleted;
    if (err == ENOENT) {
      absent++;
      deletions_.push_back({h, token_after, checked});
    } else {
      figures_.protected_++;
    }
  }
  // "deleted: N chunks": at least what is gone, at most the candidates (all
  // else was kept or protected).
  uint64_t reported = 0;
  size_t at = output.find("deleted: ");
  EXPECT_NE(at, std::string::npos) << output;
  if (at != std::string::npos) reported = std::strtoull(output.c_str() + at + 9, nullptr, 10);
  EXPECT_GE(reported, absent) << output;
  EXPECT_LE(reported, candidates.size()) << "the prune deleted a chunk of the keep list or protected\n" << output;
  figures_.prunes++;
  figures_.deleted += absent;
}

// Prunes in a loop, with a `chunkctl compact` after every third, until
// stopped or the mount dies.
void PruneCrashTest::Pruner(int round, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int n = 0; !stop_; ++n) {
    if (!PruneOnce(work_ + "/keep-" + std::to_string(round), &rng)) return;
    if (n % 3 != 2) continue;
    std::string out;
    if (Ctl("compact " + Q(mnt_), &out) != 0) return MountFailed("chunkctl compact", out);
    std::lock_guard<std::mutex> l(mu_);
    figures_.compacts++;
  }
}

// The mount is dead and both threads returned: what was in flight becomes
// "whole or absent"; touches that returned late are checked against the
// deletions (a touch after the token that returned 0 means the chunk stays).
void PruneCrashTest::AfterKill() {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [h, s] : storing_) {
    auto [it, fresh] = chunks_.try_emplace(h, Chunk{s.first, State::kUnknown, 0});
    if (!fresh && it->second.state != State::kLive) it->second.state = State::kUnknown;
  }
  storing_.clear();
  for (auto& [h, c] : chunks_) {
    if (c.state == State::kDeleting) c.state = State::kUnknown;
  }
  for (const Deletion& d : deletions_) {
    for (const Refresh& r : refreshes_[d.hex]) {
      EXPECT_FALSE(r.touch && r.ok && r.start > d.token_after && r.start < d.checked)
          << d.hex << ": a touch after the token returned 0, yet the prune deleted the chunk";
    }
  }
  deletions_.clear();
  refreshes_.clear();
}

// Remounted, single-threaded: checks every chunk of the model and the listing.
void PruneCrashTest::VerifyRemounted() {
  std::string listing;
  ASSERT_EQ(ShOut("ls " + Q(Chunks()), &listing), 0);
  std::set<std::string> listed;
  std::istringstream in(listing);
  for (std::string name; in >> name;) listed.insert(name);
  for (auto& [h, c] : chunks_) {
    std::string got;
    int err = 0;
    bool present = ReadFileChecked(ChunkPath(h), &got, &err);
    EXPECT_TRUE(present || err == ENOENT) << h << ": errno " << err;
    if (present && got != Content(c.id)) {
      figures_.wrong_bytes++;
      ADD_FAILURE() << h << " (chunk " << c.id << ") read back with wrong bytes (" << got.size() << " bytes)";
    }
    EXPECT_EQ(listed.count(h) == 1, present) << h << ": `ls` and open disagree";
    listed.erase(h);
    switch (c.state) {
      case State::kLive:
        EXPECT_TRUE(present) << "acknowledged chunk " << h << " (" << c.id << ") lost: errno " << err << "\n" << Log();
        figures_.live_verified++;
        break;
      case State::kDeleted:
        EXPECT_FALSE(present) << "chunk " << h << " (" << c.id << ") deleted by a prune that returned is served";
        figures_.deleted_verified++;
        break;
      case State::kUnknown:
      case State::kDeleting:
        (present ? figures_.unknown_present : figures_.unknown_absent)++;
        c.state = present ? State::kLive : State::kDeleted;
        break;
    }
  }
  for (const auto& h : listed) ADD_FAILURE() << "`ls` shows a chunk never stored: " << h << Prefix(h);
}

// For a message: the chunk of the model whose content `hex` is, or begins
// (the content of an early flush).
std::string PruneCrashTest::Prefix(const std::string& hex) {
  std::string got;
  int err = 0;
  if (!ReadFileChecked(ChunkPath(hex), &got, &err)) return " (unreadable: errno " + std::to_string(err) + ")";
  for (uint64_t id = 0; id < next_id_; ++id) {
    std::string want = Content(id);
    if (want.compare(0, got.size(), got) == 0) {
      return " (" + std::to_string(got.size()) + " bytes of the " + std::to_string(want.size()) + " of chunk " +
             std::to_string(id) + ")";
    }
  }
  return " (" + std::to_string(got.size()) + " bytes, not the start of any chunk stored)";
}

void PruneCrashTest::RunRound(int round, std::mt19937* rng) {
  stop_ = false;
  killed_ = false;
  std::thread writer([&] { Writer(round * 2 + 1); });
  std::thread pruner([&] { Pruner(round, round * 2 + 2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 2000)(*rng)));
  std::string stats;
  int err;
  if (ReadFileChecked(mnt_ + "/.stats", &stats, &err)) {
    std::lock_guard<std::mutex> l(mu_);
    figures_.reclaimed += StatsField(stats, "bytes_reclaimed");
  }
  killed_ = true;
  KillMount();
  stop_ = true;
  writer.join();
  pruner.join();
  AfterKill();
  ClearAndRemount(round);
  if (HasFatalFailure()) return;
  VerifyRemounted();
}

TEST_F(PruneCrashTest, KillDashNineDuringStoresPrunesAndCompaction) {
  const int rounds = CrashRounds(12);
  std::mt19937 rng(20261201);
  auto t0 = std::chrono::steady_clock::now();
  int round = 0;
  for (; round < rounds && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    RunRound(round, &rng);
  }
  Unmount();
  std::string out;
  EXPECT_EQ(Ctl("check " + Q(repo_) + " --read-data", &out), 0) << out;
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Figures& f = figures_;
  std::printf(
      "prune crash test: %d kill -9 rounds in %.1f s; %d prunes and %d compacts returned, %llu chunks deleted, "
      "%llu candidates protected by a later touch/store; %llu stores acknowledged, %llu touches; verified after "
      "remount: %llu acknowledged chunks read back, %llu deleted chunks absent, in flight at the kill %llu whole / "
      "%llu absent; wrong bytes: %llu; bytes reclaimed by compaction (seen before kills): %lld\n",
      round, secs, f.prunes, f.compacts, (unsigned long long)f.deleted, (unsigned long long)f.protected_,
      (unsigned long long)f.stores, (unsigned long long)f.touches, (unsigned long long)f.live_verified,
      (unsigned long long)f.deleted_verified, (unsigned long long)f.unknown_present,
      (unsigned long long)f.unknown_absent, (unsigned long long)f.wrong_bytes, (long long)f.reclaimed);
  EXPECT_EQ(f.wrong_bytes, 0u);
  EXPECT_GT(f.prunes, 0);
  EXPECT_GT(f.deleted_verified, 0u);
  EXPECT_GT(f.live_verified, 0u);
}

}  // namespace
}  // namespace chunkfs::fs::testing
