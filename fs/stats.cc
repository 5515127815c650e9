// The /.stats file: the store's counters and the mount's, as one JSON object.
#include <cstdio>
#include <string>

#include "chunkfs.h"

namespace chunkfs::fs {

namespace {
class JsonWriter {
 public:
  void Field(const char* name, uint64_t v) {
    Key(name);
    out_ += std::to_string(v);
  }
  void Field(const char* name, bool v) {
    Key(name);
    out_ += v ? "true" : "false";
  }
  void Field(const char* name, const std::string& v) {
    Key(name);
    out_ += '"';
    for (char c : v) {
      unsigned char u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", u);
        out_ += esc;
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }
  void Begin(const char* name) {
    Key(name);
    out_ += "{";
    first_ = true;
    depth_++;
  }
  void End() {
    out_ += "\n";
    out_.append(2 * --depth_, ' ');
    out_ += "}";
    first_ = false;
  }
  std::string Finish() {
    while (depth_ > 1) End();
    out_ += "\n}\n";
    return std::move(out_);
  }

 private:
  void Key(const char* name) {
    if (!first_) out_ += ",";
    first_ = false;
    out_ += "\n";
    out_.append(2 * depth_, ' ');
    out_ += '"';
    out_ += name;
    out_ += "\": ";
  }
  std::string out_ = "{";
  bool first_ = true;
  int depth_ = 1;
};
}  // namespace

std::string ChunkFs::StatsJson() {
  JsonWriter j;
  j.Field("version", std::string(CHUNKFS_VERSION));
  if (repo_) {
    RepoStats rs = repo_->GetStats();
    j.Field("repository", repo_->path());
    // The same names as `chunkctl stats` (chunks, ..., dead_bytes, compactions).
    control::ForEachRepoStat(rs, [&j](const char* name, uint64_t v) { j.Field(name, v); });
  }
  FsCounters& c = counters_;
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  j.Field("commits", get(c.commits));
  j.Field("commit_errors", get(c.commit_errors));
  j.Field("digest_mismatches", get(c.digest_mismatches));
  j.Field("too_large", get(c.too_large));
  j.Field("read_errors", get(c.read_errors));
  j.Field("sync_errors", get(c.sync_errors));
  j.Field("bytes_written", get(c.bytes_written));
  j.Field("bytes_read", get(c.bytes_read));
  j.Field("chunk_loads", get(c.chunk_loads));
  j.Field("block_loads", get(c.blocks.block_loads));
  j.Field("readahead_loads", get(c.blocks.readahead_loads));
  j.Begin("cache");
  j.Field("bytes", cache_.bytes());
  j.Field("limit", config_.cache_size);
  j.Field("hits", cache_.hits());
  j.Field("misses", cache_.misses());
  j.End();
  j.Begin("uploads");
  j.Field("memory_bytes", budget_.used());
  j.Field("memory_limit", budget_.limit());
  j.Field("spills", get(c.spills));
  j.End();
  j.Begin("commit_gate");  // large commits at once (CommitGate)
  j.Field("slots", static_cast<uint64_t>(commit_gate_.slots()));
  j.Field("in_use", static_cast<uint64_t>(commit_gate_.in_use()));
  j.Field("peak", commit_gate_.peak());
  j.Field("waits", commit_gate_.waits());
  j.End();
  {
    std::lock_guard<std::mutex> l(inodes_.mu());
    j.Begin("names");
    j.Field("count", inodes_.names());
    j.Field("limit", inodes_.max_names());
    j.Field("dropped", inodes_.dropped());
    j.End();
    j.Field("inodes", inodes_.nodes());
  }
  j.Field("open_handles", static_cast<uint64_t>(handles_.size()));
  j.Begin("compactor");  // background compaction (compactor.h)
  j.Field("enabled", compactor_ != nullptr);
  j.Field("rate", config_.compact_rate);
  j.Field("interval_ms", config_.compact_interval_ms);
  j.Field("rounds", compactor_ ? compactor_->rounds() : 0);
  j.Field("failures", compactor_ ? compactor_->failures() : 0);
  j.End();
  j.Field("background_syncs", get(c.background_syncs));
  j.Field("flush_interval_ms", config_.flush_interval_ms);
  j.Field("sync", config_.sync);
  return j.Finish();
}

}  // namespace chunkfs::fs
