// InodeTable: every inode the kernel may name, and the /incoming name tree.
//
// Fixed inodes: 1 "/", 2 "/chunks", 3 "/incoming", 4 "/.stats", 5 "/.control". Dynamic
// inode numbers start at 16 and are never reused within a mount.
//
//  * /chunks/<digest>: one node per digest while the kernel holds a lookup
//    reference (removed at FORGET), so the table grows with what the kernel
//    caches, not with the repository.
//  * /incoming: files and directories written there, in a tree. The number of
//    names is bounded (max_names): when a new name would exceed the bound,
//    the least recently used committed file name that nobody has open is
//    dropped (its chunk stays stored). Directories and files being written
//    are never dropped; if only those remain, creating a name fails with
//    ENOSPC. A dropped or removed node lives on, detached, until the kernel
//    forgets it.
//
// Thread safety: one mutex (mu()) guards the table and every field of every
// Node marked "guarded"; methods whose names end in Locked require it held.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chunkfs/digest.h"

namespace chunkfs::fs {

class Upload;

constexpr uint64_t kRootIno = 1;
constexpr uint64_t kChunksIno = 2;
constexpr uint64_t kIncomingIno = 3;
constexpr uint64_t kStatsIno = 4;
constexpr uint64_t kControlIno = 5;  // the control file (fs/control.h)
constexpr uint64_t kFirstDynamicIno = 16;

enum class NodeKind : uint8_t {
  kRoot,
  kChunksDir,
  kStats,
  kChunk,         // /chunks/<digest>
  kIncomingDir,   // /incoming and directories below it
  kIncomingFile,  // a name below /incoming
  kControl,       // /.control
};

// The st_ino reported for /chunks/<digest> (in stat and readdir): derived from
// the digest, so it is the same across mounts; the top bit keeps it apart
// from the small numbers of other inodes.
uint64_t ChunkStIno(const Digest& digest);

struct DirEntries {
  std::map<std::string, uint64_t, std::less<>> by_name;  // name -> ino
  std::map<uint64_t, uint64_t> by_seq;                   // seq -> ino (readdir order)
  uint64_t next_seq = 1;
};

struct Node {
  Node(uint64_t i, NodeKind k) : ino(i), kind(k) {}
  const uint64_t ino;
  const NodeKind kind;

  // Everything below is guarded by InodeTable::mu().
  uint64_t nlookup = 0;  // the kernel's lookup references

  // kChunk: the digest and its uncompressed size. kIncomingFile: the last
  // committed chunk (valid if `committed`).
  Digest digest{};
  uint64_t size = 0;
  bool committed = false;
  uint64_t commit_version = 0;  // Upload version that set `digest`

  // kIncomingDir / kIncomingFile
  uint64_t parent = 0;  // 0: detached (removed or dropped); the name is kept
  uint64_t lost_parent = 0;  // detached by us: the parent it had (see ReattachLocked)
  std::string name;
  uint64_t seq = 0;  // position in the parent's readdir order
  uint32_t mode = 0;  // including the S_IFMT bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  struct timespec atime {};
  struct timespec mtime {};
  struct timespec ctime {};
  uint32_t subdirs = 0;              // kIncomingDir: child directories (for nlink)
  std::unique_ptr<DirEntries> dir;  // kIncomingDir

  // kIncomingFile: the content being written, while a writer has it open.
  std::shared_ptr<Upload> upload;
  uint32_t writers = 0;  // handles that commit into `upload`
  uint32_t opens = 0;    // all open handles

  bool in_lru = false;
  std::list<uint64_t>::iterator lru_pos;
};

class InodeTable {
 public:
  InodeTable(uint64_t max_names, uint32_t uid, uint32_t gid);

  std::mutex& mu() { return mu_; }

  // Sets the permission bits (07777) and group of a node (the mount's
  // options for /incoming). Takes the lock.
  void SetAccess(uint64_t ino, uint32_t perm, uint32_t gid);

  std::shared_ptr<Node> GetLocked(uint64_t ino) const;
  // The node for /chunks/<digest>, created if the kernel has none.
  std::shared_ptr<Node> ChunkNodeLocked(const Digest& digest, uint64_t raw_size);
  // Drops `n` lookup references; forgets chunk and detached nodes at zero.
  void ForgetLocked(uint64_t ino, uint64_t n);

  // /incoming tree. `dir` must be a kIncomingDir.
  std::shared_ptr<Node> ChildLocked(const Node& dir, std::string_view name) const;
  // Adds a new name (kIncomingDir or kIncomingFile) with the given mode,
  // owner and times = now. EEXIST if taken, ENOSPC if the name table is full
  // of names that cannot be dropped.
  int AddChildLocked(Node* dir, std::string_view name, NodeKind kind, uint32_t mode, uint32_t uid,
                     uint32_t gid, std::shared_ptr<Node>* out);
  // Removes the node's name (unlink, rmdir, replaced by rename, dropped).
  // `by_us`: removed without the kernel asking (dropped from the table, a
  // failed upload), so the kernel may still show the name for up to its
  // entry timeout; ReattachLocked() can then bring it back.
  void DetachLocked(Node* node, bool by_us = false);
  // A node detached by us that is opened for writing through the kernel's
  // still-cached name gets that name back (if it is free), so that what is
  // written there shows under the name it was written to. 0 or ENOENT.
  int ReattachLocked(const std::shared_ptr<Node>& node);
  // Moves `node` to `new_dir` under `new_name`; any existing target must have
  // been detached first.
  void MoveLocked(Node* node, Node* new_dir, std::string_view new_name);
  // True if `ancestor` is `node` or one of its parents.
  bool IsAncestorLocked(const Node& ancestor, const Node& node) const;

  // Recomputes whether a file name may be dropped (committed, not open) and
  // marks it most recently used.
  void TouchLocked(Node* node);
  // Forgets a detached node the kernel no longer references.
  void MaybeEraseLocked(Node* node);

  // Calls fn(name, ino, mode, cookie) for the children of `dir` whose
  // readdir cookie is > `after`, in cookie order, until fn returns false.
  template <class Fn>
  void ListLocked(const Node& dir, uint64_t after, Fn&& fn) const;

  uint64_t names() const { return names_; }
  uint64_t max_names() const { return max_names_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t chunk_nodes() const { return chunk_index_.size(); }
  // The digests of the /chunks/<digest> nodes the kernel holds.
  std::vector<Digest> ChunkDigestsLocked() const;
  uint64_t nodes() const { return nodes_.size(); }

  // Readdir cookies of /incoming directories: "." 1, ".." 2, child seq+2.
  static constexpr uint64_t kFirstChildCookie = 2;

 private:
  uint64_t NewInoLocked() { return next_ino_++; }
  bool DropOneLocked();

  mutable std::mutex mu_;
  const uint64_t max_names_;
  uint64_t next_ino_ = kFirstDynamicIno;
  std::unordered_map<uint64_t, std::shared_ptr<Node>> nodes_;
  std::unordered_map<Digest, uint64_t, DigestHash> chunk_index_;
  std::list<uint64_t> lru_;  // droppable file names; front = most recent
  uint64_t names_ = 0;       // attached names below /incoming
  uint64_t dropped_ = 0;
};

template <class Fn>
void InodeTable::ListLocked(const Node& dir, uint64_t after, Fn&& fn) const {
  if (!dir.dir) return;
  uint64_t after_seq = after > kFirstChildCookie ? after - kFirstChildCookie : 0;
  for (auto it = dir.dir->by_seq.upper_bound(after_seq); it != dir.dir->by_seq.end(); ++it) {
    auto n = nodes_.find(it->second);
    if (n == nodes_.end()) continue;
    const Node& child = *n->second;
    if (!fn(child.name, child.ino, child.mode, it->first + kFirstChildCookie)) break;
  }
}

// The current time, for node times.
struct timespec Now();

}  // namespace chunkfs::fs
