// A progress line for long chunkctl work (check, repair, a bulk put, prune,
// compact): "check: 12.3/50.0 MB" on stderr, rewritten in place.
//
// Shown only when the file descriptor (stderr) is a terminal; on a pipe or a
// file nothing at all is written, so scripts and logs see only the report.
// The line is rewritten at most every kInterval (the first update shows at
// once) and erased by Clear() or the destructor, before the report is
// printed.
//
// Thread safety: every member may be called from any thread (one mutex); a
// Ticker updates the line from its own thread. ClearProgressLine() (called by
// cli.h's Fail before it prints an error) erases the line of the live
// Progress, so an error never lands at the end of a progress line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace chunkctl {

class Progress {
 public:
  static constexpr std::chrono::milliseconds kInterval{250};

  // `label` starts every line ("check"); enabled iff `fd` is a terminal.
  explicit Progress(std::string label, int fd = 2);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool enabled() const { return enabled_; }
  // "<label>: <text>", if kInterval passed since the last line shown.
  void Update(std::string_view text);
  // "<label>: 12.3/50.0 MB" (bytes) or "<label>: 3/10 <unit>".
  void Bytes(uint64_t done, uint64_t total);
  void Count(uint64_t done, uint64_t total, std::string_view unit);
  // Erases the line (if one is shown); the next Update shows at once.
  void Clear();

 private:
  const std::string label_;
  const int fd_;
  const bool enabled_;
  std::mutex mu_;
  bool shown_ = false;                              // guarded by mu_
  std::chrono::steady_clock::time_point last_{};    // guarded by mu_
};

// Erases the line of the Progress that lives now, if any shows one.
void ClearProgressLine();

// While it lives, shows "<text> (N s)" on `progress` every second, from its
// own thread: for work that reports nothing while it runs (a command the
// mount executes). Does nothing if `progress` is disabled.
class Ticker {
 public:
  Ticker(Progress* progress, std::string text);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  void Run();

  Progress* const progress_;
  const std::string text_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace chunkctl
