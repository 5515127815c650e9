#include "log.h"

#include <fuse_log.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace chunkfs::fs {
namespace {

bool IsHexChar(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// True if stderr is the stream $JOURNAL_STREAM ("DEV:INO") names.
bool StderrIsJournal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

void WriteAll(int fd, const std::string& line) {
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to complain
    done += static_cast<size_t>(n);
  }
}

std::atomic<Logger*> g_fuse_logger{nullptr};

// libfuse writes some lines in pieces ("unknown option(s): `", "-o ", ...):
// they are collected per thread up to the newline.
void FuseLogToLogger(enum fuse_log_level level, const char* fmt, va_list ap) {
  thread_local std::string pending;
  Logger* logger = g_fuse_logger.load();
  if (!logger) return;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  pending.append(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
  if (pending.empty() || pending.back() != '\n') return;
  pending.pop_back();
  LogLevel l = level <= FUSE_LOG_ERR       ? LogLevel::kError
               : level == FUSE_LOG_WARNING ? LogLevel::kWarning
               : level == FUSE_LOG_DEBUG   ? LogLevel::kDebug
                                           : LogLevel::kInfo;
  if (!pending.empty()) logger->Write(l, pending);
  pending.clear();
}

}  // namespace

std::string LogKind(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size()) {
    char c = message[i];
    if (c == '\'') {  // a quoted name
      size_t end = message.find('\'', i + 1);
      if (end != std::string_view::npos) {
        out += "'*'";
        i = end + 1;
        continue;
      }
    }
    if (IsHexChar(c) && (i == 0 || !std::isalnum(static_cast<unsigned char>(message[i - 1])))) {
      size_t j = i;
      bool digit = false;
      for (; j < message.size() && IsHexChar(message[j]); j++) {
        digit |= std::isdigit(static_cast<unsigned char>(message[j])) != 0;
      }
      bool word_ends = j == message.size() || !std::isalnum(static_cast<unsigned char>(message[j]));
      if (digit && word_ends) {
        out += '#';
        i = j;
        continue;
      }
    }
    out += c;
    i++;
  }
  return out;
}

std::string LogRateLimiter::Summary(const std::string& kind, uint64_t n) {
  return "suppressed " + std::to_string(n) + " similar message" + (n == 1 ? "" : "s") + ": " + kind;
}

void LogRateLimiter::Expire(Clock::time_point now, bool all, std::vector<std::string>* summaries) {
  for (auto it = kinds_.begin(); it != kinds_.end();) {
    if (all || now - it->second.start >= config_.interval) {
      if (it->second.suppressed) summaries->push_back(Summary(it->first, it->second.suppressed));
      it = kinds_.erase(it);
    } else {
      ++it;
    }
  }
}

bool LogRateLimiter::Admit(std::string_view message, Clock::time_point now, std::vector<std::string>* summaries) {
  Expire(now, false, summaries);
  std::string key = LogKind(message);
  auto it = kinds_.find(key);
  if (it == kinds_.end()) {
    if (kinds_.size() >= config_.max_kinds) Expire(now, true, summaries);  // bounded memory
    it = kinds_.emplace(std::move(key), Kind{now, {}, 0}).first;
  }
  Kind& k = it->second;
  bool repeat = std::find(k.written.begin(), k.written.end(), message) != k.written.end();
  if (repeat || k.written.size() >= config_.burst) {
    k.suppressed++;
    return false;
  }
  k.written.emplace_back(message);
  return true;
}

Logger::Logger(Sink sink, LogRateLimiter::Config limits, Now now)
    : sink_(std::move(sink)), now_(std::move(now)), limiter_(limits), journal_(!sink_ && StderrIsJournal()) {
  if (!now_) now_ = [] { return LogRateLimiter::Clock::now(); };
}

Logger::~Logger() {
  Flush();
  Logger* self = this;
  g_fuse_logger.compare_exchange_strong(self, nullptr);
}

void Logger::SetDebug(bool on) {
  std::lock_guard<std::mutex> l(mu_);
  debug_ = on;
}

void Logger::UseSyslog() {
  std::lock_guard<std::mutex> l(mu_);
  if (syslog_) return;
  ::openlog("chunkfs", LOG_PID, LOG_DAEMON);
  syslog_ = true;
}

void Logger::Emit(LogLevel level, const std::string& message) {
  if (sink_) {
    sink_(level, message);
  } else if (syslog_) {
    ::syslog(static_cast<int>(level), "%s", message.c_str());
  } else if (journal_) {
    WriteAll(STDERR_FILENO, "<" + std::to_string(static_cast<int>(level)) + ">" + message + "\n");
  } else {
    WriteAll(STDERR_FILENO, "chunkfs: " + message + "\n");
  }
}

void Logger::Write(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> l(mu_);
  if (level == LogLevel::kDebug && !debug_) return;
  std::vector<std::string> summaries;
  limiter_.Expire(now_(), false, &summaries);
  for (const auto& s : summaries) Emit(LogLevel::kWarning, s);
  Emit(level, message);
}

void Logger::Problem(LogLevel level, const std::string& message) {
  std::lock_guard<std::mutex> l(mu_);
  if (level == LogLevel::kDebug && !debug_) return;
  std::vector<std::string> summaries;
  bool admit = limiter_.Admit(message, now_(), &summaries);
  for (const auto& s : summaries) Emit(LogLevel::kWarning, s);
  if (admit) Emit(level, message);
}

void Logger::Flush() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> summaries;
  limiter_.Expire(now_(), true, &summaries);
  for (const auto& s : summaries) Emit(LogLevel::kWarning, s);
}

void Logger::CaptureFuseLog(Logger* logger) {
  g_fuse_logger.store(logger);
  fuse_set_log_func(logger ? FuseLogToLogger : nullptr);
}

}  // namespace chunkfs::fs
