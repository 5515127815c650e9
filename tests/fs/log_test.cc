// The mount's log (fs/log.h): kinds of messages, the rate limit, levels.
#include "log.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace chunkfs::fs {
namespace {

using Clock = LogRateLimiter::Clock;
using std::chrono::seconds;

const std::string kHexA(64, 'a');
const std::string kDigestA = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
const std::string kDigestB = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string ReadFailed(const std::string& digest) {
  return "reading chunk " + digest + " failed: Corruption: record checksum mismatch in pack 12 at 4096";
}

TEST(LogKindTest, BlanksDigestsNumbersAndQuotedNames) {
  EXPECT_EQ(LogKind(ReadFailed(kDigestA)), "reading chunk # failed: Corruption: record checksum mismatch in pack # at #");
  EXPECT_EQ(LogKind(ReadFailed(kDigestA)), LogKind(ReadFailed(kDigestB)));
  EXPECT_EQ(LogKind("commit at release of 'a b.txt' failed: No space left"), "commit at release of '*' failed: No space left");
  // Words made of hex letters stay (no digit), and so does a word with digits inside it.
  EXPECT_EQ(LogKind("a dead face failed"), "a dead face failed");
  EXPECT_EQ(LogKind("sha256 of " + kHexA), "sha256 of " + kHexA);
  EXPECT_NE(LogKind("background sync failed: x"), LogKind("storing a chunk failed: x"));
}

class RateLimiterTest : public ::testing::Test {
 protected:
  LogRateLimiter::Config Config() const {
    LogRateLimiter::Config c;
    c.burst = 3;
    c.interval = seconds(60);
    c.max_kinds = 4;
    return c;
  }
  bool Admit(const std::string& m) { return limiter_.Admit(m, now_, &summaries_); }

  LogRateLimiter limiter_{Config()};
  Clock::time_point now_ = Clock::time_point() + seconds(1000);
  std::vector<std::string> summaries_;
};

TEST_F(RateLimiterTest, SameMessageOnceAnInterval) {
  EXPECT_TRUE(Admit(ReadFailed(kDigestA)));
  for (int i = 0; i < 10; i++) EXPECT_FALSE(Admit(ReadFailed(kDigestA))) << i;
  EXPECT_TRUE(summaries_.empty());
  now_ += seconds(59);
  EXPECT_FALSE(Admit(ReadFailed(kDigestA)));
  now_ += seconds(1);  // the interval is over: the summary, then the message again
  EXPECT_TRUE(Admit(ReadFailed(kDigestA)));
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0], "suppressed 11 similar messages: " + LogKind(ReadFailed(kDigestA)));
}

TEST_F(RateLimiterTest, AtMostBurstOfAKindThenSuppressed) {
  std::vector<std::string> digests;
  for (int i = 0; i < 6; i++) digests.push_back(std::string(63, 'b') + std::to_string(i));
  EXPECT_TRUE(Admit(ReadFailed(digests[0])));
  EXPECT_TRUE(Admit(ReadFailed(digests[1])));
  EXPECT_TRUE(Admit(ReadFailed(digests[2])));
  EXPECT_FALSE(Admit(ReadFailed(digests[3])));  // a fourth of the kind
  EXPECT_FALSE(Admit(ReadFailed(digests[4])));
  // Another kind is not held back by the first.
  EXPECT_TRUE(Admit("background sync failed: IO error: No space left on device; retrying in 5000 ms"));
  EXPECT_FALSE(Admit("background sync failed: IO error: No space left on device; retrying in 5000 ms"));
  EXPECT_TRUE(summaries_.empty());
  std::vector<std::string> all;
  limiter_.Expire(now_, true, &all);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], "suppressed 1 similar message: background sync failed: IO error: No space left on device; "
                    "retrying in # ms");
  EXPECT_EQ(all[1], "suppressed 2 similar messages: " + LogKind(ReadFailed(digests[0])));
  // Expired: a new interval starts with the next message.
  EXPECT_TRUE(Admit(ReadFailed(digests[5])));
}

TEST_F(RateLimiterTest, KindsAreBounded) {
  for (int i = 0; i < 4; i++) EXPECT_TRUE(Admit("kind " + std::string(1, static_cast<char>('p' + i))));
  EXPECT_FALSE(Admit("kind p"));  // remembered
  EXPECT_TRUE(Admit("kind z"));   // a fifth kind: the table is emptied (with its summaries) first
  ASSERT_EQ(summaries_.size(), 1u);
  EXPECT_EQ(summaries_[0], "suppressed 1 similar message: kind p");
  EXPECT_TRUE(Admit("kind p"));
}

class LoggerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Logger> Make(LogRateLimiter::Config limits = {}) {
    return std::make_unique<Logger>(
        [this](LogLevel level, const std::string& m) { lines_.emplace_back(level, m); }, limits,
        [this] { return now_; });
  }
  std::vector<std::pair<LogLevel, std::string>> lines_;
  Clock::time_point now_ = Clock::time_point() + seconds(1000);
};

TEST_F(LoggerTest, AProblemIsLoggedOnceAndRepeatsAreSummed) {
  auto log = Make();
  for (int i = 0; i < 20; i++) log->Problem(LogLevel::kError, ReadFailed(kDigestA));
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_EQ(lines_[0].first, LogLevel::kError);
  EXPECT_EQ(lines_[0].second, ReadFailed(kDigestA));
  now_ += seconds(61);
  log->Info("mounted");  // any line first writes the summaries of ended intervals
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_EQ(lines_[1].first, LogLevel::kWarning);
  EXPECT_EQ(lines_[1].second, "suppressed 19 similar messages: " + LogKind(ReadFailed(kDigestA)));
  EXPECT_EQ(lines_[2].second, "mounted");
}

TEST_F(LoggerTest, SummariesAreWrittenAtExit) {
  auto log = Make();
  log->Problem(LogLevel::kError, ReadFailed(kDigestA));
  log->Problem(LogLevel::kError, ReadFailed(kDigestA));
  log.reset();
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[1].second, "suppressed 1 similar message: " + LogKind(ReadFailed(kDigestA)));
}

TEST_F(LoggerTest, StartupMessagesAreNotLimitedDebugOnlyWhenAskedFor) {
  auto log = Make();
  for (int i = 0; i < 3; i++) log->Error("repository /x does not exist");
  log->Debug("hidden");
  log->SetDebug(true);
  log->Debug("shown");
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_EQ(lines_[3].first, LogLevel::kDebug);
  EXPECT_EQ(lines_[3].second, "shown");
}

}  // namespace
}  // namespace chunkfs::fs
