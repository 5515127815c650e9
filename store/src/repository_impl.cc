#include "repository_impl.h"

#include <chrono>
#include <random>

#include "codec.h"
#include "filenames.h"
#include "format.h"

namespace chunkfs {

namespace {
uint64_t RandomInstance() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd() ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}
}  // namespace

RepositoryImpl::RepositoryImpl(std::unique_ptr<StoreContext> ctx) : ctx_(std::move(ctx)), instance_(RandomInstance()) {
  for (int i = 0; i < 256; ++i) shards_[i] = std::make_unique<Shard>(ctx_.get(), static_cast<uint8_t>(i));
}

RepositoryImpl::~RepositoryImpl() {
  Status s = Close();  // a caller that cares calls Close() itself and sees this
  if (!s.ok()) ctx_->Log("closing " + ctx_->repo + ": " + s.ToString());
}

Status RepositoryImpl::OpenShards(std::unique_ptr<FileLock> lock) {
  lock_ = std::move(lock);
  uint64_t max_id = 0;
  for (auto& s : shards_) {
    Status st = s->Open();
    if (!st.ok()) return st.WithContext("opening " + ctx_->repo);
    max_id = std::max(max_id, s->max_pack_id());
  }
  // Quarantined packs keep their ids: never reuse them.
  std::vector<std::string> names;
  if (ctx_->env->GetChildren(filenames::QuarantineDir(ctx_->repo), &names).ok()) {
    for (const auto& n : names) {
      uint64_t id;
      if (filenames::ParseQuarantineName(n, &id)) max_id = std::max(max_id, id);
    }
  }
  // Recovery may have allocated ids already (never below max_id + 1).
  uint64_t want = max_id + 1;
  uint64_t cur = ctx_->next_pack_id.load();
  if (cur < want) ctx_->next_pack_id.store(want);
  return Status::OK();
}

Status RepositoryImpl::Admit(uint64_t raw_size) {
  if (ctx_->read_only) return Status::InvalidArgument("repository is open read-only");
  if (raw_size > ctx_->settings.max_chunk_size) {
    return Status::TooLarge("chunk of " + std::to_string(raw_size) + " bytes exceeds the maximum of " +
                            std::to_string(ctx_->settings.max_chunk_size));
  }
  return Status::OK();
}

Status RepositoryImpl::Put(std::string_view data, PutResult* result, const Digest* expected) {
  if (Status s = Admit(data.size()); !s.ok()) return Fail(s);
  Digest d = Sha256(data);
  if (expected != nullptr && d != *expected) {
    return Fail(Status::Corruption("content hashes to " + d.ToHex() + ", not to its name " + expected->ToHex()));
  }
  // A chunk over one block is stored as a blocked record, so that it can be read block by block.
  auto encode = [&](uint8_t* codec, std::string* owned, records::Payload* payload) {
    std::string_view one;
    Status s;
    if (data.size() > kBlockSize && BlocksAllowed()) s = EncodeLarge(data, codec, owned, &one);
    else EncodePlain(data, codec, owned, &one);
    payload->pieces = {one};
    return s;
  };
  return Store(d, data.size(), encode, result);
}

Status RepositoryImpl::Store(const Digest& d, uint64_t raw_size, const Encoder& encode, PutResult* result) {
  result->digest = d;
  result->was_new = false;
  Shard& shard = *shards_[d.shard()];
  ChunkLocation loc;
  // A dedup hit is checked again and recorded under the shard's write lock,
  // atomically with a prune, if a prune token was open at any moment since
  // before the lookup: every prune holds one from before its first deletion
  // to its end. Read in this order (events, then open count; BeginPrune and
  // EndPrune change them the other way round), "no token open before the
  // lookup and none opened or closed since" means that no prune ran
  // meanwhile. (Reading the open count only after the lookup let a prune
  // delete the chunk between the lookup and the check and then end: the
  // Put reported a chunk stored that was gone. PruneRaceTest.)
  const uint64_t events = ctx_->token_events.load();
  const bool token_was_open = ctx_->tokens_open.load() > 0;
  bool found = shard.Find(d, &loc) && !shard.IsDamaged(d);
  if (found && ctx_->test_after_dedup_lookup) ctx_->test_after_dedup_lookup(d);
  if (found && (token_was_open || ctx_->token_events.load() != events)) found = shard.MarkUsed(d);
  if (!found) {  // compress outside the shard lock
    uint8_t codec = format::kCodecRaw;
    std::string owned;
    records::Payload payload;
    Status s = encode(&codec, &owned, &payload);
    if (s.ok()) s = shard.Append(d, static_cast<uint32_t>(raw_size), codec, payload, &result->was_new);
    if (!s.ok()) return Fail(s);
  }
  if (result->was_new) puts_++;
  else dedup_hits_++;
  return Status::OK();
}

bool RepositoryImpl::RefindAfterCompaction(Status* s, const Digest& d, ChunkLocation* loc) {
  if (!ctx_->read_only || !s->IsIOError() || s->err() != ENOENT) return false;
  // The writer compacted the pack away since we loaded it: look again.
  Shard& shard = *shards_[d.shard()];
  shard.Reload();
  if (shard.Find(d, loc)) return true;
  *s = Status::NotFound("chunk " + d.ToHex());
  return false;
}

bool RepositoryImpl::RefindPastMerged(Status* s, const Digest& d, ChunkLocation* loc) {
  if (!loc->from_merged || !s->IsCorruption()) return false;
  switch (shards_[d.shard()]->RecheckMerged(d, *s, loc)) {
    case Shard::Recheck::kAgrees: return false;
    case Shard::Recheck::kMoved: return true;
    case Shard::Recheck::kAbsent: *s = Status::NotFound("chunk " + d.ToHex()); return false;
  }
  return false;
}

Status RepositoryImpl::Get(const Digest& digest, std::string* out) {
  ChunkLocation loc;
  if (!shards_[digest.shard()]->Find(digest, &loc)) return Status::NotFound("chunk " + digest.ToHex());
  Status s = loc.pack->ReadChunk(loc.entry, out);
  if (RefindAfterCompaction(&s, digest, &loc)) s = loc.pack->ReadChunk(loc.entry, out);
  if (RefindPastMerged(&s, digest, &loc)) s = loc.pack->ReadChunk(loc.entry, out);
  if (s.IsCorruption()) {
    NoteCorruptRead(digest);
  }
  return Fail(s);
}

Status RepositoryImpl::Stat(const Digest& digest, ChunkInfo* info) {
  ChunkLocation loc;
  if (!shards_[digest.shard()]->Find(digest, &loc)) return Status::NotFound("chunk " + digest.ToHex());
  info->raw_size = loc.entry.raw_len;
  info->stored_size = loc.entry.stored_len;
  info->codec = loc.entry.codec;
  return Status::OK();
}

Status RepositoryImpl::Sync() {
  if (ctx_->read_only) return Status::OK();
  const uint64_t mine = ctx_->appends.load();
  std::lock_guard<std::mutex> l(sync_mu_);
  Digest lost;
  // A round that started after our puts covered them (and left nothing to publish).
  if (mine <= synced_appends_ && !sync_failed_ && !publish_pending_ && !ctx_->AnyLost(&lost)) return Status::OK();
  const uint64_t covering = ctx_->appends.load();
  Status first = SyncShards(&publish_pending_);
  syncs_++;
  if (first.ok() && ctx_->AnyLost(&lost)) {
    first = Status::IOError("chunk " + lost.ToHex() +
                                " was lost before it became durable (its pack failed to sync); store it again",
                            EIO);
  }
  sync_failed_ = !first.ok();
  if (first.ok()) synced_appends_ = covering;
  return Fail(first);
}

// REQUIRES: sync_mu_ held. Syncs every shard that has work, several at a
// time (their fsyncs overlap; ext4 commits them in one journal transaction).
Status RepositoryImpl::SyncShards(bool* publish_pending) {
  std::vector<Shard*> dirty;
  for (auto& shard : shards_) {
    if (shard->needs_sync()) dirty.push_back(shard.get());
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> any_pending{false};
  std::mutex first_mu;
  Status first;
  auto work = [&] {
    for (size_t i; (i = next++) < dirty.size();) {
      bool pending = false;
      Status s = dirty[i]->Sync(false, &pending);
      if (pending) any_pending = true;
      std::lock_guard<std::mutex> fl(first_mu);
      if (!s.ok() && first.ok()) first = s;
    }
  };
  std::vector<std::thread> helpers;
  const size_t extra = std::min(dirty.size(), kSyncThreads) - (dirty.empty() ? 0 : 1);
  for (size_t t = 0; t < extra; ++t) helpers.emplace_back(work);
  work();
  for (auto& t : helpers) t.join();
  *publish_pending = any_pending;
  return first;
}

RepoStats RepositoryImpl::GetStats() {
  RepoStats st;
  for (auto& shard : shards_) {
    ShardCounts c = shard->GetCounts();
    st.chunks += c.chunks;
    st.bytes_raw += c.bytes_raw;
    st.bytes_stored += c.bytes_stored;
    st.packs_sealed += c.packs_sealed;
    st.packs_open += c.packs_open;
    st.dead_bytes += c.dead_bytes;
  }
  st.puts = puts_.load();
  st.dedup_hits = dedup_hits_.load();
  st.syncs = syncs_.load();
  st.corrupt_reads = corrupt_reads_.load();
  st.errors = ctx_->errors.load();
  st.chunks_deleted = chunks_deleted_.load();
  st.bytes_reclaimed = bytes_reclaimed_.load();
  st.compactions = compactions_.load();
  st.compaction_running = compaction_running_.load();
  st.compaction_bytes_copied = compaction_copied_.load();
  return st;
}

void RepositoryImpl::NoteCorruptRead(const Digest& digest) {
  corrupt_reads_++;
  shards_[digest.shard()]->MarkDamaged(digest);  // a new Put of it stores it again
}

void DamageSink::Report(const Digest& d) {
  std::lock_guard<std::mutex> l(mu_);
  if (repo_ != nullptr) repo_->NoteCorruptRead(d);
}

void DamageSink::Detach() {
  std::lock_guard<std::mutex> l(mu_);
  repo_ = nullptr;
}

Status RepositoryImpl::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  damage_sink_->Detach();  // readers still open report to nobody from now on
  Status first;
  for (auto& shard : shards_) {
    Status s = shard->Close();
    if (!s.ok() && first.ok()) first = s;
  }
  lock_.reset();
  return first;
}

}  // namespace chunkfs
