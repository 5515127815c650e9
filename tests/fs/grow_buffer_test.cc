// GrowBuffer (fs/grow_buffer.h): growing keeps the content, holes read as
// zeros, and a release frees everything.
#include "grow_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace chunkfs::fs {
namespace {

std::string Contents(const GrowBuffer& b) { return std::string(b.data(), b.size()); }

TEST(GrowBufferTest, GrowingKeepsTheContent) {
  GrowBuffer b;
  ASSERT_TRUE(b.Reserve(16));
  b.Extend(5);
  std::memcpy(b.data(), "hello", 5);
  // Past malloc's mmap threshold: realloc moves it (mremap) without a copy
  // of ours; the bytes must be there all the same.
  for (size_t cap : {size_t{4096}, size_t{3} << 20, size_t{40} << 20}) {
    ASSERT_TRUE(b.Reserve(cap));
    EXPECT_GE(b.capacity(), cap);
    EXPECT_EQ(Contents(b), "hello");
  }
  EXPECT_TRUE(b.Reserve(10));  // smaller: nothing changes
  EXPECT_GE(b.capacity(), size_t{40} << 20);
}

TEST(GrowBufferTest, ResizeZeroesNewBytesAndShrinks) {
  GrowBuffer b;
  ASSERT_TRUE(b.Reserve(64));
  b.Extend(3);
  std::memcpy(b.data(), "abc", 3);
  b.Resize(1);
  EXPECT_EQ(Contents(b), "a");
  b.Resize(4);  // the old "bc" must not come back
  EXPECT_EQ(Contents(b), std::string("a\0\0\0", 4));
}

TEST(GrowBufferTest, AnImpossibleReserveChangesNothing) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers abort on an impossible allocation instead of failing it";
#endif
  GrowBuffer b;
  ASSERT_TRUE(b.Reserve(8));
  b.Extend(2);
  std::memcpy(b.data(), "ok", 2);
  EXPECT_FALSE(b.Reserve(~size_t{0} >> 1));  // far beyond any address space
  EXPECT_EQ(Contents(b), "ok");
  EXPECT_EQ(b.capacity(), 8u);
}

TEST(GrowBufferTest, ReleaseFreesEverything) {
  GrowBuffer b;
  ASSERT_TRUE(b.Reserve(1 << 20));
  b.Resize(100);
  b.Release();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
  ASSERT_TRUE(b.Reserve(4));  // usable again
  b.Resize(4);
  EXPECT_EQ(Contents(b), std::string(4, '\0'));
}

}  // namespace
}  // namespace chunkfs::fs
