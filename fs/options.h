// Command line of `chunkfs REPO MOUNTPOINT [-f] [-o OPTIONS]` (docs/MOUNT.md).
//
// ParseCommandLine() consumes REPO, MOUNTPOINT and chunkfs's own -o options
// from `args` (also libfuse's thread options, to range-check them), runs
// libfuse's fuse_parse_cmdline() for -f/-d/-s/-h/-V/clone_fd, and leaves the
// remaining (FUSE mount) options in `args` for
// fuse_session_new(), which refuses unknown ones before anything is mounted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct fuse_args;

namespace chunkfs::fs {

struct MountOptions {
  std::string repo;        // as given
  std::string mountpoint;  // as given

  bool foreground = false;
  bool debug = false;
  bool singlethread = false;
  bool clone_fd = false;
  unsigned max_threads = 10;          // -o max_threads=N: 1 to 100000
  unsigned max_idle_threads = 0;      // -o max_idle_threads=N: 0 to 100000
  bool max_idle_threads_set = false;  // else libfuse's default (no limit)
  bool show_help = false;
  bool show_version = false;

  // Repository settings (-o create uses them for the new repository; on an
  // existing one max_chunk and compression override the header for this
  // mount, and pack_size must match the header).
  uint64_t pack_size = 0;  // 0: not given
  uint64_t max_chunk = 0;  // 0: not given
  int compression = -1;    // -1: not given
  uint8_t codec = 0;       // -o codec=zlib|zstd (chunkfs/codec.h); 0: not given

  bool create = false;       // -o create: make REPO a repository if it is missing/empty
  bool clear_stale = false;  // -o clear_stale: lazily unmount a dead mountpoint first
  bool sync = false;         // -o sync: every close() is durable
  uint64_t flush_interval_ms = 5000;  // -o flush_interval=SECONDS
  uint64_t max_names = 100000;        // -o max_names=N
  uint64_t write_buffer = 64ull << 20;  // -o write_buffer=SIZE (memory for writes in flight)
  bool write_buffer_given = false;      // else at least 2 x max_chunk (FsConfig::write_buffer_scales)
  uint64_t cache_size = 64ull << 20;    // -o cache_size=SIZE (decompressed-chunk cache)
  uint64_t readahead = 1ull << 20;      // -o readahead=SIZE (the kernel's read-ahead; 0: its default)
  bool compact = true;                  // -o compact=on|off: background compaction
  uint64_t compact_rate = 64ull << 20;  // -o compact_rate=SIZE: bytes a second it copies (0: no limit)
  uint64_t compact_interval_ms = 60000; // -o compact_interval=SECONDS: how often it looks for dead bytes

  bool read_only = false;     // -o ro: the repository is opened read-only (no lock)
  // Who may write /incoming (docs/MOUNT.md "Permissions"): its mode and group.
  uint32_t incoming_mode = 0700;    // -o incoming_mode=OCTAL (default 0700; 0770 with incoming_group)
  bool incoming_mode_set = false;
  int64_t incoming_group = -1;      // -o incoming_group=NAME|GID (-1: the mounting user's group)
  bool user_fsname = false;   // fsname= given by the user (else fsname=REPO)
  bool user_subtype = false;  // subtype= given by the user (else subtype=chunkfs)
  // A repository in a RADOS pool (REPO rados:POOL[/NS], docs/RADOS.md): the
  // ceph config file and client id ("": as the ceph tools find them).
  std::string ceph_conf;  // -o ceph_conf=FILE
  std::string ceph_id;    // -o ceph_id=ID (client.ID)
};

// Parses "4096", "64K", "16M", "1G", "16MiB", "1T" (binary multiples). False
// on anything else, on overflow and on trailing garbage.
bool ParseSize(std::string_view text, uint64_t* out);
// Parses "5", "0.5", "2s", "500ms" into milliseconds.
bool ParseDuration(std::string_view text, uint64_t* out_ms);

enum class ParseOutcome { kOk, kHelp, kVersion, kError };

// On kError, *error says what is wrong (one line, no "chunkfs:" prefix).
ParseOutcome ParseCommandLine(fuse_args* args, MountOptions* opts, std::string* error);

// The usage text printed by --help (chunkfs's part; libfuse's follows).
std::string UsageText(const char* argv0);

// Adds -o fsname=REPO_PATH,subtype=chunkfs (unless the user gave them) and
// -o default_permissions to `args` for fuse_session_new().
void AddMountOptions(fuse_args* args, const MountOptions& opts, const std::string& repo_path);

}  // namespace chunkfs::fs
