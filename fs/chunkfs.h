// ChunkFs: the state of one mount and the work behind every FUSE callback.
//
// One ChunkFs object is the session's userdata (no globals). Each operation
// returns 0 or an errno and never replies: ops_table.cc turns the result
// into exactly one reply. The operations are implemented by topic:
//   chunkfs.cc       dispatch by inode kind, file handles, commit, flusher
//   chunks_ops.cc    "/", "/chunks", "/chunks/<digest>", "/.stats"
//   incoming_ops.cc  "/incoming" and everything below it
//   stats.cc         the /.stats JSON
//   control_ops.cc   "/.control" (prune, compact, ...) and touch on chunks
// See docs/MOUNT.md for the behaviour and the bounds.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <fuse_lowlevel.h>

#include "block_reader.h"
#include "chunk_cache.h"
#include "chunkfs/repository.h"
#include "compactor.h"
#include "control.h"
#include "inode_table.h"
#include "upload.h"
#include "worker_pool.h"

namespace chunkfs::fs {

struct FsConfig {
  uint64_t max_names = 100000;
  uint64_t write_buffer = 64ull << 20;
  // write_buffer is the default, not given: Attach raises it to
  // kWriteBufferChunks x max_chunk, so that an upload of the largest chunk
  // and its encoded blocks fit in memory instead of spilling.
  bool write_buffer_scales = false;
  uint64_t cache_size = 64ull << 20;
  bool sync = false;
  uint64_t flush_interval_ms = 5000;
  bool read_only = false;
  std::string tmp_dir;  // REPO/tmp: where uploads spill
  Env* env = nullptr;   // spill files go through it (nullptr: Env::Default())
  unsigned commit_slots = 0;  // large commits at once (CommitGate; 0: one per core)
  unsigned worker_threads = 0;  // WorkerPool threads (0: one per core)
  // Uploads of large chunks hashed and encoded in blocks while written
  // (IngestPipeline; docs/MOUNT.md "Memory"). Used only if the store
  // encodes blocks (probed at Attach).
  bool pipelined_ingest = true;
  uint32_t uid = 0;     // owner of the fixed inodes and of chunks
  uint32_t gid = 0;
  // /incoming's permission bits and group (-1: gid above); -o incoming_mode,
  // incoming_group (docs/MOUNT.md "Permissions").
  uint32_t incoming_mode = 0700;
  int64_t incoming_group = -1;
  // Background compaction (compactor.h; -o compact, compact_rate, compact_interval).
  bool compact = true;
  uint64_t compact_rate = 64ull << 20;  // bytes a second; 0: no limit
  uint64_t compact_interval_ms = 60000;
  // The kernel's read-ahead on the mount, set at the first request after
  // INIT (readahead.h; -o readahead): the resolved mountpoint and the size (0: leave it).
  std::string mountpoint;
  uint64_t readahead = 0;
};

// Timeouts (seconds) given to the kernel; see docs/MOUNT.md.
constexpr double kChunkTimeout = 86400;   // /chunks/<digest>: content never changes
constexpr double kFixedTimeout = 86400;   // names in "/" never change
constexpr double kFixedAttrTimeout = 1;   // "/", "/chunks": a dead mount shows soon
constexpr double kIncomingTimeout = 1;    // /incoming names and attributes
constexpr uint32_t kBlockSize = 1 << 20;  // st_blksize: cp sizes its buffer from it
constexpr size_t kIdleBlockBuffers = 4;   // read buffers of kBlockSize kept idle for reuse
constexpr uint64_t kWriteBufferChunks = 2;  // see FsConfig::write_buffer_scales

// What a read answers with: `data`/`size`, kept alive by `holder`, `handle`
// or `owned` until the reply is sent (a RELEASE may run meanwhile).
struct FileHandle;
struct ReadReply {
  std::shared_ptr<const std::string> holder;
  std::shared_ptr<FileHandle> handle;
  std::string owned;
  const char* data = nullptr;
  size_t size = 0;
};

// An open file or directory (fuse_file_info::fh is its id in the HandleTable).
struct FileHandle {
  enum class Kind { kChunk, kUpload, kStats, kRootDir, kChunksDir, kIncomingDir, kControl };
  Kind kind = Kind::kChunk;
  std::shared_ptr<Node> node;

  std::mutex mu;  // guards blocks, iter, iter_cookie

  // kChunk: a chunk (also a committed /incoming name opened read-only),
  // opened in the store at the first read and read block by block
  // (block_reader.h); its read-ahead stops when the handle goes.
  Digest digest{};
  std::shared_ptr<BlockReader> blocks;
  ~FileHandle() {
    if (blocks) blocks->Close();
  }

  // kUpload: an /incoming file open for writing (or read while being written).
  std::shared_ptr<Upload> upload;
  bool commits = false;  // flush/release of this handle commits the upload

  // kStats: the JSON, generated at open.
  std::string text;

  // kControl: the request and its reply (guarded by mu).
  std::unique_ptr<ControlSession> control;

  // kChunksDir: the listing in progress; the iterator stands at the first
  // entry after the one whose readdir cookie is iter_cookie.
  std::unique_ptr<DigestIterator> iter;
  int64_t iter_cookie = -1;
};

class HandleTable {
 public:
  uint64_t Add(std::shared_ptr<FileHandle> h);
  std::shared_ptr<FileHandle> Get(uint64_t id) const;
  std::shared_ptr<FileHandle> Remove(uint64_t id);
  size_t size() const;
  // Every open handle (shutdown).
  std::vector<std::shared_ptr<FileHandle>> All() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> handles_;
};

// Counters kept by the mount (the store keeps its own; both go to /.stats).
struct FsCounters {
  std::atomic<uint64_t> commits{0};         // successful commits (close/fsync)
  std::atomic<uint64_t> commit_errors{0};   // failed commits
  std::atomic<uint64_t> digest_mismatches{0};
  std::atomic<uint64_t> too_large{0};       // EFBIG answers
  std::atomic<uint64_t> bytes_written{0};   // bytes written into /incoming
  std::atomic<uint64_t> bytes_read{0};      // bytes served by read()
  std::atomic<uint64_t> chunk_loads{0};     // chunks opened (or read whole) in the store
  BlockReader::Counters blocks;             // blocks read (and read ahead) from the store
  std::atomic<uint64_t> read_errors{0};     // EIO answers to read()
  std::atomic<uint64_t> spills{0};          // uploads that spilled to REPO/tmp
  std::atomic<uint64_t> background_syncs{0};
  std::atomic<uint64_t> sync_errors{0};
};

// Fills a readdir reply buffer of at most `size` bytes.
class DirBuffer {
 public:
  DirBuffer(fuse_req_t req, size_t size, std::string* buf) : req_(req), size_(size), buf_(buf) {
    buf_->resize(size);
  }
  ~DirBuffer() { buf_->resize(used_); }
  // False (nothing added) if the entry does not fit.
  bool Add(const char* name, uint64_t ino, uint32_t mode, uint64_t next_cookie);
  bool empty() const { return used_ == 0; }

 private:
  fuse_req_t req_;
  size_t size_;
  std::string* buf_;
  size_t used_ = 0;
};

// True if `name` is 64 hex digits (either case): an /incoming name whose
// content must hash to it. *out gets the digest.
bool IsDigestName(std::string_view name, Digest* out);

// Locks: InodeTable::mu() is never held while an Upload's lock is taken
// (Write, Truncate, Read, Commit may take long: hashing, storing); under it
// only Upload::size() and dirty(), which are lock-free, are read. Commit
// takes the table's lock only after the Upload's is released.
class ChunkFs {
 public:
  using Logger = std::function<void(const std::string&)>;

  ChunkFs(const FsConfig& config, Logger log);
  ~ChunkFs();
  ChunkFs(const ChunkFs&) = delete;
  ChunkFs& operator=(const ChunkFs&) = delete;

  // Lifecycle (main.cc): Attach before mounting, StartThreads once mounted
  // (after daemonizing: threads do not survive fork), Shutdown after the
  // session loop returned: stops the threads, syncs and closes the store.
  // `max_chunk`: the largest chunk this mount accepts (EFBIG beyond).
  void Attach(std::unique_ptr<Repository> repo, uint64_t max_chunk);
  // The session, for invalidating the kernel's entries of deleted chunks
  // after a prune (control_ops.cc). Set before the session loop runs.
  void SetSession(fuse_session* se) { session_ = se; }
  void StartThreads();
  Status Shutdown();

  // ----- operations (0 or an errno; never reply) -----
  void Init(fuse_conn_info* conn);
  // Called by the first LOOKUP and GETATTR (the first requests the kernel
  // sends once INIT's answer has been applied, which would have lowered the
  // read-ahead): raises the read-ahead once. Cheap after the first call.
  void AfterInitOnce();
  int Lookup(fuse_ino_t parent, const char* name, fuse_entry_param* e);
  void Forget(fuse_ino_t ino, uint64_t nlookup);
  int Getattr(fuse_ino_t ino, struct stat* st, double* timeout);
  int Setattr(const fuse_ctx* ctx, fuse_ino_t ino, const struct stat& attr, int to_set,
              fuse_file_info* fi, struct stat* out, double* timeout);
  int Mknod(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev,
            fuse_entry_param* e);
  int Mkdir(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode,
            fuse_entry_param* e);
  int RemoveName(fuse_ino_t parent, const char* name, int (*refuse)(const Node& child));
  int Unlink(fuse_ino_t parent, const char* name);
  int Rmdir(fuse_ino_t parent, const char* name);
  int Symlink(fuse_ino_t parent);
  int Link(fuse_ino_t ino, fuse_ino_t newparent);
  int Rename(fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
             unsigned flags);
  int Open(fuse_ino_t ino, fuse_file_info* fi);
  int Create(const fuse_ctx* ctx, fuse_ino_t parent, const char* name, mode_t mode,
             fuse_file_info* fi, fuse_entry_param* e);
  int Read(fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, ReadReply* out);
  int Write(fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi);
  int Flush(fuse_ino_t ino, fuse_file_info* fi);
  int Release(fuse_ino_t ino, fuse_file_info* fi);
  int Fsync(fuse_ino_t ino, fuse_file_info* fi);
  int Opendir(fuse_ino_t ino, fuse_file_info* fi);
  int Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi,
              std::string* buf);
  int Releasedir(fuse_ino_t ino, fuse_file_info* fi);
  int Statfs(fuse_ino_t ino, struct statvfs* st);
  int Setxattr(fuse_ino_t ino, const char* name);
  int Getxattr(fuse_ino_t ino, const char* name, size_t size, std::string* value,
               size_t* needed);
  int Listxattr(fuse_ino_t ino, size_t size, std::string* value, size_t* needed);
  int Removexattr(fuse_ino_t ino, const char* name);
  int Fallocate(fuse_ino_t ino);

  // The /.stats JSON (stats.cc).
  std::string StatsJson();

  const FsConfig& config() const { return config_; }
  FsCounters& counters() { return counters_; }
  InodeTable& inodes() { return inodes_; }
  void Log(const std::string& msg) const;

  // Test seam: `hook` runs after JoinUpload loaded a stored name's content
  // without the table lock and before it installs it, so that a test can
  // commit the name meanwhile (tests/fs/chunkfs_ops_test.cc). Set before
  // any operation runs; never set outside tests.
  void SetAfterLoadHookForTest(std::function<void()> hook) { after_load_hook_ = std::move(hook); }

 private:
  int StatfsOfPool(struct statvfs* st);  // Statfs of a repository in a RADOS pool
  // chunks_ops.cc
  int LookupRoot(const char* name, fuse_entry_param* e);
  int LookupChunk(const char* name, fuse_entry_param* e);
  static void NodeAttr(const Node& node, struct stat* st);
  void FixedAttr(const Node& node, struct stat* st);
  void ChunkAttr(const Node& node, struct stat* st) const;
  int OpenChunkLike(const std::shared_ptr<Node>& node, fuse_file_info* fi);
  int ReadChunk(FileHandle& h, size_t size, off_t off, ReadReply* out);
  int ReaddirRoot(fuse_req_t req, size_t size, off_t off, std::string* buf);
  int ReaddirChunks(fuse_req_t req, FileHandle& h, size_t size, off_t off, std::string* buf);
  // Loads a verified chunk (cache, else the store). 0, ENOENT or EIO.
  int LoadChunk(const Digest& digest, ChunkCache::Content* out);
  // Opens the chunk in the store for reading block by block. 0 or an errno.
  int OpenBlocks(const Digest& digest, std::shared_ptr<BlockReader>* out);
  // A failed read of `digest`: counted, logged (rate-limited), its errno.
  int ReadFailed(const Digest& digest, const Status& s);
  // Shutdown, once no request and no pool task runs: lets go of every open
  // chunk's ChunkReader (and so of its pack) before the repository closes.
  void DropChunkReaders();

  // control_ops.cc
  int OpenControl(const std::shared_ptr<Node>& node, fuse_file_info* fi);
  int WriteControl(FileHandle& h, const char* buf, size_t size, off_t off);
  // The first read runs the request (RunControl); reads serve the reply.
  int ReadControl(FileHandle& h, size_t size, off_t off, ReadReply* out);
  // Runs a request; the reply ("ok\n..." or "error\n..."). May throw
  // (bad_alloc): ReadControl answers the session before calling it, so that
  // a request never runs twice.
  std::string RunControl(ControlSession& session);
  // After a prune: the kernel forgets its entries of deleted chunks.
  void ForgetDeletedChunks();
  // Setattr of /chunks/<digest>: times only (touch), which marks the chunk
  // in use (Repository::Touch) and changes nothing else; EROFS otherwise.
  int SetattrChunk(const std::shared_ptr<Node>& node, int to_set, struct stat* out, double* timeout);

  // incoming_ops.cc
  int LookupIncoming(Node& dir, const char* name, fuse_entry_param* e);
  void IncomingAttrLocked(const Node& node, struct stat* st) const;
  int SetattrIncoming(const fuse_ctx* ctx, const std::shared_ptr<Node>& node,
                      const struct stat& attr, int to_set, fuse_file_info* fi, struct stat* out);
  int OpenIncoming(const std::shared_ptr<Node>& node, int flags, bool created,
                   fuse_file_info* fi);
  int ReaddirIncoming(fuse_req_t req, const Node& dir, size_t size, off_t off,
                      std::string* buf);
  // Counts a new writer in on `node` (writers, opens) and gives it the
  // node's upload: the one other writers share (*joined = true), else a new
  // one, empty if `empty`, else holding the name's stored content. That
  // content is loaded without the table lock and loaded again if the name
  // was committed meanwhile, so that no commit made meanwhile is lost
  // (issue 7 item 3). 0 or an errno (nothing counted in then).
  int JoinUpload(const std::shared_ptr<Node>& node, bool empty, std::shared_ptr<Upload>* out,
                 bool* joined);
  // `truncate NAME` of a stored name nobody writes: a writer of its own that
  // truncates and commits. 0 or an errno.
  int TruncateStored(const std::shared_ptr<Node>& node, uint64_t size);
  // Stores the upload's content (idempotent), verifying a digest name, and
  // points the node's name at the chunk. 0 or an errno.
  int Commit(const std::shared_ptr<Node>& node, Upload& upload);
  // Stores `content`; maps the store's status to an errno.
  int PutContent(std::string_view content, const Digest* expected, CommitResult* result);
  // Stores a chunk given as its digest and encoded blocks (a pipelined
  // upload), verifying `expected` first. 0, Upload::kPutWhole (the store
  // takes no blocks) or an errno.
  int PutEncoded(const Digest& digest, std::vector<EncodedBlock> blocks, const Digest* expected,
                 CommitResult* result);
  // The errno of a failed store call (counted and logged as PutContent does).
  int StoreErrno(const Status& s, const Digest* expected);
  // A new, empty upload of this mount (its budget, spill directory and Env).
  std::shared_ptr<Upload> NewUpload();
  // Ends a writer's use of the node's upload (release).
  void ReleaseUpload(FileHandle& h);

  // Common helpers.
  std::shared_ptr<Node> GetNode(fuse_ino_t ino);
  std::shared_ptr<FileHandle> GetHandle(const fuse_file_info* fi) const;
  void FillEntryLocked(Node& node, fuse_entry_param* e);
  // The flusher thread: every flush interval, syncs the store if a chunk
  // was stored since the last sync.
  void FlusherLoop();
  // One sync of the flusher. Never throws: a failure (a Status, or an
  // exception such as bad_alloc) is counted and logged, and the sync is
  // retried at the next interval; the mount keeps serving.
  void BackgroundSync() noexcept;
  void MarkUnsynced() { unsynced_.store(true, std::memory_order_release); }
  int SyncNow();
  int StoreAgainIfLost(FileHandle& h, int sync_err);

  const FsConfig config_;
  const Logger log_;
  std::once_flag after_init_once_;
  // Declared before inodes_ and handles_ (so destroyed after them): the
  // uploads they hold give their memory back to it when destroyed, also at
  // a shutdown while files are still open (SIGTERM during a copy).
  WriteBudget budget_;
  // Block-sized buffers of reads and of upload blocks being assembled,
  // reused (declared before the uploads and the cache that use them; idle:
  // at most kIdleBlockBuffers of 1 MiB each, docs/MOUNT.md "Memory").
  BlockBuffers block_buffers_{kIdleBlockBuffers, kBlockSize};
  BlockBuffers stage_buffers_{kIdleBlockBuffers, kBlockSize};
  CommitGate commit_gate_{config_.commit_slots};  // bounds large commits (Commit)
  std::unique_ptr<Repository> repo_;
  uint64_t max_chunk_ = 16u << 20;
  // Uploads get an IngestPipeline (set by Attach; cleared once the store
  // turns blocks down, so that no upload encodes for nothing).
  std::atomic<bool> pipelined_{false};
  InodeTable inodes_;
  HandleTable handles_;
  ChunkCache cache_;
  FsCounters counters_;
  // CPU work of large chunks (compressing upload blocks, reading ahead);
  // declared after everything its tasks use, so joined before they go.
  WorkerPool workers_{config_.worker_threads};
  const struct timespec mount_time_;

  std::atomic<bool> unsynced_{false};
  std::mutex flusher_mu_;
  std::condition_variable flusher_cv_;
  bool flusher_stop_ = false;
  std::thread flusher_;

  std::function<void()> after_load_hook_;  // see SetAfterLoadHookForTest

  // control_ops.cc: prune, prune-begin and compact requests run one at a
  // time (a second one waits); stats does not wait.
  std::mutex control_mu_;
  fuse_session* session_ = nullptr;
  std::unique_ptr<Compactor> compactor_;  // set by StartThreads (unless read-only or -o compact=off)
};

}  // namespace chunkfs::fs
