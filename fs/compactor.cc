// Compactor: background compaction of the mount's repository.
#include "compactor.h"

#include <chrono>
#include <exception>

namespace chunkfs::fs {

Compactor::Compactor(Repository* repo, const CompactorConfig& config, Logger log)
    : repo_(repo), config_(config), log_(std::move(log)) {}

Compactor::~Compactor() { Stop(); }

void Compactor::Start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void Compactor::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Compactor::Kick() {
  {
    std::lock_guard<std::mutex> l(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

bool Compactor::Stopping() {
  std::lock_guard<std::mutex> l(mu_);
  return stop_;
}

void Compactor::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  bool first = true;  // dead bytes left by an earlier mount are looked at at once
  while (!stop_) {
    if (!first) {
      cv_.wait_for(l, std::chrono::milliseconds(config_.interval_ms), [this] { return stop_ || kicked_; });
    }
    first = false;
    if (stop_) break;
    const bool kicked = kicked_;
    kicked_ = false;
    l.unlock();
    bool due = kicked;
    try {
      due = due || repo_->GetStats().dead_bytes > dead_left_;
    } catch (...) {  // no memory for the stats: try again next interval
    }
    if (due) Round();
    l.lock();
  }
}

bool Compactor::Round() noexcept {
  std::string failure;
  try {
    for (;;) {
      CompactOptions o;
      o.bytes_per_second = config_.bytes_per_second;
      o.max_bytes = config_.batch_bytes;
      CompactResult r;
      Status s = repo_->Compact(o, &r);
      rounds_.fetch_add(1, std::memory_order_relaxed);
      if (!s.ok()) {
        failure = s.ToString();
        break;
      }
      if (o.max_bytes == 0 || r.bytes_copied < o.max_bytes || Stopping()) {
        dead_left_ = repo_->GetStats().dead_bytes;
        return true;
      }
    }
  } catch (const std::exception& e) {
    failure = std::string("exception: ") + e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  failures_.fetch_add(1, std::memory_order_relaxed);
  try {
    if (log_) log_("background compaction failed: " + failure + "; trying again in " +
                   std::to_string(config_.interval_ms / 1000) + " s");
  } catch (...) {  // no memory even for the message: the counter says it
  }
  return false;
}

}  // namespace chunkfs::fs
