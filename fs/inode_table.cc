#include "inode_table.h"

#include <cerrno>

namespace chunkfs::fs {

uint64_t ChunkStIno(const Digest& digest) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | digest.bytes[i];
  return v | (1ull << 63);
}

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

InodeTable::InodeTable(uint64_t max_names, uint32_t uid, uint32_t gid) : max_names_(max_names) {
  struct timespec now = Now();
  auto add = [&](uint64_t ino, NodeKind kind, uint32_t mode) {
    auto n = std::make_shared<Node>(ino, kind);
    n->mode = mode;
    n->uid = uid;
    n->gid = gid;
    n->atime = n->mtime = n->ctime = now;
    nodes_[ino] = n;
    return n;
  };
  add(kRootIno, NodeKind::kRoot, S_IFDIR | 0755);
  add(kChunksIno, NodeKind::kChunksDir, S_IFDIR | 0555);
  add(kStatsIno, NodeKind::kStats, S_IFREG | 0444);
  add(kControlIno, NodeKind::kControl, S_IFREG | 0600);  // the mount's owner only
  auto incoming = add(kIncomingIno, NodeKind::kIncomingDir, S_IFDIR | 0700);  // see SetAccess
  incoming->dir = std::make_unique<DirEntries>();
  incoming->parent = kRootIno;
  incoming->name = "incoming";
}

void InodeTable::SetAccess(uint64_t ino, uint32_t perm, uint32_t gid) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  it->second->mode = (it->second->mode & S_IFMT) | (perm & 07777);
  it->second->gid = gid;
}

std::shared_ptr<Node> InodeTable::GetLocked(uint64_t ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second;
}

std::shared_ptr<Node> InodeTable::ChunkNodeLocked(const Digest& digest, uint64_t raw_size) {
  auto it = chunk_index_.find(digest);
  if (it != chunk_index_.end()) {
    auto n = nodes_.find(it->second);
    if (n != nodes_.end()) return n->second;
    chunk_index_.erase(it);
  }
  auto node = std::make_shared<Node>(NewInoLocked(), NodeKind::kChunk);
  node->digest = digest;
  node->size = raw_size;
  node->mode = S_IFREG | 0444;
  nodes_[node->ino] = node;
  chunk_index_[digest] = node->ino;
  return node;
}

std::vector<Digest> InodeTable::ChunkDigestsLocked() const {
  std::vector<Digest> out;
  out.reserve(chunk_index_.size());
  for (const auto& [digest, ino] : chunk_index_) out.push_back(digest);
  return out;
}

void InodeTable::ForgetLocked(uint64_t ino, uint64_t n) {
  if (ino < kFirstDynamicIno) return;
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node* node = it->second.get();
  node->nlookup = n >= node->nlookup ? 0 : node->nlookup - n;
  if (node->nlookup > 0) return;
  if (node->kind == NodeKind::kChunk) {
    chunk_index_.erase(node->digest);
    nodes_.erase(it);
  } else {
    MaybeEraseLocked(node);
  }
}

std::shared_ptr<Node> InodeTable::ChildLocked(const Node& dir, std::string_view name) const {
  if (!dir.dir) return nullptr;
  auto it = dir.dir->by_name.find(name);
  if (it == dir.dir->by_name.end()) return nullptr;
  return GetLocked(it->second);
}

bool InodeTable::DropOneLocked() {
  while (!lru_.empty()) {
    uint64_t victim = lru_.back();
    auto it = nodes_.find(victim);
    if (it == nodes_.end()) {  // cannot happen: erased nodes leave the LRU
      lru_.pop_back();
      continue;
    }
    std::shared_ptr<Node> node = it->second;
    DetachLocked(node.get(), /*by_us=*/true);
    dropped_++;
    return true;
  }
  return false;
}

int InodeTable::AddChildLocked(Node* dir, std::string_view name, NodeKind kind, uint32_t mode,
                               uint32_t uid, uint32_t gid, std::shared_ptr<Node>* out) {
  if (!dir->dir) return ENOTDIR;
  if (dir->dir->by_name.count(name)) return EEXIST;
  if (names_ >= max_names_ && !DropOneLocked()) return ENOSPC;
  auto node = std::make_shared<Node>(NewInoLocked(), kind);
  node->parent = dir->ino;
  node->name = std::string(name);
  node->seq = dir->dir->next_seq++;
  node->mode = mode;
  node->uid = uid;
  node->gid = gid;
  node->atime = node->mtime = node->ctime = Now();
  if (kind == NodeKind::kIncomingDir) {
    node->dir = std::make_unique<DirEntries>();
    dir->subdirs++;
  }
  dir->dir->by_name.emplace(node->name, node->ino);
  dir->dir->by_seq.emplace(node->seq, node->ino);
  dir->mtime = dir->ctime = node->ctime;
  nodes_[node->ino] = node;
  names_++;
  *out = std::move(node);
  return 0;
}

void InodeTable::DetachLocked(Node* node, bool by_us) {
  if (node->parent == 0 || node->ino == kIncomingIno) return;
  node->lost_parent = by_us ? node->parent : 0;
  if (node->in_lru) {
    lru_.erase(node->lru_pos);
    node->in_lru = false;
  }
  auto p = nodes_.find(node->parent);
  if (p != nodes_.end() && p->second->dir) {
    Node* parent = p->second.get();
    auto by_name = parent->dir->by_name.find(node->name);
    if (by_name != parent->dir->by_name.end() && by_name->second == node->ino) {
      parent->dir->by_name.erase(by_name);
    }
    parent->dir->by_seq.erase(node->seq);
    if (node->kind == NodeKind::kIncomingDir && parent->subdirs > 0) parent->subdirs--;
    parent->mtime = parent->ctime = Now();
  }
  node->parent = 0;
  names_--;
  MaybeEraseLocked(node);
}

int InodeTable::ReattachLocked(const std::shared_ptr<Node>& node) {
  if (node->parent != 0) return 0;
  if (node->lost_parent == 0) return ENOENT;
  auto p = nodes_.find(node->lost_parent);
  if (p == nodes_.end() || !p->second->dir) return ENOENT;
  Node* dir = p->second.get();
  if (dir->ino != kIncomingIno && dir->parent == 0) return ENOENT;  // its directory is gone
  if (dir->dir->by_name.count(node->name)) return ENOENT;         // the name was reused
  if (names_ >= max_names_ && !DropOneLocked()) return ENOENT;
  node->parent = dir->ino;
  node->lost_parent = 0;
  node->seq = dir->dir->next_seq++;
  nodes_[node->ino] = node;  // it may have been forgotten meanwhile
  dir->dir->by_name.emplace(node->name, node->ino);
  dir->dir->by_seq.emplace(node->seq, node->ino);
  dir->mtime = dir->ctime = Now();
  names_++;
  return 0;
}

void InodeTable::MoveLocked(Node* node, Node* new_dir, std::string_view new_name) {
  auto p = nodes_.find(node->parent);
  struct timespec now = Now();
  if (p != nodes_.end() && p->second->dir) {
    Node* parent = p->second.get();
    parent->dir->by_name.erase(node->name);
    parent->dir->by_seq.erase(node->seq);
    if (node->kind == NodeKind::kIncomingDir && parent->subdirs > 0) parent->subdirs--;
    parent->mtime = parent->ctime = now;
  }
  node->parent = new_dir->ino;
  node->name = std::string(new_name);
  node->seq = new_dir->dir->next_seq++;
  node->ctime = now;
  new_dir->dir->by_name.emplace(node->name, node->ino);
  new_dir->dir->by_seq.emplace(node->seq, node->ino);
  if (node->kind == NodeKind::kIncomingDir) new_dir->subdirs++;
  new_dir->mtime = new_dir->ctime = now;
}

bool InodeTable::IsAncestorLocked(const Node& ancestor, const Node& node) const {
  const Node* cur = &node;
  for (int depth = 0; depth < 100000; depth++) {
    if (cur->ino == ancestor.ino) return true;
    if (cur->ino == kIncomingIno || cur->parent == 0) return false;
    auto it = nodes_.find(cur->parent);
    if (it == nodes_.end()) return false;
    cur = it->second.get();
  }
  return false;
}

void InodeTable::TouchLocked(Node* node) {
  bool droppable = node->kind == NodeKind::kIncomingFile && node->parent != 0 && node->committed &&
                   !node->upload && node->opens == 0;
  if (droppable) {
    if (node->in_lru) {
      lru_.splice(lru_.begin(), lru_, node->lru_pos);
    } else {
      lru_.push_front(node->ino);
      node->lru_pos = lru_.begin();
      node->in_lru = true;
    }
  } else if (node->in_lru) {
    lru_.erase(node->lru_pos);
    node->in_lru = false;
  }
}

void InodeTable::MaybeEraseLocked(Node* node) {
  if (node->ino < kFirstDynamicIno || node->parent != 0 || node->nlookup > 0) return;
  if (node->in_lru) {
    lru_.erase(node->lru_pos);
    node->in_lru = false;
  }
  nodes_.erase(node->ino);  // `node` may be gone now (unless a handle holds it)
}

}  // namespace chunkfs::fs
