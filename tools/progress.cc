#include "progress.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace chunkctl {
namespace {

// Writes all of `text` to `fd`; a progress line that cannot be written is
// simply not shown (it is never the command's result).
void WriteText(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// The enabled Progress that lives now (chunkctl has one at a time).
std::atomic<Progress*> live{nullptr};

}  // namespace

Progress::Progress(std::string label, int fd) : label_(std::move(label)), fd_(fd), enabled_(::isatty(fd) == 1) {
  if (enabled_) live.store(this);
}

Progress::~Progress() {
  Progress* self = this;
  live.compare_exchange_strong(self, nullptr);
  Clear();
}

void ClearProgressLine() {
  if (Progress* p = live.load()) p->Clear();
}

void Progress::Update(std::string_view text) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (shown_ && now - last_ < kInterval) return;
  last_ = now;
  shown_ = true;
  // \r: back to the start; \033[K: erase what a longer previous line left.
  WriteText(fd_, "\r" + label_ + ": " + std::string(text) + "\033[K");
}

void Progress::Bytes(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  char text[64];
  snprintf(text, sizeof text, "%.1f/%.1f MB", static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6);
  Update(text);
}

void Progress::Count(uint64_t done, uint64_t total, std::string_view unit) {
  if (!enabled_) return;
  Update(std::to_string(done) + "/" + std::to_string(total) + " " + std::string(unit));
}

void Progress::Clear() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (shown_) WriteText(fd_, "\r\033[K");
  shown_ = false;
}

Ticker::Ticker(Progress* progress, std::string text) : progress_(progress), text_(std::move(text)) {
  if (progress_->enabled()) thread_ = std::thread([this] { Run(); });
}

Ticker::~Ticker() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Ticker::Run() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (int seconds = 0; !stop_; ++seconds) {
    progress_->Update(text_ + " (" + std::to_string(seconds) + " s)");
    cv_.wait_until(lock, start + std::chrono::seconds(seconds + 1), [this] { return stop_; });
  }
}

}  // namespace chunkctl
