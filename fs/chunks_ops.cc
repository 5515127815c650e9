// "/", "/chunks", "/chunks/<digest>" and "/.stats" ("/.control": control_ops.cc).
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "chunkfs.h"

namespace chunkfs::fs {

bool DirBuffer::Add(const char* name, uint64_t ino, uint32_t mode, uint64_t next_cookie) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = ino;
  st.st_mode = mode;
  size_t room = size_ - used_;
  size_t need = fuse_add_direntry(req_, buf_->data() + used_, room, name, &st,
                                  static_cast<off_t>(next_cookie));
  if (need > room) return false;
  used_ += need;
  return true;
}

namespace {
// Readdir cookies of /chunks: "." 1, ".." 2, and after the entry for digest
// d, 3 + (the top 62 bits of d). A cookie thus names a place in the sorted
// digest space, not a count: it stays valid while chunks are added, and
// resuming from it is one Seek. See docs/MOUNT.md.
constexpr uint64_t kDigestCookieBase = 3;
constexpr uint64_t kKeyLimit = 1ull << 62;

uint64_t DigestKey(const Digest& d) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | d.bytes[i];
  return v >> 2;
}

// The smallest digest whose key is `key`.
Digest DigestAtKey(uint64_t key) {
  Digest d;
  uint64_t v = key << 2;
  for (int i = 7; i >= 0; i--) {
    d.bytes[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  return d;
}
}  // namespace

int ChunkFs::LookupRoot(const char* name, fuse_entry_param* e) {
  uint64_t ino;
  if (std::strcmp(name, "chunks") == 0) {
    ino = kChunksIno;
  } else if (std::strcmp(name, "incoming") == 0) {
    ino = kIncomingIno;
  } else if (std::strcmp(name, ".stats") == 0) {
    ino = kStatsIno;
  } else if (control::kControlName == name) {
    ino = kControlIno;
  } else {
    return ENOENT;
  }
  size_t stats_size = ino == kStatsIno ? StatsJson().size() : 0;
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto node = inodes_.GetLocked(ino);
  FillEntryLocked(*node, e);
  if (ino == kStatsIno) e->attr.st_size = static_cast<off_t>(stats_size);
  return 0;
}

int ChunkFs::LookupChunk(const char* name, fuse_entry_param* e) {
  Digest digest;
  // Exactly 64 lowercase hex digits: upper case is ENOENT, so that every
  // chunk has one name (Digest::FromHex).
  if (!Digest::FromHex(name, &digest)) return ENOENT;
  ChunkInfo info;
  Status s = repo_->Stat(digest, &info);
  if (s.IsNotFound()) return ENOENT;  // not cached by the kernel (no negative entry)
  if (!s.ok()) {
    Log("stat of chunk " + std::string(name) + " failed: " + s.ToString());
    return EIO;
  }
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto node = inodes_.ChunkNodeLocked(digest, info.raw_size);
  FillEntryLocked(*node, e);
  return 0;
}

// The attributes every node keeps itself (fixed nodes and /incoming names).
void ChunkFs::NodeAttr(const Node& node, struct stat* st) {
  std::memset(st, 0, sizeof *st);
  st->st_ino = node.ino;
  st->st_mode = node.mode;
  st->st_uid = node.uid;
  st->st_gid = node.gid;
  st->st_atim = node.atime;
  st->st_mtim = node.mtime;
  st->st_ctim = node.ctime;
  st->st_blksize = kBlockSize;
}

void ChunkFs::FixedAttr(const Node& node, struct stat* st) {
  NodeAttr(node, st);
  switch (node.kind) {
    case NodeKind::kRoot:
      st->st_nlink = 4;  // ".", "..", chunks/.., incoming/..
      st->st_size = 4096;
      break;
    case NodeKind::kChunksDir:
      st->st_nlink = 2;
      st->st_size = 4096;
      break;
    default:  // kStats: the caller sets the size
      st->st_nlink = 1;
      break;
  }
}

void ChunkFs::ChunkAttr(const Node& node, struct stat* st) const {
  std::memset(st, 0, sizeof *st);
  st->st_ino = ChunkStIno(node.digest);
  st->st_mode = S_IFREG | 0444;
  st->st_nlink = 1;
  st->st_uid = config_.uid;
  st->st_gid = config_.gid;
  st->st_size = static_cast<off_t>(node.size);
  st->st_blksize = kBlockSize;
  st->st_blocks = static_cast<blkcnt_t>((node.size + 511) / 512);
  // Times are the epoch: a chunk has no history, and a constant time keeps
  // `rsync -a` from /chunks from copying a chunk twice.
}

int ChunkFs::OpenChunkLike(const std::shared_ptr<Node>& node, fuse_file_info* fi) {
  if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) return EROFS;
  auto h = std::make_shared<FileHandle>();
  h->node = node;
  if (node->kind == NodeKind::kStats) {
    h->kind = FileHandle::Kind::kStats;
    h->text = StatsJson();
    fi->direct_io = 1;  // the size changes between opens; read to EOF
  } else {
    // Deleted by a prune since the kernel cached its name: gone.
    if (!repo_->Contains(node->digest)) return ENOENT;
    h->kind = FileHandle::Kind::kChunk;
    h->digest = node->digest;
    fi->keep_cache = 1;  // content never changes: keep the page cache
  }
  fi->noflush = 1;
  fi->fh = handles_.Add(std::move(h));
  return 0;
}

int ChunkFs::ReadFailed(const Digest& digest, const Status& s) {
  counters_.read_errors.fetch_add(1, std::memory_order_relaxed);
  Log("reading chunk " + digest.ToHex() + " failed: " + s.ToString());
  if (s.IsIOError() && s.err() != 0) return s.err();
  return EIO;  // damaged (Corruption), or gone: never wrong bytes
}

int ChunkFs::LoadChunk(const Digest& digest, ChunkCache::Content* out) {
  if (auto c = cache_.Find(digest)) {
    *out = std::move(c);
    return 0;
  }
  auto data = std::make_shared<std::string>();
  Status s = repo_->Get(digest, data.get());
  if (!s.ok()) return ReadFailed(digest, s);
  counters_.chunk_loads.fetch_add(1, std::memory_order_relaxed);
  ChunkCache::Content content = std::move(data);
  cache_.Insert(digest, content);
  *out = std::move(content);
  return 0;
}

int ChunkFs::OpenBlocks(const Digest& digest, std::shared_ptr<BlockReader>* out) {
  std::unique_ptr<ChunkReader> reader;
  Status s = repo_->OpenChunk(digest, &reader);
  if (!s.ok()) return ReadFailed(digest, s);
  counters_.chunk_loads.fetch_add(1, std::memory_order_relaxed);
  BlockReader::Options options;
  options.buffers = &block_buffers_;
  options.release_behind = true;  // chunks are opened with keep_cache (OpenChunkLike)
  *out = BlockReader::Make(digest, std::move(reader), &cache_, &workers_, &counters_.blocks, options);
  return 0;
}

int ChunkFs::ReadChunk(FileHandle& h, size_t size, off_t off, ReadReply* out) {
  std::shared_ptr<BlockReader> blocks;
  {
    // Opened once per open: concurrent first reads wait for one open. The
    // reader keeps the chunk's pack: a prune or compaction meanwhile does
    // not end the reads of this open.
    std::lock_guard<std::mutex> l(h.mu);
    if (!h.blocks) {
      if (int err = OpenBlocks(h.digest, &h.blocks)) return err;
    }
    blocks = h.blocks;
  }
  // Only the blocks [off, off + size) covers (cache, else the store, once).
  std::string_view part;
  Status s = blocks->Read(static_cast<uint64_t>(off), size, &out->holder, &out->owned, &part);
  if (!s.ok()) return ReadFailed(h.digest, s);
  out->data = part.data();
  out->size = part.size();
  return 0;
}

void ChunkFs::DropChunkReaders() {
  for (const auto& h : handles_.All()) {
    if (h->kind != FileHandle::Kind::kChunk) continue;
    std::lock_guard<std::mutex> l(h->mu);
    if (h->blocks) h->blocks->Close();
    h->blocks.reset();
  }
}

int ChunkFs::ReaddirRoot(fuse_req_t req, size_t size, off_t off, std::string* buf) {
  struct Entry {
    const char* name;
    uint64_t ino;
    uint32_t mode;
  };
  static constexpr Entry kEntries[] = {
      {".", kRootIno, S_IFDIR},          {"..", kRootIno, S_IFDIR},
      {"chunks", kChunksIno, S_IFDIR},   {"incoming", kIncomingIno, S_IFDIR},
      {".stats", kStatsIno, S_IFREG},      {".control", kControlIno, S_IFREG},
  };
  DirBuffer out(req, size, buf);
  for (uint64_t i = static_cast<uint64_t>(off); i < std::size(kEntries); i++) {
    if (!out.Add(kEntries[i].name, kEntries[i].ino, kEntries[i].mode, i + 1)) break;
  }
  return 0;
}

int ChunkFs::ReaddirChunks(fuse_req_t req, FileHandle& h, size_t size, off_t off,
                           std::string* buf) {
  std::lock_guard<std::mutex> l(h.mu);
  DirBuffer out(req, size, buf);
  uint64_t cookie = static_cast<uint64_t>(off);
  if (cookie == 0) {
    if (!out.Add(".", kChunksIno, S_IFDIR, 1)) return 0;
    cookie = 1;
  }
  if (cookie == 1) {
    if (!out.Add("..", kRootIno, S_IFDIR, 2)) return 0;
    cookie = 2;
  }
  if (!h.iter) h.iter = repo_->NewIterator();
  DigestIterator* it = h.iter.get();
  if (h.iter_cookie != static_cast<int64_t>(cookie)) {
    // Not where the last call stopped (first call, or the kernel re-reads or
    // seeks): position by the cookie.
    if (cookie == 2) {
      it->SeekToFirst();
    } else {
      uint64_t key = cookie - kDigestCookieBase;
      if (cookie < kDigestCookieBase || key + 1 >= kKeyLimit) {
        h.iter_cookie = -1;
        return 0;  // at the end
      }
      it->Seek(DigestAtKey(key + 1));
    }
    h.iter_cookie = static_cast<int64_t>(cookie);
  }
  char hex[Digest::kHexSize + 1];
  for (; it->Valid(); it->Next()) {
    const Digest& d = it->digest();
    std::string name = d.ToHex();
    std::memcpy(hex, name.data(), Digest::kHexSize);
    hex[Digest::kHexSize] = '\0';
    uint64_t next = DigestKey(d) + kDigestCookieBase;
    if (!out.Add(hex, ChunkStIno(d), S_IFREG, next)) break;
    h.iter_cookie = static_cast<int64_t>(next);
  }
  if (!it->status().ok()) {
    Log("listing /chunks failed: " + it->status().ToString());
    h.iter_cookie = -1;
    if (out.empty()) return EIO;
  }
  return 0;
}

}  // namespace chunkfs::fs
