// write_probe DIR FILE...: writes each FILE into DIR/ the way cp does with
// 1 MiB requests (open, write 1 MiB at a time, close) and prints, per file
// and in all, the time spent in write() and in close(), then the latency
// of single 1 MiB writes (min, quartiles, p90, max). Run it on the mount,
// on passthrough_ll and on a plain folder to see where a big file's time
// goes (docs/BENCHMARKS.md "Ingest: where the time went").
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRequest = 1 << 20;

double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

bool ReadWhole(const char* path, std::string* out) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) return false;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  ::close(fd);
  return n == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: write_probe DIR FILE...\n");
    return 2;
  }
  std::vector<double> lat;
  double write_ms = 0, close_ms = 0;
  for (int k = 2; k < argc; ++k) {
    std::string data;
    if (!ReadWhole(argv[k], &data)) {
      std::fprintf(stderr, "write_probe: cannot read %s: %s\n", argv[k], std::strerror(errno));
      return 1;
    }
    const std::string out = std::string(argv[1]) + "/probe-" + std::to_string(k);
    const auto t0 = Clock::now();
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
      std::fprintf(stderr, "write_probe: cannot create %s: %s\n", out.c_str(), std::strerror(errno));
      return 1;
    }
    for (size_t off = 0; off < data.size(); off += kRequest) {
      const size_t n = std::min(kRequest, data.size() - off);
      const auto w = Clock::now();
      if (::write(fd, data.data() + off, n) != static_cast<ssize_t>(n)) {
        std::fprintf(stderr, "write_probe: write to %s failed: %s\n", out.c_str(), std::strerror(errno));
        return 1;
      }
      lat.push_back(Ms(w, Clock::now()));
    }
    const auto t1 = Clock::now();
    if (::close(fd) != 0) {
      std::fprintf(stderr, "write_probe: close of %s failed: %s\n", out.c_str(), std::strerror(errno));
      return 1;
    }
    const auto t2 = Clock::now();
    write_ms += Ms(t0, t1);
    close_ms += Ms(t1, t2);
    std::printf("%s: write %.1f ms, close %.1f ms\n", argv[k], Ms(t0, t1), Ms(t1, t2));
  }
  std::sort(lat.begin(), lat.end());
  auto at = [&lat](double q) { return lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))]; };
  std::printf("all: write %.1f ms, close %.1f ms\n", write_ms, close_ms);
  if (!lat.empty()) {
    std::printf("1 MiB writes (%zu): min %.2f, p25 %.2f, median %.2f, p75 %.2f, p90 %.2f, max %.2f ms\n", lat.size(),
                lat.front(), at(0.25), at(0.5), at(0.75), at(0.9), lat.back());
  }
  return 0;
}
