// One small test per kind of damage: `check` names the file, the offset and
// the affected digests; `repair` recovers what the data allows, quarantines
// instead of deleting, reports exactly the lost digests, and a second repair
// is a no-op. Some cases go through the chunkctl binary for the exit codes
// and the printed report.
#include <gtest/gtest.h>

#include "check_util.h"

namespace chunkfs::checktest {
namespace {

using DamageCheckTest = RepoTest;

TEST_F(DamageCheckTest, CleanRepositoryChecksOkAndRepairIsNoOp) {
  Fill(4096, 20);
  CheckReport r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok()) << Describe(r);
  EXPECT_EQ(r.records, chunks_.size());
  EXPECT_GE(r.packs, 4u);
  CliResult cli = RunChunkctl({"check", Repo(), "--read-data"}, dir_.path());
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_EQ(cli.err, "") << "progress must be quiet when stderr is not a terminal";
  EXPECT_EQ(LinesWith(cli.out, "ok: ").size(), 1u) << cli.out;
  EXPECT_NE(cli.out.find(std::to_string(chunks_.size()) + " records"), std::string::npos) << cli.out;
  auto before = DataTree(Repo());
  cli = RunChunkctl({"repair", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_TRUE(LinesWith(cli.out, "action: ").empty()) << cli.out;
  EXPECT_EQ(DataTree(Repo()), before);
}

TEST_F(DamageCheckTest, RecordChecksumMismatchSealedPack) {
  Fill(4096, 20);
  auto [dat, rec] = Locate(1);
  const Digest victim = Sha256(chunks_[1]);
  const std::set<Digest> pack = DigestsIn(dat);
  ASSERT_TRUE(fs::exists(IdxOf(dat)) && ReadFileOrDie(dat).size() > rec.end + kTrailer) << "pack not sealed";
  FlipByte(dat, rec.begin + kRecordHeader + 100);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), rec.begin);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->affected, std::vector<Digest>{victim});
  // Through the binary: exit 3 (damage), the DAMAGE line and the affected digest.
  CliResult cli = RunChunkctl({"check", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_NE(cli.out.find("DAMAGE " + Rel(Repo(), dat) + " offset " + std::to_string(rec.begin) + ": "),
            std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("  affected: " + victim.ToHex() + "\n"), std::string::npos) << cli.out;
  EXPECT_EQ(LinesWith(cli.out, "damaged: ").size(), 1u) << cli.out;
  const std::string flipped = ReadFileOrDie(dat);
  // Repair through the binary: exit 3 (a chunk is lost), "lost: <digest>".
  cli = RunChunkctl({"repair", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 3) << cli.out << cli.err;
  EXPECT_EQ(LinesWith(cli.out, "lost: "), std::vector<std::string>{victim.ToHex()}) << cli.out;
  EXPECT_EQ(LinesWith(cli.out, "rescued: "), std::vector<std::string>{std::to_string(pack.size() - 1) + " chunks"});
  EXPECT_FALSE(fs::exists(dat)) << "damaged pack left in place";
  auto q = Quarantine();
  std::string base = dat.substr(dat.rfind('/') + 1);
  EXPECT_NE(std::find(q.begin(), q.end(), "3a-" + base), q.end()) << "pack not quarantined";
  EXPECT_EQ(ReadFileOrDie(Repo() + "/quarantine/3a-" + base), flipped) << "quarantined pack is not the original file";
  ExpectRepaired(RepairReport{{}, {}, {}, {victim}}, {victim});
  // The binary says "nothing to do" with exit 0 the second time.
  cli = RunChunkctl({"repair", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_TRUE(LinesWith(cli.out, "action: ").empty()) << cli.out;
}

// A repair cut short after moving a pack to quarantine (crash, full disk)
// is completed by the next run: the chunks come back out of quarantine.
TEST_F(DamageCheckTest, RepairCutShortIsCompletedByTheNextRun) {
  Fill(4096, 20);
  auto [dat, rec] = Locate(1);
  const std::set<Digest> pack = DigestsIn(dat);
  fs::create_directories(Repo() + "/quarantine");
  std::string base = dat.substr(dat.rfind('/') + 1);
  fs::rename(dat, Repo() + "/quarantine/3a-" + base);
  fs::rename(IdxOf(dat), Repo() + "/quarantine/3a-" + base.substr(0, base.size() - 4) + ".idx");
  RepairReport r = RepairOrDie(Repo());
  EXPECT_EQ(r.rescued.size(), pack.size());
  EXPECT_TRUE(r.lost.empty());
  {
    auto repo = OpenOrDie(Repo(), true);
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
  }
  auto before = DataTree(Repo());
  r = RepairOrDie(Repo());
  EXPECT_TRUE(r.rescued.empty());
  EXPECT_EQ(DataTree(Repo()), before) << "the second run changed something";
}

TEST_F(DamageCheckTest, RecordChecksumMismatchUnsealedPack) {
  Fill(1 << 20, 8);
  auto [dat, rec] = Locate(3);
  const Digest victim = Sha256(chunks_[3]);
  FlipByte(dat, rec.begin + kRecordHeader + 10);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), rec.begin);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->affected, std::vector<Digest>{victim});
  EXPECT_EQ(p->what.rfind("torn tail", 0), std::string::npos) << "a damaged record mid-pack is no torn tail";
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_EQ(rep.rescued.size(), 7u);
  EXPECT_FALSE(rep.quarantined.empty());
  ExpectRepaired(rep, {victim});
}

// The last record of the active pack, covered by its published idx: recovery
// does not rescan what the idx covers, so this is damage (not a torn tail
// that recovery cuts) and repair must deal with it.
TEST_F(DamageCheckTest, RecordChecksumMismatchLastRecordOfUnsealedPack) {
  Fill(1 << 20, 8, 0);
  auto [dat, rec] = Locate(7);
  const Digest victim = Sha256(chunks_[7]);
  ASSERT_EQ(rec.end, FileSize(dat));
  FlipByte(dat, rec.begin + kRecordHeader + 10);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), rec.begin);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_TRUE(Affects(*p, victim)) << Describe(r);
  RepairReport rep = RepairOrDie(Repo());
  ExpectRepaired(rep, {victim});
}

TEST_F(DamageCheckTest, TornTail) {
  Fill(1 << 20, 6);
  std::string dat = Dats().back();
  const uint64_t size = FileSize(dat);
  const std::string garbage = RandomBytes(100, 99);
  WriteFileOrDie(dat, ReadFileOrDie(dat) + garbage);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), size);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->what.rfind("torn tail", 0), 0u) << p->what;
  EXPECT_TRUE(p->affected.empty());
  CliResult cli = RunChunkctl({"check", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_NE(cli.out.find("offset " + std::to_string(size) + ": torn tail"), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("  affected: none (rebuildable)\n"), std::string::npos) << cli.out;
  cli = RunChunkctl({"repair", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_TRUE(LinesWith(cli.out, "lost: ").empty()) << cli.out;
  EXPECT_EQ(FileSize(dat), size) << "tail not cut";
  // The cut bytes are kept in quarantine/.
  std::string base = dat.substr(dat.rfind('/') + 1);
  std::string tail = Repo() + "/quarantine/3a-" + base + ".tail-" + std::to_string(size);
  ASSERT_TRUE(fs::exists(tail)) << cli.out;
  EXPECT_EQ(ReadFileOrDie(tail), garbage);
  ExpectRepaired(RepairReport{}, {});
}

// The .dat lost its last 300 bytes after the idx naming that record was
// published (damage, not a power cut: the idx is written after the fsync).
TEST_F(DamageCheckTest, TruncatedPackLosesExactlyTheCutRecord) {
  Fill(1 << 20, 6, 0);
  std::string dat = Dats().back();
  fs::resize_file(dat, FileSize(dat) - 300);
  const Digest victim = Sha256(chunks_.back());
  CheckReport r = CheckOrDie(Repo(), false);
  ASSERT_FALSE(r.ok());
  bool named = false;
  for (auto& p : r.problems) named |= Affects(p, victim);
  EXPECT_TRUE(named) << Describe(r);
  ExpectRepaired(RepairOrDie(Repo()), {victim});
}

// Idx damage: check names the idx; nothing is lost (rebuilt from the pack);
// repair moves the bad idx to quarantine/ and recovery rebuilds it.
class IdxDamageTest : public RepoTest {
 protected:
  void SetUp() override {
    Fill(4096, 20);
    dat_ = Dats().front();
    idx_ = IdxOf(dat_);
  }
  void ExpectIdxProblem(const std::string& what_part) {
    CheckReport r = CheckOrDie(Repo(), false);
    const Problem* p = FindProblem(r, Rel(Repo(), idx_), 0);
    ASSERT_NE(p, nullptr) << Describe(r);
    EXPECT_NE(p->what.find(what_part), std::string::npos) << p->what;
    EXPECT_TRUE(p->affected.empty()) << "an idx is rebuildable: no chunk is lost";
    EXPECT_EQ(r.problems.size(), 1u) << Describe(r);
    CliResult cli = RunChunkctl({"check", Repo()}, dir_.path());
    EXPECT_EQ(cli.exit_code, 3);
    EXPECT_NE(cli.out.find("DAMAGE " + Rel(Repo(), idx_) + " offset 0: "), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("  affected: none (rebuildable)\n"), std::string::npos) << cli.out;
  }
  void ExpectRepairRebuilds(bool quarantined) {
    std::string old = fs::exists(idx_) ? ReadFileOrDie(idx_) : "";
    RepairReport rep = RepairOrDie(Repo());
    EXPECT_TRUE(rep.lost.empty());
    ASSERT_TRUE(fs::exists(idx_)) << "idx not rebuilt";
    if (quarantined) {
      std::string q = Repo() + "/quarantine/3a-" + idx_.substr(idx_.rfind('/') + 1);
      ASSERT_TRUE(fs::exists(q)) << "bad idx not quarantined";
      EXPECT_EQ(ReadFileOrDie(q), old);
    }
    ExpectRepaired(rep, {});
  }
  std::string dat_, idx_;
};

TEST_F(IdxDamageTest, TruncatedIdx) {
  fs::resize_file(idx_, FileSize(idx_) / 2);
  ExpectIdxProblem("idx");
  ExpectRepairRebuilds(true);
}

TEST_F(IdxDamageTest, EmptyIdx) {
  fs::resize_file(idx_, 0);
  ExpectIdxProblem("idx");
  ExpectRepairRebuilds(true);
}

TEST_F(IdxDamageTest, MissingIdx) {
  fs::remove(idx_);
  ExpectIdxProblem("no idx");
  ExpectRepairRebuilds(false);
}

TEST_F(IdxDamageTest, IdxBadCrc) {
  FlipByte(idx_, kIdxHeader + 256 * 4 + kIdxEntry + 40);  // raw_len of entry 1
  ExpectIdxProblem("idx");
  ExpectRepairRebuilds(true);
}

TEST_F(IdxDamageTest, IdxOutOfOrder) {
  std::string idx = ReadFileOrDie(idx_);
  const size_t e = kIdxHeader + 256 * 4;
  std::string e0 = idx.substr(e, kIdxEntry), e1 = idx.substr(e + kIdxEntry, kIdxEntry);
  idx.replace(e, kIdxEntry, e1);
  idx.replace(e + kIdxEntry, kIdxEntry, e0);
  PutU32(&idx, idx.size() - 4, Crc(idx, 0, idx.size() - 4));  // a valid CRC
  WriteFileOrDie(idx_, idx);
  ExpectIdxProblem("idx");
  ExpectRepairRebuilds(true);
}

// Sorted, valid CRC, but two entries point at each other's records.
TEST_F(IdxDamageTest, IdxEntriesDisagreeWithPack) {
  std::string idx = ReadFileOrDie(idx_);
  const size_t e = kIdxHeader + 256 * 4;
  std::string o0 = idx.substr(e + 32, 8), o1 = idx.substr(e + kIdxEntry + 32, 8);
  idx.replace(e + 32, 8, o1);
  idx.replace(e + kIdxEntry + 32, 8, o0);
  PutU32(&idx, idx.size() - 4, Crc(idx, 0, idx.size() - 4));
  WriteFileOrDie(idx_, idx);
  CheckReport r = CheckOrDie(Repo(), false);
  ASSERT_FALSE(r.ok());
  for (auto& p : r.problems) EXPECT_EQ(p.file, Rel(Repo(), idx_)) << Describe(r);
  ExpectRepairRebuilds(true);
}

TEST_F(DamageCheckTest, BadPackMagic) {
  Fill(4096, 20);
  std::string dat = Dats().front();
  const std::set<Digest> pack = DigestsIn(dat);
  FlipByte(dat, 0);
  CheckReport r = CheckOrDie(Repo(), false);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), 0);
  ASSERT_NE(p, nullptr) << Describe(r);
  // The store serves no chunk of a pack whose header is bad: all affected.
  EXPECT_EQ(std::set<Digest>(p->affected.begin(), p->affected.end()), pack) << Describe(r);
  {
    auto repo = OpenOrDie(Repo(), true);
    for (auto& c : chunks_) EXPECT_TRUE(NeverWrongBytes(repo.get(), c));
  }
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_EQ(rep.rescued.size(), pack.size()) << "every record of the pack is intact";
  EXPECT_FALSE(rep.quarantined.empty());
  ExpectRepaired(rep, {});
}

// The header holds two copies: one damaged byte loses no setting.
TEST_F(DamageCheckTest, BadRepoHeaderByte) {
  Fill(4096, 10);
  const std::string header = Repo() + "/chunkfs.repo";
  const std::string original = ReadFileOrDie(header);
  FlipByte(header, 20);  // inside the first copy's pack_size_limit: its CRC catches it
  std::vector<std::string> log;
  {
    OpenOptions o;
    o.log = [&](const std::string& line) { log.push_back(line); };
    std::unique_ptr<Repository> repo;
    Status s = Repository::Open(Repo(), o, &repo);
    ASSERT_TRUE(s.ok()) << "a damaged header must not lock the data away: " << s.ToString();
    EXPECT_EQ(repo->settings().pack_size_limit, 4096u) << "the intact copy's settings";
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
  }
  bool logged = false;
  for (auto& l : log) logged |= l.find("chunkfs.repo") != std::string::npos;
  EXPECT_TRUE(logged) << "open did not log the damaged header";
  CheckReport r = CheckOrDie(Repo(), false);
  ASSERT_NE(FindProblem(r, "chunkfs.repo", 0), nullptr) << Describe(r);
  CliResult cli = RunChunkctl({"check", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_NE(cli.out.find("DAMAGE chunkfs.repo offset 0: "), std::string::npos) << cli.out;
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_FALSE(rep.actions.empty());
  EXPECT_EQ(ReadFileOrDie(header), original) << "rewritten from the intact copy";
  ExpectRepaired(rep, {});
}

// Both copies unreadable (magic kept, file truncated): defaults are used, the
// data stays readable, repair sets the file aside and writes a fresh one.
TEST_F(DamageCheckTest, BadRepoHeaderBothCopies) {
  Fill(4096, 10);
  const std::string header = Repo() + "/chunkfs.repo";
  const std::string original = ReadFileOrDie(header);
  WriteFileOrDie(header, original.substr(0, 40));
  {
    auto repo = OpenOrDie(Repo());
    ASSERT_NE(repo, nullptr);
    EXPECT_EQ(repo->settings().pack_size_limit, RepoSettings{}.pack_size_limit);
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
  }
  CheckReport r = CheckOrDie(Repo(), false);
  ASSERT_NE(FindProblem(r, "chunkfs.repo", 0), nullptr) << Describe(r);
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_EQ(rep.quarantined, std::vector<std::string>{"quarantine/chunkfs.repo"});
  EXPECT_EQ(ReadFileOrDie(Repo() + "/quarantine/chunkfs.repo"), original.substr(0, 40));
  ExpectRepaired(rep, {});
}

// Replaces chunk `i`'s payload with `other` (same length) and recomputes the
// record CRC, so that only the SHA-256 of the content can catch it.
void CraftDigestMismatch(const std::string& dat, const RecordSpan& rec, const std::string& other) {
  std::string content = ReadFileOrDie(dat);
  content.replace(rec.begin + kRecordHeader, other.size(), other);
  PutU32(&content, rec.end - 4, Crc(content, rec.begin, rec.end - 4 - rec.begin));
  WriteFileOrDie(dat, content);
}

TEST_F(DamageCheckTest, DigestMismatchOnlyFoundByReadData) {
  Fill(1 << 20, 6);  // unsealed: no pack checksum covers the record
  auto [dat, rec] = Locate(2);
  const Digest victim = Sha256(chunks_[2]);
  CraftDigestMismatch(dat, rec, RandomBytes(700, 4242));
  CheckReport quick = CheckOrDie(Repo(), false);
  EXPECT_TRUE(quick.ok()) << "the CRC is valid; only --read-data can see this:\n" << Describe(quick);
  CheckReport r = CheckOrDie(Repo(), true);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), rec.begin);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->affected, std::vector<Digest>{victim});
  EXPECT_NE(p->what.find(victim.ToHex()), std::string::npos) << p->what;
  EXPECT_EQ(RunChunkctl({"check", Repo()}, dir_.path()).exit_code, 0);
  CliResult cli = RunChunkctl({"check", Repo(), "--read-data"}, dir_.path());
  EXPECT_EQ(cli.exit_code, 3);
  EXPECT_NE(cli.out.find("  affected: " + victim.ToHex()), std::string::npos) << cli.out;
  {
    auto repo = OpenOrDie(Repo(), true);
    std::string out;
    Status s = repo->Get(victim, &out);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  }
  ExpectRepaired(RepairOrDie(Repo()), {victim});
}

// In a sealed pack too. Note: the trailer's pack CRC does NOT catch this: a
// CRC-32 over "record || CRC-32(record)" leaves the register in a state that
// depends only on the state before and the length (the CRC residue), so a
// record rewritten with a matching record CRC leaves the pack CRC unchanged.
// Only the SHA-256 (check --read-data, and every Get) sees it.
TEST_F(DamageCheckTest, DigestMismatchInSealedPack) {
  Fill(4096, 20);
  auto [dat, rec] = Locate(1);
  const Digest victim = Sha256(chunks_[1]);
  CraftDigestMismatch(dat, rec, RandomBytes(700, 4243));
  CheckReport quick = CheckOrDie(Repo(), false);
  EXPECT_TRUE(quick.ok()) << "CRC residue: no CRC can see this\n" << Describe(quick);
  CheckReport r = CheckOrDie(Repo(), true);
  const Problem* p = FindProblem(r, Rel(Repo(), dat), rec.begin);
  ASSERT_NE(p, nullptr) << Describe(r);
  EXPECT_EQ(p->affected, std::vector<Digest>{victim});
  {
    auto repo = OpenOrDie(Repo());
    std::string out;
    EXPECT_TRUE(repo->Get(victim, &out).IsCorruption());
  }
  ExpectRepaired(RepairOrDie(Repo()), {victim});
}

TEST_F(DamageCheckTest, StrayFiles) {
  Fill(4096, 10);
  const std::string shard = ShardDir(Repo(), kShard);
  WriteFileOrDie(Repo() + "/notes.txt", "x");
  fs::create_directory(Repo() + "/backup");
  WriteFileOrDie(Repo() + "/shards/README", "x");
  fs::create_directory(Repo() + "/shards/zz");
  fs::create_directory(Repo() + "/shards/3a.old");
  WriteFileOrDie(shard + "/core", "x");
  WriteFileOrDie(shard + "/pack-zz.dat", "x");
  fs::create_directory(shard + "/pack-0000000000000099.dat");
  fs::create_directory(shard + "/subdir");
  WriteFileOrDie(shard + "/pack-0000000000000077.idx", "orphan");
  std::vector<std::string> log;
  {
    OpenOptions o;
    o.read_only = true;
    std::unique_ptr<Repository> repo;
    ASSERT_TRUE(Repository::Open(Repo(), o, &repo).ok());
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
  }
  CheckReport r = CheckOrDie(Repo(), true);
  EXPECT_TRUE(r.ok()) << "stray files are not damage:\n" << Describe(r);
  std::string notes;
  for (auto& n : r.notes) notes += n + "\n";
  for (const char* name : {"shards/README", "shards/zz", "shards/3a.old", "shards/3a/core", "shards/3a/pack-zz.dat",
                           "shards/3a/pack-0000000000000099.dat", "shards/3a/subdir",
                           "shards/3a/pack-0000000000000077.idx"}) {
    EXPECT_NE(notes.find(std::string(name) + ": "), std::string::npos) << name << " not noted:\n" << notes;
  }
  CliResult cli = RunChunkctl({"check", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_EQ(LinesWith(cli.out, "note: ").size(), r.notes.size()) << cli.out;
  {
    OpenOptions o;
    o.log = [&](const std::string& line) { log.push_back(line); };
    std::unique_ptr<Repository> repo;
    Status s = Repository::Open(Repo(), o, &repo);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (auto& c : chunks_) EXPECT_TRUE(HasChunk(repo.get(), c));
    PutOrDie(repo.get(), ContentInShard(kShard, 700, 77777));
  }
  EXPECT_FALSE(log.empty()) << "stray files must be logged";
  auto before = DataTree(Repo());
  RepairReport rep = RepairOrDie(Repo());
  EXPECT_TRUE(rep.quarantined.empty()) << "stray files are not the repository's to move";
  EXPECT_TRUE(rep.lost.empty());
  EXPECT_EQ(DataTree(Repo()), before) << "repair touched stray files";
  EXPECT_TRUE(fs::exists(shard + "/core") && fs::exists(Repo() + "/notes.txt"));
}

TEST_F(DamageCheckTest, RepairRefusedWhileOwnedNamingThePid) {
  Fill(4096, 6);
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  pid_t child = fork();
  if (child == 0) {
    std::unique_ptr<Repository> repo;
    OpenOptions o;
    char c = Repository::Open(Repo(), o, &repo).ok() ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    if (read(release[0], &c, 1) < 0) _exit(1);
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto before = DataTree(Repo());
  CliResult cli = RunChunkctl({"repair", Repo()}, dir_.path());
  EXPECT_EQ(cli.exit_code, 1);
  EXPECT_NE(cli.err.find("Busy"), std::string::npos) << cli.err;
  EXPECT_NE(cli.err.find(std::to_string(child)), std::string::npos) << "holder pid not named: " << cli.err;
  RepairReport rep;
  Status s = RepairRepository(Repo(), nullptr, &rep);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  cli = RunChunkctl({"check", Repo(), "--read-data"}, dir_.path());  // readers run beside the owner
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_EQ(DataTree(Repo()), before);
  ASSERT_EQ(write(release[1], "x", 1), 1);
  int status = 0;
  waitpid(child, &status, 0);
  close(ready[0]); close(ready[1]); close(release[0]); close(release[1]);
}

// On a terminal (here a pty made by script(1)) a progress line is shown on
// stderr; piped, stderr stays empty (CleanRepositoryChecksOkAndRepairIsNoOp).
TEST_F(DamageCheckTest, ProgressOnlyOnATerminal) {
  if (system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "script(1) not installed";
  Fill(4096, 20);
  std::string cmd = "script -qec '" + std::string(CHUNKCTL_PATH) + " check " + Repo() + "' /dev/null > " +
                    dir_.Sub("tty.out") + " 2>&1";
  ASSERT_EQ(system(cmd.c_str()), 0);
  std::string tty = ReadFileOrDie(dir_.Sub("tty.out"));
  EXPECT_NE(tty.find("\rcheck: "), std::string::npos) << tty;
  EXPECT_NE(tty.find(" MB"), std::string::npos) << tty;
  EXPECT_NE(tty.find("ok: "), std::string::npos) << tty;
}

TEST_F(DamageCheckTest, UsageErrorsExitTwo) {
  Fill(4096, 1);
  for (auto args : std::vector<std::vector<std::string>>{{"check"},
                                                          {"check", Repo(), Repo()},
                                                          {"check", Repo(), "--bogus"},
                                                          {"repair"},
                                                          {"repair", Repo(), "--read-data"}}) {
    CliResult cli = RunChunkctl(args, dir_.path());
    EXPECT_EQ(cli.exit_code, 2) << args.size() << " " << cli.err;
    EXPECT_EQ(cli.err.rfind("chunkctl: ", 0), 0u) << cli.err;
  }
}

}  // namespace
}  // namespace chunkfs::checktest
