// codec_bench: zlib against zstd, per chunk size and kind of data, as the
// store uses them (docs/BENCHMARKS.md "Codecs").
//
//   codec_bench [DIR] [--mib N] [--level L]
//
// For text-like and random chunks of 64 KiB, 1 MiB and 16 MiB (N MiB of
// each, default 32), with each codec at level L (default 1):
//   ratio      stored bytes / raw bytes (random data is stored raw: 1.00)
//   enc, dec   the codec alone, one core (codec::Encode with its sample
//              check, codec::Decode), MB/s of raw bytes
//   put, get   Repository::Put of every chunk then Sync (SHA-256, codec,
//              append, fsync) and Repository::Get of each (read, decode,
//              SHA-256 check; packs in the page cache), MB/s of raw bytes
// and zstd/zlib ratios of the same run (the machine is shared and noisy:
// only the ratios are meant to be compared between runs).
//
//   codec_bench --throughput [--threads N] [--block BYTES] [--codec NAME] [--level L] FILE...
//
// The baseline of bench/run-all's text-ingest rows: FILE... read into
// memory, cut into blocks of BYTES (default 1 MiB) and encoded (codec::Encode,
// default codec DefaultCodec(), level 1) on N threads (default 2), block k on
// thread k mod N; the best of 3 passes. Prints one line, "codec_throughput
// codec=... threads=... MBps=...", MB/s of raw bytes.
//
//   codec_bench --block-sizes [--mib N] [--level L]
//
// The block size of blocked records (docs/BENCHMARKS.md "Block size"): N MiB
// (default 64) of text and of random data cut into blocks of 256 KiB, 1 MiB
// and 4 MiB, each block encoded as EncodeBlock does (SHA-256 + codec, raw if
// it does not pay) and decoded as a block read does (decode + SHA-256), one
// thread: ratio, enc and dec MB/s, and "first", the ms to decode and verify
// one block (what a read waits for before its first byte).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "../store/src/codec.h"
#include "chunkfs/codec.h"
#include "chunkfs/repository.h"

using namespace chunkfs;
using Clock = std::chrono::steady_clock;

namespace {

void OrDie(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "codec_bench: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

double Secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }
double MBps(uint64_t bytes, double secs) { return secs > 0 ? bytes / secs / 1e6 : 0; }

// Text-like: words from a 4,000-word vocabulary drawn with a skewed
// (Zipf-like) frequency, punctuation and line breaks; zlib level 1 shrinks
// it to about 40 %, like source code or logs.
class TextGen {
 public:
  TextGen() {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 4000; ++i) {
      std::string w;
      size_t len = 2 + rng() % 9;
      for (size_t k = 0; k < len; ++k) w += static_cast<char>('a' + rng() % 26);
      words_.push_back(w);
    }
  }
  std::string Make(size_t size, uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::string out;
    out.reserve(size + 16);
    while (out.size() < size) {
      uint64_t r = rng();
      size_t idx = (r % 4000) * ((r >> 20) % 4000) / 4000;  // skewed towards small indices
      out += words_[idx];
      out += (r >> 40) % 12 == 0 ? ".\n" : (r >> 40) % 7 == 0 ? ", " : " ";
    }
    out.resize(size);
    return out;
  }

 private:
  std::vector<std::string> words_;
};

std::string Random(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t k = 0; k + 8 <= size; k += 8) {
    uint64_t r = rng();
    std::memcpy(&out[k], &r, 8);
  }
  return out;
}

struct Cell {
  double ratio = 0, enc = 0, dec = 0, put = 0, get = 0;
};

Cell Measure(const std::vector<std::string>& chunks, uint8_t codec_id, int level, const std::string& dir) {
  Cell c;
  uint64_t raw = 0, stored = 0;
  std::vector<std::string> enc(chunks.size());
  std::vector<uint8_t> used(chunks.size());
  auto t = Clock::now();
  for (size_t i = 0; i < chunks.size(); ++i) used[i] = codec::Encode(chunks[i], codec_id, level, &enc[i]);
  c.enc = Secs(t);
  for (size_t i = 0; i < chunks.size(); ++i) {
    raw += chunks[i].size();
    stored += used[i] == 0 ? chunks[i].size() : enc[i].size();
  }
  c.ratio = static_cast<double>(stored) / raw;
  std::string out;
  t = Clock::now();
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string_view payload = used[i] == 0 ? std::string_view(chunks[i]) : std::string_view(enc[i]);
    OrDie(codec::Decode(used[i], payload, static_cast<uint32_t>(chunks[i].size()), &out), "decode");
  }
  c.dec = Secs(t);
  c.enc = MBps(raw, c.enc);
  c.dec = MBps(raw, c.dec);

  std::filesystem::remove_all(dir);
  RepoSettings rs;
  rs.codec = codec_id;
  rs.compression_level = level;
  OrDie(Repository::Create(dir, rs), "create");
  std::unique_ptr<Repository> repo;
  OrDie(Repository::Open(dir, OpenOptions{}, &repo), "open");
  t = Clock::now();
  std::vector<Digest> digests;
  for (const auto& ch : chunks) {
    PutResult r;
    OrDie(repo->Put(ch, &r), "put");
    digests.push_back(r.digest);
  }
  OrDie(repo->Sync(), "sync");
  c.put = MBps(raw, Secs(t));
  t = Clock::now();
  for (const auto& d : digests) OrDie(repo->Get(d, &out), "get");
  c.get = MBps(raw, Secs(t));
  OrDie(repo->Close(), "close");
  std::filesystem::remove_all(dir);
  return c;
}

struct ThroughputOptions {
  std::vector<std::string> files;
  size_t threads = 2, block = 1 << 20;
  uint8_t codec = DefaultCodec();
  int level = 1;
};

// Seconds to encode every block of `data` on opt.threads threads.
double EncodeBlocks(std::string_view data, const ThroughputOptions& opt) {
  auto t = Clock::now();
  auto work = [&](size_t first) {
    std::string out;
    for (size_t off = first * opt.block; off < data.size(); off += opt.threads * opt.block)
      (void)codec::Encode(data.substr(off, opt.block), opt.codec, opt.level, &out);  // the bytes are not kept
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < opt.threads; ++k) pool.emplace_back(work, k);
  work(0);
  for (auto& th : pool) th.join();
  return Secs(t);
}

int RunThroughput(const ThroughputOptions& opt) {
  std::string data;
  for (const auto& f : opt.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "codec_bench: cannot read %s\n", f.c_str());
      return 1;
    }
    data.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  double best = 1e9;
  for (int pass = 0; pass < 3; ++pass) best = std::min(best, EncodeBlocks(data, opt));
  std::printf("codec_throughput codec=%s level=%d threads=%zu block=%zu bytes=%zu secs=%.4f MBps=%.1f\n",
              CodecName(opt.codec), opt.level, opt.threads, opt.block, data.size(), best, MBps(data.size(), best));
  return 0;
}

int ThroughputUsage() {
  std::fprintf(stderr, "usage: codec_bench --throughput [--threads N] [--block BYTES] [--codec zlib|zstd] "
                       "[--level L] FILE... (the codec must be built in)\n");
  return 2;
}

// codec_bench --throughput ...: parses the options of that mode.
int ThroughputMain(int argc, char** argv) {
  ThroughputOptions opt;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) opt.threads = std::max(1, std::atoi(argv[++i]));
    else if (a == "--block" && i + 1 < argc) opt.block = std::max<size_t>(4096, std::strtoull(argv[++i], nullptr, 10));
    else if (a == "--codec" && i + 1 < argc) opt.codec = CodecFromName(argv[++i]);
    else if (a == "--level" && i + 1 < argc) opt.level = std::atoi(argv[++i]);
    else if (a[0] != '-') opt.files.push_back(a);
    else return ThroughputUsage();
  }
  if (opt.files.empty() || !CodecBuiltIn(opt.codec)) return ThroughputUsage();
  return RunThroughput(opt);
}

// One row of --block-sizes: `data` as blocks of `block` bytes.
void BlockSizeRow(const char* kind, const std::string& data, size_t block, uint8_t codec_id, int level) {
  std::vector<std::string> enc;
  std::vector<uint8_t> used;
  std::vector<Digest> hashes;
  uint64_t stored = 0;
  auto t = Clock::now();
  for (size_t off = 0; off < data.size(); off += block) {
    std::string_view raw = std::string_view(data).substr(off, block);
    hashes.push_back(Sha256(raw));
    enc.emplace_back();
    used.push_back(codec::Encode(raw, codec_id, level, &enc.back()));
    stored += used.back() == 0 ? raw.size() : enc.back().size();
  }
  const double enc_s = Secs(t);
  std::string out;
  t = Clock::now();
  for (size_t i = 0; i < enc.size(); ++i) {
    std::string_view raw = std::string_view(data).substr(i * block, block);
    OrDie(codec::Decode(used[i], used[i] == 0 ? raw : std::string_view(enc[i]), static_cast<uint32_t>(raw.size()), &out),
          "decode");
    if (Sha256(out) != hashes[i]) OrDie(Status::Corruption("block hash"), "verify");
  }
  const double dec_s = Secs(t);
  std::printf("%-6s %5zuK %5s | %6.3f %7.0f %7.0f %7.2f\n", kind, block >> 10, CodecName(codec_id),
              static_cast<double>(stored) / data.size(), MBps(data.size(), enc_s), MBps(data.size(), dec_s),
              dec_s / enc.size() * 1e3);
  std::fflush(stdout);
}

int BlockSizesMain(int argc, char** argv) {
  uint64_t mib = 64;
  int level = 1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) mib = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--level" && i + 1 < argc) level = std::atoi(argv[++i]);
    else return std::fprintf(stderr, "usage: codec_bench --block-sizes [--mib N] [--level L]\n"), 2;
  }
  std::printf("codec_bench --block-sizes: %llu MiB of each kind, level %d (MB/s of raw bytes, one thread; first: "
              "ms to decode + verify one block)\n%-6s %6s %5s | %6s %7s %7s %7s\n",
              static_cast<unsigned long long>(mib), level, "data", "block", "codec", "ratio", "enc", "dec", "first");
  const std::string text = TextGen().Make(mib << 20, 1), random = Random(mib << 20, 1);
  for (const auto* kind : {"text", "random"}) {
    for (size_t block : {size_t{256} << 10, size_t{1} << 20, size_t{4} << 20}) {
      for (uint8_t codec_id : {kCodecZlib, kCodecZstd}) {
        if (CodecBuiltIn(codec_id)) BlockSizeRow(kind, kind[0] == 't' ? text : random, block, codec_id, level);
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--throughput") return ThroughputMain(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--block-sizes") return BlockSizesMain(argc, argv);
  std::string dir = "/tmp/codec_bench";
  uint64_t mib = 32;
  int level = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) mib = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--level" && i + 1 < argc) level = std::atoi(argv[++i]);
    else if (a[0] != '-') dir = a;
    else {
      std::fprintf(stderr, "usage: codec_bench [DIR] [--mib N] [--level L]\n");
      return 2;
    }
  }
  if (!CodecBuiltIn(kCodecZstd)) {
    std::fprintf(stderr, "codec_bench: this build has no zstd (CHUNKFS_ZSTD=OFF or libzstd-dev missing)\n");
    return 1;
  }
  std::filesystem::create_directories(dir);
  TextGen text;
  std::printf("codec_bench: %llu MiB of each kind and size, level %d, in %s (MB/s of raw bytes, one thread)\n",
              static_cast<unsigned long long>(mib), level, dir.c_str());
  std::printf("%-6s %5s %5s | %6s %7s %7s %7s %7s | zstd/zlib: %5s %5s %5s %5s\n", "data", "size", "codec", "ratio",
              "enc", "dec", "put", "get", "enc", "dec", "put", "get");
  for (bool is_text : {true, false}) {
    for (size_t size : {size_t{64} << 10, size_t{1} << 20, size_t{16} << 20}) {
      size_t n = std::max<size_t>(2, (mib << 20) / size);
      std::vector<std::string> chunks;
      for (size_t i = 0; i < n; ++i) chunks.push_back(is_text ? text.Make(size, i + 1) : Random(size, i + 1));
      Cell z = Measure(chunks, kCodecZlib, level, dir + "/repo");
      Cell s = Measure(chunks, kCodecZstd, level, dir + "/repo");
      const char* kind = is_text ? "text" : "random";
      std::string sz = size >= (1u << 20) ? std::to_string(size >> 20) + "M" : std::to_string(size >> 10) + "K";
      std::printf("%-6s %5s %5s | %6.3f %7.0f %7.0f %7.0f %7.0f |\n", kind, sz.c_str(), "zlib", z.ratio, z.enc, z.dec,
                  z.put, z.get);
      std::printf("%-6s %5s %5s | %6.3f %7.0f %7.0f %7.0f %7.0f | %14.2f %5.2f %5.2f %5.2f\n", kind, sz.c_str(),
                  "zstd", s.ratio, s.enc, s.dec, s.put, s.get, s.enc / z.enc, s.dec / z.dec, s.put / z.put,
                  s.get / z.get);
      std::fflush(stdout);
    }
  }
  return 0;
}
