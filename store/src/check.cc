// chunkctl check: read-only verification of a whole repository.
#include <algorithm>
#include <map>
#include <set>

#include "chunkfs/check.h"
#include "codec.h"
#include "deletion_log_scan.h"
#include "filenames.h"
#include "format.h"
#include "idx.h"
#include "merged_index.h"
#include "pack_scan.h"
#include "records.h"

namespace chunkfs {
namespace fn = chunkfs::filenames;
using namespace chunkfs::format;

Status ScanDeletionLog(std::string_view b, uint8_t shard, DeletionLogScan* out) {
  *out = DeletionLogScan();
  deletion_log::Parsed p;
  Status s = deletion_log::Decode(b, shard, &p);
  if (!s.ok()) return s;
  out->header_damage = p.header_damage;
  // After a bad entry, decoding goes on in a window that starts at the next
  // intact one (behind a fresh header), so each run of damage costs one copy.
  const std::string head = deletion_log::EncodeHeader(shard);
  auto intact = [&](uint64_t off) {
    deletion_log::Parsed one;
    return deletion_log::Decode(head + std::string(b.substr(off, kDelEntrySize)), shard, &one).ok() &&
           one.entries.size() == 1;
  };
  for (uint64_t base = kDelHeaderSize;;) {
    for (size_t i = 0; i < p.entries.size(); ++i) {
      out->entries.push_back(p.entries[i]);
      out->entry_offsets.push_back(base + i * kDelEntrySize);
    }
    uint64_t end = base + p.entries.size() * kDelEntrySize;
    if (p.stop_reason.empty()) return Status::OK();
    if (end + kDelEntrySize <= b.size()) {  // whole entries that fail: damage
      const uint64_t begin = end;
      while (end + kDelEntrySize <= b.size() && !intact(end)) end += kDelEntrySize;
      out->damaged.push_back({begin, end, p.stop_reason.substr(0, p.stop_reason.find(" at offset"))});
    }
    if (end + kDelEntrySize > b.size()) {
      if (end < b.size()) {
        out->torn_begin = end;
        out->torn_bytes = b.size() - end;
      }
      return Status::OK();
    }
    base = end;
    if (!(s = deletion_log::Decode(head + std::string(b.substr(base)), shard, &p)).ok()) return s;
  }
}

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
    (void)env_->IsDirectory(fn::ShardsDir(repo_), &shards);  // false on failure: reported as missing
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
      (void)env_->GetFileSize(fn::Join(p.dir, fn::DatName(p.id)), &sz);  // 0 on failure: the read below reports it
      sizes[&p] = sz;
      total += sz;
    }
    for (const auto& p : packs) {
      if (!(s = CheckPack(p)).ok()) return s;
      done += sizes[&p];
      if (opt_.progress) opt_.progress(done, total);
    }
    if (rep_->deleted_records > 0) {
      rep_->notes.push_back(std::to_string(rep_->deleted_records) + " deleted record(s) of " +
                            std::to_string(rep_->deleted_bytes) + " bytes still stored (given back by compaction)");
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
      std::string merged;
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
        else if (p.kind == fn::FileKind::kDeletionLog) CheckDeletionLog(shard, rel + "/" + f, fn::Join(dir, f));
        else if (p.kind == fn::FileKind::kMergedIndex) merged = f;
        else rep_->notes.push_back(rel + "/" + f + ": " +
                                   (p.kind == fn::FileKind::kTmp ? "temporary file (removed at next open)"
                                                                 : "stray file, ignored"));
      }
      for (uint64_t id : idxs) {
        if (!dats.count(id)) rep_->notes.push_back(rel + "/" + fn::IdxName(id) + ": idx without pack, ignored");
      }
      for (uint64_t id : dats) out->push_back({rel, dir, shard, id, idxs.count(id) > 0});
      if (!merged.empty()) CheckMergedIndex(shard, rel + "/" + merged, fn::Join(dir, merged), dats);
    }
    return Status::OK();
  }

  // ---- merged index (docs/FORMAT.md "Merged index"): a cache, so what is
  // wrong with it is a note (the store ignores it and a writable open
  // rebuilds it), never damage to chunks. Every byte is under a CRC.
  void CheckMergedIndex(uint8_t shard, const std::string& rel, const std::string& path, const std::set<uint64_t>& dats) {
    std::unique_ptr<MappedFile> file;
    std::unique_ptr<MergedIndex> m;
    Status s = env_->NewMappedFile(path, &file);
    if (s.ok()) s = MergedIndex::Load(std::move(file), shard, &m);
    if (s.ok()) s = m->VerifyAll();
    if (!s.ok()) {
      rep_->notes.push_back(rel + ": " + s.message() + " (a cache: ignored, rebuilt at the next writable open)");
      return;
    }
    size_t gone = 0;
    for (const auto& p : m->packs()) gone += dats.count(p.id) == 0;
    if (gone != 0) {
      rep_->notes.push_back(rel + ": names " + std::to_string(gone) +
                            " pack(s) no longer present (their entries are not used; rebuilt at the next writable open)");
    }
  }

  // ---- deletion logs (docs/FORMAT.md "Deletion log")

  struct ShardLog {
    std::string rel;  // "shards/2c/deleted.log"
    DeletionLogScan scan;
    DeletionSet set;
    std::map<uint64_t, std::vector<size_t>> by_pack;  // pack id -> indexes of its kDelRecord entries
  };

  // Header, every entry's CRC, torn tail. Entries naming packs that are gone
  // are normal (compaction removed them); entries naming a present pack are
  // matched with its records in CheckDeletionsOf.
  void CheckDeletionLog(uint8_t shard, const std::string& rel, const std::string& path) {
    std::string bytes;
    Status s = env_->ReadFileToString(path, &bytes);
    if (!s.ok()) {
      Damage(rel, 0, "cannot read: " + s.ToString() + " (its deletions are not known: deleted chunks may show)");
      return;
    }
    rep_->deletion_logs++;
    ShardLog& log = logs_[shard];
    log.rel = rel;
    s = ScanDeletionLog(bytes, shard, &log.scan);
    if (!s.ok()) {
      Damage(rel, 8, s.message());  // offset of the version field
      return;
    }
    const DeletionLogScan& sc = log.scan;
    if (bytes.size() < kDelHeaderSize) {
      rep_->notes.push_back(rel + ": torn at creation (" + std::to_string(bytes.size()) +
                            " bytes, no entry; written anew at the next open)");
    } else if (!sc.header_damage.empty()) {
      Damage(rel, 0, "deletion log header: " + sc.header_damage +
                         " (its entries are still read; rewritten at the next open or by repair)");
    }
    for (const auto& b : sc.damaged) {
      Damage(rel, b.begin, "deletion log: " + std::to_string((b.end - b.begin) / kDelEntrySize) +
                               " damaged entr" + (b.end - b.begin == kDelEntrySize ? "y" : "ies") + " (" + b.reason +
                               "): a chunk deleted by it may show again; the next open keeps only the entries "
                               "before it, repair keeps every intact one");
    }
    if (sc.torn_bytes > 0) {
      rep_->notes.push_back(rel + ": torn tail of " + std::to_string(sc.torn_bytes) + " bytes at offset " +
                            std::to_string(sc.torn_begin) +
                            " (an append cut short, of a prune that had not returned; cut at the next open)");
    }
    for (size_t i = 0; i < sc.entries.size(); ++i) {
      log.set.Apply(sc.entries[i]);
      if (sc.entries[i].kind == kDelRecord) log.by_pack[sc.entries[i].pack_id].push_back(i);
    }
  }

  const ShardLog* LogOf(uint8_t shard) const {
    auto it = logs_.find(shard);
    return it == logs_.end() ? nullptr : &it->second;
  }
  bool Deleted(const PackRef& p, uint64_t offset) const {
    const ShardLog* log = LogOf(p.shard);
    return log != nullptr && log->set.IsDeleted(p.id, offset);
  }

  // Counts the pack's deleted records, and checks each deletion naming the
  // pack against the record at its offset: a record with another digest
  // there would be hidden by it.
  void CheckDeletionsOf(const PackRef& p, const TolerantScan& scan) {
    const ShardLog* log = LogOf(p.shard);
    if (log == nullptr) return;
    std::map<uint64_t, const records::RecordHeader*> by_off;
    for (const auto& r : scan.records) {
      by_off[r.offset] = &r.header;
      if (!log->set.IsDeleted(p.id, r.offset)) continue;
      rep_->deleted_records++;
      rep_->deleted_bytes += kRecordOverhead + uint64_t{r.header.stored_len};
    }
    auto it = log->by_pack.find(p.id);
    if (it == log->by_pack.end()) return;
    for (size_t i : it->second) {
      const DeletionEntry& e = log->scan.entries[i];
      const uint64_t at = log->scan.entry_offsets[i];
      auto r = by_off.find(e.offset);
      const std::string where = "offset " + std::to_string(e.offset) + " of " + fn::DatName(p.id);
      const bool in_damage = std::any_of(scan.damaged.begin(), scan.damaged.end(), [&](const DamagedRange& d) {
        return e.offset >= d.begin && e.offset < d.end;
      });
      if (r == by_off.end()) {
        if (in_damage) continue;  // reported with the damaged range
        rep_->notes.push_back(log->rel + " offset " + std::to_string(at) + ": deletes chunk " + e.digest.ToHex() +
                              " at " + where + ", where no record is (lost before it was synced?)");
      } else if (r->second->digest != e.digest) {
        Damage(log->rel, at, "entry deletes chunk " + e.digest.ToHex() + " at " + where + ", but the record there is " +
                                 r->second->digest.ToHex() + ", which it hides", {r->second->digest});
      }
    }
  }

  // Digests of live (not deleted) idx entries whose record starts inside [b, e).
  std::vector<Digest> EntriesIn(const PackRef& p, const IdxTable* idx, uint64_t b, uint64_t e) const {
    std::vector<Digest> v;
    if (!idx) return v;
    for (uint32_t i = 0; i < idx->count(); ++i) {
      IdxEntry en = idx->At(i);
      if (en.offset >= b && en.offset < e && !Deleted(p, en.offset)) v.push_back(en.digest);
    }
    return v;
  }

  Status CheckPack(const PackRef& p) {
    const std::string dat_rel = p.dir_rel + "/" + fn::DatName(p.id);
    const std::string idx_rel = p.dir_rel + "/" + fn::IdxName(p.id);
    if (const ShardLog* log = LogOf(p.shard); log != nullptr && log->set.IsPackDead(p.id)) {
      rep_->dead_packs++;
      rep_->notes.push_back(dat_rel + ": compacted away (dead in " + log->rel + "), removed at the next open");
      return Status::OK();
    }
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
      for (const Digest& d : EntriesIn(p, idx.get(), 0, UINT64_MAX)) all.insert(d);
      for (const auto& r : scan.records) {
        if (!Deleted(p, r.offset)) all.insert(r.header.digest);
      }
      Damage(dat_rel, 0, "pack header: " + scan.header_error, std::vector<Digest>(all.begin(), all.end()));
    }
    CheckTrailer(p, dat_rel, dat, scan, idx.get());
    CheckRecords(p, dat_rel, dat, scan, idx.get());
    CheckDeletionsOf(p, scan);
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
    // The trailer counts the idx's entries: one per digest (a chunk deleted
    // and stored again has two records in the pack, the newer one indexed).
    std::set<Digest> digests;
    for (const auto& r : scan.records) digests.insert(r.header.digest);
    if (scan.trailer.record_count != digests.size() && scan.damaged.empty()) {
      Damage(rel, scan.data_end, "trailer counts " + std::to_string(scan.trailer.record_count) +
                                     " records, the pack holds " + std::to_string(digests.size()) + " chunks");
    }
    (void)idx;
  }

  // With read_data every record is verified, deleted ones too (they are
  // still stored, and repair reads them); a deleted one affects no chunk.
  void CheckRecords(const PackRef& p, const std::string& rel, const std::string& dat, const TolerantScan& scan,
                    const IdxTable* idx) {
    for (const auto& d : scan.damaged) {
      // A torn tail is the end of an unsealed pack that no valid idx covers:
      // recovery cuts it. Damage inside the range an idx covers is not
      // rescanned by recovery, so it is reported as damaged records.
      bool torn_tail = !scan.sealed && d.end == scan.data_end && (!idx || idx->header().data_end <= d.begin);
      std::string what = torn_tail ? "torn tail of " + std::to_string(d.end - d.begin) +
                                         " bytes (cut at the next open or by repair): " + d.reason
                                   : "damaged record(s), " + std::to_string(d.end - d.begin) + " bytes: " + d.reason;
      Damage(rel, d.begin, what, EntriesIn(p, idx, d.begin, d.end));
    }
    if (!opt_.read_data) return;
    for (const auto& r : scan.records) {
      std::string_view payload(dat.data() + r.offset + kRecordHeaderSize, r.header.stored_len);
      std::string raw;
      Status s = codec::Decode(r.header.codec, payload, r.header.raw_len, &raw);
      if (s.ok() && Sha256(raw) != r.header.digest) s = Status::Corruption("content does not match its digest");
      if (s.ok()) continue;
      if (Deleted(p, r.offset)) Damage(rel, r.offset, "deleted chunk " + r.header.digest.ToHex() + ": " + s.message());
      else Damage(rel, r.offset, "chunk " + r.header.digest.ToHex() + ": " + s.message(), {r.header.digest});
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
                           std::to_string(e.offset), Deleted(p, e.offset) ? std::vector<Digest>{} : std::vector<Digest>{e.digest});
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
  std::map<uint8_t, ShardLog> logs_;  // read before the shard's packs
};

}  // namespace

Status CheckRepository(const std::string& path, const CheckOptions& options, CheckReport* report) {
  *report = CheckReport();
  return Checker(path, options, report).Run();
}

}  // namespace chunkfs
