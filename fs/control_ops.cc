// "/.control", the mount's control file (fs/control.h, docs/MOUNT.md), and
// touch on /chunks/<digest> (SPEC §7).
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "chunkfs.h"

namespace chunkfs::fs {

int ChunkFs::OpenControl(const std::shared_ptr<Node>& node, fuse_file_info* fi) {
  auto h = std::make_shared<FileHandle>();
  h->node = node;
  h->kind = FileHandle::Kind::kControl;
  h->control = std::make_unique<ControlSession>();
  fi->direct_io = 1;  // every read and write reaches us, whatever the size says
  fi->noflush = 1;
  fi->fh = handles_.Add(std::move(h));
  return 0;
}

int ChunkFs::WriteControl(FileHandle& h, const char* buf, size_t size, off_t off) {
  if (off < 0) return EINVAL;
  std::lock_guard<std::mutex> l(h.mu);
  return h.control->Write(static_cast<uint64_t>(off), std::string_view(buf, size));
}

int ChunkFs::ReadControl(FileHandle& h, size_t size, off_t off, ReadReply* out) {
  std::lock_guard<std::mutex> l(h.mu);
  ControlSession& session = *h.control;
  if (!session.answered()) {
    // Answered before it runs: whatever happens, the request runs once.
    session.SetReply(control::FormatReply(false, "the request failed (out of memory)"), static_cast<uint64_t>(off));
    session.SetReply(RunControl(session), static_cast<uint64_t>(off));
  }
  std::string_view part;
  if (int err = session.ReadReply(static_cast<uint64_t>(off), size, &part)) return err;
  out->owned.assign(part);
  out->data = out->owned.data();
  out->size = out->owned.size();
  return 0;
}

std::string ChunkFs::RunControl(ControlSession& session) {
  control::Request r;
  std::vector<Digest> keep;
  std::string error;
  if (!session.Finish(&r, &keep, &error)) return control::FormatReply(false, error);
  if (!repo_) return control::FormatReply(false, "the mount has no repository attached");
  if (r.command == control::Command::kStats) {
    return control::FormatReply(true, r.json ? StatsJson() : control::FormatStatsText(repo_->GetStats()));
  }
  if (config_.read_only) {
    return control::FormatReply(false, "the mount is read-only (-o ro): prune, prune-begin and compact need a "
                                       "writable mount");
  }
  const bool deletes = r.command == control::Command::kPrune && !r.dry_run;
  std::string out;
  Status s;
  {
    std::lock_guard<std::mutex> one(control_mu_);  // one command at a time; the next waits
    s = control::Execute(repo_.get(), r, keep, &out);
    if (s.ok() && deletes) ForgetDeletedChunks();
  }
  if (!s.ok()) return control::FormatReply(false, s.ToString());
  if (deletes && compactor_) compactor_->Kick();
  return control::FormatReply(true, out);
}

// The kernel caches /chunks names for a day (kChunkTimeout): those of
// deleted chunks are invalidated, so that the next lookup says ENOENT. (An
// open through a name still cached is ENOENT too: OpenChunkLike.)
void ChunkFs::ForgetDeletedChunks() {
  std::vector<Digest> held;
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    held = inodes_.ChunkDigestsLocked();
  }
  if (session_ == nullptr) return;
  for (const Digest& d : held) {
    if (repo_->Contains(d)) continue;
    const std::string hex = d.ToHex();
    int rc = fuse_lowlevel_notify_inval_entry(session_, kChunksIno, hex.c_str(), hex.size());
    if (rc != 0 && rc != -ENOENT) Log("invalidating /chunks/" + hex + " failed: " + std::strerror(-rc));
  }
}

int ChunkFs::SetattrChunk(const std::shared_ptr<Node>& node, int to_set, struct stat* out, double* timeout) {
  constexpr int kTimes = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
                         FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
  if ((to_set & ~kTimes) != 0 || (to_set & kTimes) == 0) return EROFS;  // chmod, chown, truncate
  if (config_.read_only || !repo_) return EROFS;
  Status s = repo_->Touch(node->digest);
  if (s.IsNotFound()) return ENOENT;
  if (!s.ok()) {
    Log("touch of chunk " + node->digest.ToHex() + " failed: " + s.ToString());
    int err = s.ToErrno();
    return err ? err : EIO;
  }
  std::lock_guard<std::mutex> l(inodes_.mu());
  ChunkAttr(*node, out);  // nothing changes: the times stay the epoch
  *timeout = kChunkTimeout;
  return 0;
}

}  // namespace chunkfs::fs
