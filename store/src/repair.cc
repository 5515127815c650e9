// chunkctl repair: rebuild what the data allows, quarantine the rest.
#include <cstring>
#include <algorithm>
#include <set>

#include "chunkfs/check.h"
#include "chunkfs/repository.h"
#include "codec.h"
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
  Repairer(const std::string& repo, Env* env, RepairReport* r, std::function<void(const std::string&)> log)
      : repo_(repo), env_(env), rep_(r), log_(std::move(log)) {}

  Status Run() {
    bool is_dir = false, shards = false, header = false;
    Status s = env_->IsDirectory(repo_, &is_dir);
    if (!s.ok()) return s.err() == ENOENT ? Status::NotFound("no repository at " + repo_) : s;
    if (!is_dir) return Status::InvalidArgument(repo_ + " is not a directory");
    env_->IsDirectory(fn::ShardsDir(repo_), &shards);
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
    }
    s = LockRepository(env_, repo_, &lock_);
    if (!s.ok()) return s;
    if (!(s = FixHeader()).ok()) return s;
    CheckOptions co;
    co.env = env_;
    co.read_data = true;
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
    env_->IsDirectory(fn::ShardsDir(repo_), &shards);
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

  // Digests named by every valid idx and every valid record of every pack.
  Status CollectKnown(std::set<Digest>* known) {
    std::vector<std::string> shards;
    if (!env_->GetChildren(fn::ShardsDir(repo_), &shards).ok()) return Status::OK();
    for (const auto& sh : shards) {
      std::vector<std::string> files;
      const std::string dir = fn::Join(fn::ShardsDir(repo_), sh);
      bool is_dir = false;
      if (sh.size() != 2 || !env_->IsDirectory(dir, &is_dir).ok() || !is_dir) continue;
      if (!env_->GetChildren(dir, &files).ok()) continue;
      for (const auto& f : files) {
        fn::ParsedName pn = fn::ParseShardFileName(f);
        std::string bytes;
        if (pn.kind == fn::FileKind::kOther || pn.kind == fn::FileKind::kTmp) continue;
        if (!env_->ReadFileToString(fn::Join(dir, f), &bytes).ok()) continue;
        if (pn.kind == fn::FileKind::kIdx) {
          std::unique_ptr<IdxTable> idx;
          if (!IdxTable::FromBytes(std::move(bytes), &idx).ok()) continue;
          for (uint32_t i = 0; i < idx->count(); ++i) known->insert(idx->At(i).digest);
        } else {
          for (const auto& r : ScanTolerant(bytes).records) known->insert(r.header.digest);
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
        std::string qdir = fn::QuarantineDir(repo_);
        if (!(s = env_->CreateDir(qdir)).ok()) return s;
        std::string name = shard_name + "-" + base + ".tail-" + std::to_string(p.offset);
        if (!(s = env_->WriteFileAtomic(qdir, name, std::string_view(dat).substr(p.offset))).ok()) return s;
        rep_->quarantined.push_back(std::string(fn::kQuarantineDir) + "/" + name);
        Act("copied the " + std::to_string(dat.size() - p.offset) + "-byte torn tail of " + p.file + " to " +
            fn::kQuarantineDir + "/" + name + " (cut by recovery)");
      }
    }
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
    if (env_->ReadFileToString(idx_path, &idx_bytes).ok() && IdxTable::FromBytes(idx_bytes, &idx).ok()) {
      for (uint32_t i = 0; i < idx->count(); ++i) rescue->candidates.insert(idx->At(i).digest);
    }
    for (const auto& r : scan.records) rescue->candidates.insert(r.header.digest);
    Act(rel + ": " + std::to_string(scan.records.size()) + " intact record(s); the pack goes to quarantine and its "
        "readable chunks are copied back from there");
    const std::string shard_name = rel.substr(std::string(fn::kShardsDir).size() + 1, 2);
    const std::string base = rel.substr(rel.rfind('/') + 1);
    if (!(s = Quarantine(path, shard_name + "-" + base)).ok()) return s;
    bool has_idx = false;
    env_->FileExists(idx_path, &has_idx);
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
      for (const auto& r : ScanTolerant(dat).records) {
        if (repo->Contains(r.header.digest)) continue;
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
  std::unique_ptr<FileLock> lock_;
};

}  // namespace

Status RepairRepository(const std::string& path, Env* env, RepairReport* report,
                        std::function<void(const std::string&)> log) {
  *report = RepairReport();
  return Repairer(path, env ? env : Env::Default(), report, std::move(log)).Run();
}

}  // namespace chunkfs
