#include "options.h"

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "chunkfs/codec.h"
#include "chunkfs/permissions.h"

namespace chunkfs::fs {
namespace {

enum Key {
  kKeyPackSize = 100,
  kKeyMaxChunk,
  kKeyCompression,
  kKeyFlushInterval,
  kKeyMaxNames,
  kKeyWriteBuffer,
  kKeyCacheSize,
  kKeySync,
  kKeyCreate,
  kKeyClearStale,
  kKeyFsname,
  kKeySubtype,
  kKeyReadOnly,
  kKeyMaxThreads,
  kKeyMaxIdleThreads,
  kKeyMaxRead,
  kKeyCompact,
  kKeyCompactRate,
  kKeyCompactInterval,
  kKeyIncomingMode,
  kKeyIncomingGroup,
  kKeyReadahead,
  kKeyCodec,
  kKeyCephConf,
  kKeyCephId,
  kKeyNeedsValue,
  kKeyMountOnly,
};

// libfuse's own limit of worker threads (FUSE_LOOP_MT_MAX_THREADS).
constexpr uint64_t kMaxThreads = 100000;

const struct fuse_opt kOptSpec[] = {
    FUSE_OPT_KEY("pack_size=", kKeyPackSize),
    FUSE_OPT_KEY("max_chunk=", kKeyMaxChunk),
    FUSE_OPT_KEY("compression=", kKeyCompression),
    FUSE_OPT_KEY("codec=", kKeyCodec),
    FUSE_OPT_KEY("flush_interval=", kKeyFlushInterval),
    FUSE_OPT_KEY("max_names=", kKeyMaxNames),
    FUSE_OPT_KEY("write_buffer=", kKeyWriteBuffer),
    FUSE_OPT_KEY("cache_size=", kKeyCacheSize),
    FUSE_OPT_KEY("sync", kKeySync),
    FUSE_OPT_KEY("create", kKeyCreate),
    FUSE_OPT_KEY("clear_stale", kKeyClearStale),
    FUSE_OPT_KEY("fsname=", kKeyFsname),
    FUSE_OPT_KEY("subtype=", kKeySubtype),
    FUSE_OPT_KEY("ro", kKeyReadOnly),
    // libfuse's thread options, parsed here: libfuse reads them with
    // sscanf("%u"), which takes 0, "-1" (as 4294967295) and "8x" silently.
    FUSE_OPT_KEY("max_threads=", kKeyMaxThreads),
    FUSE_OPT_KEY("max_idle_threads=", kKeyMaxIdleThreads),
    // Checked here, passed on: the kernel would refuse "-1" only at mount.
    FUSE_OPT_KEY("max_read=", kKeyMaxRead),
    FUSE_OPT_KEY("compact=", kKeyCompact),
    FUSE_OPT_KEY("compact_rate=", kKeyCompactRate),
    FUSE_OPT_KEY("compact_interval=", kKeyCompactInterval),
    FUSE_OPT_KEY("incoming_mode=", kKeyIncomingMode),
    FUSE_OPT_KEY("incoming_group=", kKeyIncomingGroup),
    FUSE_OPT_KEY("readahead=", kKeyReadahead),
    FUSE_OPT_KEY("ceph_conf=", kKeyCephConf),
    FUSE_OPT_KEY("ceph_id=", kKeyCephId),
    // The value-taking options given without a value: a clear error rather
    // than libfuse's "unknown option".
    FUSE_OPT_KEY("pack_size", kKeyNeedsValue),
    FUSE_OPT_KEY("max_chunk", kKeyNeedsValue),
    FUSE_OPT_KEY("compression", kKeyNeedsValue),
    FUSE_OPT_KEY("codec", kKeyNeedsValue),
    FUSE_OPT_KEY("flush_interval", kKeyNeedsValue),
    FUSE_OPT_KEY("max_names", kKeyNeedsValue),
    FUSE_OPT_KEY("write_buffer", kKeyNeedsValue),
    FUSE_OPT_KEY("cache_size", kKeyNeedsValue),
    FUSE_OPT_KEY("max_threads", kKeyNeedsValue),
    FUSE_OPT_KEY("max_idle_threads", kKeyNeedsValue),
    FUSE_OPT_KEY("compact", kKeyNeedsValue),
    FUSE_OPT_KEY("compact_rate", kKeyNeedsValue),
    FUSE_OPT_KEY("compact_interval", kKeyNeedsValue),
    FUSE_OPT_KEY("incoming_mode", kKeyNeedsValue),
    FUSE_OPT_KEY("incoming_group", kKeyNeedsValue),
    FUSE_OPT_KEY("readahead", kKeyNeedsValue),
    FUSE_OPT_KEY("ceph_conf", kKeyNeedsValue),
    FUSE_OPT_KEY("ceph_id", kKeyNeedsValue),
    // Options of mount(8) and fstab that mean nothing to the file system
    // (mount(8) and mount.fuse3 drop most of them; they are accepted here in
    // case one gets through, e.g. `chunkfs REPO MNT -o nofail`). x-* too
    // (OptProc). libfuse takes rw, ro, dev, nodev, suid, nosuid, exec, noexec,
    // noatime, nodiratime, dirsync, async itself; sync is ours.
    FUSE_OPT_KEY("defaults", kKeyMountOnly),
    FUSE_OPT_KEY("nofail", kKeyMountOnly),
    FUSE_OPT_KEY("_netdev", kKeyMountOnly),
    FUSE_OPT_KEY("auto", kKeyMountOnly),
    FUSE_OPT_KEY("noauto", kKeyMountOnly),
    FUSE_OPT_KEY("user", kKeyMountOnly),
    FUSE_OPT_KEY("nouser", kKeyMountOnly),
    FUSE_OPT_KEY("users", kKeyMountOnly),
    FUSE_OPT_KEY("owner", kKeyMountOnly),
    FUSE_OPT_KEY("group", kKeyMountOnly),
    FUSE_OPT_KEY("comment=", kKeyMountOnly),
    FUSE_OPT_KEY("atime", kKeyMountOnly),
    FUSE_OPT_KEY("relatime", kKeyMountOnly),
    FUSE_OPT_KEY("strictatime", kKeyMountOnly),
    FUSE_OPT_KEY("diratime", kKeyMountOnly),
    FUSE_OPT_KEY("lazytime", kKeyMountOnly),
    FUSE_OPT_KEY("nolazytime", kKeyMountOnly),
    FUSE_OPT_END,
};

struct ParseState {
  MountOptions* opts;
  std::string* error;
  int positional = 0;
};

std::string_view ValueOf(const char* arg) {
  const char* eq = std::strchr(arg, '=');
  return eq ? std::string_view(eq + 1) : std::string_view();
}

std::string_view NameOf(const char* arg) {
  const char* eq = std::strchr(arg, '=');
  return eq ? std::string_view(arg, eq - arg) : std::string_view(arg);
}

bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  *out = v;
  return true;
}

// Checks min <= v <= max; on failure writes the error and returns false.
bool InRange(ParseState* st, std::string_view name, std::string_view text, uint64_t v,
             uint64_t min, uint64_t max, const char* unit_hint) {
  if (v >= min && v <= max) return true;
  *st->error = std::string("-o ") + std::string(name) + "=" + std::string(text) +
               ": out of range (" + unit_hint + ")";
  return false;
}

bool BadValue(ParseState* st, const char* arg, const char* expected) {
  *st->error = std::string("-o ") + arg + ": malformed value (expected " + expected + ")";
  return false;
}

// A whole number option in [min, max] (decimal digits only).
bool HandleCountOption(ParseState* st, const char* arg, uint64_t min, uint64_t max, const char* range,
                       uint64_t* out) {
  uint64_t v;
  if (!ParseUint(ValueOf(arg), &v)) return BadValue(st, arg, "a whole number");
  if (!InRange(st, NameOf(arg), ValueOf(arg), v, min, max, range)) return false;
  *out = v;
  return true;
}

bool HandleSizeOption(ParseState* st, const char* arg, uint64_t min, uint64_t max,
                      const char* range, uint64_t* out) {
  uint64_t v;
  if (!ParseSize(ValueOf(arg), &v)) return BadValue(st, arg, "a size such as 4096, 64K, 16M or 1G");
  if (!InRange(st, NameOf(arg), ValueOf(arg), v, min, max, range)) return false;
  *out = v;
  return true;
}

// -o incoming_mode=OCTAL: permission bits of /incoming (setgid and sticky
// included), 0 to 7777.
bool HandleIncomingMode(ParseState* st, const char* arg) {
  std::string_view text = ValueOf(arg);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return BadValue(st, arg, "an octal mode such as 0700, 0770, 2770 or 1777");
  }
  if (!InRange(st, NameOf(arg), text, v, 0, 07777, "0 to 7777, octal")) return false;
  st->opts->incoming_mode = static_cast<uint32_t>(v);
  st->opts->incoming_mode_set = true;
  return true;
}

int OptProc(void* data, const char* arg, int key, struct fuse_args* /*outargs*/) {
  auto* st = static_cast<ParseState*>(data);
  MountOptions* o = st->opts;
  switch (key) {
    case FUSE_OPT_KEY_NONOPT:
      if (st->positional == 0) {
        o->repo = arg;
      } else if (st->positional == 1) {
        o->mountpoint = arg;
      } else {
        *st->error = std::string("unexpected argument '") + arg + "' (usage: chunkfs REPO MOUNTPOINT [options])";
        return -1;
      }
      st->positional++;
      return 0;
    case kKeyPackSize:
      return HandleSizeOption(st, arg, 1ull << 20, 16ull << 30, "1M to 16G", &o->pack_size) ? 0 : -1;
    case kKeyMaxChunk:
      return HandleSizeOption(st, arg, 1, 1ull << 30, "1 byte to 1G", &o->max_chunk) ? 0 : -1;
    case kKeyWriteBuffer:
      o->write_buffer_given = true;
      return HandleSizeOption(st, arg, 0, 64ull << 30, "0 to 64G", &o->write_buffer) ? 0 : -1;
    case kKeyCacheSize:
      return HandleSizeOption(st, arg, 0, 64ull << 30, "0 to 64G", &o->cache_size) ? 0 : -1;
    case kKeyReadahead:
      return HandleSizeOption(st, arg, 0, 64ull << 20, "0 to 64M", &o->readahead) ? 0 : -1;
    case kKeyCompression: {
      uint64_t v;
      if (!ParseUint(ValueOf(arg), &v)) return BadValue(st, arg, "a level 0..9 (zlib) or 0..19 (zstd)") ? 0 : -1;
      if (!InRange(st, NameOf(arg), ValueOf(arg), v, 0, 19, "0 = store raw, 1..9 zlib or 1..19 zstd level")) return -1;
      o->compression = static_cast<int>(v);  // the store checks it against the codec's range
      return 0;
    }
    case kKeyCodec:
      o->codec = chunkfs::CodecFromName(ValueOf(arg));
      if (o->codec == 0) return BadValue(st, arg, "zlib or zstd") ? 0 : -1;
      if (!chunkfs::CodecBuiltIn(o->codec)) {
        *st->error = std::string("-o ") + arg + ": this chunkfs was built without zstd (libzstd); use codec=zlib";
        return -1;
      }
      return 0;
    case kKeyFlushInterval: {
      uint64_t ms;
      if (!ParseDuration(ValueOf(arg), &ms)) {
        return BadValue(st, arg, "seconds such as 5, 0.5 or 250ms") ? 0 : -1;
      }
      if (!InRange(st, NameOf(arg), ValueOf(arg), ms, 10, 3600 * 1000, "10ms to 3600s")) return -1;
      o->flush_interval_ms = ms;
      return 0;
    }
    case kKeyMaxNames: {
      uint64_t v;
      if (!ParseUint(ValueOf(arg), &v)) return BadValue(st, arg, "a number of names") ? 0 : -1;
      if (!InRange(st, NameOf(arg), ValueOf(arg), v, 100, 100'000'000, "100 to 100000000")) return -1;
      o->max_names = v;
      return 0;
    }
    case kKeyMaxThreads: {
      uint64_t v;
      if (!HandleCountOption(st, arg, 1, kMaxThreads, "1 to 100000", &v)) return -1;
      o->max_threads = static_cast<unsigned>(v);
      return 0;
    }
    case kKeyMaxIdleThreads: {
      uint64_t v;
      if (!HandleCountOption(st, arg, 0, kMaxThreads, "0 to 100000", &v)) return -1;
      o->max_idle_threads = static_cast<unsigned>(v);
      o->max_idle_threads_set = true;
      return 0;
    }
    case kKeyMaxRead: {
      uint64_t v;
      return HandleCountOption(st, arg, 1, UINT32_MAX, "1 to 4294967295", &v) ? 1 : -1;
    }
    case kKeyCompact:
      if (ValueOf(arg) != "on" && ValueOf(arg) != "off") return BadValue(st, arg, "on or off") ? 0 : -1;
      o->compact = ValueOf(arg) == "on";
      return 0;
    case kKeyCompactRate:
      return HandleSizeOption(st, arg, 0, 64ull << 30, "0 = no limit, to 64G a second", &o->compact_rate) ? 0 : -1;
    case kKeyCompactInterval: {
      uint64_t ms;
      if (!ParseDuration(ValueOf(arg), &ms)) return BadValue(st, arg, "seconds such as 60 or 0.5") ? 0 : -1;
      if (!InRange(st, NameOf(arg), ValueOf(arg), ms, 100, 86400 * 1000, "0.1s to 86400s")) return -1;
      o->compact_interval_ms = ms;
      return 0;
    }
    case kKeyIncomingMode:
      return HandleIncomingMode(st, arg) ? 0 : -1;
    case kKeyIncomingGroup: {
      Status s = ParseGroup(ValueOf(arg), &o->incoming_group);
      if (!s.ok()) *st->error = std::string("-o ") + arg + ": " + s.message();
      return s.ok() ? 0 : -1;
    }
    case kKeyCephConf:
      o->ceph_conf = ValueOf(arg);
      return 0;
    case kKeyCephId:
      o->ceph_id = ValueOf(arg);
      return 0;
    case kKeySync:
      o->sync = true;
      return 0;
    case kKeyCreate:
      o->create = true;
      return 0;
    case kKeyClearStale:
      o->clear_stale = true;
      return 0;
    case kKeyFsname:
      o->user_fsname = true;
      return 1;  // passed on to libfuse
    case kKeySubtype:
      o->user_subtype = true;
      return 1;
    case kKeyReadOnly:
      o->read_only = true;
      return 1;  // also makes the kernel mount read-only
    case kKeyNeedsValue:
      *st->error = std::string("-o ") + arg + " needs a value (-o " + arg + "=...)";
      return -1;
    case kKeyMountOnly:
      return 0;  // for mount(8), not for us
    default:
      if (std::strncmp(arg, "x-", 2) == 0) return 0;  // x-systemd.*, x-gvfs-*: for other programs
      return 1;  // FUSE_OPT_KEY_OPT: -f, -d, allow_other, ... for libfuse
  }
}

}  // namespace

bool ParseSize(std::string_view text, uint64_t* out) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') i++;
  uint64_t base;
  if (!ParseUint(text.substr(0, i), &base)) return false;
  std::string_view suffix = text.substr(i);
  int shift = 0;
  if (!suffix.empty()) {
    char c = suffix[0];
    switch (c) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return false;
    }
    suffix.remove_prefix(1);
    if (!(suffix.empty() || suffix == "B" || suffix == "iB" || suffix == "b")) return false;
  }
  if (shift > 0 && base > (std::numeric_limits<uint64_t>::max() >> shift)) return false;
  *out = base << shift;
  return true;
}

bool ParseDuration(std::string_view text, uint64_t* out_ms) {
  double scale = 1000.0;  // seconds by default
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 1.0;
    text.remove_suffix(2);
  } else if (text.size() > 1 && text.back() == 's') {
    text.remove_suffix(1);
  }
  if (text.empty()) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v) || v < 0) return false;
  double ms = v * scale;
  if (ms > 1e15) return false;
  *out_ms = static_cast<uint64_t>(std::llround(ms));
  return true;
}

ParseOutcome ParseCommandLine(fuse_args* args, MountOptions* opts, std::string* error) {
  ParseState st{opts, error, 0};
  if (fuse_opt_parse(args, &st, kOptSpec, OptProc) != 0) {
    if (error->empty()) *error = "bad command line (see chunkfs --help)";
    return ParseOutcome::kError;
  }
  struct fuse_cmdline_opts cmd;
  std::memset(&cmd, 0, sizeof cmd);
  if (fuse_parse_cmdline(args, &cmd) != 0) {
    *error = "bad command line (see chunkfs --help)";
    return ParseOutcome::kError;
  }
  // fuse_parse_cmdline found no positional argument (we took them all); it
  // may still have allocated one if "--" was used.
  std::free(cmd.mountpoint);
  if (cmd.show_help) return ParseOutcome::kHelp;
  if (cmd.show_version) return ParseOutcome::kVersion;
  opts->foreground = cmd.foreground != 0;
  opts->debug = cmd.debug != 0;
  opts->singlethread = cmd.singlethread != 0;
  opts->clone_fd = cmd.clone_fd != 0;
  // max_threads and max_idle_threads never reach libfuse (OptProc took them).
  if (opts->repo.empty() || opts->mountpoint.empty()) {
    *error = "missing REPO or MOUNTPOINT (usage: chunkfs REPO MOUNTPOINT [-f] [-o OPTIONS])";
    return ParseOutcome::kError;
  }
  // A group given without a mode: the owner and that group may write.
  if (opts->incoming_group >= 0 && !opts->incoming_mode_set) opts->incoming_mode = 0770;
  if (opts->max_chunk != 0 && opts->pack_size != 0 && opts->max_chunk > opts->pack_size) {
    *error = "-o max_chunk must not exceed -o pack_size";
    return ParseOutcome::kError;
  }
  return ParseOutcome::kOk;
}

void AddMountOptions(fuse_args* args, const MountOptions& opts, const std::string& repo_path) {
  char* o = nullptr;
  if (!opts.user_fsname) fuse_opt_add_opt_escaped(&o, ("fsname=" + repo_path).c_str());
  if (!opts.user_subtype) fuse_opt_add_opt(&o, "subtype=chunkfs");
  // The kernel checks the mode bits we report (an /incoming name behaves
  // like a file on any other file system); see docs/MOUNT.md.
  fuse_opt_add_opt(&o, "default_permissions");
  fuse_opt_add_arg(args, "-o");
  fuse_opt_add_arg(args, o);
  std::free(o);
}

std::string UsageText(const char* argv0) {
  std::string u;
  u += "usage: ";
  u += argv0;
  u += " REPO MOUNTPOINT [-f] [-o OPTION[,OPTION...]]\n";
  u += R"(
Mounts the chunkfs repository REPO at MOUNTPOINT:
  MOUNTPOINT/chunks/<sha256>   every stored chunk, read-only
  MOUNTPOINT/incoming/         write files (or trees) here; each file that
                               close()s successfully is stored as a chunk and
                               keeps its name, with the digest in the xattr
                               user.chunkfs.digest
  MOUNTPOINT/.stats            counters as JSON
  MOUNTPOINT/.control          the owner's channel for `chunkctl prune`,
                               prune-begin, compact and stats on MOUNTPOINT
Create a repository first with `chunkctl init REPO` (or mount with -o create).
Unmount with `fusermount3 -u MOUNTPOINT` (or SIGTERM / Ctrl-C with -f).

chunkfs options:
    -o create              create the repository if REPO is missing or an empty
                           directory (settings from pack_size, max_chunk,
                           compression)
    -o pack_size=SIZE      pack size of a new repository (default 64M); on an
                           existing repository it must match its header
    -o max_chunk=SIZE      largest chunk accepted (default: the repository's,
                           16M unless chosen at creation); larger writes fail
                           with EFBIG
    -o compression=N       level of the codec (zlib 1..9, zstd 1..19), 0 = store
                           raw (default: the repository's)
    -o codec=zlib|zstd     codec of new chunks (default: the repository's;
                           every chunk names its codec, so both stay readable)
    -o sync                every close() of an /incoming file is durable
    -o flush_interval=T    make stored chunks durable at least every T seconds
                           (default 5; also 0.5, 250ms)
    -o max_names=N         names kept under /incoming (default 100000; the
                           least recently used committed names are dropped)
    -o write_buffer=SIZE   memory for writes in flight, over all writers
                           (default 64M, or 2 x max_chunk if larger; beyond
                           it uploads spill to REPO/tmp)
    -o cache_size=SIZE     decompressed chunks kept between opens (default 64M)
    -o readahead=SIZE      the kernel's read-ahead on the mount (default 1M,
                           set as root; 0: the kernel's default, 128K)
    -o compact=on|off      background compaction: gives the space of chunks
                           deleted by `chunkctl prune` back (default on)
    -o compact_rate=SIZE   bytes a second it copies at most (default 64M; 0:
                           no limit)
    -o compact_interval=T  how often it looks for space to give back (default
                           60 seconds; it also runs after every prune)
    -o clear_stale         lazily unmount MOUNTPOINT first if a crashed mount
                           left it dead (ENOTCONN)
    -o ro                  mount read-only (the repository is opened read-only)
    -o incoming_mode=OCTAL mode of /incoming (default 0700: only the mounting
                           user writes; 0770 with incoming_group; e.g. 1777 for
                           everyone). Others reach the mount only with
                           allow_other; /chunks is then readable by all
    -o incoming_group=G    group (name or id) of /incoming, whose members may
                           write there (mode 0770 unless incoming_mode is given)
    -o ceph_conf=FILE      REPO rados:POOL[/NAMESPACE] (a Ceph RADOS pool,
                           docs/RADOS.md): the ceph config (default: as the
                           ceph tools find it, CEPH_CONF or /etc/ceph/ceph.conf)
    -o ceph_id=ID          ... and the client id (default admin, or CEPH_ARGS)
    -V, --version          print the version and exit
    -h, --help             print this help and exit

FUSE options (passed to libfuse): allow_other, allow_root, fsname=NAME,
default_permissions (always on), max_threads=N (1..100000, default 10),
max_idle_threads=N (0..100000, default: no limit), max_read=N, -d/debug, -s,
clone_fd.

Accepted and ignored (for mount(8) and /etc/fstab): defaults, nofail,
_netdev, auto, noauto, user, users, owner, group, comment=, x-*, and the atime
options. -d/-o debug also writes the debug log (and runs in the foreground).
)";
  return u;
}

}  // namespace chunkfs::fs
