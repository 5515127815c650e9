// DigestIterator over all shards, one shard's digests in memory at a time.
#include <algorithm>
#include <vector>

#include "repository_impl.h"

namespace chunkfs {
namespace {

class ShardedIterator final : public DigestIterator {
 public:
  explicit ShardedIterator(RepositoryImpl* repo) : repo_(repo) {}

  bool Valid() const override { return shard_ < 256 && pos_ < digests_.size(); }
  const Digest& digest() const override { return digests_[pos_]; }
  void Next() override {
    if (++pos_ >= digests_.size()) LoadFrom(shard_ + 1);
  }
  void SeekToFirst() override { LoadFrom(0); }
  void Seek(const Digest& target) override {
    Load(target.shard());
    pos_ = std::lower_bound(digests_.begin(), digests_.end(), target) - digests_.begin();
    if (pos_ >= digests_.size()) LoadFrom(shard_ + 1);
  }
  Status status() const override { return status_; }

 private:
  void Load(int shard) {
    shard_ = shard;
    pos_ = 0;
    digests_.clear();
    if (shard >= 256 || !status_.ok()) return;
    Status s = repo_->shard(static_cast<uint8_t>(shard)).CollectDigests(&digests_);
    if (!s.ok()) {  // iteration stops here: a listing must not silently skip a shard
      status_ = s;
      digests_.clear();
      shard_ = 256;
    }
  }
  // First non-empty shard at or after `shard`.
  void LoadFrom(int shard) {
    for (Load(shard); shard_ < 256 && digests_.empty();) Load(shard_ + 1);
  }

  RepositoryImpl* repo_;
  int shard_ = 256;
  size_t pos_ = 0;
  std::vector<Digest> digests_;
  Status status_;
};

}  // namespace

std::unique_ptr<DigestIterator> RepositoryImpl::NewIterator() {
  auto it = std::make_unique<ShardedIterator>(this);
  it->SeekToFirst();
  return it;
}

}  // namespace chunkfs
