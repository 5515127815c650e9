// Every libfuse low-level callback, wired in one table.
//
// Each callback is thin: it calls the ChunkFs operation, which returns 0 or
// an errno, and replies exactly once. No exception crosses into libfuse:
// std::bad_alloc becomes ENOMEM, anything else EIO.
#include "ops_table.h"

#include <cerrno>
#include <new>
#include <string>

#include "chunkfs.h"

namespace chunkfs::fs {
namespace {

ChunkFs& Fs(fuse_req_t req) { return *static_cast<ChunkFs*>(fuse_req_userdata(req)); }

template <class F>
int Guard(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (...) {
    return EIO;
  }
}

void ReplyEntry(fuse_req_t req, int err, const fuse_entry_param& e) {
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_entry(req, &e);
  }
}

void ReplyErr(fuse_req_t req, int err) { fuse_reply_err(req, err); }

void OpInit(void* userdata, struct fuse_conn_info* conn) {
  Guard([&] {
    static_cast<ChunkFs*>(userdata)->Init(conn);
    return 0;
  });
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  fuse_entry_param e;
  int err = Guard([&] {
    Fs(req).AfterInitOnce();
    return Fs(req).Lookup(parent, name, &e);
  });
  ReplyEntry(req, err, e);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Guard([&] {
    Fs(req).Forget(ino, nlookup);
    return 0;
  });
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  Guard([&] {
    for (size_t i = 0; i < count; i++) Fs(req).Forget(forgets[i].ino, forgets[i].nlookup);
    return 0;
  });
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* /*fi*/) {
  struct stat st;
  double timeout = 0;
  int err = Guard([&] {
    Fs(req).AfterInitOnce();
    return Fs(req).Getattr(ino, &st, &timeout);
  });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_attr(req, &st, timeout);
  }
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               struct fuse_file_info* fi) {
  struct stat out;
  double timeout = 0;
  int err = Guard([&] {
    return Fs(req).Setattr(fuse_req_ctx(req), ino, *attr, to_set, fi, &out, &timeout);
  });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_attr(req, &out, timeout);
  }
}

void OpReadlink(fuse_req_t req, fuse_ino_t /*ino*/) { ReplyErr(req, EINVAL); }  // no symlinks

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  fuse_entry_param e;
  int err = Guard([&] { return Fs(req).Mknod(fuse_req_ctx(req), parent, name, mode, rdev, &e); });
  ReplyEntry(req, err, e);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  fuse_entry_param e;
  int err = Guard([&] { return Fs(req).Mkdir(fuse_req_ctx(req), parent, name, mode, &e); });
  ReplyEntry(req, err, e);
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyErr(req, Guard([&] { return Fs(req).Unlink(parent, name); }));
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyErr(req, Guard([&] { return Fs(req).Rmdir(parent, name); }));
}

void OpSymlink(fuse_req_t req, const char* /*link*/, fuse_ino_t parent, const char* /*name*/) {
  ReplyErr(req, Guard([&] { return Fs(req).Symlink(parent); }));
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) {
  ReplyErr(req, Guard([&] { return Fs(req).Rename(parent, name, newparent, newname, flags); }));
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* /*newname*/) {
  ReplyErr(req, Guard([&] { return Fs(req).Link(ino, newparent); }));
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  int err = Guard([&] { return Fs(req).Open(ino, fi); });
  if (err) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_open(req, fi) == -ENOENT) {
    // The opener was interrupted: nobody will release this handle.
    Guard([&] { return Fs(req).Release(ino, fi); });
  }
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  ReadReply r;
  int err = Guard([&] { return Fs(req).Read(ino, size, off, fi, &r); });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, r.data, r.size);
  }
}

void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             struct fuse_file_info* fi) {
  int err = Guard([&] { return Fs(req).Write(ino, buf, size, off, fi); });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_write(req, size);
  }
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  ReplyErr(req, Guard([&] { return Fs(req).Flush(ino, fi); }));
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  ReplyErr(req, Guard([&] { return Fs(req).Release(ino, fi); }));
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int /*datasync*/, struct fuse_file_info* fi) {
  ReplyErr(req, Guard([&] { return Fs(req).Fsync(ino, fi); }));
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  int err = Guard([&] { return Fs(req).Opendir(ino, fi); });
  if (err) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_open(req, fi) == -ENOENT) {
    Guard([&] { return Fs(req).Releasedir(ino, fi); });
  }
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info* fi) {
  std::string buf;
  int err = Guard([&] { return Fs(req).Readdir(req, ino, size, off, fi, &buf); });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_buf(req, buf.data(), buf.size());
  }
}

void OpReleasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  ReplyErr(req, Guard([&] { return Fs(req).Releasedir(ino, fi); }));
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t /*ino*/, int /*datasync*/,
                struct fuse_file_info* /*fi*/) {
  ReplyErr(req, 0);  // names are not durable (docs/MOUNT.md); never ENOSYS
}

void OpStatfs(fuse_req_t req, fuse_ino_t ino) {
  struct statvfs st;
  int err = Guard([&] { return Fs(req).Statfs(ino, &st); });
  if (err) {
    fuse_reply_err(req, err);
  } else {
    fuse_reply_statfs(req, &st);
  }
}

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* /*value*/,
                size_t /*size*/, int /*flags*/) {
  ReplyErr(req, Guard([&] { return Fs(req).Setxattr(ino, name); }));
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  std::string value;
  size_t needed = 0;
  int err = Guard([&] { return Fs(req).Getxattr(ino, name, size, &value, &needed); });
  if (err) {
    fuse_reply_err(req, err);
  } else if (size == 0) {
    fuse_reply_xattr(req, needed);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  std::string value;
  size_t needed = 0;
  int err = Guard([&] { return Fs(req).Listxattr(ino, size, &value, &needed); });
  if (err) {
    fuse_reply_err(req, err);
  } else if (size == 0) {
    fuse_reply_xattr(req, needed);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  ReplyErr(req, Guard([&] { return Fs(req).Removexattr(ino, name); }));
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              struct fuse_file_info* fi) {
  fuse_entry_param e;
  int err = Guard([&] { return Fs(req).Create(fuse_req_ctx(req), parent, name, mode, fi, &e); });
  if (err) {
    fuse_reply_err(req, err);
  } else if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    Guard([&] { return Fs(req).Release(e.ino, fi); });
  }
}

void OpFallocate(fuse_req_t req, fuse_ino_t ino, int /*mode*/, off_t /*offset*/, off_t /*length*/,
                 struct fuse_file_info* /*fi*/) {
  ReplyErr(req, Guard([&] { return Fs(req).Fallocate(ino); }));
}

struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops ops = {};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.symlink = OpSymlink;
  ops.rename = OpRename;
  ops.link = OpLink;
  ops.open = OpOpen;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.statfs = OpStatfs;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.create = OpCreate;
  ops.fallocate = OpFallocate;
  // Not wired, on purpose: access (default_permissions: the kernel checks),
  // readdirplus (plain readdir, see Init), getlk/setlk/flock (the kernel
  // keeps locks locally), copy_file_range/lseek/ioctl (the kernel falls back).
  return ops;
}

}  // namespace

const struct fuse_lowlevel_ops& ChunkFsOps() {
  static const struct fuse_lowlevel_ops kOps = MakeOps();
  return kOps;
}

}  // namespace chunkfs::fs
