// Offline verification and repair of a repository (chunkctl check / repair).
//
// Check reads only: it takes no lock and may run beside a mount (a pack being
// appended to may then show a tail that is not yet indexed; that is reported
// as a note, not as damage). Repair takes the owner lock, so it refuses to run
// while the repository is mounted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "chunkfs/digest.h"
#include "chunkfs/env.h"
#include "chunkfs/status.h"

namespace chunkfs {

struct CheckOptions {
  Env* env = nullptr;       // nullptr: Env::Default()
  bool read_data = false;   // also inflate every chunk and verify its SHA-256
  // Called after each pack with (bytes done, bytes total).
  std::function<void(uint64_t, uint64_t)> progress;
};

struct Problem {
  std::string file;            // path relative to the repository
  uint64_t offset = 0;         // byte offset in `file` where the damage is
  std::string what;            // what is wrong
  std::vector<Digest> affected;  // chunks that cannot be read because of it
};

struct CheckReport {
  uint64_t packs = 0, idx_files = 0, records = 0, bytes = 0;
  // Deletions (docs/FORMAT.md "Deletion log"): logs read, records they
  // delete that are still stored (counted in `records` too) and their bytes,
  // and compacted packs whose files are still there (not checked: never served).
  uint64_t deletion_logs = 0, deleted_records = 0, deleted_bytes = 0, dead_packs = 0;
  std::vector<Problem> problems;  // damage: check fails
  std::vector<std::string> notes; // not damage (stray files, unindexed tail of an active pack)
  bool ok() const { return problems.empty(); }
};

// Verifies the header, every idx (CRC, sort order, fanout, agreement with
// its pack), every pack header and trailer (and the whole-pack CRC), and every
// record checksum; with read_data every chunk's SHA-256 (deleted ones too).
// Every deletion log: header, each entry's CRC (a torn tail is a note), and
// that an entry naming a present pack names a record with its digest. A Status error means
// the check itself could not run (e.g. no such directory); damage goes into
// the report.
Status CheckRepository(const std::string& path, const CheckOptions& options, CheckReport* report);

struct RepairReport {
  std::vector<std::string> actions;       // what was changed, one line each
  std::vector<std::string> quarantined;   // files moved to REPO/quarantine/
  std::vector<Digest> rescued;            // chunks copied out of damaged packs
  std::vector<Digest> lost;               // chunks that could not be recovered
};

// Rebuilds what the data allows: a damaged header is rewritten (from its
// intact copy, else with default settings), damaged packs are moved to
// REPO/quarantine/ with their idx and every readable chunk in quarantine that
// the repository lacks is copied back into new packs (one pack in memory at a
// time; a repair cut short is completed by the next run), idx files and torn
// tails are rebuilt/cut by the normal recovery after being copied to
// quarantine. Never brings a deleted chunk back: records that the shard's
// deletion log deletes, and packs it says are dead, are not copied back (nor
// reported lost). A damaged deletion log is copied to quarantine and
// rewritten with every intact entry. Never deletes data. Running it again on
// a repaired repository changes nothing. `progress` gets the check's
// (bytes done, bytes total) as the data is read (CheckOptions::progress).
Status RepairRepository(const std::string& path, Env* env, RepairReport* report,
                        std::function<void(const std::string&)> log = nullptr,
                        std::function<void(uint64_t, uint64_t)> progress = nullptr);

}  // namespace chunkfs
