// BlockReader and ChunkCache's load-once over a fake ChunkReader with small
// blocks (no store, no mount): reads of every shape, one block per read,
// read-ahead on the pool, one load for concurrent readers, damaged blocks,
// the cache bound, release while read-ahead runs.
#include "block_reader.h"
#include "eventually.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <new>
#include <set>
#include <thread>

namespace chunkfs::fs {
namespace {

// What a FakeReader serves and records; shared by its readers and the test.
struct FakeChunk {
  std::string content;
  uint64_t block_size = 1;
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint32_t, int> calls;  // ReadBlock calls per block
  std::set<uint32_t> damaged;     // Corruption
  std::set<uint32_t> throwing;    // std::bad_alloc
  std::set<uint32_t> gated;       // wait for open_gate
  bool open_gate = false;
  int at_gate = 0;                // calls waiting at the gate now

  int Calls(uint32_t i) {
    std::lock_guard<std::mutex> l(mu);
    return calls.count(i) ? calls[i] : 0;
  }
  int TotalCalls() {
    std::lock_guard<std::mutex> l(mu);
    int n = 0;
    for (auto& [i, c] : calls) n += c;
    return n;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open_gate = true;
    cv.notify_all();
  }
  // True once a ReadBlock waits at the gate.
  bool AwaitAtGate() {
    return Eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return at_gate == 1;
    });
  }
};

class FakeReader : public ChunkReader {
 public:
  explicit FakeReader(std::shared_ptr<FakeChunk> c) : c_(std::move(c)) {}
  uint64_t size() const override { return c_->content.size(); }
  uint32_t block_count() const override {
    return c_->content.empty() ? 1 : static_cast<uint32_t>((c_->content.size() + c_->block_size - 1) / c_->block_size);
  }
  uint64_t block_size() const override { return block_count() == 1 ? c_->content.size() : c_->block_size; }
  Status ReadBlock(uint32_t i, std::string* out) override {
    std::unique_lock<std::mutex> l(c_->mu);
    c_->calls[i]++;
    if (c_->gated.count(i)) {
      c_->at_gate++;
      c_->cv.notify_all();
      c_->cv.wait(l, [&] { return c_->open_gate; });
      c_->at_gate--;
    }
    if (c_->throwing.count(i)) throw std::bad_alloc();
    if (c_->damaged.count(i)) {
      out->assign(block_size(), 'X');  // what a bad read left in the buffer
      return Status::Corruption("block hash mismatch");
    }
    *out = c_->content.substr(uint64_t{i} * block_size(), block_size());
    return Status::OK();
  }

 private:
  std::shared_ptr<FakeChunk> c_;
};

std::shared_ptr<FakeChunk> MakeChunk(size_t size, uint64_t block_size) {
  auto c = std::make_shared<FakeChunk>();
  c->block_size = block_size;
  for (size_t i = 0; i < size; i++) c->content.push_back(static_cast<char>('a' + (i * 7 + i / 13) % 26));
  return c;
}

struct Fixture {
  explicit Fixture(std::shared_ptr<FakeChunk> c, uint64_t cache_bytes = 1 << 20, WorkerPool* pool = nullptr,
                   uint32_t ahead = 2)
      : chunk(std::move(c)), cache(cache_bytes) {
    reader = Open(pool, ahead);
  }
  std::shared_ptr<BlockReader> Open(WorkerPool* pool, uint32_t ahead = 2) {
    return BlockReader::Make(Sha256(chunk->content), std::make_unique<FakeReader>(chunk), &cache, pool, &counters,
                             BlockReader::Options{ahead});
  }
  // Another reader of the chunk, with release_behind.
  std::shared_ptr<BlockReader> OpenReleasing(WorkerPool* pool = nullptr, uint32_t ahead = 0) {
    BlockReader::Options options;
    options.readahead_blocks = ahead;
    options.release_behind = true;
    return BlockReader::Make(Sha256(chunk->content), std::make_unique<FakeReader>(chunk), &cache, pool, &counters,
                             options);
  }
  // The bytes of a read, or "ERR: <status>".
  std::string Read(uint64_t off, size_t size, BlockReader* r = nullptr) {
    ChunkCache::Content holder;
    std::string owned;
    std::string_view out;
    Status s = (r ? r : reader.get())->Read(off, size, &holder, &owned, &out);
    if (!s.ok()) return "ERR: " + s.ToString();
    return std::string(out);
  }
  bool Cached(uint32_t i) {
    return cache.Find(ChunkCache::Key{Sha256(chunk->content), i, chunk->block_size}) != nullptr;
  }
  std::shared_ptr<FakeChunk> chunk;
  ChunkCache cache;
  BlockReader::Counters counters;
  std::shared_ptr<BlockReader> reader;
};

TEST(BlockReaderTest, EveryOffsetAndSizeAcrossBlocksEqualsTheContent) {
  for (uint64_t cache_bytes : {uint64_t{1} << 20, uint64_t{0}}) {  // cached, and loaded every time
    Fixture f(MakeChunk(73, 7), cache_bytes);  // 10 blocks of 7 and one of 3
    const std::string& c = f.chunk->content;
    for (uint64_t off = 0; off <= 76; off++) {
      for (size_t size : {0, 1, 2, 6, 7, 8, 13, 14, 15, 21, 40, 73, 100}) {
        std::string want = off < c.size() ? c.substr(off, size) : "";
        ASSERT_EQ(f.Read(off, size), want) << "off " << off << " size " << size << " cache " << cache_bytes;
      }
    }
  }
}

TEST(BlockReaderTest, OneBlockChunksAndTheEmptyChunk) {
  Fixture one(MakeChunk(100, 1000));  // a plain record: one block, the whole chunk
  EXPECT_EQ(one.Read(10, 50), one.chunk->content.substr(10, 50));
  EXPECT_EQ(one.Read(0, 4096), one.chunk->content);
  EXPECT_EQ(one.chunk->Calls(0), 1);
  Fixture empty(MakeChunk(0, 1000));
  EXPECT_EQ(empty.Read(0, 4096), "");
  EXPECT_EQ(empty.chunk->TotalCalls(), 0);
}

TEST(BlockReaderTest, AReadOfBlockNReadsOnlyBlockN) {
  Fixture f(MakeChunk(10 * 4096, 4096));
  EXPECT_EQ(f.Read(5 * 4096 + 100, 1000), f.chunk->content.substr(5 * 4096 + 100, 1000));
  EXPECT_EQ(f.chunk->Calls(5), 1);
  EXPECT_EQ(f.chunk->TotalCalls(), 1);
  // Across a boundary: exactly the two blocks it covers.
  EXPECT_EQ(f.Read(7 * 4096 - 10, 20), f.chunk->content.substr(7 * 4096 - 10, 20));
  EXPECT_EQ(f.chunk->Calls(6), 1);
  EXPECT_EQ(f.chunk->Calls(7), 1);
  EXPECT_EQ(f.chunk->TotalCalls(), 3);
  // Again: from the cache (or the block the open keeps).
  EXPECT_EQ(f.Read(5 * 4096, 4096), f.chunk->content.substr(5 * 4096, 4096));
  EXPECT_EQ(f.chunk->TotalCalls(), 3);
}

TEST(BlockReaderTest, ARandomReadDoesNotReadAhead) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20, &pool);
  EXPECT_EQ(f.Read(5 * 4096, 4096), f.chunk->content.substr(5 * 4096, 4096));
  EXPECT_EQ(f.Read(2 * 4096, 4096), f.chunk->content.substr(2 * 4096, 4096));
  pool.Shutdown();  // runs whatever was queued
  EXPECT_EQ(f.chunk->TotalCalls(), 2);
  EXPECT_EQ(f.counters.readahead_loads.load(), 0u);
}

TEST(BlockReaderTest, SequentialReadsReadTheNextBlocksAhead) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20, &pool, /*ahead=*/2);
  EXPECT_EQ(f.Read(0, 1000), f.chunk->content.substr(0, 1000));
  ASSERT_TRUE(Eventually([&] { return f.Cached(1) && f.Cached(2); })) << "blocks 1 and 2 were not read ahead";
  EXPECT_EQ(f.chunk->Calls(3), 0);  // two ahead, no more
  // The reader goes on: each block is read once, ahead of its read.
  for (uint64_t off = 1000; off < f.chunk->content.size(); off += 1000) {
    ASSERT_EQ(f.Read(off, 1000), f.chunk->content.substr(off, 1000));
  }
  pool.Shutdown();
  for (uint32_t i = 0; i < 10; i++) EXPECT_EQ(f.chunk->Calls(i), 1) << "block " << i;
  EXPECT_GE(f.counters.readahead_loads.load(), 2u);
  EXPECT_EQ(f.counters.block_loads.load(), 10u);
}

TEST(BlockReaderTest, ConcurrentReadersOfABlockLoadItOnce) {
  Fixture f(MakeChunk(10 * 4096, 4096));
  auto second = f.Open(nullptr);  // another open of the same chunk, its own ChunkReader
  f.chunk->gated.insert(3);
  std::string a, b;
  std::thread ta([&] { a = f.Read(3 * 4096, 4096); });
  ASSERT_TRUE(f.chunk->AwaitAtGate());
  std::thread tb([&] { b = f.Read(3 * 4096 + 5, 100, second.get()); });
  bool waited = Eventually([&] { return f.cache.waiting() == 1; });
  f.chunk->Open();
  ta.join();
  tb.join();
  EXPECT_TRUE(waited) << "the second reader did not wait for the load in flight";
  EXPECT_EQ(a, f.chunk->content.substr(3 * 4096, 4096));
  EXPECT_EQ(b, f.chunk->content.substr(3 * 4096 + 5, 100));
  EXPECT_EQ(f.chunk->Calls(3), 1);
}

TEST(BlockReaderTest, AReaderWaitsForTheReadAheadOfItsBlock) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20, &pool, /*ahead=*/1);
  f.chunk->gated.insert(1);
  EXPECT_EQ(f.Read(0, 4096), f.chunk->content.substr(0, 4096));
  ASSERT_TRUE(f.chunk->AwaitAtGate());  // the read-ahead task is loading block 1
  std::string got;
  std::thread reader([&] { got = f.Read(4096, 4096); });
  bool waited = Eventually([&] { return f.cache.waiting() == 1; });
  f.chunk->Open();
  reader.join();
  pool.Shutdown();
  EXPECT_TRUE(waited);
  EXPECT_EQ(got, f.chunk->content.substr(4096, 4096));
  EXPECT_EQ(f.chunk->Calls(1), 1);
}

TEST(BlockReaderTest, ADamagedBlockFailsOnlyTheReadsThatTouchIt) {
  Fixture f(MakeChunk(10 * 4096, 4096));
  f.chunk->damaged.insert(2);
  const std::string& c = f.chunk->content;
  EXPECT_EQ(f.Read(4096, 4096), c.substr(4096, 4096));
  EXPECT_EQ(f.Read(3 * 4096, 4096), c.substr(3 * 4096, 4096));
  std::string err = f.Read(2 * 4096 + 10, 10);
  EXPECT_EQ(err.rfind("ERR: Corruption", 0), 0u) << err;
  EXPECT_NE(err.find("block 2 of 10"), std::string::npos) << err;
  EXPECT_EQ(f.Read(2 * 4096 - 1, 2).rfind("ERR:", 0), 0u);  // across 1|2
  EXPECT_EQ(f.Read(3 * 4096 - 1, 2).rfind("ERR:", 0), 0u);  // across 2|3
  EXPECT_EQ(f.Read(0, 10 * 4096).rfind("ERR:", 0), 0u);     // all of it
  EXPECT_FALSE(f.Cached(2));                                 // never cached: read (and reported) again
  int before = f.chunk->Calls(2);
  EXPECT_EQ(f.Read(2 * 4096, 1).rfind("ERR:", 0), 0u);
  EXPECT_EQ(f.chunk->Calls(2), before + 1);
  EXPECT_EQ(f.Read(9 * 4096, 4096), c.substr(9 * 4096, 4096));
}

// Two blocks of one open file load at the same time: a read of block 3
// does not wait for a load of block 1 stuck in the store.
TEST(BlockReaderTest, DifferentBlocksLoadAtTheSameTime) {
  Fixture f(MakeChunk(6 * 4096, 4096), 1 << 20, nullptr, /*ahead=*/0);
  f.chunk->gated.insert(1);
  std::string stuck;
  std::thread a([&] { stuck = f.Read(4096, 10); });
  ASSERT_TRUE(f.chunk->AwaitAtGate());
  EXPECT_EQ(f.Read(3 * 4096, 10), f.chunk->content.substr(3 * 4096, 10)) << "block 3 read while block 1 loads";
  f.chunk->Open();
  a.join();
  EXPECT_EQ(stuck, f.chunk->content.substr(4096, 10));
}

// Block buffers from a BlockBuffers pool are reused as blocks leave the
// cache (here a cache of nothing, so every read loads): each read still
// gives its block's bytes, never a former block's, also after a damaged
// block went through the pool.
TEST(BlockReaderTest, ReusedBlockBuffersReadTheRightBytes) {
  auto chunk = MakeChunk(10 * 4096 + 100, 4096);
  chunk->damaged.insert(4);
  ChunkCache cache(0);
  BlockReader::Counters counters;
  BlockBuffers buffers(2, 1 << 20);
  BlockReader::Options options;
  options.readahead_blocks = 0;
  options.buffers = &buffers;
  auto r = BlockReader::Make(Sha256(chunk->content), std::make_unique<FakeReader>(chunk), &cache, nullptr,
                             &counters, options);
  const std::string& c = chunk->content;
  for (int round = 0; round < 2; round++) {
    for (uint64_t off : {0u, 9u * 4096, 4096u, 10u * 4096, 4u * 4096, 2u * 4096 + 7, 3u * 4096}) {
      ChunkCache::Content holder;
      std::string owned;
      std::string_view out;
      Status s = r->Read(off, 4096, &holder, &owned, &out);
      if (off / 4096 == 4) {
        EXPECT_TRUE(s.IsCorruption()) << off;
        continue;
      }
      ASSERT_TRUE(s.ok()) << off << ": " << s.ToString();
      EXPECT_EQ(out, c.substr(off, 4096)) << "round " << round << " off " << off;
    }
  }
  EXPECT_GT(buffers.reused(), 5u) << "blocks should come from reused buffers";
  EXPECT_LE(buffers.idle(), 2u);
}

// release_behind: a sequential reader drops the blocks it loaded once it is
// two blocks past them (the kernel's page cache has them), and the rest at
// Close; a block another reader loaded stays.
TEST(BlockReaderTest, ReleaseBehindDropsServedBlocksFromTheCache) {
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20);
  auto r = f.OpenReleasing();
  EXPECT_EQ(f.Read(7 * 4096, 10), f.chunk->content.substr(7 * 4096, 10));  // another reader's block 7
  const std::string& c = f.chunk->content;
  for (uint32_t b = 0; b < 9; b++) {
    for (uint64_t off = b * 4096; off < (b + 1) * 4096; off += 1024) {
      ASSERT_EQ(f.Read(off, 1024, r.get()), c.substr(off, 1024)) << off;
    }
    if (b >= 2) {
      EXPECT_FALSE(f.Cached(b - 2)) << "block " << b - 2 << " is two blocks behind block " << b;
    }
    EXPECT_TRUE(f.Cached(b)) << b;
    if (b >= 1) {
      EXPECT_TRUE(f.Cached(b - 1)) << "one block behind stays (requests may come out of order)";
    }
  }
  EXPECT_TRUE(f.Cached(7)) << "loaded by the other reader: not this one's to drop";
  EXPECT_EQ(f.chunk->Calls(7), 1) << "this reader took block 7 from the cache";
  r->Close();
  for (uint32_t b = 0; b < 9; b++) EXPECT_EQ(f.Cached(b), b == 7) << b;
}

TEST(BlockReaderTest, ReleaseBehindKeepsBlocksOfARandomReader) {
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20);
  auto r = f.OpenReleasing();
  for (uint32_t b : {5u, 1u, 8u, 3u}) ASSERT_EQ(f.Read(b * 4096, 100, r.get()), f.chunk->content.substr(b * 4096, 100));
  for (uint32_t b : {5u, 1u, 8u, 3u}) EXPECT_TRUE(f.Cached(b)) << b;
  r->Close();
  for (uint32_t b : {5u, 1u, 8u, 3u}) EXPECT_FALSE(f.Cached(b)) << b;
}

// A reader that returns a block of the wrong length is damage, not data.
class ShortReader : public FakeReader {
 public:
  using FakeReader::FakeReader;
  Status ReadBlock(uint32_t i, std::string* out) override {
    Status s = FakeReader::ReadBlock(i, out);
    if (i == 1) out->pop_back();
    return s;
  }
};

TEST(BlockReaderTest, ABlockOfTheWrongLengthIsCorruption) {
  auto chunk = MakeChunk(4 * 100, 100);
  ChunkCache cache(1 << 20);
  BlockReader::Counters counters;
  auto r = BlockReader::Make(Sha256(chunk->content), std::make_unique<ShortReader>(chunk), &cache, nullptr,
                             &counters, {});
  ChunkCache::Content holder;
  std::string owned;
  std::string_view out;
  EXPECT_TRUE(r->Read(0, 100, &holder, &owned, &out).ok());
  EXPECT_TRUE(r->Read(150, 10, &holder, &owned, &out).IsCorruption());
}

TEST(BlockReaderTest, TheCacheBoundHoldsWithReadAhead) {
  WorkerPool pool(2);
  const uint64_t block = 4096;
  Fixture f(MakeChunk(20 * block, block), 5 * block, &pool, /*ahead=*/2);
  for (uint64_t off = 0; off < f.chunk->content.size(); off += 1500) {
    ASSERT_EQ(f.Read(off, 1500), f.chunk->content.substr(off, 1500));
    ASSERT_LE(f.cache.bytes(), 5 * block);
    auto next = static_cast<uint32_t>(off / block + 1);
    if (next < 20) {
      ASSERT_TRUE(Eventually([&] { return f.Cached(next); })) << "block " << next << " not read ahead";
    }
    ASSERT_LE(f.cache.bytes(), 5 * block);
  }
  pool.Shutdown();
  EXPECT_LE(f.cache.bytes(), 5 * block);
  EXPECT_GT(f.counters.readahead_loads.load(), 0u);
}

TEST(BlockReaderTest, NoReadAheadWhenTheCacheCannotHoldIt) {
  WorkerPool pool(1);
  const uint64_t block = 4096;
  Fixture f(MakeChunk(8 * block, block), 2 * block, &pool, /*ahead=*/2);
  for (uint64_t off = 0; off < f.chunk->content.size(); off += block) {
    ASSERT_EQ(f.Read(off, block), f.chunk->content.substr(off, block));
  }
  pool.Shutdown();
  EXPECT_EQ(f.counters.readahead_loads.load(), 0u);
  EXPECT_EQ(f.chunk->TotalCalls(), 8);
}

TEST(BlockReaderTest, ReleaseWhileReadAheadIsInFlightIsSafe) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20, &pool, /*ahead=*/2);
  f.chunk->gated.insert(1);
  EXPECT_EQ(f.Read(0, 4096), f.chunk->content.substr(0, 4096));
  ASSERT_TRUE(f.chunk->AwaitAtGate());
  std::weak_ptr<BlockReader> weak = f.reader;
  f.reader->Close();  // the release of the file
  f.reader.reset();
  EXPECT_FALSE(weak.expired()) << "the task in flight must hold the reader";
  f.chunk->Open();
  pool.Shutdown();
  EXPECT_TRUE(weak.expired());
  EXPECT_TRUE(f.Cached(1));           // the load in flight finished
  EXPECT_EQ(f.chunk->Calls(2), 0);    // and nothing more was read after the release
}

// With release_behind, a block whose read-ahead finishes after the release
// is dropped too (Close found nothing to drop then): nothing of a released
// file stays in the cache.
TEST(BlockReaderTest, ReleaseBehindDropsAReadAheadThatLandsAfterTheRelease) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20);
  auto r = f.OpenReleasing(&pool, 2);
  f.chunk->gated.insert(1);
  EXPECT_EQ(f.Read(0, 4096, r.get()), f.chunk->content.substr(0, 4096));
  ASSERT_TRUE(f.chunk->AwaitAtGate());
  r->Close();
  EXPECT_FALSE(f.Cached(0));
  f.chunk->Open();
  pool.Shutdown();
  EXPECT_EQ(f.chunk->Calls(1), 1) << "the load in flight finished";
  EXPECT_FALSE(f.Cached(1)) << "and left the cache: its file was released";
  EXPECT_EQ(f.cache.bytes(), 0u);
}

TEST(BlockReaderTest, AReadAheadThatThrowsEndsQuietly) {
  WorkerPool pool(1);
  Fixture f(MakeChunk(10 * 4096, 4096), 1 << 20, &pool, /*ahead=*/2);
  f.chunk->throwing.insert(1);
  EXPECT_EQ(f.Read(0, 4096), f.chunk->content.substr(0, 4096));
  pool.Shutdown();  // the task ran (and did not end the process)
  EXPECT_EQ(f.chunk->Calls(1), 1);
  f.chunk->throwing.clear();
  EXPECT_EQ(f.Read(4096, 4096), f.chunk->content.substr(4096, 4096));  // nothing left claimed
}

TEST(ChunkCacheLoadTest, WaitersOfAFailedLoadGetItsStatusAndTheNextCallLoadsAgain) {
  ChunkCache cache(1 << 20);
  ChunkCache::Key key{Sha256("x"), 0, 10};
  int loads = 0;
  ChunkCache::Content out;
  Status s = cache.FindOrLoad(key, [&](ChunkCache::Content*) {
    loads++;
    return Status::Corruption("bad");
  }, &out);
  EXPECT_TRUE(s.IsCorruption());
  s = cache.FindOrLoad(key, [&](ChunkCache::Content* c) {
    loads++;
    *c = std::make_shared<const std::string>("0123456789");
    return Status::OK();
  }, &out);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*out, "0123456789");
  EXPECT_EQ(loads, 2);
  EXPECT_FALSE(cache.LoadIfAbsent(key, [&](ChunkCache::Content*) { return Status::OK(); }));  // cached
  EXPECT_EQ(cache.Find(ChunkCache::Key{Sha256("x"), 0, 20}), nullptr);  // another layout is another entry
}

}  // namespace
}  // namespace chunkfs::fs
