// InodeTable: the /incoming name tree, its bound and LRU dropping, chunk
// inodes and FORGET (no mount).
#include "inode_table.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "upload.h"

namespace chunkfs::fs {
namespace {

class InodeTableTest : public ::testing::Test {
 protected:
  std::shared_ptr<Node> Add(InodeTable& t, uint64_t dir, const std::string& name,
                            NodeKind kind = NodeKind::kIncomingFile, int* err = nullptr) {
    std::lock_guard<std::mutex> l(t.mu());
    std::shared_ptr<Node> n;
    int e = t.AddChildLocked(t.GetLocked(dir).get(), name, kind,
                             (kind == NodeKind::kIncomingDir ? S_IFDIR : S_IFREG) | 0644, 0, 0, &n);
    if (err) *err = e;
    return n;
  }
  void Commit(InodeTable& t, Node* n) {
    std::lock_guard<std::mutex> l(t.mu());
    n->committed = true;
    t.TouchLocked(n);
  }
  std::vector<std::string> List(InodeTable& t, uint64_t dir, uint64_t after = 0) {
    std::lock_guard<std::mutex> l(t.mu());
    std::vector<std::string> names;
    t.ListLocked(*t.GetLocked(dir), after, [&](const std::string& name, uint64_t, uint32_t, uint64_t) {
      names.push_back(name);
      return true;
    });
    return names;
  }
};

TEST_F(InodeTableTest, FixedInodes) {
  InodeTable t(100, 1, 2);
  std::lock_guard<std::mutex> l(t.mu());
  EXPECT_EQ(t.GetLocked(kRootIno)->kind, NodeKind::kRoot);
  EXPECT_EQ(t.GetLocked(kChunksIno)->kind, NodeKind::kChunksDir);
  EXPECT_EQ(t.GetLocked(kIncomingIno)->kind, NodeKind::kIncomingDir);
  EXPECT_EQ(t.GetLocked(kStatsIno)->kind, NodeKind::kStats);
  EXPECT_EQ(t.GetLocked(kIncomingIno)->uid, 1u);
  t.ForgetLocked(kIncomingIno, 1000);  // ignored
  EXPECT_NE(t.GetLocked(kIncomingIno), nullptr);
}

TEST_F(InodeTableTest, NamesAddRemoveMoveAndList) {
  InodeTable t(100, 0, 0);
  auto a = Add(t, kIncomingIno, "a");
  auto d = Add(t, kIncomingIno, "d", NodeKind::kIncomingDir);
  int err = 0;
  Add(t, kIncomingIno, "a", NodeKind::kIncomingFile, &err);
  EXPECT_EQ(err, EEXIST);
  EXPECT_EQ(List(t, kIncomingIno), (std::vector<std::string>{"a", "d"}));
  EXPECT_EQ(t.names(), 2u);
  {
    std::lock_guard<std::mutex> l(t.mu());
    EXPECT_EQ(t.GetLocked(kIncomingIno)->subdirs, 1u);
    t.MoveLocked(a.get(), d.get(), "b");
    EXPECT_EQ(t.ChildLocked(*d, "b"), a);
    EXPECT_EQ(t.ChildLocked(*t.GetLocked(kIncomingIno), "a"), nullptr);
    EXPECT_TRUE(t.IsAncestorLocked(*d, *a));
    EXPECT_FALSE(t.IsAncestorLocked(*a, *d));
  }
  EXPECT_EQ(List(t, kIncomingIno), (std::vector<std::string>{"d"}));
  EXPECT_EQ(List(t, d->ino), (std::vector<std::string>{"b"}));
  {
    std::lock_guard<std::mutex> l(t.mu());
    t.DetachLocked(a.get());
  }
  EXPECT_EQ(t.names(), 1u);
  EXPECT_TRUE(List(t, d->ino).empty());
}

TEST_F(InodeTableTest, ListingCookiesAreStable) {
  InodeTable t(100, 0, 0);
  for (int i = 0; i < 10; i++) Add(t, kIncomingIno, "f" + std::to_string(i));
  std::vector<uint64_t> cookies;
  {
    std::lock_guard<std::mutex> l(t.mu());
    t.ListLocked(*t.GetLocked(kIncomingIno), 0, [&](const std::string&, uint64_t, uint32_t, uint64_t c) {
      cookies.push_back(c);
      return true;
    });
  }
  ASSERT_EQ(cookies.size(), 10u);
  EXPECT_GT(cookies[0], InodeTable::kFirstChildCookie);
  // Remove an entry before the cursor and add one: the rest is unchanged.
  {
    std::lock_guard<std::mutex> l(t.mu());
    t.DetachLocked(t.ChildLocked(*t.GetLocked(kIncomingIno), "f2").get());
  }
  Add(t, kIncomingIno, "new");
  EXPECT_EQ(List(t, kIncomingIno, cookies[4]),
            (std::vector<std::string>{"f5", "f6", "f7", "f8", "f9", "new"}));
}

TEST_F(InodeTableTest, BoundDropsLeastRecentlyUsedCommittedNames) {
  InodeTable t(5, 0, 0);
  auto dir = Add(t, kIncomingIno, "dir", NodeKind::kIncomingDir);
  std::vector<std::shared_ptr<Node>> files;
  for (int i = 0; i < 4; i++) {
    files.push_back(Add(t, dir->ino, "f" + std::to_string(i)));
    Commit(t, files.back().get());
  }
  {
    std::lock_guard<std::mutex> l(t.mu());
    t.TouchLocked(files[0].get());  // f0 used again: f1 is now the oldest
  }
  auto extra = Add(t, dir->ino, "f4");
  ASSERT_NE(extra, nullptr);
  EXPECT_EQ(t.names(), 5u);
  EXPECT_EQ(t.dropped(), 1u);
  EXPECT_EQ(List(t, dir->ino), (std::vector<std::string>{"f0", "f2", "f3", "f4"}));
  // Opened for writing through a name the kernel still caches: it comes back.
  {
    std::lock_guard<std::mutex> l(t.mu());
    EXPECT_EQ(files[1]->parent, 0u);
    EXPECT_EQ(t.ReattachLocked(files[1]), 0);
    EXPECT_EQ(t.ChildLocked(*dir, "f1"), files[1]);
    EXPECT_EQ(t.names(), 5u);  // another name was dropped for it
    EXPECT_EQ(t.dropped(), 2u);
  }
  // A removed (unlinked) name does not come back.
  {
    std::lock_guard<std::mutex> l(t.mu());
    t.DetachLocked(files[1].get());
    EXPECT_EQ(t.ReattachLocked(files[1]), ENOENT);
  }
  // Names being written (not committed) and directories are never dropped.
  InodeTable full(3, 0, 0);
  Add(full, kIncomingIno, "d", NodeKind::kIncomingDir);
  Add(full, kIncomingIno, "w1");
  Add(full, kIncomingIno, "w2");
  int err = 0;
  EXPECT_EQ(Add(full, kIncomingIno, "w3", NodeKind::kIncomingFile, &err), nullptr);
  EXPECT_EQ(err, ENOSPC);
}

TEST_F(InodeTableTest, ChunkNodesLiveWhileTheKernelKnowsThem) {
  InodeTable t(10, 0, 0);
  std::lock_guard<std::mutex> l(t.mu());
  Digest d = Sha256("chunk");
  auto n = t.ChunkNodeLocked(d, 5);
  n->nlookup = 2;
  EXPECT_EQ(t.ChunkNodeLocked(d, 5), n);
  EXPECT_EQ(t.chunk_nodes(), 1u);
  t.ForgetLocked(n->ino, 1);
  EXPECT_EQ(t.chunk_nodes(), 1u);
  t.ForgetLocked(n->ino, 1);
  EXPECT_EQ(t.chunk_nodes(), 0u);
  EXPECT_EQ(t.GetLocked(n->ino), nullptr);
  auto again = t.ChunkNodeLocked(d, 5);
  EXPECT_NE(again->ino, n->ino);  // numbers are never reused
  EXPECT_EQ(ChunkStIno(d), ChunkStIno(Sha256("chunk")));
  EXPECT_NE(ChunkStIno(d) >> 63, 0u);
}

TEST_F(InodeTableTest, DetachedNamesLiveUntilForgotten) {
  InodeTable t(10, 0, 0);
  auto f = Add(t, kIncomingIno, "f");
  std::lock_guard<std::mutex> l(t.mu());
  f->nlookup = 1;
  t.DetachLocked(f.get());
  EXPECT_NE(t.GetLocked(f->ino), nullptr);  // the kernel still has it
  t.ForgetLocked(f->ino, 1);
  EXPECT_EQ(t.GetLocked(f->ino), nullptr);
}

}  // namespace
}  // namespace chunkfs::fs
