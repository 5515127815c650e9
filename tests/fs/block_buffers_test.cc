// BlockBuffers (fs/block_buffers.h): block-sized buffers reused without
// page faults, with the memory kept idle bounded.
#include "block_buffers.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace chunkfs::fs {
namespace {

constexpr size_t kCap = 1 << 20;

TEST(BlockBuffersTest, ABufferLetGoIsHandedOutAgainWithItsCapacity) {
  BlockBuffers b(2, kCap);
  const char* first;
  {
    auto s = b.Get();
    s->assign(kCap, 'x');
    first = s->data();
  }
  EXPECT_EQ(b.idle(), 1u);
  auto again = b.Get();
  EXPECT_EQ(b.reused(), 1u);
  EXPECT_TRUE(again->empty()) << "handed out empty, whatever it held";
  EXPECT_GE(again->capacity(), kCap);
  EXPECT_EQ(again->data(), first) << "the same memory, so no page is touched for the first time";
}

TEST(BlockBuffersTest, NoMoreThanMaxIdleBuffersWait) {
  BlockBuffers b(2, kCap);
  std::vector<std::shared_ptr<std::string>> held;
  for (int i = 0; i < 5; i++) {
    held.push_back(b.Get());
    held.back()->assign(1000, 'y');
  }
  held.clear();
  EXPECT_EQ(b.idle(), 2u) << "three of five freed";
  for (int i = 0; i < 3; i++) held.push_back(b.Get());
  EXPECT_EQ(b.reused(), 2u);
  EXPECT_EQ(b.idle(), 0u);
}

TEST(BlockBuffersTest, ABufferGrownBeyondTheCapacityIsFreedNotKept) {
  BlockBuffers b(4, kCap);
  b.Get()->assign(kCap + 1, 'z');
  EXPECT_EQ(b.idle(), 0u);
  b.Get()->assign(kCap, 'z');
  EXPECT_EQ(b.idle(), 1u);
}

TEST(BlockBuffersTest, ABufferMayOutliveItsPool) {
  std::shared_ptr<std::string> s;
  {
    BlockBuffers b(1, kCap);
    s = b.Get();
  }
  s->assign(10, 'w');
  EXPECT_EQ(*s, "wwwwwwwwww");
  s.reset();  // returns to the pool it kept alive, then both go (ASan: no leak)
}

TEST(BlockBuffersTest, ZeroIdleKeepsNothing) {
  BlockBuffers b(0, kCap);
  b.Get()->assign(10, 'v');
  EXPECT_EQ(b.idle(), 0u);
  b.Get();
  EXPECT_EQ(b.reused(), 0u);
}

}  // namespace
}  // namespace chunkfs::fs
