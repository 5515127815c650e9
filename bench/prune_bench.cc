// prune_bench: prune and compaction at scale (issue 8), each figure beside a
// baseline measured in the same run (the machine is shared and noisy).
//
//   prune_bench [DIR] [--chunks N] [--size BYTES] [--pack-size BYTES]
//               defaults: /tmp/chunkfs-prune-bench, 1,000,000 x 64 bytes, 128 KiB packs
//
// Steps (DIR is emptied first and removed at the end):
//   1. N chunks of SIZE random bytes (unique, stored raw: level 0) are Put,
//      synced and the repository closed (in a child process); `du -sk`.
//   2. Reopened; a keep list of every other chunk in the order they were
//      written (so half of the records of every pack are deleted) is built,
//      sorted; then Prune. Time, and the process's peak RSS during the prune
//      (VmHWM, reset through /proc/self/clear_refs just before), beside the
//      RSS before it and the size of the repository's idx files.
//   3. Baseline: `cp -r` of the shards folder (all pack and idx bytes) to
//      DIR/copy on the same disk, then `sync -f`; then Compact (which fsyncs
//      what it writes). Both rates are in source pack bytes a second.
//   4. `du -sk` after compaction vs a fresh repository holding only the kept
//      chunks, written the same way.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "chunkfs/repository.h"

using namespace chunkfs;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double Secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "prune_bench: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// Chunk i: SIZE bytes of splitmix64 output seeded with i (unique, incompressible).
std::string Chunk(uint64_t i, size_t size) {
  std::string c(size, '\0');
  uint64_t x = i * 0x9e3779b97f4a7c15ull + 1;
  for (size_t k = 0; k < size; k += 8) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(&c[k], &z, std::min<size_t>(8, size - k));
  }
  return c;
}

// A field of /proc/self/status in KiB ("VmHWM", "VmRSS").
uint64_t ProcKiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0 && line[std::strlen(field)] == ':') return std::strtoull(line.c_str() + std::strlen(field) + 1, nullptr, 10);
  }
  return 0;
}

// Resets VmHWM to the current RSS (Linux >= 4.0); false if not possible.
bool ResetPeak() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

uint64_t RunKiB(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  unsigned long long v = 0;
  if (std::fscanf(p, "%llu", &v) != 1) v = 0;
  pclose(p);
  return v;
}
uint64_t DuKiB(const std::string& dir) { return RunKiB("du -sk '" + dir + "'"); }

uint64_t SizeOf(const std::string& dir, const std::string& ext) {
  uint64_t total = 0;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) total += e.file_size();
  }
  return total;
}

std::unique_ptr<Repository> Open(const std::string& path) {
  OpenOptions o;
  std::unique_ptr<Repository> repo;
  Status s = Repository::Open(path, o, &repo);
  if (!s.ok()) Die("open " + path, s);
  return repo;
}

// Creates `path` and puts chunks i with keep(i); returns the seconds taken.
// Runs in a child process, so that the memory it used is not in the
// figures of this one.
template <typename Keep>
double Fill(const std::string& path, uint64_t n, size_t size, uint64_t pack_size, Keep keep);
template <typename Keep>
double FillInChild(const std::string& path, uint64_t n, size_t size, uint64_t pack_size, Keep keep) {
  auto t = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    Fill(path, n, size, pack_size, keep);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "prune_bench: filling %s failed\n", path.c_str());
    std::exit(1);
  }
  return Secs(t);
}
template <typename Keep>
double Fill(const std::string& path, uint64_t n, size_t size, uint64_t pack_size, Keep keep) {
  RepoSettings st;
  st.pack_size_limit = pack_size;
  st.compression_level = 0;
  Status s = Repository::Create(path, st);
  if (!s.ok()) Die("create", s);
  auto repo = Open(path);
  auto t = Clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    if (!keep(i)) continue;
    PutResult r;
    if (!(s = repo->Put(Chunk(i, size), &r)).ok()) Die("put", s);
  }
  if (!(s = repo->Close()).ok()) Die("close", s);
  return Secs(t);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/chunkfs-prune-bench";
  uint64_t n = 1000000, pack_size = 128 << 10;
  size_t size = 64;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--chunks" && i + 1 < argc) n = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--size" && i + 1 < argc) size = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--pack-size" && i + 1 < argc) pack_size = std::strtoull(argv[++i], nullptr, 10);
    else if (a.rfind("--", 0) != 0) dir = a;
    else {
      std::fprintf(stderr, "usage: prune_bench [DIR] [--chunks N] [--size BYTES] [--pack-size BYTES]\n");
      return 2;
    }
  }
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string repo_path = dir + "/repo", fresh_path = dir + "/fresh", copy_path = dir + "/copy";
  std::printf("prune_bench: %" PRIu64 " chunks x %zu bytes, packs of %" PRIu64 " bytes, in %s\n", n, size, pack_size,
              dir.c_str());

  // 1. fill
  double put_s = FillInChild(repo_path, n, size, pack_size, [](uint64_t) { return true; });
  const uint64_t du_before = DuKiB(repo_path), dat_before = SizeOf(repo_path, ".dat");
  const uint64_t idx_bytes = SizeOf(repo_path, ".idx");
  std::printf("put:      %.1f s (%.0f chunks/s); du %" PRIu64 " KiB, packs %" PRIu64 " bytes, idx files %" PRIu64
              " bytes\n", put_s, n / put_s, du_before, dat_before, idx_bytes);

  // 2. prune half, evenly over every pack
  auto repo = Open(repo_path);
  const uint64_t rss_open = ProcKiB("VmRSS");
  std::vector<Digest> keep;
  keep.reserve(n / 2 + 1);
  for (uint64_t i = 0; i < n; i += 2) keep.push_back(Sha256(Chunk(i, size)));
  std::sort(keep.begin(), keep.end());
  const uint64_t rss_keep = ProcKiB("VmRSS");
  const bool peak_reset = ResetPeak();
  PruneOptions po;
  po.max_delete_share = 0.6;
  PruneResult pr;
  auto t = Clock::now();
  Status s = repo->Prune(keep, po, &pr);
  const double prune_s = Secs(t);
  if (!s.ok()) Die("prune", s);
  const uint64_t hwm = ProcKiB("VmHWM"), rss_after = ProcKiB("VmRSS");
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("prune:    %.2f s, deleted %" PRIu64 " of %" PRIu64 " chunks\n", prune_s, pr.chunks_deleted,
              pr.chunks_before);
  std::printf("memory:   RSS open %" PRIu64 " KiB, + keep list %" PRIu64 " KiB; peak during prune %" PRIu64
              " KiB%s (+%" PRIu64 " KiB over the RSS before it = %.2f x the idx files), RSS after %" PRIu64
              " KiB; ru_maxrss %ld KiB\n", rss_open, rss_keep, hwm, peak_reset ? "" : " (VmHWM not reset: whole run)",
              hwm > rss_keep ? hwm - rss_keep : 0, (hwm > rss_keep ? hwm - rss_keep : 0) * 1024.0 / idx_bytes,
              rss_after, ru.ru_maxrss);
  keep.clear();
  keep.shrink_to_fit();

  // 3. cp baseline, then compaction
  t = Clock::now();
  const std::string cp = "cp -r '" + repo_path + "/shards' '" + copy_path + "' && sync -f '" + copy_path + "'";
  if (std::system(cp.c_str()) != 0) std::fprintf(stderr, "prune_bench: %s failed\n", cp.c_str());
  const double cp_s = Secs(t);
  fs::remove_all(copy_path);
  CompactResult cr;
  t = Clock::now();
  if (!(s = repo->Compact(CompactOptions{}, &cr)).ok()) Die("compact", s);
  const double compact_s = Secs(t);
  if (!(s = repo->Close()).ok()) Die("close", s);
  repo.reset();
  const double mb = dat_before / 1e6;
  std::printf("copy:     cp -r + sync -f of %.1f MB: %.2f s (%.0f MB/s)\n", mb, cp_s, mb / cp_s);
  std::printf("compact:  %.2f s (%.0f MB/s of source packs; %" PRIu64 " live bytes copied, %" PRIu64
              " packs removed, %" PRIu64 " written, %" PRIu64 " bytes reclaimed); compact/cp rate %.2f\n",
              compact_s, mb / compact_s, cr.bytes_copied, cr.packs_removed, cr.packs_written, cr.bytes_reclaimed,
              cp_s / compact_s);

  // 4. disk usage vs a fresh repository of the kept chunks
  const uint64_t du_after = DuKiB(repo_path), dat_after = SizeOf(repo_path, ".dat");
  FillInChild(fresh_path, n, size, pack_size, [](uint64_t i) { return i % 2 == 0; });
  const uint64_t du_fresh = DuKiB(fresh_path), dat_fresh = SizeOf(fresh_path, ".dat");
  std::printf("du:       before %" PRIu64 " KiB, after prune+compact %" PRIu64 " KiB, fresh repository of the kept "
              "chunks %" PRIu64 " KiB: after/fresh %.3f (packs %" PRIu64 " vs %" PRIu64 " bytes: %.3f)\n",
              du_before, du_after, du_fresh, static_cast<double>(du_after) / du_fresh, dat_after, dat_fresh,
              static_cast<double>(dat_after) / dat_fresh);
  fs::remove_all(dir);
  return 0;
}
