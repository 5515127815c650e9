// chunkctl repair: rebuild what the data allows, quarantine the rest.
#include <cstring>
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "chunkfs/check.h"
#include "chunkfs/repository.h"
#include "codec.h"
#include "deletion_log_scan.h"
#include "filenames.h"
#include "format.h"
#include "idx.h"
#include "pack_scan.h"
#include "records.h"
#include "repository_impl.h"

namespace chunkfs {
namespace fn = chunkfs::filenames;
using namespace chunkfs::format;

namespace {

struct Rescue {
  std::set<Digest> candidates;  // every digest the repository claimed to hold
};

class Repairer {
 public:
  Repairer(const std::string& repo, Env* env, RepairReport* r, std::function<void(const std::string&)> log,
           std::function<void(uint64_t, uint64_t)> progress)
      : repo_(repo), env_(env), rep_(r), log_(std::move(log)), progress_(std::move(progress)) {}

  Status Run() {
    bool is_dir = false, shards = false, header = false;
    Status s = env_->IsDirectory(repo_, &is_dir);
    if (!s.ok()) return s.err() == ENOENT ? Status::NotFound("no repository at " + repo_) : s;
    if (!is_dir) return Status::InvalidArgument(repo_ + " is not a directory");
    (void)env_->IsDirectory(fn::ShardsDir(repo_), &shards);  // false on failure: made below
    if (!(s = env_->FileExists(fn::HeaderPath(repo_), &header)).ok()) return s;  // e.g. EACCES
    if (!shards && !header) return Status::InvalidArgument(repo_ + " is not a chunkfs repository");
    if (header) {  // a newer format is refused before anything is touched (even the lock file)
      std::string bytes;
      RepoSettings settings;
      std::string damage;
      if (env_->ReadFileToString(fn::HeaderPath(repo_), &bytes).ok() &&
          (s = records::DecodeRepoHeader(bytes, &settings, &damage)).code() == Status::Code::kNotSupported) {
        return s.WithContext(fn::kHeaderName);
      }
      if (s.ok() && settings.format_version >= format::kRepoVersionZstd && !CodecBuiltIn(kCodecZstd)) {
        // Its zstd records would look damaged to this build and be quarantined.
        return Status::NotSupported("the repository may hold zstd records and this chunkfs was built without zstd "
                                    "(libzstd): repair it with a build that has zstd");
      }
    }
    s = LockRepository(env_, repo_, &lock_);
    if (!s.ok()) return s;
    if (!(s = FixHeader()).ok()) return s;
    if (!(s = LoadDeletionLogs()).ok()) return s;
    CheckOptions co;
    co.env = env_;
    co.read_data = true;
    co.progress = progress_;
    CheckReport check;
    if (!(s = CheckRepository(repo_, co, &check)).ok()) return s;
    Rescue rescue;
    // Every chunk the repository claims to hold, before anything changes:
    // what is not readable after the repair is reported lost.
    if (!(s = CollectKnown(&rescue.candidates)).ok()) return s;
    for (const auto& p : check.problems) {
      for (const Digest& d : p.affected) rescue.candidates.insert(d);
    }
    std::set<std::string> damaged = DamagedPacks(check);
    for (const std::string& rel : damaged) {
      if (!(s = RescuePack(rel, &rescue)).ok()) return s;
    }
    if (!(s = SetAsideForRecovery(check, damaged)).ok()) return s;
    return Reopen(rescue);
  }

 private:
  void Act(const std::string& line) {
    rep_->actions.push_back(line);
    if (log_) log_(line);
  }

  // An unreadable header is set aside and rewritten with default settings
  // (settings only steer new writes; every record describes itself).
  Status FixHeader() {
    std::string bytes;
    RepoSettings settings;
    Status s = env_->ReadFileToString(fn::HeaderPath(repo_), &bytes);
    std::string damage;
    if (s.ok()) s = records::DecodeRepoHeader(bytes, &settings, &damage);
    if (s.code() == Status::Code::kNotSupported) return s;
    if (s.ok() && damage.empty()) return s;
    if (s.ok()) {  // one copy intact: write both from it
      if (!(s = env_->WriteFileAtomic(repo_, fn::kHeaderName, records::EncodeRepoHeader(settings))).ok()) return s;
      Act("rewrote the repository header from its intact copy (" + damage + ")");
      return Status::OK();
    }
    bool shards = false;
    (void)env_->IsDirectory(fn::ShardsDir(repo_), &shards);  // false on failure: made below
    if (!shards) return Status::InvalidArgument(repo_ + " is not a chunkfs repository (no shards/ folder)");
    if (!bytes.empty()) {
      Status q = Quarantine(fn::HeaderPath(repo_), fn::kHeaderName);
      if (!q.ok()) return q;
    }
    if (!(s = env_->WriteFileAtomic(repo_, fn::kHeaderName, records::EncodeRepoHeader(RepoSettings{}))).ok()) return s;
    Act("rewrote the damaged repository header with default settings");
    return Status::OK();
  }

  static bool EndsWith(const std::string& s, const char* suffix) {
    size_t n = strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
  }
  static bool IsTornTail(const Problem& p) { return p.what.rfind("torn tail", 0) == 0; }

  // Packs whose records (or header, or trailer) are damaged. Torn tails of
  // unsealed packs and bad idx files are left to the normal recovery (see
  // SetAsideForRecovery). Every problem check reports about a pack's idx is
  // on the .idx file; every other one on the .dat.
  static std::set<std::string> DamagedPacks(const CheckReport& check) {
    std::set<std::string> out;
    for (const auto& p : check.problems) {
      if (EndsWith(p.file, ".dat") && !IsTornTail(p)) out.insert(p.file);
    }
    return out;
  }

  // ---- deletion logs: what repair must never bring back

  // Reads every shard's log (every intact entry, also those after a damaged
  // one). A log with a damaged header or entries is copied to quarantine and
  // written anew with its intact entries: the store's open would keep only
  // those before the first damaged entry. A torn tail alone is cut by the
  // store's open.
  Status LoadDeletionLogs() {
    for (int shard = 0; shard < 256; ++shard) {
      const std::string dir = fn::ShardDir(repo_, static_cast<unsigned>(shard));
      const std::string path = fn::Join(dir, fn::kDeletionLogName);
      bool exists = false;
      if (!env_->FileExists(path, &exists).ok() || !exists) continue;
      std::string bytes;
      Status s = env_->ReadFileToString(path, &bytes);
      DeletionLogScan scan;
      if (s.ok()) s = ScanDeletionLog(bytes, static_cast<uint8_t>(shard), &scan);
      if (!s.ok()) return s.WithContext(path);  // unknown deletions: nothing may be copied back
      DeletionSet& set = deletions_[static_cast<uint8_t>(shard)];
      for (const auto& e : scan.entries) set.Apply(e);
      if (bytes.size() < kDelHeaderSize || (scan.header_damage.empty() && scan.damaged.empty())) continue;
      const std::string rel = path.substr(repo_.size() + 1);
      const std::string name = rel.substr(std::string(fn::kShardsDir).size() + 1, 2) + "-" + fn::kDeletionLogName;
      if (!(s = CopyToQuarantine(bytes, name, rel, "")).ok()) return s;
      if (!(s = env_->WriteFileAtomic(dir, fn::kDeletionLogName,
                                      deletion_log::Encode(static_cast<uint8_t>(shard), scan.entries))).ok()) {
        return s;
      }
      size_t bad = 0;
      for (const auto& b : scan.damaged) bad += (b.end - b.begin) / kDelEntrySize;
      Act("rewrote " + path.substr(repo_.size() + 1) + " with its " + std::to_string(scan.entries.size()) +
          " intact entries (" + (scan.header_damage.empty() ? "" : "header: " + scan.header_damage + "; ") +
          std::to_string(bad) + " damaged entries dropped)");
    }
    return Status::OK();
  }

  // Whether the record at `offset` of pack `pack_id` in `shard` is deleted
  // (or its whole pack is dead).
  bool Deleted(uint8_t shard, uint64_t pack_id, uint64_t offset) const {
    auto it = deletions_.find(shard);
    return it != deletions_.end() && it->second.IsDeleted(pack_id, offset);
  }

  // Digests named by every valid idx and every valid record of every pack,
  // but not by deleted ones.
  Status CollectKnown(std::set<Digest>* known) {
    std::vector<std::string> shards;
    if (!env_->GetChildren(fn::ShardsDir(repo_), &shards).ok()) return Status::OK();
    for (const auto& sh : shards) {
      std::vector<std::string> files;
      const std::string dir = fn::Join(fn::ShardsDir(repo_), sh);
      bool is_dir = false;
      if (sh.size() != 2 || !env_->IsDirectory(dir, &is_dir).ok() || !is_dir) continue;
      if (!env_->GetChildren(dir, &files).ok()) continue;
      Digest shard_digest;
      if (!Digest::FromHex(sh + std::string(62, '0'), &shard_digest)) continue;
      const uint8_t shard = shard_digest.bytes[0];
      for (const auto& f : files) {
        fn::ParsedName pn = fn::ParseShardFileName(f);
        std::string bytes;
        if (pn.kind != fn::FileKind::kIdx && pn.kind != fn::FileKind::kDat) continue;
        if (!env_->ReadFileToString(fn::Join(dir, f), &bytes).ok()) continue;
        if (pn.kind == fn::FileKind::kIdx) {
          std::unique_ptr<IdxTable> idx;
          if (!IdxTable::FromBytes(std::move(bytes), &idx).ok()) continue;
          for (uint32_t i = 0; i < idx->count(); ++i) {
            if (!Deleted(shard, pn.pack_id, idx->At(i).offset)) known->insert(idx->At(i).digest);
          }
        } else {
          for (const auto& r : ScanTolerant(bytes).records) {
            if (!Deleted(shard, pn.pack_id, r.offset)) known->insert(r.header.digest);
          }
        }
      }
    }
    return Status::OK();
  }

  // What recovery at the next open would overwrite or cut is moved or copied
  // to quarantine/ first: bad idx files (recovery rebuilds them from their
  // pack) and the bytes of torn tails (recovery cuts them).
  Status SetAsideForRecovery(const CheckReport& check, const std::set<std::string>& damaged) {
    std::set<std::string> done;
    for (const auto& p : check.problems) {
      if (!done.insert(p.file + "@" + std::to_string(p.offset)).second) continue;
      const std::string path = fn::Join(repo_, p.file);
      const std::string shard_name = p.file.substr(std::string(fn::kShardsDir).size() + 1, 2);
      const std::string base = p.file.substr(p.file.rfind('/') + 1);
      if (EndsWith(p.file, ".idx")) {
        const std::string dat_rel = p.file.substr(0, p.file.size() - 4) + ".dat";
        bool exists = false;
        if (damaged.count(dat_rel) || !env_->FileExists(path, &exists).ok() || !exists) continue;
        if (!done.insert(p.file).second) continue;  // several problems in one idx
        Status s = Quarantine(path, shard_name + "-" + base);
        if (!s.ok()) return s;
      } else if (EndsWith(p.file, ".dat") && IsTornTail(p)) {
        std::string dat;
        Status s = env_->ReadFileToString(path, &dat);
        if (!s.ok()) return s;
        if (p.offset >= dat.size()) continue;
        s = CopyToQuarantine(std::string_view(dat).substr(p.offset), shard_name + "-" + base + ".tail-" +
                             std::to_string(p.offset), "the " + std::to_string(dat.size() - p.offset) +
                             "-byte torn tail of " + p.file, " (cut by recovery)");
        if (!s.ok()) return s;
      }
    }
    return Status::OK();
  }

  // Shard, pack id and (for a copied torn tail "XX-pack-N.dat.tail-OFF")
  // the offset in the pack of a quarantined pack file's bytes.
  static bool QuarantinedLocation(const std::string& name, uint8_t* shard, uint64_t* pack_id, uint64_t* base) {
    Digest d;
    if (!fn::ParseQuarantineName(name, pack_id) || !Digest::FromHex(name.substr(0, 2) + std::string(62, '0'), &d)) {
      return false;
    }
    *shard = d.bytes[0];
    size_t tail = name.find(".tail-");
    *base = tail == std::string::npos ? 0 : std::strtoull(name.c_str() + tail + 6, nullptr, 10);
    return true;
  }

  // Writes `bytes` (a copy of `what`) as quarantine/<name> (made unique),
  // synced; `why` ends the action line.
  Status CopyToQuarantine(std::string_view bytes, const std::string& name, const std::string& what,
                          const std::string& why) {
    const std::string qdir = fn::QuarantineDir(repo_);
    Status s = env_->CreateDir(qdir);
    if (!s.ok()) return s;
    std::string unique = name;
    bool exists = true;
    for (int n = 1; env_->FileExists(fn::Join(qdir, unique), &exists).ok() && exists; ++n) {
      unique = name + "." + std::to_string(n);
    }
    if (!(s = env_->WriteFileAtomic(qdir, unique, bytes)).ok()) return s;
    rep_->quarantined.push_back(std::string(fn::kQuarantineDir) + "/" + unique);
    Act("copied " + what + " to " + fn::kQuarantineDir + "/" + unique + why);
    return Status::OK();
  }

  Status Quarantine(const std::string& from, const std::string& name) {
    std::string qdir = fn::QuarantineDir(repo_);
    Status s = env_->CreateDir(qdir);
    if (!s.ok()) return s;
    std::string to = fn::Join(qdir, name);
    bool exists = true;
    for (int n = 1; env_->FileExists(to, &exists).ok() && exists; ++n) to = fn::Join(qdir, name + "." + std::to_string(n));
    if (!(s = env_->RenameFile(from, to)).ok()) return s;
    if (!(s = env_->SyncDir(qdir)).ok()) return s;
    std::string dir = from.substr(0, from.rfind('/'));
    if (!(s = env_->SyncDir(dir)).ok()) return s;
    rep_->quarantined.push_back(to.substr(repo_.size() + 1));
    Act("moved " + from.substr(repo_.size() + 1) + " to " + to.substr(repo_.size() + 1));
    return Status::OK();
  }

  // `rel` is "shards/XX/pack-N.dat".
  Status RescuePack(const std::string& rel, Rescue* rescue) {
    const std::string path = fn::Join(repo_, rel);
    std::string dat;
    Status s = env_->ReadFileToString(path, &dat);
    if (!s.ok()) return s;
    TolerantScan scan = ScanTolerant(dat);
    std::string idx_path = path.substr(0, path.size() - 4) + ".idx";
    std::string idx_bytes;
    std::unique_ptr<IdxTable> idx;
    const std::string shard_name = rel.substr(std::string(fn::kShardsDir).size() + 1, 2);
    const std::string base = rel.substr(rel.rfind('/') + 1);
    Digest shard_digest;
    (void)Digest::FromHex(shard_name + std::string(62, '0'), &shard_digest);  // check named it: valid hex
    const uint8_t shard = shard_digest.bytes[0];
    const uint64_t pack_id = fn::ParseShardFileName(base).pack_id;
    if (env_->ReadFileToString(idx_path, &idx_bytes).ok() && IdxTable::FromBytes(idx_bytes, &idx).ok()) {
      for (uint32_t i = 0; i < idx->count(); ++i) {
        if (!Deleted(shard, pack_id, idx->At(i).offset)) rescue->candidates.insert(idx->At(i).digest);
      }
    }
    for (const auto& r : scan.records) {
      if (!Deleted(shard, pack_id, r.offset)) rescue->candidates.insert(r.header.digest);
    }
    Act(rel + ": " + std::to_string(scan.records.size()) + " intact record(s); the pack goes to quarantine and its "
        "readable chunks are copied back from there");
    if (!(s = Quarantine(path, shard_name + "-" + base)).ok()) return s;
    bool has_idx = false;
    (void)env_->FileExists(idx_path, &has_idx);  // false on failure: rebuilt from the pack
    if (has_idx) s = Quarantine(idx_path, shard_name + "-" + base.substr(0, base.size() - 4) + ".idx");
    return s;
  }

  Status Reopen(const Rescue& rescue) {
    OpenOptions o;
    o.env = env_;
    o.log = [this](const std::string& line) { Act(line); };
    std::unique_ptr<Repository> repo;
    Status s = OpenLocked(repo_, o, std::move(lock_), &repo);
    if (!s.ok()) return s;
    if (!(s = ReimportQuarantine(repo.get())).ok()) return s;
    for (const Digest& d : rescue.candidates) {
      if (!repo->Contains(d)) rep_->lost.push_back(d);
    }
    return repo->Close();
  }

  // Copies every readable chunk of every quarantined pack that the
  // repository lacks back into it, one pack at a time, then syncs. Since
  // packs are quarantined before their chunks are copied, a repair that
  // stopped midway (crash, full disk) is completed by the next run; on a
  // repaired repository this writes nothing.
  Status ReimportQuarantine(Repository* repo) {
    std::vector<std::string> names;
    if (!env_->GetChildren(fn::QuarantineDir(repo_), &names).ok()) return Status::OK();
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      if (name.find(".dat") == std::string::npos) continue;
      std::string dat;
      Status s = env_->ReadFileToString(fn::Join(fn::QuarantineDir(repo_), name), &dat);
      if (!s.ok()) return s;
      uint8_t shard = 0;
      uint64_t pack_id = 0, base = 0;  // base: where a torn tail's bytes were in their pack
      const bool located = QuarantinedLocation(name, &shard, &pack_id, &base);
      for (const auto& r : ScanTolerant(dat).records) {
        if (repo->Contains(r.header.digest)) continue;
        if (located && Deleted(shard, pack_id, base + r.offset)) continue;  // deleted: stays deleted
        std::string raw;
        std::string_view payload(dat.data() + r.offset + kRecordHeaderSize, r.header.stored_len);
        if (!codec::Decode(r.header.codec, payload, r.header.raw_len, &raw).ok()) continue;
        if (Sha256(raw) != r.header.digest) continue;
        PutResult pr;
        if (!(s = repo->Put(raw, &pr)).ok()) return s;
        if (pr.was_new) rep_->rescued.push_back(pr.digest);
      }
    }
    if (!rep_->rescued.empty()) Act("copied " + std::to_string(rep_->rescued.size()) + " chunk(s) out of quarantine");
    return repo->Sync();
  }

  const std::string repo_;
  Env* env_;
  RepairReport* rep_;
  std::function<void(const std::string&)> log_;
  std::function<void(uint64_t, uint64_t)> progress_;
  std::unique_ptr<FileLock> lock_;
  std::map<uint8_t, DeletionSet> deletions_;  // every shard's log, read before anything changes
};

}  // namespace

Status RepairRepository(const std::string& path, Env* env, RepairReport* report,
                        std::function<void(const std::string&)> log, std::function<void(uint64_t, uint64_t)> progress) {
  *report = RepairReport();
  return Repairer(path, env ? env : Env::Default(), report, std::move(log), std::move(progress)).Run();
}

}  // namespace chunkfs
