// store_bench: store throughput and lookup cost, each printed as a ratio to a
// baseline measured in the same run (the machine is shared and noisy).
//
//   store_bench [DIR] [--chunks N] [--size BYTES]
//   store_bench [DIR] --scale     lookup cost with 10 thousand vs 1 million chunks
//
// Baselines:
//   hash+zlib  SHA-256 and zlib level 1 of every chunk in memory: what Put
//              would cost in CPU if it compressed everything. The store beats
//              it (ratio > 1) because it recognises random chunks from a small
//              sample and stores them raw.
//   plain file the same bytes written to one plain file + one fsync (the
//              disk floor)
//   memcmp     for lookups: one std::unordered_map probe per lookup
#include <openssl/evp.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "chunkfs/repository.h"

using namespace chunkfs;
using Clock = std::chrono::steady_clock;

namespace {

// The benchmark stops at the first failure: its figures would be meaningless.
void OrDie(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "store_bench: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

double Secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

std::vector<std::string> MakeChunks(size_t n, size_t size) {
  std::mt19937_64 rng(42);
  std::vector<std::string> v(n, std::string(size, '\0'));
  static const char* words[] = {"backup ", "chunk ", "store ", "pack ", "index ", "seal ", "the ", "of "};
  for (size_t i = 0; i < n; ++i) {
    std::string& c = v[i];
    if (i % 2 == 0) {
      for (size_t k = 0; k + 8 <= size; k += 8) {
        uint64_t r = rng();
        std::memcpy(&c[k], &r, 8);
      }
    } else {
      size_t k = 0;
      while (k < size) {
        const char* w = words[rng() % 8];
        for (const char* p = w; *p && k < size; ++p) c[k++] = *p;
      }
      std::memcpy(&c[0], &i, sizeof(i));  // unique
    }
  }
  return v;
}

double BaselineHashZlib(const std::vector<std::string>& chunks) {
  auto t = Clock::now();
  size_t sink = 0;
  for (const auto& c : chunks) {
    Digest d = Sha256(c);
    uLongf cap = compressBound(c.size());
    std::string out(cap, '\0');
    compress2(reinterpret_cast<Bytef*>(out.data()), &cap, reinterpret_cast<const Bytef*>(c.data()), c.size(), 1);
    sink += cap + d.bytes[0];
  }
  if (sink == 42) std::puts("");
  return Secs(t);
}

double BaselinePlainFile(const std::string& dir, const std::vector<std::string>& chunks) {
  std::string path = dir + "/plain.bin";
  auto t = Clock::now();
  FILE* f = std::fopen(path.c_str(), "wb");
  for (const auto& c : chunks) std::fwrite(c.data(), 1, c.size(), f);
  std::fflush(f);
  fsync(fileno(f));
  std::fclose(f);
  double s = Secs(t);
  std::filesystem::remove(path);
  return s;
}

void Row(const char* what, double secs, double base_secs, double mb) {
  std::printf("%-34s %8.3f s %9.1f MB/s   ratio to baseline %.2f\n", what, secs, mb / secs, base_secs / secs);
}

// Builds a repository of n tiny chunks in small packs (many sealed packs per
// shard), reopens it, and returns microseconds per absent and present lookup.
void LookupCost(const std::string& dir, size_t n, double* absent_us, double* present_us, uint64_t* packs) {
  std::string path = dir + "/scale-" + std::to_string(n);
  RepoSettings rs;
  rs.pack_size_limit = 64 * 1024;
  std::unique_ptr<Repository> repo;
  OrDie(Repository::Create(path, rs), "create");
  OrDie(Repository::Open(path, OpenOptions{}, &repo), "open");
  std::vector<Digest> present;
  for (size_t i = 0; i < n; ++i) {
    char buf[64] = {};
    std::snprintf(buf, sizeof(buf), "tiny chunk %zu", i);
    PutResult r;
    OrDie(repo->Put(std::string_view(buf, sizeof(buf)), &r), "put");
    if (i % (n / 1000) == 0) present.push_back(r.digest);
  }
  repo.reset();
  OrDie(Repository::Open(path, OpenOptions{}, &repo), "reopen");
  *packs = repo->GetStats().packs_sealed;
  std::vector<Digest> absent(200000);
  std::mt19937_64 rng(9);
  for (auto& d : absent)
    for (auto& b : d.bytes) b = static_cast<uint8_t>(rng());
  size_t hits = 0;
  auto t = Clock::now();
  for (const auto& d : absent) hits += repo->Contains(d);
  *absent_us = Secs(t) * 1e6 / absent.size();
  t = Clock::now();
  for (int rep = 0; rep < 100; ++rep)
    for (const auto& d : present) hits += repo->Contains(d);
  *present_us = Secs(t) * 1e6 / (100.0 * present.size());
  repo.reset();
  std::filesystem::remove_all(path);
}

// Baseline: the same absent lookups in a hash map of n digests (what memory
// alone costs as the working set outgrows the caches).
double HashMapAbsentUs(size_t n) {
  std::unordered_map<Digest, int, DigestHash> map;
  std::mt19937_64 rng(11);
  Digest d;
  for (size_t i = 0; i < n; ++i) {
    for (auto& b : d.bytes) b = static_cast<uint8_t>(rng());
    map[d] = 1;
  }
  std::vector<Digest> absent(200000);
  for (auto& a : absent)
    for (auto& b : a.bytes) b = static_cast<uint8_t>(rng());
  size_t hits = 0;
  auto t = Clock::now();
  for (const auto& a : absent) hits += map.count(a);
  double us = Secs(t) * 1e6 / absent.size();
  return hits > absent.size() ? 0 : us;
}

int RunScale(const std::string& dir) {
  std::printf("lookup cost vs repository size (64-byte chunks, 64 KiB packs, reopened; at 10k every shard's\n"
              "chunks still fit its active pack, at 1M most are in sealed packs)\n");
  double a0, p0, a1, p1;
  uint64_t k0, k1;
  LookupCost(dir, 10000, &a0, &p0, &k0);
  LookupCost(dir, 1000000, &a1, &p1, &k1);
  std::printf("%-12s %10s %14s %14s\n", "chunks", "packs", "absent us", "present us");
  std::printf("%-12d %10llu %14.3f %14.3f\n", 10000, (unsigned long long)k0, a0, p0);
  std::printf("%-12d %10llu %14.3f %14.3f\n", 1000000, (unsigned long long)k1, a1, p1);
  double h0 = HashMapAbsentUs(10000), h1 = HashMapAbsentUs(1000000);
  std::printf("%-12s %10s %14.3f %14s   (baseline: std::unordered_map, 10k)\n", "", "", h0, "");
  std::printf("%-12s %10s %14.3f %14s   (baseline: std::unordered_map, 1M)\n", "", "", h1, "");
  std::printf("growth 1M / 10k: store absent %.2f, present %.2f; hash map absent %.2f (1.00 = no growth)\n",
              a1 / a0, p1 / p0, h1 / h0);
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/chunkfs-bench";
  size_t n = 2000, size = 64 * 1024;
  bool scale = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--scale") scale = true;
    else
    if (a == "--chunks" && i + 1 < argc) n = std::stoul(argv[++i]);
    else if (a == "--size" && i + 1 < argc) size = std::stoul(argv[++i]);
    else dir = a;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (scale) return RunScale(dir);
  auto chunks = MakeChunks(n, size);
  double mb = double(n) * size / 1e6;
  std::printf("store_bench: %zu chunks of %zu bytes (half random, half text) in %s\n\n", n, size, dir.c_str());

  double base_cpu = BaselineHashZlib(chunks);
  double base_disk = BaselinePlainFile(dir, chunks);
  Row("baseline hash+zlib (memory)", base_cpu, base_cpu, mb);
  Row("baseline plain file + fsync", base_disk, base_disk, mb);

  std::string repo_path = dir + "/repo";
  Status s = Repository::Create(repo_path, RepoSettings{});
  std::unique_ptr<Repository> repo;
  if (s.ok()) s = Repository::Open(repo_path, OpenOptions{}, &repo);
  if (!s.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<Digest> digests;
  auto t = Clock::now();
  for (const auto& c : chunks) {
    PutResult r;
    if (!repo->Put(c, &r).ok()) return 1;
    digests.push_back(r.digest);
  }
  OrDie(repo->Sync(), "sync");
  double put = Secs(t);
  Row("Put + Sync  (vs hash+zlib)", put, base_cpu, mb);

  t = Clock::now();
  for (const auto& c : chunks) {
    PutResult r;
    OrDie(repo->Put(c, &r), "put again");
  }
  Row("Put again, all dedup (vs hash+zlib)", Secs(t), base_cpu, mb);

  t = Clock::now();
  std::string out;
  for (const auto& d : digests) {
    if (!repo->Get(d, &out).ok()) return 1;
  }
  Row("Get, verified (vs hash+zlib)", Secs(t), base_cpu, mb);

  // Lookups of absent digests: the store vs one hash-map probe each.
  std::unordered_map<Digest, int, DigestHash> map;
  for (const auto& d : digests) map[d] = 1;
  std::vector<Digest> absent(200000);
  std::mt19937_64 rng(7);
  for (auto& d : absent)
    for (auto& b : d.bytes) b = static_cast<uint8_t>(rng());
  t = Clock::now();
  size_t hits = 0;
  for (const auto& d : absent) hits += map.count(d);
  double base_lookup = Secs(t);
  t = Clock::now();
  for (const auto& d : absent) hits += repo->Contains(d);
  double lookup = Secs(t);
  std::printf("%-34s %8.3f us/lookup (hash map %.3f us)   ratio %.2f\n", "absent lookup (vs hash map)",
              lookup * 1e6 / absent.size(), base_lookup * 1e6 / absent.size(), base_lookup / lookup);
  RepoStats st = repo->GetStats();
  std::printf("\nchunks %llu, raw %.1f MB, stored %.1f MB, packs sealed %llu open %llu\n",
              (unsigned long long)st.chunks, st.bytes_raw / 1e6, st.bytes_stored / 1e6,
              (unsigned long long)st.packs_sealed, (unsigned long long)st.packs_open);
  repo.reset();
  std::filesystem::remove_all(dir);
  std::printf("(%zu hits)\n", hits);
  return 0;
}
