// Repository::Create and Repository::Open: the header, validation of the
// path and settings, the owner lock.
#include <sys/resource.h>

#include <algorithm>
#include <memory>

#include "chunkfs/codec.h"
#include "chunkfs/repo_env.h"
#include "filenames.h"
#include "format.h"
#include "records.h"
#include "repository_impl.h"

namespace chunkfs {
namespace fn = chunkfs::filenames;

namespace {

Status ValidateSettings(const RepoSettings& s) {
  if (s.pack_size_limit < 4096 || s.pack_size_limit > (1ull << 40)) {
    return Status::InvalidArgument("pack size limit must be between 4 KiB and 1 TiB");
  }
  if (s.max_chunk_size < 1 || s.max_chunk_size > format::kMaxRecordPayload) {
    return Status::InvalidArgument("maximum chunk size must be between 1 byte and 1 GiB");
  }
  // Whether the codec is built in is checked where it is used (Create, and
  // an open falls back to zlib): a zlib-only build still reads a zstd repository.
  const uint8_t codec = s.codec != 0 ? s.codec : DefaultCodec();
  if (codec != kCodecZlib && codec != kCodecZstd) {
    return Status::InvalidArgument("unknown codec " + std::to_string(codec) + " (expected zlib or zstd)");
  }
  if (s.compression_level < 0 || s.compression_level > CodecMaxLevel(codec)) {
    return Status::InvalidArgument("compression level must be 0 (off) to " + std::to_string(CodecMaxLevel(codec)) +
                                   " for " + CodecName(codec));
  }
  return Status::OK();
}

// A pack grows to less than the pack size limit plus one record: it must fit
// one file of `env` (a RADOS object, docs/RADOS.md "Limits").
Status CheckFitsEnv(Env* env, const RepoSettings& s) {
  constexpr uint64_t kRecordOverhead = 1u << 20;  // header, CRC, trailer: far less
  const uint64_t max = env->MaxFileSize();
  if (max == UINT64_MAX || s.pack_size_limit + s.max_chunk_size + kRecordOverhead <= max) return Status::OK();
  return Status::InvalidArgument("pack size limit (" + std::to_string(s.pack_size_limit) + ") plus maximum chunk size (" +
                                 std::to_string(s.max_chunk_size) + ") plus 1 MiB must fit one object of " +
                                 std::to_string(max) + " bytes here: lower them");
}

Status CodecNotBuiltIn(uint8_t codec) {
  return Status::NotSupported(std::string("codec ") + CodecName(codec) +
                              " is not built into this chunkfs (built without libzstd): use zlib");
}

// The codec new chunks get: the open's override (which must be built in),
// else the header's; a header's codec this build lacks falls back to zlib
// (level at most 9), with a log line. REQUIRES: settings read from the header.
Status ChooseCodec(const OpenOptions& options, StoreContext* ctx) {
  RepoSettings& s = ctx->settings;
  if (options.codec != 0) {
    if (options.codec != kCodecZlib && options.codec != kCodecZstd) {
      return Status::InvalidArgument("unknown codec " + std::to_string(options.codec) + " (expected zlib or zstd)");
    }
    if (!CodecBuiltIn(options.codec)) return CodecNotBuiltIn(options.codec);
    s.codec = options.codec;
  }
  // A damaged header replaced by defaults: zlib, which every format version
  // reads, since the header cannot be raised to the zstd version until repair.
  if (s.codec == 0) s.codec = kCodecZlib;
  if (!CodecBuiltIn(s.codec)) {
    if (!ctx->read_only) {
      ctx->Log(std::string("repository codec is ") + CodecName(s.codec) +
               ", which this build lacks (no libzstd): new chunks are stored with zlib");
    }
    s.codec = kCodecZlib;
    s.compression_level = std::min(s.compression_level, CodecMaxLevel(kCodecZlib));
  }
  return Status::OK();
}

// With `log`, a header whose magic is right but whose CRC fails is logged and
// replaced by default settings; without it, that is an error.
Status ReadHeader(Env* env, const std::string& path, RepoSettings* settings,
                  const std::function<void(const std::string&)>& log = nullptr) {
  bool is_dir = false;
  Status s = env->IsDirectory(path, &is_dir);
  if (!s.ok()) {
    if (s.err() == ENOENT) return Status::NotFound("no repository at " + path + " (run: chunkctl init " + path + ")");
    return s;
  }
  if (!is_dir) return Status::InvalidArgument(path + " is not a directory");
  bool exists = false;
  const std::string header = fn::HeaderPath(path);
  if (!(s = env->FileExists(header, &exists)).ok()) return s;
  if (!exists) {
    return Status::InvalidArgument(path + " is not a chunkfs repository (no " + fn::kHeaderName +
                                   "; create one with: chunkctl init DIR)");
  }
  std::string bytes;
  if (!(s = env->ReadFileToString(header, &bytes)).ok()) return s;
  std::string damage;
  s = records::DecodeRepoHeader(bytes, settings, &damage);
  if (s.ok() && !damage.empty() && log) log(header + ": " + damage + "; using the intact copy (run chunkctl repair)");
  if (s.IsCorruption() && log) {
    // The magic is intact but a byte is damaged: every record describes
    // itself, so serve the data with default settings and say so.
    *settings = RepoSettings{};
    log(header + ": " + s.message() + "; using default settings (run chunkctl repair)");
    return Status::OK();
  }
  if (!s.ok()) return s.WithContext(header);
  return ValidateSettings(*settings).WithContext(header);
}

// True if `names` (the entries of `path`) are empty or only what a Create
// that failed midway leaves: shards/ with empty shard folders, and the
// header's temp file.
bool LeftByFailedCreate(Env* env, const std::string& path, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n == std::string(fn::kHeaderName) + fn::kTmpSuffix) continue;
    std::vector<std::string> shards, inner;
    if (n != fn::kShardsDir || !env->GetChildren(fn::ShardsDir(path), &shards).ok()) return false;
    for (const auto& sh : shards) {
      if (sh.size() != 2 || !env->GetChildren(fn::Join(fn::ShardsDir(path), sh), &inner).ok() || !inner.empty()) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

Status Repository::Create(const std::string& path, const RepoSettings& settings, Env* env) {
  if (env == nullptr && IsRadosPath(path)) {
    OpenedEnv opened;
    Status s = EnvForRepository(path, RepoEnvOptions{}, &opened);
    return s.ok() ? Create(opened.path, settings, opened.env) : s;
  }
  if (env == nullptr) env = Env::Default();
  Status s = ValidateSettings(settings);
  if (!s.ok()) return s;
  if (!(s = CheckFitsEnv(env, settings)).ok()) return s;
  if (settings.codec != 0 && !CodecBuiltIn(settings.codec)) return CodecNotBuiltIn(settings.codec);
  bool is_dir = false;
  s = env->IsDirectory(path, &is_dir);
  if (s.ok() && !is_dir) return Status::InvalidArgument(path + " exists and is not a directory");
  if (s.ok()) {
    std::vector<std::string> names;
    if (!(s = env->GetChildren(path, &names)).ok()) return s;
    if (!LeftByFailedCreate(env, path, names)) {
      bool has_header = false;
      (void)env->FileExists(fn::HeaderPath(path), &has_header);  // only picks the message
      return Status::InvalidArgument(path + (has_header ? " is already a chunkfs repository"
                                                          : " is not empty; refusing to create a repository there"));
    }
  } else if (s.err() == ENOENT) {
    if (!(s = env->CreateDir(path)).ok()) return s;
  } else {
    return s;
  }
  // Before anything is made inside: what is created below takes its modes
  // (and group) from its folder.
  if (!(s = env->SetDirAccess(path, settings.group)).ok()) return s;
  if (!(s = env->CreateDir(fn::ShardsDir(path))).ok()) return s;
  // All 256 shard folders now, so that first writes create no folders.
  for (unsigned i = 0; i < 256; ++i) {
    if (!(s = env->CreateDir(fn::ShardDir(path, i))).ok()) return s;
  }
  if (!(s = env->SyncDir(fn::ShardsDir(path))).ok()) return s;
  if (!(s = env->SyncDir(path)).ok()) return s;
  // The header goes last: a directory without it is not a repository yet.
  return env->WriteFileAtomic(path, fn::kHeaderName, records::EncodeRepoHeader(settings));
}

Status Repository::Open(const std::string& path, const OpenOptions& options, std::unique_ptr<Repository>* out) {
  if (options.env == nullptr && IsRadosPath(path)) {
    OpenedEnv opened;
    Status s = EnvForRepository(path, RepoEnvOptions{}, &opened);
    if (!s.ok()) return s;
    OpenOptions with_env = options;
    with_env.env = opened.env;
    with_env.env_owner = opened.owner;
    return Open(opened.path, with_env, out);
  }
  Env* env = options.env != nullptr ? options.env : Env::Default();
  std::unique_ptr<FileLock> lock;
  if (!options.read_only) {
    RepoSettings probe;
    Status s = ReadHeader(env, path, &probe, [](const std::string&) {});  // errors before touching anything
    if (!s.ok()) return s;
    if (!(s = LockRepository(env, path, &lock)).ok()) return s;
  }
  return OpenLocked(path, options, std::move(lock), out);
}

Status RaiseOpenFileLimit(uint64_t* soft) {
  struct rlimit rl {};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return Status::IOError("getrlimit(RLIMIT_NOFILE)", errno);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return Status::IOError("setrlimit(RLIMIT_NOFILE)", errno);
  }
  *soft = rl.rlim_cur;
  return Status::OK();
}

namespace {

// Rewrites the header with at least `version` (settings as stored, not as
// overridden by an open). REQUIRES: the owner lock.
Status RaiseHeaderVersion(Env* env, const std::string& path, uint32_t version) {
  RepoSettings stored;
  Status s = ReadHeader(env, path, &stored);
  if (!s.ok() || stored.format_version >= version) return s;
  stored.format_version = version;
  return env->WriteFileAtomic(path, fn::kHeaderName, records::EncodeRepoHeader(stored));
}

}  // namespace

// Rewrites the header of an older version as the current one (settings as
// stored, not as overridden by an open). REQUIRES: the owner lock.
Status UpgradeHeader(Env* env, const std::string& path) { return RaiseHeaderVersion(env, path, format::kRepoVersion); }

Status LockRepository(Env* env, const std::string& path, std::unique_ptr<FileLock>* lock) {
  std::string holder;
  Status s = env->LockFile(fn::LockPath(path), lock, &holder);
  if (s.IsBusy()) {
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    bool pid = !holder.empty() && holder.find_first_not_of("0123456789") == std::string::npos;
    // A RADOS lock names its holder in words ("pid 7 on host h (client.41)").
    const std::string who = pid ? "pid " + holder : holder.empty() ? "another process" : holder;
    return Status::Busy("repository " + path + " is in use by " + who +
                        "; unmount it or stop that process first");
  }
  return s;
}

Status OpenLocked(const std::string& path, const OpenOptions& options, std::unique_ptr<FileLock> lock,
                  std::unique_ptr<Repository>* out) {
  auto ctx = std::make_unique<StoreContext>();
  ctx->env_owner = options.env_owner;
  ctx->env = options.env != nullptr ? options.env : Env::Default();
  ctx->repo = path;
  ctx->read_only = options.read_only;
  ctx->log = options.log;
  ctx->merged_index = options.merged_index;
  ctx->test_after_dedup_lookup = options.test_after_dedup_lookup;
  Status s = ReadHeader(ctx->env, path, &ctx->settings, [&ctx](const std::string& m) { ctx->Log(m); });
  if (!s.ok()) return s;
  if (options.max_chunk_size != 0) ctx->settings.max_chunk_size = options.max_chunk_size;
  if (options.compression_level >= 0) ctx->settings.compression_level = options.compression_level;
  if (!(s = ChooseCodec(options, ctx.get())).ok()) return s;
  if (!(s = ValidateSettings(ctx->settings)).ok()) return s;
  if (!ctx->read_only && !(s = CheckFitsEnv(ctx->env, ctx->settings)).ok()) return s;
  if (!ctx->read_only && ctx->settings.codec == kCodecZstd && ctx->settings.format_version < format::kRepoVersionZstd) {
    // Before the first zstd record: a version-2 program must refuse the repository from now on.
    if (!(s = RaiseHeaderVersion(ctx->env, path, format::kRepoVersionZstd)).ok()) return s.WithContext("upgrading the header");
    ctx->settings.format_version = format::kRepoVersionZstd;
  }
  ctx->format_version = ctx->settings.format_version;
  size_t max_files = options.max_open_files != 0 ? options.max_open_files : FileCache::DefaultCapacity();
  ctx->files = std::make_unique<FileCache>(ctx->env, max_files);
  auto repo = std::make_unique<RepositoryImpl>(std::move(ctx));
  if (!(s = repo->OpenShards(std::move(lock))).ok()) return s;
  *out = std::move(repo);
  return Status::OK();
}

}  // namespace chunkfs
