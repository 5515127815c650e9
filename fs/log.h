// The mount's log: levels, where lines go, and rate limiting (docs/MOUNT.md, "Logs").
//
// Lines go to stderr ("chunkfs: MESSAGE") while the process has a terminal or
// runs with -f, and to syslog (which the journal collects) once it has
// detached. Under systemd with -f, stderr is the journal ($JOURNAL_STREAM):
// lines then carry the sd-daemon(3) level prefix ("<3>MESSAGE").
//
// Problems that a client can repeat at will (a damaged chunk read again and
// again, a wrong digest, no space, a failing sync) go through Problem(): the
// first of a kind is logged with its path and digest, at most `burst` of a
// kind per interval, and one "suppressed K similar messages" line sums up the
// rest once the interval is over. Messages are "of a kind" when they are equal
// after digits, hex digests and quoted names are blanked (LogKind()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace chunkfs::fs {

// syslog(3) priorities.
enum class LogLevel : int { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

// `message` with every run of digits/hex letters that contains a digit
// replaced by "#" and every '...' quoted name by '*': the kind a rate limit counts.
std::string LogKind(std::string_view message);

// Decides which messages are written. Not thread-safe (Logger locks).
class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Config {
    unsigned burst = 5;                                    // messages of a kind per interval
    std::chrono::milliseconds interval{std::chrono::minutes(1)};
    size_t max_kinds = 256;                                // kinds remembered at once
  };

  explicit LogRateLimiter(Config config) : config_(config) {}

  // True if `message` is to be written now: not written already in its
  // kind's current interval, and fewer than `burst` of its kind were.
  // Appends to *summaries the lines of intervals that have ended with
  // suppressed messages (to be written first).
  bool Admit(std::string_view message, Clock::time_point now, std::vector<std::string>* summaries);
  // Appends the summaries of ended intervals (all intervals if `all`).
  void Expire(Clock::time_point now, bool all, std::vector<std::string>* summaries);

 private:
  struct Kind {
    Clock::time_point start;
    std::vector<std::string> written;  // messages written in this interval (at most `burst`)
    uint64_t suppressed = 0;
  };
  static std::string Summary(const std::string& kind, uint64_t n);

  Config config_;
  std::map<std::string, Kind> kinds_;
};

// The process's log. Thread-safe.
class Logger {
 public:
  using Sink = std::function<void(LogLevel, const std::string&)>;
  using Now = std::function<LogRateLimiter::Clock::time_point()>;

  // Without a sink: stderr (then syslog after UseSyslog()). `now` is for tests.
  explicit Logger(Sink sink = {}, LogRateLimiter::Config limits = {}, Now now = {});
  ~Logger();  // writes the pending "suppressed" summaries
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void SetDebug(bool on);
  // From now on lines go to syslog (ident "chunkfs", facility daemon).
  void UseSyslog();

  // Start-up and lifecycle messages: written as they come.
  void Write(LogLevel level, const std::string& message);
  void Error(const std::string& m) { Write(LogLevel::kError, m); }
  void Warning(const std::string& m) { Write(LogLevel::kWarning, m); }
  void Info(const std::string& m) { Write(LogLevel::kInfo, m); }
  void Debug(const std::string& m) { Write(LogLevel::kDebug, m); }
  // A problem that may repeat: rate-limited (see above).
  void Problem(LogLevel level, const std::string& message);
  // Writes the summaries of all suppressed messages now (at exit).
  void Flush();

  // Routes libfuse's own messages (fuse_log) to `logger` (nullptr: back to stderr).
  static void CaptureFuseLog(Logger* logger);

 private:
  void Emit(LogLevel level, const std::string& message);  // mu_ held

  std::mutex mu_;
  Sink sink_;
  Now now_;
  LogRateLimiter limiter_;
  bool debug_ = false;
  bool syslog_ = false;
  bool journal_ = false;  // stderr is the journal: "<N>" prefixes
};

}  // namespace chunkfs::fs
