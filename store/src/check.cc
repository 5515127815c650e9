// chunkctl check: read-only verification of a whole repository.
#include <algorithm>
#include <map>
#include <set>

#include "chunkfs/check.h"
#include "codec.h"
#include "filenames.h"
#include "format.h"
#include "idx.h"
#include "pack_scan.h"
#include "records.h"

namespace chunkfs {
namespace fn = chunkfs::filenames;
using namespace chunkfs::format;

namespace {

struct PackRef {
  std::string dir_rel, dir;  // "shards/2c", full path
  uint8_t shard;
  uint64_t id;
  bool has_idx;
};

class Checker {
 public:
  Checker(const std::string& repo, const CheckOptions& o, CheckReport* r)
      : repo_(repo), opt_(o), env_(o.env ? o.env : Env::Default()), rep_(r) {}

  Status Run() {
    bool is_dir = false;
    Status s = env_->IsDirectory(repo_, &is_dir);
    if (!s.ok()) return s.err() == ENOENT ? Status::NotFound("no repository at " + repo_) : s;
    if (!is_dir) return Status::InvalidArgument(repo_ + " is not a directory");
    bool shards = false, header = false;
    env_->IsDirectory(fn::ShardsDir(repo_), &shards);
    if (!(s = env_->FileExists(fn::HeaderPath(repo_), &header)).ok()) return s;  // e.g. EACCES
    if (!shards && !header) return Status::InvalidArgument(repo_ + " is not a chunkfs repository");
    // A newer format is refused, never checked by guesswork.
    if (!(s = CheckHeader()).ok()) return s;
    std::vector<PackRef> packs;
    if (!(s = ListPacks(&packs)).ok()) return s;
    uint64_t total = 0, done = 0;
    std::map<const PackRef*, uint64_t> sizes;
    for (const auto& p : packs) {
      uint64_t sz = 0;
      env_->GetFileSize(fn::Join(p.dir, fn::DatName(p.id)), &sz);
      sizes[&p] = sz;
      total += sz;
    }
    for (const auto& p : packs) {
      if (!(s = CheckPack(p)).ok()) return s;
      done += sizes[&p];
      if (opt_.progress) opt_.progress(done, total);
    }
    return Status::OK();
  }

 private:
  void Damage(const std::string& file, uint64_t off, const std::string& what, std::vector<Digest> affected = {}) {
    rep_->problems.push_back({file, off, what, std::move(affected)});
  }

  Status CheckHeader() {
    std::string bytes;
    Status s = env_->ReadFileToString(fn::HeaderPath(repo_), &bytes);
    RepoSettings settings;
    std::string damage;
    if (s.ok()) s = records::DecodeRepoHeader(bytes, &settings, &damage);
    if (s.code() == Status::Code::kNotSupported) return s.WithContext(fn::kHeaderName);
    if (!s.ok()) Damage(fn::kHeaderName, 0, s.message() + " (rewritten by repair)");
    else if (!damage.empty()) {
      Damage(fn::kHeaderName, damage[0] == 'f' ? 0 : kRepoHeaderSize, damage + " (rewritten by repair)");
    }
    return Status::OK();
  }

  static bool ParseShardName(const std::string& n, uint8_t* shard) {
    if (n.size() != 2) return false;
    Digest d;
    std::string hex = n + std::string(62, '0');
    if (!Digest::FromHex(hex, &d)) return false;
    *shard = d.bytes[0];
    return true;
  }

  Status ListPacks(std::vector<PackRef>* out) {
    std::vector<std::string> shards;
    Status s = env_->GetChildren(fn::ShardsDir(repo_), &shards);
    if (!s.ok()) {
      Damage(fn::kShardsDir, 0, "cannot list: " + s.ToString());
      return Status::OK();
    }
    std::sort(shards.begin(), shards.end());
    for (const auto& name : shards) {
      uint8_t shard;
      std::string rel = std::string(fn::kShardsDir) + "/" + name;
      if (!ParseShardName(name, &shard)) {
        rep_->notes.push_back(rel + ": stray entry, ignored");
        continue;
      }
      std::vector<std::string> files;
      std::string dir = fn::ShardDir(repo_, shard);
      if (!(s = env_->GetChildren(dir, &files)).ok()) return s;
      std::set<uint64_t> dats, idxs;
      for (const auto& f : files) {
        fn::ParsedName p = fn::ParseShardFileName(f);
        bool sub_dir = false;
        if ((p.kind == fn::FileKind::kDat || p.kind == fn::FileKind::kIdx) &&
            env_->IsDirectory(fn::Join(dir, f), &sub_dir).ok() && sub_dir) {
          rep_->notes.push_back(rel + "/" + f + ": stray directory, ignored");
          continue;
        }
        if (p.kind == fn::FileKind::kDat) dats.insert(p.pack_id);
        else if (p.kind == fn::FileKind::kIdx) idxs.insert(p.pack_id);
        else rep_->notes.push_back(rel + "/" + f + ": " +
                                   (p.kind == fn::FileKind::kTmp ? "temporary file (removed at next open)"
                                                                 : "stray file, ignored"));
      }
      for (uint64_t id : idxs) {
        if (!dats.count(id)) rep_->notes.push_back(rel + "/" + fn::IdxName(id) + ": idx without pack, ignored");
      }
      for (uint64_t id : dats) out->push_back({rel, dir, shard, id, idxs.count(id) > 0});
    }
    return Status::OK();
  }

  // Digests of idx entries whose record starts inside [b, e).
  static std::vector<Digest> EntriesIn(const IdxTable* idx, uint64_t b, uint64_t e) {
    std::vector<Digest> v;
    if (!idx) return v;
    for (uint32_t i = 0; i < idx->count(); ++i) {
      IdxEntry en = idx->At(i);
      if (en.offset >= b && en.offset < e) v.push_back(en.digest);
    }
    return v;
  }

  Status CheckPack(const PackRef& p) {
    const std::string dat_rel = p.dir_rel + "/" + fn::DatName(p.id);
    const std::string idx_rel = p.dir_rel + "/" + fn::IdxName(p.id);
    std::string dat;
    Status s = env_->ReadFileToString(fn::Join(p.dir, fn::DatName(p.id)), &dat);
    if (!s.ok()) {
      Damage(dat_rel, 0, "cannot read: " + s.ToString());
      return Status::OK();
    }
    rep_->packs++;
    rep_->bytes += dat.size();
    std::unique_ptr<IdxTable> idx = LoadIdx(p, idx_rel);
    TolerantScan scan = ScanTolerant(dat);
    rep_->records += scan.records.size();
    if (!scan.header_ok) {
      // The store leaves a pack with a bad header untouched and serves none
      // of its chunks: all of them are affected (repair copies them out).
      std::set<Digest> all;
      for (const Digest& d : EntriesIn(idx.get(), 0, UINT64_MAX)) all.insert(d);
      for (const auto& r : scan.records) all.insert(r.header.digest);
      Damage(dat_rel, 0, "pack header: " + scan.header_error, std::vector<Digest>(all.begin(), all.end()));
    }
    CheckTrailer(p, dat_rel, dat, scan, idx.get());
    CheckRecords(dat_rel, dat, scan, idx.get());
    CheckIdxAgainstPack(p, idx_rel, scan, idx.get());
    return Status::OK();
  }

  std::unique_ptr<IdxTable> LoadIdx(const PackRef& p, const std::string& idx_rel) {
    if (!p.has_idx) return nullptr;
    std::string bytes;
    std::unique_ptr<IdxTable> t;
    Status s = env_->ReadFileToString(fn::Join(p.dir, fn::IdxName(p.id)), &bytes);
    if (s.ok()) s = IdxTable::FromBytes(std::move(bytes), &t);
    if (s.ok() && (t->header().pack_id != p.id || t->header().shard != p.shard)) {
      s = Status::Corruption("idx names another pack");
    }
    rep_->idx_files++;
    if (!s.ok()) {
      Damage(idx_rel, 0, "idx: " + s.message() + " (rebuilt from the pack at next open or by repair)");
      return nullptr;
    }
    return t;
  }

  void CheckTrailer(const PackRef& p, const std::string& rel, const std::string& dat, const TolerantScan& scan,
                    const IdxTable* idx) {
    (void)p;
    if (!scan.sealed) return;
    if (Crc32(std::string_view(dat).substr(0, scan.data_end)) != scan.trailer.pack_crc) {
      Damage(rel, scan.data_end, "pack checksum (trailer) does not match the pack's bytes");
    }
    if (scan.trailer.record_count != scan.records.size() && scan.damaged.empty()) {
      Damage(rel, scan.data_end, "trailer counts " + std::to_string(scan.trailer.record_count) +
                                     " records, the pack holds " + std::to_string(scan.records.size()));
    }
    (void)idx;
  }

  void CheckRecords(const std::string& rel, const std::string& dat, const TolerantScan& scan, const IdxTable* idx) {
    for (const auto& d : scan.damaged) {
      // A torn tail is the end of an unsealed pack that no valid idx covers:
      // recovery cuts it. Damage inside the range an idx covers is not
      // rescanned by recovery, so it is reported as damaged records.
      bool torn_tail = !scan.sealed && d.end == scan.data_end && (!idx || idx->header().data_end <= d.begin);
      std::string what = torn_tail ? "torn tail of " + std::to_string(d.end - d.begin) +
                                         " bytes (cut at the next open or by repair): " + d.reason
                                   : "damaged record(s), " + std::to_string(d.end - d.begin) + " bytes: " + d.reason;
      Damage(rel, d.begin, what, EntriesIn(idx, d.begin, d.end));
    }
    if (!opt_.read_data) return;
    for (const auto& r : scan.records) {
      std::string_view payload(dat.data() + r.offset + kRecordHeaderSize, r.header.stored_len);
      std::string raw;
      Status s = codec::Decode(r.header.codec, payload, r.header.raw_len, &raw);
      if (s.ok() && Sha256(raw) != r.header.digest) s = Status::Corruption("content does not match its digest");
      if (!s.ok()) Damage(rel, r.offset, "chunk " + r.header.digest.ToHex() + ": " + s.message(), {r.header.digest});
    }
  }

  void CheckIdxAgainstPack(const PackRef& p, const std::string& rel, const TolerantScan& scan, const IdxTable* idx) {
    if (!idx) {
      if (!p.has_idx && scan.sealed) Damage(rel, 0, "sealed pack has no idx (rebuilt at next open or by repair)");
      return;
    }
    if (idx->header().sealed != scan.sealed) {
      if (idx->header().sealed) Damage(rel, 0, "idx says sealed but the pack has no trailer (seal interrupted; finished at next open)");
      else Damage(rel, 0, "pack is sealed but its idx is not (rebuilt at next open or by repair)");
    }
    std::map<uint64_t, const records::RecordHeader*> by_off;
    for (const auto& r : scan.records) by_off[r.offset] = &r.header;
    for (uint32_t i = 0; i < idx->count(); ++i) {
      IdxEntry e = idx->At(i);
      auto it = by_off.find(e.offset);
      bool in_damage = false;
      for (const auto& d : scan.damaged) in_damage |= e.offset >= d.begin && e.offset < d.end;
      if (in_damage) continue;  // already reported with the damaged range
      if (it == by_off.end() || it->second->digest != e.digest || it->second->raw_len != e.raw_len ||
          it->second->stored_len != e.stored_len || it->second->codec != e.codec) {
        Damage(rel, 0, "idx entry " + std::to_string(i) + " does not match the record at offset " +
                           std::to_string(e.offset), {e.digest});
      }
    }
    uint64_t unindexed = 0;
    for (const auto& r : scan.records) {
      IdxEntry e;
      if (!idx->Find(r.header.digest, &e) && r.offset >= idx->header().data_end) unindexed++;
      else if (!idx->Find(r.header.digest, &e)) {
        Damage(rel, r.offset, "record " + r.header.digest.ToHex() + " is missing from the idx");
      }
    }
    if (unindexed > 0) {
      rep_->notes.push_back(rel + ": " + std::to_string(unindexed) +
                            " record(s) after the idx's end, not yet indexed (indexed at the next sync or open)");
    }
  }

  const std::string repo_;
  const CheckOptions& opt_;
  Env* env_;
  CheckReport* rep_;
};

}  // namespace

Status CheckRepository(const std::string& path, const CheckOptions& options, CheckReport* report) {
  *report = CheckReport();
  return Checker(path, options, report).Run();
}

}  // namespace chunkfs
