// ChunkCache: LRU by bytes (no mount).
#include "chunk_cache.h"

#include <gtest/gtest.h>

namespace chunkfs::fs {
namespace {

ChunkCache::Content Bytes(size_t n) { return std::make_shared<const std::string>(n, 'c'); }

TEST(ChunkCacheTest, KeepsRecentlyUsedWithinTheBound) {
  ChunkCache cache(1000);
  Digest a = Sha256("a"), b = Sha256("b"), c = Sha256("c");
  cache.Insert(a, Bytes(400));
  cache.Insert(b, Bytes(400));
  EXPECT_NE(cache.Find(a), nullptr);  // a is now the most recent
  cache.Insert(c, Bytes(400));        // evicts b
  EXPECT_EQ(cache.Find(b), nullptr);
  EXPECT_NE(cache.Find(a), nullptr);
  EXPECT_NE(cache.Find(c), nullptr);
  EXPECT_LE(cache.bytes(), 1000u);
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(ChunkCacheTest, TooLargeIsNotCachedAndZeroDisables) {
  ChunkCache cache(100);
  cache.Insert(Sha256("big"), Bytes(101));
  EXPECT_EQ(cache.Find(Sha256("big")), nullptr);
  ChunkCache none(0);
  none.Insert(Sha256("x"), Bytes(1));
  EXPECT_EQ(none.Find(Sha256("x")), nullptr);
  none.Insert(Sha256(""), Bytes(0));  // the empty chunk fits anywhere
  EXPECT_NE(none.Find(Sha256("")), nullptr);
}

TEST(ChunkCacheTest, HandlesKeepEvictedContent) {
  ChunkCache cache(10);
  cache.Insert(Sha256("a"), Bytes(10));
  ChunkCache::Content held = cache.Find(Sha256("a"));
  cache.Insert(Sha256("b"), Bytes(10));
  EXPECT_EQ(cache.Find(Sha256("a")), nullptr);
  EXPECT_EQ(held->size(), 10u);  // still valid for the open file that holds it
}

}  // namespace
}  // namespace chunkfs::fs
