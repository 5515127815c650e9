// store_bench: store throughput and lookup cost, each printed as a ratio to a
// baseline measured in the same run (the machine is shared and noisy).
//
//   store_bench [DIR] [--chunks N] [--size BYTES]
//   store_bench [DIR] --scale     lookup cost with 10 thousand vs 1 million chunks
//   store_bench [DIR] --bigrepo [--max N | --only N]
//                                 repositories of 10 thousand, 1 million (and N,
//                                 e.g. 10000000) 64-byte chunks, ~1000 a pack (the
//                                 pack/chunk ratio of 64 KiB chunks in 64 MiB
//                                 packs): present/absent lookup, open time (warm,
//                                 and cold if /proc/sys/vm/drop_caches is
//                                 writable) and resident bytes per chunk, with
//                                 the merged index (new) and without (old path,
//                                 OpenOptions::merged_index = false), as ratios
//   store_bench DIR --bigrepo --sizes 10000,1000000,10000000 --new-only --reuse --tsv FILE
//                                 (bench/run-all) the given sizes, the merged
//                                 index only; repositories built without fsync
//                                 on two threads (about a minute at 10 M), kept in
//                                 DIR and reused by later runs (DIR/big-N.done
//                                 marks a complete one); one tab-separated line a
//                                 size appended to FILE (see BigTsvHeader)
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

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "chunkfs/env.h"
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

// ---------------------------------------------------------------- --bigrepo

// Resident set of this process in bytes (VmRSS), after giving freed heap back.
uint64_t ResidentBytes() {
  malloc_trim(0);
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

bool DropCaches() {
  sync();
  std::ofstream f("/proc/sys/vm/drop_caches");
  f << "3\n";
  f.flush();
  return f.good();
}

// The content of chunk i of a big repository: 64 bytes, zero-padded.
std::string_view BigChunk(size_t i, char (&buf)[64]) {
  std::memset(buf, 0, sizeof(buf));
  std::snprintf(buf, sizeof(buf), "big repo chunk %zu", i);
  return std::string_view(buf, sizeof(buf));
}

// Every (n / 100000)-th digest of a big repository of n chunks.
const size_t kSampleCount = 100000;
std::vector<Digest> BigSample(size_t n) {
  std::vector<Digest> sample;
  const size_t every = std::max<size_t>(1, n / kSampleCount);
  char buf[64];
  for (size_t i = 0; i < n; i += every) sample.push_back(Sha256(BigChunk(i, buf)));
  return sample;
}

// The POSIX Env without fsync (Sync and SyncDir do nothing): only for
// building a benchmark fixture, which a crash may leave half-written (its
// ".done" mark is written after a sync(2) of everything). Thread safety: as
// the Env it wraps.
class NoSyncEnv : public Env {
 public:
  class File : public WritableFile {
   public:
    explicit File(std::unique_ptr<WritableFile> f) : f_(std::move(f)) {}
    Status Append(std::string_view data) override { return f_->Append(data); }
    Status AppendV(const std::string_view* parts, size_t n) override { return f_->AppendV(parts, n); }
    Status Sync() override { return Status::OK(); }
    Status Close() override { return f_->Close(); }

   private:
    std::unique_ptr<WritableFile> f_;
  };
  Status NewAppendableFile(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    return Wrap(base_->NewAppendableFile(p, out), out);
  }
  Status NewWritableFile(const std::string& p, std::unique_ptr<WritableFile>* out) override {
    return Wrap(base_->NewWritableFile(p, out), out);
  }
  Status NewRandomAccessFile(const std::string& p, std::unique_ptr<RandomAccessFile>* out) override {
    return base_->NewRandomAccessFile(p, out);
  }
  Status NewMappedFile(const std::string& p, std::unique_ptr<MappedFile>* out) override {
    return base_->NewMappedFile(p, out);
  }
  Status FileExists(const std::string& p, bool* e) override { return base_->FileExists(p, e); }
  Status IsDirectory(const std::string& p, bool* d) override { return base_->IsDirectory(p, d); }
  Status GetFileSize(const std::string& p, uint64_t* s) override { return base_->GetFileSize(p, s); }
  Status GetChildren(const std::string& d, std::vector<std::string>* n) override { return base_->GetChildren(d, n); }
  Status GetDirVersion(const std::string& d, uint64_t* v) override { return base_->GetDirVersion(d, v); }
  Status CreateDir(const std::string& d) override { return base_->CreateDir(d); }
  Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  Status RenameFile(const std::string& a, const std::string& b) override { return base_->RenameFile(a, b); }
  Status Truncate(const std::string& p, uint64_t s) override { return base_->Truncate(p, s); }
  Status SyncDir(const std::string&) override { return Status::OK(); }
  Status LockFile(const std::string& p, std::unique_ptr<FileLock>* l, std::string* h) override {
    return base_->LockFile(p, l, h);
  }
  Status NewTempFile(const std::string& d, std::unique_ptr<TempFile>* out) override {
    return base_->NewTempFile(d, out);
  }
  Status SetDirAccess(const std::string& d, int64_t g) override { return base_->SetDirAccess(d, g); }

 private:
  static Status Wrap(Status s, std::unique_ptr<WritableFile>* out) {
    if (s.ok()) *out = std::make_unique<File>(std::move(*out));
    return s;
  }
  Env* base_ = Env::Default();
};

// A repository of n 64-byte chunks in packs of ~1000 records, written
// through the store (old path: no merged index written while building).
// fast: on two threads, without fsync (the --reuse fixture).
void BuildBig(const std::string& path, size_t n, bool fast) {
  RepoSettings rs;
  rs.pack_size_limit = 1000 * (52 + 64);
  rs.compression_level = 0;
  OrDie(Repository::Create(path, rs), "create");
  static NoSyncEnv no_sync;
  OpenOptions o;
  o.merged_index = false;
  if (fast) o.env = &no_sync;
  std::unique_ptr<Repository> repo;
  OrDie(Repository::Open(path, o, &repo), "open");
  auto t = Clock::now();
  const size_t threads = fast ? 2 : 1;
  auto put_range = [&](size_t first) {
    char buf[64];
    for (size_t i = first; i < n; i += threads) {
      PutResult r;
      OrDie(repo->Put(BigChunk(i, buf), &r), "put");
      if (i % 200000 == 199999) {
        OrDie(repo->Sync(), "sync");  // seals the full packs
        std::fprintf(stderr, "\r  building %zu chunks: %zu%% ", n, i * 100 / n);
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < threads; ++k) pool.emplace_back(put_range, k);
  put_range(0);
  for (auto& th : pool) th.join();
  OrDie(repo->Close(), "close");
  std::fprintf(stderr, "\r  built %zu chunks in %.1f s\n", n, Secs(t));
}

struct PathFigures {
  double open_warm = 0, open_cold = -1, present_us = 0, absent_us = 0, rss_per_chunk = 0;
  // The same lookups with their memory in the CPU cache (64 digests, round
  // robin): what a lookup costs without its cache misses.
  double present_hot_us = 0, absent_hot_us = 0;
};

// Microseconds a lookup of the first 64 of `ds`, looked up round robin (so
// their cache lines stay in the CPU cache).
double HotLookupUs(Repository* repo, const std::vector<Digest>& ds) {
  const size_t k = std::min<size_t>(64, ds.size());
  size_t hits = 0;
  auto t = Clock::now();
  for (int rep = 0; rep < 2000; ++rep)
    for (size_t i = 0; i < k; ++i) hits += repo->Contains(ds[i]);
  const double us = Secs(t) * 1e6 / (2000.0 * k);
  volatile size_t sink = hits;  // the lookups are used
  (void)sink;
  return us;
}

std::unique_ptr<Repository> OpenBig(const std::string& path, bool merged) {
  OpenOptions o;
  o.merged_index = merged;
  std::unique_ptr<Repository> repo;
  OrDie(Repository::Open(path, o, &repo), "open");
  return repo;
}

PathFigures MeasurePath(const std::string& path, bool merged, const std::vector<Digest>& present,
                        const std::vector<Digest>& absent, size_t n) {
  PathFigures f;
  f.open_warm = 1e9;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    auto repo = OpenBig(path, merged);
    f.open_warm = std::min(f.open_warm, Secs(t));
  }
  if (DropCaches()) {
    auto t = Clock::now();
    auto repo = OpenBig(path, merged);
    f.open_cold = Secs(t);
  }
  const uint64_t before = ResidentBytes();
  auto repo = OpenBig(path, merged);
  f.rss_per_chunk = (double(ResidentBytes()) - double(before)) / double(n);
  size_t hits = 0;
  for (const auto& d : present) hits += repo->Contains(d);  // warm-up: pages and buckets touched once
  if (hits != present.size()) {
    std::fprintf(stderr, "store_bench: %zu of %zu present chunks not found\n", present.size() - hits, present.size());
    std::exit(1);
  }
  auto t = Clock::now();
  for (int rep = 0; rep < 5; ++rep)
    for (const auto& d : present) hits += repo->Contains(d);
  f.present_us = Secs(t) * 1e6 / (5.0 * present.size());
  t = Clock::now();
  for (const auto& d : absent) hits += repo->Contains(d);
  f.absent_us = Secs(t) * 1e6 / absent.size();
  f.present_hot_us = HotLookupUs(repo.get(), present);
  f.absent_hot_us = HotLookupUs(repo.get(), absent);
  return f;
}

// Baseline: a chain of dependent random 8-byte reads in an array of 56 bytes
// per chunk (what one cache-missing memory read costs at this size). The
// chain is one cycle through the whole array (Sattolo's shuffle): a random
// mapping would fall into a short cycle that fits in the cache.
double DependentReadUs(size_t n) {
  std::vector<uint64_t> a(std::max<size_t>(n, 1024) * 7);
  std::mt19937_64 rng(5);
  for (size_t k = 0; k < a.size(); ++k) a[k] = k;
  for (size_t k = a.size() - 1; k > 0; --k) std::swap(a[k], a[rng() % k]);
  uint64_t i = 0;
  const int steps = 2000000;
  auto t = Clock::now();
  for (int k = 0; k < steps; ++k) i = a[i];
  double us = Secs(t) * 1e6 / steps;
  return i == 42 ? us + 0 : us;
}

// "10000,1000000" -> {10000, 1000000}.
std::vector<size_t> ParseSizes(const std::string& list) {
  std::vector<size_t> sizes;
  std::istringstream in(list);
  for (std::string item; std::getline(in, item, ',');) sizes.push_back(std::stoul(item));
  return sizes;
}

struct BigOptions {
  std::vector<size_t> sizes;
  bool new_only = false;  // skip the old path (OpenOptions::merged_index = false)
  bool reuse = false;     // keep the repositories in DIR and reuse complete ones
  std::string tsv;        // if set, one line a size appended (BigTsvHeader)
};

const char* BigTsvHeader() {
  return "chunks\tpacks\tpresent_us\tabsent_us\topen_warm_s\topen_cold_s\tresident_b_per_chunk\tdependent_read_us"
         "\tfirst_open_s\tbuild_s\n";
}

// Builds (or, with reuse, finds) the repository of n chunks; returns its
// path, *first_open and *build_s (-1 when reused).
std::string PrepareBig(const std::string& dir, size_t n, bool reuse, double* build_s, double* first_open) {
  const std::string path = dir + "/big-" + std::to_string(n);
  const std::string done = path + ".done";
  *build_s = *first_open = -1;
  if (reuse && std::filesystem::exists(done)) {
    std::fprintf(stderr, "  reusing %s\n", path.c_str());
    return path;
  }
  std::filesystem::remove_all(path);
  std::filesystem::remove(done);
  auto t = Clock::now();
  BuildBig(path, n, reuse);
  *build_s = Secs(t);
  t = Clock::now();
  OpenBig(path, true).reset();  // the first open builds the merged indexes
  *first_open = Secs(t);
  if (reuse) {
    sync();
    std::ofstream(done) << "store_bench --bigrepo: " << n << " chunks of 64 bytes, ~1000 a pack\n";
  }
  return path;
}

int RunBigRepo(const std::string& dir, const BigOptions& opt) {
  std::printf("big repositories: 64-byte chunks, ~1000 per pack; new = merged index, old = OpenOptions::merged_index\n"
              "off (every idx read at open, one search per pack); ratio = old / new (> 1: new is better)\n\n");
  std::printf("%-9s %6s %-4s %10s %10s %9s %9s %9s %12s\n", "chunks", "packs", "path", "present us", "absent us",
              "open s", "cold s", "B/chunk", "1st open s");
  FILE* tsv = nullptr;
  if (!opt.tsv.empty()) {
    const bool fresh = !std::filesystem::exists(opt.tsv);
    tsv = std::fopen(opt.tsv.c_str(), "a");
    if (tsv == nullptr) OrDie(Status::IOError("cannot open " + opt.tsv, errno), "--tsv");
    if (fresh) std::fputs(BigTsvHeader(), tsv);
  }
  for (size_t n : opt.sizes) {
    double build_s, first_open;
    const std::string path = PrepareBig(dir, n, opt.reuse, &build_s, &first_open);
    const std::vector<Digest> present = BigSample(n);
    std::vector<Digest> absent(200000);
    std::mt19937_64 rng(9);
    for (auto& d : absent)
      for (auto& b : d.bytes) b = static_cast<uint8_t>(rng());
    const uint64_t packs = OpenBig(path, true)->GetStats().packs_sealed;
    PathFigures old_f;
    if (!opt.new_only) old_f = MeasurePath(path, false, present, absent, n);
    const PathFigures new_f = MeasurePath(path, true, present, absent, n);
    const double dep = DependentReadUs(n);
    for (int k = opt.new_only ? 1 : 0; k < 2; ++k) {
      const PathFigures& f = k == 0 ? old_f : new_f;
      std::printf("%-9zu %6llu %-4s %10.3f %10.3f %9.3f %9.3f %9.1f", n, (unsigned long long)packs,
                  k == 0 ? "old" : "new", f.present_us, f.absent_us, f.open_warm, f.open_cold, f.rss_per_chunk);
      if (k == 1) std::printf(" %12.3f", first_open);
      std::printf("\n");
    }
    if (!opt.new_only) {
      std::printf("%-9zu %6s %-4s %10.2f %10.2f %9.2f %9.2f %9.2f", n, "", "ratio", old_f.present_us / new_f.present_us,
                  old_f.absent_us / new_f.absent_us, old_f.open_warm / new_f.open_warm,
                  new_f.open_cold > 0 ? old_f.open_cold / new_f.open_cold : 0.0,
                  old_f.rss_per_chunk / std::max(new_f.rss_per_chunk, 0.01));
    }
    std::printf("   (dependent random read %.3f us)\n", dep);
    // What the cache misses cost, in dependent reads: (cold - hot) / dep.
    std::printf("   misses: present %.3f us, %.3f us with its lines cached: %.2f dependent reads; absent %.3f, %.3f: "
                "%.2f\n",
                new_f.present_us, new_f.present_hot_us, (new_f.present_us - new_f.present_hot_us) / dep,
                new_f.absent_us, new_f.absent_hot_us, (new_f.absent_us - new_f.absent_hot_us) / dep);
    std::fflush(stdout);
    if (tsv != nullptr) {
      std::fprintf(tsv, "%zu\t%llu\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%.4f\t%.3f\t%.2f\n", n, (unsigned long long)packs,
                   new_f.present_us, new_f.absent_us, new_f.open_warm, new_f.open_cold, new_f.rss_per_chunk, dep,
                   first_open, build_s);
      std::fflush(tsv);
    }
    if (!opt.reuse) std::filesystem::remove_all(path);
  }
  if (tsv != nullptr) std::fclose(tsv);
  if (!opt.reuse) std::filesystem::remove_all(dir);
  return 0;
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
  bool scale = false, big = false;
  size_t max_n = 0, only_n = 0;
  BigOptions big_opt;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--scale") scale = true;
    else if (a == "--bigrepo") big = true;
    else if (a == "--dependent-read" && i + 1 < argc) {
      const size_t chunks = std::stoul(argv[++i]);
      std::printf("dependent random read, 56 bytes a chunk, %zu chunks: %.3f us\n", chunks, DependentReadUs(chunks));
      return 0;
    }
    else if (a == "--max" && i + 1 < argc) max_n = std::stoul(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only_n = std::stoul(argv[++i]);
    else if (a == "--sizes" && i + 1 < argc) big_opt.sizes = ParseSizes(argv[++i]);
    else if (a == "--new-only") big_opt.new_only = true;
    else if (a == "--reuse") big_opt.reuse = true;
    else if (a == "--tsv" && i + 1 < argc) big_opt.tsv = argv[++i];
    else
    if (a == "--chunks" && i + 1 < argc) n = std::stoul(argv[++i]);
    else if (a == "--size" && i + 1 < argc) size = std::stoul(argv[++i]);
    else dir = a;
  }
  if (!big_opt.reuse) std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (scale) return RunScale(dir);
  if (big) {
    if (big_opt.sizes.empty()) big_opt.sizes = {10000, 1000000};
    if (big_opt.sizes.size() == 2 && max_n > 1000000) big_opt.sizes.push_back(max_n);
    if (only_n != 0) big_opt.sizes = {only_n};
    return RunBigRepo(dir, big_opt);
  }
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
