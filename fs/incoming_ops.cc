// "/incoming" and everything below it: names, directories, uploads.
#include <fcntl.h>
#include <linux/fs.h>  // RENAME_NOREPLACE

#include <cerrno>
#include <cstring>

#include "chunkfs.h"

namespace chunkfs::fs {

int ChunkFs::LookupIncoming(Node& dir, const char* name, fuse_entry_param* e) {
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto child = inodes_.ChildLocked(dir, name);
  if (!child) return ENOENT;
  inodes_.TouchLocked(child.get());
  FillEntryLocked(*child, e);
  return 0;
}

void ChunkFs::IncomingAttrLocked(const Node& node, struct stat* st) const {
  NodeAttr(node, st);
  if (node.kind == NodeKind::kIncomingDir) {
    st->st_nlink = 2 + node.subdirs;
    st->st_size = 4096;
  } else {
    st->st_nlink = 1;
    uint64_t size = node.upload ? node.upload->size() : node.size;
    st->st_size = static_cast<off_t>(size);
    st->st_blocks = static_cast<blkcnt_t>((size + 511) / 512);
  }
}

// ------------------------------------------------------------ attributes

int ChunkFs::SetattrIncoming(const fuse_ctx* ctx, const std::shared_ptr<Node>& node,
                             const struct stat& attr, int to_set, fuse_file_info* fi,
                             struct stat* out) {
  (void)ctx;  // the kernel checks permissions (default_permissions)
  bool size_changed = false;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    if (node->kind != NodeKind::kIncomingFile) return EISDIR;
    if (attr.st_size < 0) return EINVAL;
    uint64_t size = static_cast<uint64_t>(attr.st_size);
    std::shared_ptr<Upload> up;
    if (auto h = GetHandle(fi); h && h->kind == FileHandle::Kind::kUpload && h->commits) {
      up = h->upload;
    }
    uint64_t cur_size = 0;
    bool committed;
    {
      std::lock_guard<std::mutex> l(inodes_.mu());
      if (!up) up = node->upload;  // being written through another descriptor
      committed = node->committed;
      cur_size = node->size;
    }
    if (up) {
      if (int err = up->Truncate(size)) {
        if (err == EFBIG) counters_.too_large.fetch_add(1, std::memory_order_relaxed);
        return err;
      }
      size_changed = true;
    } else if (committed && size != cur_size) {
      // `truncate NAME` on a stored name: the truncation is a writer of its
      // own (so that a writer opening meanwhile shares it) that commits now,
      // as nobody holds the name open and no flush would follow.
      if (int err = TruncateStored(node, size)) return err;
      size_changed = true;
    }
  }
  std::lock_guard<std::mutex> l(inodes_.mu());
  struct timespec now = Now();
  if (to_set & FUSE_SET_ATTR_MODE) node->mode = (node->mode & S_IFMT) | (attr.st_mode & 07777);
  if (to_set & FUSE_SET_ATTR_UID) node->uid = attr.st_uid;
  if (to_set & FUSE_SET_ATTR_GID) node->gid = attr.st_gid;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
    node->atime = now;
  } else if (to_set & FUSE_SET_ATTR_ATIME) {
    node->atime = attr.st_atim;
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
    node->mtime = now;
  } else if (to_set & FUSE_SET_ATTR_MTIME) {
    node->mtime = attr.st_mtim;
  } else if (size_changed) {
    node->mtime = now;
  }
  node->ctime = (to_set & FUSE_SET_ATTR_CTIME) ? attr.st_ctim : now;
  if (node->parent != 0) inodes_.TouchLocked(node.get());
  IncomingAttrLocked(*node, out);
  return 0;
}

// --------------------------------------------------------- open / create

int ChunkFs::OpenIncoming(const std::shared_ptr<Node>& node, int flags, bool created,
                          fuse_file_info* fi) {
  bool writable = (flags & O_ACCMODE) != O_RDONLY;
  auto h = std::make_shared<FileHandle>();
  h->node = node;
  if (!writable) {
    std::lock_guard<std::mutex> l(inodes_.mu());
    if (node->upload) {
      // Being written: read what the writers have written so far.
      h->kind = FileHandle::Kind::kUpload;
      h->upload = node->upload;
    } else if (node->committed) {
      h->kind = FileHandle::Kind::kChunk;
      h->digest = node->digest;
    } else {
      return ENOENT;
    }
    node->opens++;
    inodes_.TouchLocked(node.get());
    fi->fh = handles_.Add(std::move(h));
    return 0;
  }
  if (config_.read_only) return EROFS;
  (void)created;
  bool trunc = (flags & O_TRUNC) != 0;
  std::shared_ptr<Upload> up;
  bool joined = false;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    // Opened through a name the kernel still caches after we dropped it:
    // give the name back, so that what is written shows under it.
    if (node->parent == 0) inodes_.ReattachLocked(node);
  }
  // Opened without O_TRUNC: starts from the stored content.
  if (int err = JoinUpload(node, /*empty=*/trunc, &up, &joined)) return err;
  if (joined && trunc) {
    if (int err = up->Truncate(0)) {
      h->kind = FileHandle::Kind::kUpload;
      h->upload = up;
      h->commits = true;
      ReleaseUpload(*h);
      return err;
    }
  }
  h->kind = FileHandle::Kind::kUpload;
  h->upload = std::move(up);
  h->commits = true;
  fi->direct_io = 1;  // each write() one request: a write past max_chunk fails whole (MOUNT.md)
  fi->fh = handles_.Add(std::move(h));
  return 0;
}

int ChunkFs::JoinUpload(const std::shared_ptr<Node>& node, bool empty, std::shared_ptr<Upload>* out,
                        bool* joined) {
  std::unique_lock<std::mutex> l(inodes_.mu());
  bool installed = false;
  while (!node->upload) {
    if (empty || !node->committed || node->size == 0) {
      node->upload = NewUpload();
      installed = true;
      break;
    }
    // Load the stored content without the lock (it may take long); a commit
    // of the name meanwhile (a writer that opened, wrote and closed) makes
    // it stale: then start over from what the name holds now.
    const Digest digest = node->digest;
    const uint64_t version = node->commit_version;
    l.unlock();
    ChunkCache::Content content;
    if (int err = LoadChunk(digest, &content)) return err;
    auto fresh = NewUpload();
    if (int err = fresh->SetInitialContent(*content)) return err;
    if (after_load_hook_) after_load_hook_();
    l.lock();
    if (!node->upload && node->commit_version == version) {
      node->upload = std::move(fresh);
      installed = true;
    }
  }
  *joined = !installed;
  *out = node->upload;
  node->writers++;
  node->opens++;
  inodes_.TouchLocked(node.get());
  return 0;
}

int ChunkFs::TruncateStored(const std::shared_ptr<Node>& node, uint64_t size) {
  if (size > max_chunk_) {
    counters_.too_large.fetch_add(1, std::memory_order_relaxed);
    return EFBIG;
  }
  FileHandle h;  // the truncation's own writer, released below
  h.kind = FileHandle::Kind::kUpload;
  h.node = node;
  h.commits = true;
  bool joined = false;
  if (int err = JoinUpload(node, /*empty=*/size == 0, &h.upload, &joined)) return err;
  int err = h.upload->Truncate(size);
  // A writer that opened meanwhile commits what it shares with us at its
  // close; else commit now (the release does not report errors).
  if (err == 0 && !joined) err = Commit(node, *h.upload);
  ReleaseUpload(h);
  return err;
}

int ChunkFs::Create(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode,
                    fuse_file_info* fi, fuse_entry_param* e) {
  auto dir = GetNode(parent);
  if (!dir) return ENOENT;
  if (dir->kind != NodeKind::kIncomingDir) return EROFS;
  if (config_.read_only) return EROFS;
  if (std::strlen(name) > 255) return ENAMETOOLONG;
  std::shared_ptr<Node> existing;
  {
    std::unique_lock<std::mutex> l(inodes_.mu());
    existing = inodes_.ChildLocked(*dir, name);
    if (!existing) {
      uint32_t gid = ctx->gid;
      uint32_t perm = mode & 07777;
      if (dir->mode & S_ISGID) gid = dir->gid;  // BSD group semantics, as on ext4
      std::shared_ptr<Node> node;
      if (int err = inodes_.AddChildLocked(dir.get(), name, NodeKind::kIncomingFile,
                                           S_IFREG | perm, ctx->uid, gid, &node)) {
        return err;
      }
      auto h = std::make_shared<FileHandle>();
      h->kind = FileHandle::Kind::kUpload;
      h->node = node;
      h->upload = NewUpload();
      // Created through this handle: its flush commits even if it was opened
      // O_RDONLY (open(O_CREAT|O_RDONLY) makes an empty file).
      h->commits = true;
      node->upload = h->upload;
      node->writers = 1;
      node->opens = 1;
      FillEntryLocked(*node, e);
      l.unlock();
      fi->direct_io = 1;  // as in OpenIncoming
      fi->fh = handles_.Add(std::move(h));
      return 0;
    }
  }
  // The name appeared since the kernel looked it up.
  if (fi->flags & O_EXCL) return EEXIST;
  if (existing->kind != NodeKind::kIncomingFile) return EISDIR;
  if (int err = OpenIncoming(existing, fi->flags, false, fi)) return err;
  std::lock_guard<std::mutex> l(inodes_.mu());
  FillEntryLocked(*existing, e);
  return 0;
}

// -------------------------------------------------------------- names

int ChunkFs::Mknod(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode,
                   dev_t /*rdev*/, fuse_entry_param* e) {
  auto dir = GetNode(parent);
  if (!dir) return ENOENT;
  if (dir->kind != NodeKind::kIncomingDir || config_.read_only) return EROFS;
  if (!S_ISREG(mode)) return EPERM;  // no devices, FIFOs or sockets: only chunks
  if (std::strlen(name) > 255) return ENAMETOOLONG;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    if (inodes_.ChildLocked(*dir, name)) return EEXIST;
  }
  // An empty regular file: the empty chunk, stored at once.
  Digest expected;
  bool verify = IsDigestName(name, &expected);
  CommitResult res;
  if (int err = PutContent(std::string_view(), verify ? &expected : nullptr, &res)) return err;
  std::lock_guard<std::mutex> l(inodes_.mu());
  std::shared_ptr<Node> node;
  uint32_t gid = (dir->mode & S_ISGID) ? dir->gid : ctx->gid;
  if (int err = inodes_.AddChildLocked(dir.get(), name, NodeKind::kIncomingFile,
                                       S_IFREG | (mode & 07777), ctx->uid, gid, &node)) {
    return err;
  }
  node->committed = true;
  node->digest = res.digest;
  node->size = 0;
  inodes_.TouchLocked(node.get());
  FillEntryLocked(*node, e);
  counters_.commits.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

int ChunkFs::Mkdir(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode,
                   fuse_entry_param* e) {
  auto dir = GetNode(parent);
  if (!dir) return ENOENT;
  if (dir->kind != NodeKind::kIncomingDir || config_.read_only) return EROFS;
  if (std::strlen(name) > 255) return ENAMETOOLONG;
  std::lock_guard<std::mutex> l(inodes_.mu());
  uint32_t perm = mode & 07777;
  uint32_t gid = ctx->gid;
  if (dir->mode & S_ISGID) {
    gid = dir->gid;
    perm |= S_ISGID;
  }
  std::shared_ptr<Node> node;
  if (int err = inodes_.AddChildLocked(dir.get(), name, NodeKind::kIncomingDir, S_IFDIR | perm,
                                       ctx->uid, gid, &node)) {
    return err;
  }
  FillEntryLocked(*node, e);
  return 0;
}

// Removes a name below /incoming once `refuse` (called with the table lock
// held) returns 0 for it. Removing a name never removes a chunk.
int ChunkFs::RemoveName(fuse_ino_t parent, const char* name, int (*refuse)(const Node& child)) {
  auto dir = GetNode(parent);
  if (!dir) return ENOENT;
  if (dir->kind != NodeKind::kIncomingDir || config_.read_only) return EROFS;
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto child = inodes_.ChildLocked(*dir, name);
  if (!child) return ENOENT;
  if (int err = refuse(*child)) return err;
  inodes_.DetachLocked(child.get());
  return 0;
}

// The name goes; the chunk stays. A writer still holding the file open goes
// on writing and its close() still stores the content.
int ChunkFs::Unlink(fuse_ino_t parent, const char* name) {
  return RemoveName(parent, name, [](const Node& child) { return child.kind == NodeKind::kIncomingDir ? EISDIR : 0; });
}

int ChunkFs::Rmdir(fuse_ino_t parent, const char* name) {
  return RemoveName(parent, name, [](const Node& child) {
    if (child.kind != NodeKind::kIncomingDir) return ENOTDIR;
    return child.dir && !child.dir->by_name.empty() ? ENOTEMPTY : 0;
  });
}

int ChunkFs::Rename(fuse_ino_t parent, const char* name, fuse_ino_t newparent,
                    const char* newname, unsigned flags) {
  auto src_dir = GetNode(parent);
  auto dst_dir = GetNode(newparent);
  if (!src_dir || !dst_dir) return ENOENT;
  // Into or out of /incoming, or anything in "/" and /chunks: read-only.
  if (src_dir->kind != NodeKind::kIncomingDir || dst_dir->kind != NodeKind::kIncomingDir) {
    return EROFS;
  }
  if (config_.read_only) return EROFS;
  if (flags & ~static_cast<unsigned>(RENAME_NOREPLACE)) return EINVAL;  // no EXCHANGE/WHITEOUT
  if (std::strlen(newname) > 255) return ENAMETOOLONG;
  std::lock_guard<std::mutex> l(inodes_.mu());
  auto src = inodes_.ChildLocked(*src_dir, name);
  if (!src) return ENOENT;
  auto dst = inodes_.ChildLocked(*dst_dir, newname);
  if (dst == src) return 0;
  if (src->kind == NodeKind::kIncomingDir && inodes_.IsAncestorLocked(*src, *dst_dir)) {
    return EINVAL;
  }
  if (dst) {
    if (flags & RENAME_NOREPLACE) return EEXIST;
    if (src->kind == NodeKind::kIncomingDir) {
      if (dst->kind != NodeKind::kIncomingDir) return ENOTDIR;
      if (dst->dir && !dst->dir->by_name.empty()) return ENOTEMPTY;
    } else if (dst->kind == NodeKind::kIncomingDir) {
      return EISDIR;
    }
  }
  // A stored file may not take a digest name its content does not have (a
  // file still being written is checked against its name at close()).
  Digest want;
  if (src->kind == NodeKind::kIncomingFile && !src->upload && src->committed &&
      IsDigestName(newname, &want) && want != src->digest) {
    counters_.digest_mismatches.fetch_add(1, std::memory_order_relaxed);
    return EIO;
  }
  if (dst) inodes_.DetachLocked(dst.get());
  inodes_.MoveLocked(src.get(), dst_dir.get(), newname);
  inodes_.TouchLocked(src.get());
  return 0;
}

int ChunkFs::ReaddirIncoming(fuse_req_t req, const Node& dir, size_t size, off_t off,
                             std::string* buf) {
  std::lock_guard<std::mutex> l(inodes_.mu());
  DirBuffer out(req, size, buf);
  uint64_t cookie = static_cast<uint64_t>(off);
  if (cookie == 0) {
    if (!out.Add(".", dir.ino, S_IFDIR, 1)) return 0;
    cookie = 1;
  }
  if (cookie == 1) {
    uint64_t up = dir.parent != 0 ? dir.parent : kRootIno;
    if (!out.Add("..", up, S_IFDIR, 2)) return 0;
    cookie = 2;
  }
  inodes_.ListLocked(dir, cookie,
                     [&](const std::string& name, uint64_t ino, uint32_t mode, uint64_t next) {
                       return out.Add(name.c_str(), ino, mode & S_IFMT, next);
                     });
  return 0;
}

}  // namespace chunkfs::fs
