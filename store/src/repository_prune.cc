// Repository: prune tokens, Prune, Touch and Compact (SPEC §7). The per-shard
// work is in shard_prune.cc; docs/FORMAT.md "Deletions" has the on-disk side.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "format.h"
#include "repository_impl.h"

namespace chunkfs {

std::string PruneToken::ToString() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "-%" PRIu64, instance, generation);
  return buf;
}

bool PruneToken::Parse(std::string_view text, PruneToken* out) {
  if (text.size() < 18 || text[16] != '-') return false;
  uint64_t inst = 0, gen = 0;
  for (size_t i = 0; i < 16; ++i) {
    char c = text[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    inst = inst << 4 | static_cast<uint64_t>(d);
  }
  for (size_t i = 17; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9' || gen > UINT64_MAX / 10 - 9) return false;
    gen = gen * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (gen == 0) return false;
  *out = PruneToken{inst, gen};
  return true;
}

Status RepositoryImpl::BeginPrune(PruneToken* token) {
  if (ctx_->read_only) return Status::InvalidArgument("repository is open read-only");
  std::lock_guard<std::mutex> l(tokens_mu_);
  if (tokens_.size() >= kMaxOpenTokens) {  // the oldest unused token is given up
    tokens_.erase(tokens_.begin());
    ctx_->tokens_open--;
  }
  const uint64_t gen = ++ctx_->prune_gen;
  tokens_.insert(gen);
  ctx_->tokens_open++;
  ctx_->token_events++;  // after tokens_open (RepositoryImpl::Store)
  *token = PruneToken{instance_, gen};
  return Status::OK();
}

// Uses up a token; with none left open, uses stop being recorded.
void RepositoryImpl::EndPrune(uint64_t gen) {
  std::lock_guard<std::mutex> l(tokens_mu_);
  if (tokens_.erase(gen) == 0) return;
  const int open = --ctx_->tokens_open;
  ctx_->token_events++;  // after tokens_open (RepositoryImpl::Store)
  if (open > 0) return;
  for (auto& shard : shards_) shard->ForgetUses();
}

Status RepositoryImpl::CheckToken(const PruneToken& t) {
  std::lock_guard<std::mutex> l(tokens_mu_);
  if (t.instance != instance_) {
    return Status::InvalidArgument("prune token " + t.ToString() +
                                   " was taken from another mount or open of this repository (it does not survive "
                                   "a remount): take a new one with prune-begin and build the keep list again");
  }
  if (tokens_.count(t.generation) == 0) {
    return Status::InvalidArgument("prune token " + t.ToString() +
                                   " is no longer valid (already used by a prune, or too many tokens taken since)");
  }
  return Status::OK();
}

// One pass over every shard; the keep list is cut into per-shard ranges
// (digests are sorted, and the first byte is the shard).
Status RepositoryImpl::PrunePass(const std::vector<Digest>& keep, uint64_t gen, bool dry_run, PruneResult* r,
                                 const std::function<void(uint64_t)>& shard_done) {
  auto lo = keep.begin();
  for (int i = 0; i < 256; ++i) {
    auto hi = std::find_if(lo, keep.end(), [i](const Digest& d) { return d.shard() != i; });
    Shard::PruneCounts c;
    size_t room = 100 - std::min<size_t>(100, r->missing.size());
    Status s = shards_[i]->Prune(keep.data() + (lo - keep.begin()), keep.data() + (hi - keep.begin()), gen, dry_run,
                                 room, &c);
    if (!s.ok()) return s;
    r->chunks_before += c.live;
    r->chunks_deleted += c.deleted;
    r->bytes_deleted += c.bytes_deleted;
    r->stored_bytes_deleted += c.stored_deleted;
    r->protected_chunks += c.protected_chunks;
    r->keep_missing += c.missing;
    r->missing.insert(r->missing.end(), c.missing_digests.begin(), c.missing_digests.end());
    lo = hi;
    shard_done(static_cast<uint64_t>(i) + 1);
  }
  return Status::OK();
}

Status RepositoryImpl::Prune(const std::vector<Digest>& keep, const PruneOptions& o, PruneResult* r) {
  *r = PruneResult{};
  if (ctx_->read_only) return Fail(Status::InvalidArgument("repository is open read-only"));
  if (!std::is_sorted(keep.begin(), keep.end())) return Fail(Status::InvalidArgument("keep list is not sorted"));
  PruneToken token;
  Status s = o.since != nullptr ? CheckToken(*o.since) : BeginPrune(&token);
  if (!s.ok()) return Fail(s);
  const uint64_t gen = o.since != nullptr ? o.since->generation : token.generation;
  std::lock_guard<std::mutex> one(prune_mu_);  // one prune at a time
  const uint64_t passes = o.dry_run ? 1 : 2;
  auto pass_progress = [&o, passes](uint64_t pass) {
    return [&o, passes, pass](uint64_t shards) {
      if (o.progress) o.progress(pass * 256 + shards, passes * 256);
    };
  };
  s = PrunePass(keep, gen, /*dry_run=*/true, r, pass_progress(0));
  if (s.ok() && !o.force) s = RefuseMistakes(keep, o, *r);
  if (!s.ok() || o.dry_run) {
    if (o.since == nullptr) EndPrune(gen);  // an explicit token stays usable
    return Fail(s);
  }
  if (r->chunks_deleted > 0 && ctx_->format_version.load() < format::kRepoVersion) {
    std::lock_guard<std::mutex> h(header_mu_);  // never beside a rewrite for blocked records (BlocksAllowed)
    if (!(s = UpgradeHeader(ctx_->env, ctx_->repo)).ok()) return Fail(s.WithContext("upgrading the header"));
    ctx_->format_version = format::kRepoVersion;
  }
  *r = PruneResult{};
  s = PrunePass(keep, gen, /*dry_run=*/false, r, pass_progress(1));
  if (s.ok()) s = Sync();  // deleted means durably deleted on return
  if (s.ok()) {
    chunks_deleted_ += r->chunks_deleted;
    EndPrune(gen);
  }
  return Fail(s);
}

Status RepositoryImpl::RefuseMistakes(const std::vector<Digest>& keep, const PruneOptions& o, const PruneResult& r) {
  if (keep.empty() && r.chunks_deleted > 0) {
    return Status::InvalidArgument("the keep list is empty: this would delete all " + std::to_string(r.chunks_deleted) +
                                   " chunks (use --force if that is what you want)");
  }
  if (r.chunks_before > 0 &&
      static_cast<double>(r.chunks_deleted) > o.max_delete_share * static_cast<double>(r.chunks_before)) {
    return Status::InvalidArgument("this would delete " + std::to_string(r.chunks_deleted) + " of " +
                                   std::to_string(r.chunks_before) + " chunks, more than " +
                                   std::to_string(static_cast<int>(o.max_delete_share * 100)) +
                                   "% (use --force if that is what you want)");
  }
  return Status::OK();
}

Status RepositoryImpl::Touch(const Digest& digest) {
  if (ctx_->read_only) return Fail(Status::InvalidArgument("repository is open read-only"));
  if (!shards_[digest.shard()]->MarkUsed(digest)) return Status::NotFound("chunk " + digest.ToHex());
  return Status::OK();
}

Status RepositoryImpl::Compact(const CompactOptions& o, CompactResult* r) {
  *r = CompactResult{};
  if (ctx_->read_only) return Fail(Status::InvalidArgument("repository is open read-only"));
  std::lock_guard<std::mutex> one(compact_mu_);
  compaction_running_ = 1;
  Status first;
  for (auto& shard : shards_) {
    CompactResult c;
    Status s = shard->Compact(o, &c);
    r->packs_removed += c.packs_removed;
    r->packs_written += c.packs_written;
    r->bytes_copied += c.bytes_copied;
    r->bytes_reclaimed += c.bytes_reclaimed;
    if (!s.ok() && first.ok()) first = s;  // one shard's failure (a full disk) leaves it as it was
    if (o.max_bytes != 0 && r->bytes_copied >= o.max_bytes) break;
    if (o.progress) o.progress(static_cast<uint64_t>(&shard - shards_.data()) + 1, shards_.size());
  }
  compaction_running_ = 0;
  bytes_reclaimed_ += r->bytes_reclaimed;
  compactions_ += r->packs_written;
  compaction_copied_ += r->bytes_copied;
  return Fail(first);
}

}  // namespace chunkfs
