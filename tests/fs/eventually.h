// Eventually: polls a condition with a deadline (tests/fs). The deadline is
// only a guard against hanging, never a timing assertion.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace chunkfs::fs {

// True once `cond` holds; false if it still does not after `seconds`.
inline bool Eventually(const std::function<bool()>& cond, int seconds = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace chunkfs::fs
