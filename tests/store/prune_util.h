// Helpers for the prune/compaction crash, fault and race tests (issue 8):
// what the test knows about each chunk, and the checks every state must pass.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "chunkfs/check.h"
#include "chunkfs/repository.h"
#include "test_util.h"

namespace chunkfs::testutil {

// What a test knows about its chunks (indexes into `chunks`). A chunk is
// "kept" if it is acknowledged and not deleted or being deleted.
struct PruneBook {
  std::vector<std::string> chunks;  // every chunk whose Put returned OK
  std::set<size_t> acked;           // made durable by a Sync (or Prune) that returned OK
  std::set<size_t> deleted;         // deleted by a Prune that returned OK
  std::set<size_t> deleting;        // not kept by a Prune that has not returned (yet, or failed)

  size_t Add(const std::string& c) {
    chunks.push_back(c);
    return chunks.size() - 1;
  }
  void AckAll() {
    for (size_t i = 0; i < chunks.size(); ++i) acked.insert(i);
  }
  // The sorted keep list of a prune keeping chunks i with keep(i), and
  // marks the others as being deleted, except `spared` (not kept, but
  // protected by the prune's token: they must stay).
  template <typename Pred>
  std::vector<Digest> BeginPrune(Pred keep, const std::set<size_t>& spared = {}) {
    std::vector<Digest> out;
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (deleted.count(i)) continue;
      if (keep(i)) out.push_back(Sha256(chunks[i]));
      else if (!spared.count(i)) deleting.insert(i);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The prune returned OK: everything it did not keep is gone; everything
  // put before it is durable.
  void EndPrune() {
    deleted.insert(deleting.begin(), deleting.end());
    deleting.clear();
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (!deleted.count(i)) acked.insert(i);
    }
  }
};

// The repository agrees with `b`: acknowledged chunks not being deleted are
// whole, deleted ones are NotFound and not listed, chunks being deleted are
// whole or NotFound, and no Get returns wrong bytes.
inline void ExpectBook(Repository* repo, const PruneBook& b) {
  std::set<Digest> listed;
  auto it = repo->NewIterator();
  for (; it->Valid(); it->Next()) listed.insert(it->digest());
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  for (size_t i = 0; i < b.chunks.size(); ++i) {
    const Digest d = Sha256(b.chunks[i]);
    std::string got;
    Status s = repo->Get(d, &got);
    ASSERT_TRUE(!s.ok() || got == b.chunks[i]) << "chunk " << i << ": WRONG BYTES";
    if (b.deleted.count(i)) {
      ASSERT_TRUE(s.IsNotFound()) << "chunk " << i << " deleted by a returned prune: " << s.ToString();
      ASSERT_EQ(listed.count(d), 0u) << "chunk " << i << " deleted by a returned prune is listed";
    } else if (b.deleting.count(i)) {
      ASSERT_TRUE(s.ok() || s.IsNotFound()) << "chunk " << i << " being deleted, half there: " << s.ToString();
      ASSERT_EQ(listed.count(d), s.ok() ? 1u : 0u) << "chunk " << i << ": listing disagrees with Get";
    } else if (b.acked.count(i)) {
      ASSERT_TRUE(s.ok()) << "kept chunk " << i << " lost: " << s.ToString();
      ASSERT_EQ(listed.count(d), 1u) << "kept chunk " << i << " not listed";
    }
  }
}

// chunkfs::CheckRepository (with the data) finds no damage.
inline void ExpectCheckClean(const std::string& repo, Env* env) {
  CheckOptions o;
  o.env = env;
  o.read_data = true;
  CheckReport r;
  Status s = CheckRepository(repo, o, &r);
  ASSERT_TRUE(s.ok()) << "check could not run: " << s.ToString();
  std::string damage;
  for (const auto& p : r.problems) damage += p.file + " offset " + std::to_string(p.offset) + ": " + p.what + "\n";
  ASSERT_TRUE(r.ok()) << "check found damage:\n" << damage;
}

inline PruneOptions Forced(const PruneToken* since = nullptr) {
  PruneOptions o;
  o.force = true;
  o.since = since;
  return o;
}

}  // namespace chunkfs::testutil
