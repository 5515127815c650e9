// chunkfs REPO MOUNTPOINT [-f] [-o OPTIONS]: option parsing and lifecycle.
//
//   parse and check everything -> fork (unless -f) -> open the repository ->
//   mount -> detach (unless -f) -> serve (multi-threaded) until unmounted or
//   SIGTERM/SIGINT/SIGHUP -> unmount -> final sync -> exit 0.
//
// Exit status: 0 after a clean unmount, 1 on a runtime error (repository,
// mount, final sync), 2 on a bad command line. See docs/MOUNT.md.
#include <dirent.h>
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "chunkfs.h"
#include "chunkfs/permissions.h"
#include "chunkfs/repo_env.h"
#include "chunkfs/repo_paths.h"
#include "daemon.h"
#include "log.h"
#include "malloc_config.h"
#include "ops_table.h"
#include "options.h"

namespace chunkfs::fs {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

// Runs `fusermount3 -uz MOUNTPOINT`; true if it exited 0.
bool LazyUnmount(const std::string& mountpoint) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::execlp("fusermount3", "fusermount3", "-u", "-z", "--", mountpoint.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// stat() of a dead FUSE mount may still succeed from the kernel's attribute
// cache; statfs() always asks the (dead) file system.
int ProbeMountpoint(const std::string& path, struct stat* st) {
  struct statfs sfs;
  if (::statfs(path.c_str(), &sfs) != 0 && errno == ENOTCONN) return ENOTCONN;
  if (::stat(path.c_str(), st) != 0) return errno;
  return 0;
}

// Checks the mountpoint; clears a dead FUSE mount with -o clear_stale.
bool CheckMountpoint(const MountOptions& o, Logger& log) {
  struct stat st;
  if (int err = ProbeMountpoint(o.mountpoint, &st)) {
    if (err == ENOTCONN) {
      if (!o.clear_stale) {
        log.Error("mountpoint " + o.mountpoint +
            " is a dead FUSE mount (Transport endpoint is not connected), left by a "
            "crashed process. Clear it with `fusermount3 -uz " + o.mountpoint +
            "`, or mount with -o clear_stale.");
        return false;
      }
      if (!LazyUnmount(o.mountpoint)) {
        log.Error("-o clear_stale: `fusermount3 -uz " + o.mountpoint + "` failed");
        return false;
      }
      if (int err2 = ProbeMountpoint(o.mountpoint, &st)) {
        log.Error("mountpoint " + o.mountpoint + ": " + ErrnoText(err2) + " (after clearing it)");
        return false;
      }
    } else {
      log.Error("mountpoint " + o.mountpoint + ": " + ErrnoText(err));
      return false;
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    log.Error("mountpoint " + o.mountpoint + " is not a directory");
    return false;
  }
  return true;
}

bool IsEmptyDir(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

std::string Absolute(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf)) return buf;
  if (!path.empty() && path[0] == '/') return path;
  if (::getcwd(buf, sizeof buf)) return std::string(buf) + "/" + path;
  return path;
}

// The settings -o create gives a new repository.
RepoSettings NewRepoSettings(const MountOptions& o) {
  RepoSettings settings;
  if (o.pack_size) settings.pack_size_limit = o.pack_size;
  if (o.max_chunk) settings.max_chunk_size = static_cast<uint32_t>(o.max_chunk);
  if (o.compression >= 0) settings.compression_level = o.compression;
  if (o.codec != 0) settings.codec = o.codec;
  return settings;
}

RepoEnvOptions EnvOptions(const MountOptions& o) {
  RepoEnvOptions e;
  e.ceph_conf = o.ceph_conf;
  e.ceph_id = o.ceph_id;
  return e;
}

// REPO rados:POOL[/NS] (docs/RADOS.md): checks it, with -o create makes it.
// Before the fork: the connection is closed again on return (librados'
// threads would not survive the fork).
bool PrepareRadosRepository(const MountOptions& o, Logger& log) {
  OpenedEnv opened;
  Status s = EnvForRepository(o.repo, EnvOptions(o), &opened);
  bool has_header = false;
  if (s.ok()) s = opened.env->FileExists(repo_paths::HeaderFile(opened.path), &has_header);
  if (!s.ok()) {
    log.Error("cannot reach the repository " + o.repo + ": " + s.ToString());
    return false;
  }
  if (has_header) return true;
  if (!o.create || o.read_only) {
    log.Error(o.repo + " holds no chunkfs repository. Create one with `chunkctl init " + o.repo +
              "`, or mount with -o create" + (o.read_only ? " (not with -o ro)." : "."));
    return false;
  }
  if (!(s = Repository::Create(opened.path, NewRepoSettings(o), opened.env)).ok()) {
    log.Error("creating the repository " + o.repo + " failed: " + s.ToString());
    return false;
  }
  log.Info("created a new repository in " + o.repo);
  return true;
}

// Resolves REPO; with -o create makes a repository of a missing or empty
// directory. Returns false (after saying why) if REPO is not usable.
bool PrepareRepository(const MountOptions& o, Logger& log, std::string* path) {
  if (IsRadosPath(o.repo)) return PrepareRadosRepository(o, log);
  struct stat st;
  bool exists = ::stat(path->c_str(), &st) == 0;
  if (exists && !S_ISDIR(st.st_mode)) {
    log.Error("repository " + o.repo + " is not a directory");
    return false;
  }
  bool has_header = exists && ::access(repo_paths::HeaderFile(*path).c_str(), F_OK) == 0;
  if (has_header) return true;
  if (!o.create) {
    if (!exists) {
      log.Error("repository " + o.repo + " does not exist. Create it with `chunkctl init " + o.repo +
          "`, or mount with -o create.");
    } else {
      log.Error(o.repo + " is not a chunkfs repository (it has no chunkfs.repo). Create one with "
          "`chunkctl init " + o.repo + "`, or mount with -o create (on an empty directory).");
    }
    return false;
  }
  if (o.read_only) {
    log.Error("-o create and -o ro exclude each other");
    return false;
  }
  if (exists && !IsEmptyDir(*path)) {
    log.Error("-o create: " + o.repo + " is neither a chunkfs repository nor an empty directory; "
        "refusing to create a repository in it");
    return false;
  }
  Status s = Repository::Create(*path, NewRepoSettings(o));
  if (!s.ok()) {
    log.Error("creating the repository " + o.repo + " failed: " + s.ToString());
    return false;
  }
  *path = Absolute(o.repo);
  log.Info("created a new repository in " + *path);
  return true;
}

// Opens the repository (after the fork: the store may start threads).
bool OpenRepository(const MountOptions& o, const std::string& path, Logger& log,
                    std::unique_ptr<Repository>* repo) {
  OpenOptions oo;
  oo.read_only = o.read_only;
  if (o.max_chunk) oo.max_chunk_size = static_cast<uint32_t>(o.max_chunk);
  if (o.compression >= 0) oo.compression_level = o.compression;
  oo.codec = o.codec;
  oo.log = [&log](const std::string& line) { log.Problem(LogLevel::kWarning, "repository: " + line); };
  OpenedEnv opened;  // the local file system, or a RADOS pool (docs/RADOS.md)
  Status s = EnvForRepository(path, EnvOptions(o), &opened);
  oo.env = opened.env;
  oo.env_owner = opened.owner;
  if (s.ok()) s = Repository::Open(opened.path, oo, repo);
  if (!s.ok()) {
    if (s.IsBusy()) {
      log.Error(s.message());  // names the holder's pid
    } else {
      log.Error("cannot open repository " + o.repo + ": " + s.ToString());
    }
    return false;
  }
  if (o.pack_size && o.pack_size != (*repo)->settings().pack_size_limit) {
    log.Error("-o pack_size=" + std::to_string(o.pack_size) +
        ": the pack size is fixed when a repository is created (this one uses " +
        std::to_string((*repo)->settings().pack_size_limit) + ")");
    return false;
  }
  return true;
}

int Run(int argc, char** argv) {
  Logger log;
  struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
  struct ArgsGuard {
    fuse_args* a;
    ~ArgsGuard() { fuse_opt_free_args(a); }
  } args_guard{&args};

  MountOptions o;
  std::string error;
  switch (ParseCommandLine(&args, &o, &error)) {
    case ParseOutcome::kHelp:
      std::fputs(UsageText(argv[0]).c_str(), stdout);
      std::fputs("\nlibfuse options:\n", stdout);
      std::fflush(stdout);
      fuse_cmdline_help();
      fuse_lowlevel_help();
      return 0;
    case ParseOutcome::kVersion:
      std::printf("chunkfs %s (libfuse %s)\n", CHUNKFS_VERSION, fuse_pkgversion());
      return 0;
    case ParseOutcome::kError:
      log.Error(error + " (try 'chunkfs --help')");
      return 2;
    case ParseOutcome::kOk:
      break;
  }
  log.SetDebug(o.debug);  // -d / -o debug (libfuse then also traces every request)
  Logger::CaptureFuseLog(&log);

  // Every option is checked (libfuse's by fuse_session_new) before anything
  // is created or mounted.
  std::string repo_path = IsRadosPath(o.repo) ? o.repo : Absolute(o.repo);
  AddMountOptions(&args, o, repo_path);

  ConfigureMallocForMount();  // large buffers go back to the system when freed
  uint64_t files = 0;          // many packs, one descriptor each while cached (docs/ARCHITECTURE.md)
  if (!chunkfs::RaiseOpenFileLimit(&files).ok()) log.Warning("cannot raise the open-file limit");
  FsConfig cfg;
  cfg.max_names = o.max_names;
  cfg.write_buffer = o.write_buffer;
  cfg.write_buffer_scales = !o.write_buffer_given;
  cfg.cache_size = o.cache_size;
  cfg.sync = o.sync;
  cfg.flush_interval_ms = o.flush_interval_ms;
  cfg.compact = o.compact;
  cfg.compact_rate = o.compact_rate;
  cfg.compact_interval_ms = o.compact_interval_ms;
  cfg.read_only = o.read_only;
  cfg.tmp_dir = IsRadosPath(o.repo) ? DefaultLocalTempDir() : repo_paths::TempDir(repo_path);  // RADOS: spill locally
  cfg.uid = ::getuid();
  cfg.gid = ::getgid();
  cfg.mountpoint = Absolute(o.mountpoint);  // resolved now: resolving it once mounted would ask the mount
  cfg.readahead = o.readahead;
  cfg.incoming_mode = o.incoming_mode;
  cfg.incoming_group = o.incoming_group;
  // The file system reports problems a client can repeat (damage, a wrong
  // digest, no space, a failing sync): rate-limited.
  auto fs = std::make_unique<ChunkFs>(cfg, [&log](const std::string& m) { log.Problem(LogLevel::kError, m); });

  const fuse_lowlevel_ops& ops = ChunkFsOps();
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, fs.get());
  if (!se) {
    log.Error("bad mount options (see above); nothing was mounted");
    return 2;
  }
  struct SessionGuard {
    fuse_session* se;
    ~SessionGuard() {
      if (se) fuse_session_destroy(se);
    }
  } session_guard{se};

  if (!CheckMountpoint(o, log)) return 1;
  if (!PrepareRepository(o, log, &repo_path)) return 1;
  // Said once, before detaching (docs/MOUNT.md "Permissions").
  if (std::string w = IsRadosPath(o.repo) ? "" : WorldAccessWarning(repo_path); !w.empty()) log.Warning(w);

  Daemonizer daemon;
  if (!o.foreground) {
    if (int err = daemon.Fork()) {
      log.Error("fork: " + ErrnoText(err));
      return 1;
    }
  }

  std::unique_ptr<Repository> repo;
  if (!OpenRepository(o, repo_path, log, &repo)) return 1;
  uint64_t max_chunk = o.max_chunk ? o.max_chunk : repo->settings().max_chunk_size;
  if (!o.read_only && ::mkdir(cfg.tmp_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    log.Error("cannot create " + cfg.tmp_dir + " (where large uploads spill): " + ErrnoText(errno));
    return 1;
  }
  fs->Attach(std::move(repo), max_chunk);
  fs->SetSession(se);  // invalidates the kernel's entries of pruned chunks

  if (fuse_set_signal_handlers(se) != 0) {
    log.Error("cannot install signal handlers");
    return 1;
  }
  if (fuse_session_mount(se, o.mountpoint.c_str()) != 0) {
    log.Error("mounting on " + o.mountpoint + " failed (see above)");
    fuse_remove_signal_handlers(se);
    if (Status s = fs->Shutdown(); !s.ok()) log.Error("closing the repository: " + s.ToString());
    return 1;
  }
  if (!o.foreground) {
    log.UseSyslog();  // stderr is about to become /dev/null
    daemon.Ready();
  }
  log.Info("mounted " + repo_path + " on " + o.mountpoint);
  NotifySystemd("READY=1");
  fs->StartThreads();

  int rc;
  if (o.singlethread) {
    rc = fuse_session_loop(se);
  } else {
    struct fuse_loop_config* lc = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(lc, o.clone_fd ? 1 : 0);
    fuse_loop_cfg_set_max_threads(lc, o.max_threads);
    if (o.max_idle_threads_set) {
      fuse_loop_cfg_set_idle_threads(lc, o.max_idle_threads);
    }
    rc = fuse_session_loop_mt(se, lc);
    fuse_loop_cfg_destroy(lc);
  }
  NotifySystemd("STOPPING=1");
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);

  // Everything stored becomes durable before we exit.
  Status s = fs->Shutdown();
  if (!s.ok()) {
    log.Error("final sync failed: " + s.ToString());
    return 1;
  }
  log.Info("unmounted " + o.mountpoint + "; everything stored is durable");
  // rc > 0: the signal that ended the loop (a clean exit); rc < 0: an error.
  if (rc < 0) {
    log.Error("the FUSE session ended with an error: " + ErrnoText(-rc));
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace chunkfs::fs

int main(int argc, char** argv) {
  try {
    return chunkfs::fs::Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "chunkfs: %s\n", e.what());
    ::syslog(LOG_ERR, "%s", e.what());  // stderr is /dev/null once detached
    return 1;
  }
}
