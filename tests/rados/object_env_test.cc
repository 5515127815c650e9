// ObjectEnv's mapping of files onto objects, without a cluster: the Env and
// store conformance suites on the local folder and on ObjectEnv over
// MemoryObjectStore, and what only an object store has (catalog objects,
// acknowledged appends, size limits, lock holders on this host).
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>

#include <gtest/gtest.h>

#include "chunkfs/repository.h"
#include "env_conformance.h"
#include "memory_object_store.h"
#include "object_env.h"
#include "store_conformance.h"
#include "test_util.h"

namespace chunkfs::testing_env {
namespace {

constexpr char kRoot[] = "rados:pool/ns";

std::string LocalTmp() { return ::testing::TempDir() + "/chunkfs-object-env-test-tmp"; }

EnvUnderTest PosixKind() {
  auto dir = std::make_shared<testutil::TempDir>();
  EnvUnderTest t;
  t.env = Env::Default();
  t.dir = dir->path();
  t.repo = dir->Sub("repo");
  t.reopen = [] { return std::shared_ptr<Env>(Env::Default(), [](Env*) {}); };
  t.cleanup = [dir]() mutable { dir.reset(); };
  return t;
}

EnvUnderTest MemoryKind() {
  auto cluster = std::make_shared<MemoryCluster>();
  auto clients = std::make_shared<std::atomic<int>>(1);
  auto make = [cluster, clients] {
    auto store = std::make_shared<MemoryObjectStore>(cluster, "client." + std::to_string((*clients)++));
    return std::shared_ptr<Env>(std::make_shared<ObjectEnv>(store, kRoot, LocalTmp()));
  };
  EnvUnderTest t;
  t.owner = make();
  t.env = t.owner.get();
  t.dir = kRoot;
  t.repo = kRoot;
  t.reopen = make;
  Status s = t.env->CreateDir(t.dir);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return t;
}

const EnvKind kKinds[] = {{"Posix", PosixKind}, {"MemoryObjects", MemoryKind}};
INSTANTIATE_TEST_SUITE_P(Env, EnvConformance, ::testing::ValuesIn(kKinds), KindName);
INSTANTIATE_TEST_SUITE_P(Store, StoreConformance, ::testing::ValuesIn(kKinds), KindName);

// ---------------------------------------------------------------- object-only

class ObjectEnvTest : public ::testing::Test {
 protected:
  std::shared_ptr<MemoryObjectStore> Client(const std::string& name) {
    return std::make_shared<MemoryObjectStore>(cluster_, name);
  }
  std::string Path(const std::string& name) const { return std::string(kRoot) + "/" + name; }
  bool HasObject(const std::string& oid) {
    std::lock_guard<std::mutex> l(cluster_->mu);
    return cluster_->objects.count(oid) != 0;
  }
  std::string Object(const std::string& oid) {
    std::lock_guard<std::mutex> l(cluster_->mu);
    return cluster_->objects[oid].data;
  }

  std::shared_ptr<MemoryCluster> cluster_ = std::make_shared<MemoryCluster>();
  std::shared_ptr<MemoryObjectStore> store_ = Client("client.1");
  ObjectEnv env_{store_, kRoot, LocalTmp()};
};

TEST_F(ObjectEnvTest, FilesAndFoldersMapOntoNamedObjectsAndCatalogs) {
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  ASSERT_TRUE(env_.CreateDir(Path("shards")).ok());
  ASSERT_TRUE(env_.CreateDir(Path("shards/2c")).ok());
  ASSERT_TRUE(env_.WriteFileAtomic(Path("shards/2c"), "pack-1.idx", "I").ok());
  EXPECT_EQ(Object("shards/2c/pack-1.idx"), "I");
  std::vector<std::string> keys;
  ASSERT_TRUE(store_->OmapKeys("shards/2c/", &keys).ok());
  EXPECT_EQ(keys, std::vector<std::string>{"pack-1.idx"});
  ASSERT_TRUE(store_->OmapKeys("/", &keys).ok());
  EXPECT_EQ(keys, std::vector<std::string>{"shards"});
  bool exists = false;
  EXPECT_TRUE(env_.FileExists("/elsewhere/file", &exists).code() == Status::Code::kInvalidArgument);
  EXPECT_TRUE(env_.FileExists("rados:pool/nsX/file", &exists).code() == Status::Code::kInvalidArgument);
}

TEST_F(ObjectEnvTest, SyncWaitsUntilEveryAppendIsAcknowledged) {
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile(Path("p"), &f).ok());
  store_->HoldAcks(true);
  ASSERT_TRUE(f->Append("one ").ok());
  ASSERT_TRUE(f->Append("two").ok());
  EXPECT_EQ(Object("p"), "");  // issued, not yet acknowledged
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(Object("p"), "one two");
  ASSERT_TRUE(f->Close().ok());
}

TEST_F(ObjectEnvTest, AnAppendThatFailsInFlightFailsEveryLaterSync) {
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile(Path("p"), &f).ok());
  store_->FailWrites(EIO, 1);
  ASSERT_TRUE(f->Append("lost").ok());  // the failure shows at Sync
  ASSERT_TRUE(f->Append("kept").ok());
  Status s = f->Sync();
  EXPECT_EQ(s.err(), EIO) << s.ToString();
  EXPECT_NE(s.message().find(Path("p")), std::string::npos) << s.ToString();
  EXPECT_EQ(f->Sync().err(), EIO);  // never trusted again (the store retires the pack)
  EXPECT_EQ(f->Close().err(), EIO);
}

TEST_F(ObjectEnvTest, LargeAppendsAreSplitAndObjectsStayUnderTheLimit) {
  store_->SetLimits(1000, 2500);
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(env_.NewWritableFile(Path("p"), &f).ok());
  const uint64_t writes = store_->writes();
  const std::string big(2400, 'b');
  ASSERT_TRUE(f->Append(big).ok());
  EXPECT_EQ(store_->writes() - writes, 3u);  // 1000 + 1000 + 400
  Status s = f->Append(std::string(200, 'm'));  // 2600 > 2500
  EXPECT_EQ(s.err(), EFBIG) << s.ToString();
  ASSERT_TRUE(f->Sync().ok());
  EXPECT_EQ(Object("p"), big);
  ASSERT_TRUE(env_.Truncate(Path("p"), 100).ok());  // room again, as after a cut tail
  EXPECT_TRUE(f->Append("fits now").ok());
  ASSERT_TRUE(f->Close().ok());
  EXPECT_EQ(env_.WriteFileAtomic(kRoot, "w", std::string(1001, 'w')).err(), EFBIG);
  bool exists = true;
  ASSERT_TRUE(env_.FileExists(Path("w"), &exists).ok());
  EXPECT_FALSE(exists);
}

TEST_F(ObjectEnvTest, RepositoryWhosePacksCannotFitAnObjectIsRefused) {
  store_->SetLimits(1 << 20, 8 << 20);
  RepoSettings s = testutil::SmallSettings(8 << 20, 1 << 20);
  Status st = Repository::Create(kRoot, s, &env_);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("must fit one object"), std::string::npos) << st.ToString();
  ASSERT_TRUE(Repository::Create(kRoot, testutil::SmallSettings(4 << 20, 1 << 20), &env_).ok());
}

// A write_full whose reply is lost is not written again: the object is read
// back and compared; only if it does not hold the bytes is the error returned.
TEST_F(ObjectEnvTest, AnAtomicWriteWhoseReplyWasLostIsComparedNotRewritten) {
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  store_->LoseReplies(1);
  uint64_t writes = store_->writes();
  ASSERT_TRUE(env_.WriteFileAtomic(kRoot, "pack-1.idx", "sealed idx").ok());
  EXPECT_EQ(Object("pack-1.idx"), "sealed idx");
  EXPECT_EQ(store_->writes() - writes, 2u) << "the write_full and the catalog entry, nothing written again";
  std::vector<std::string> names;
  ASSERT_TRUE(env_.GetChildren(kRoot, &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"pack-1.idx"});
  // A timeout whose write did not land is an error (and leaves the old bytes).
  store_->FailWrites(ETIMEDOUT, 1);
  Status s = env_.WriteFileAtomic(kRoot, "pack-1.idx", "other bytes");
  EXPECT_EQ(s.err(), ETIMEDOUT) << s.ToString();
  EXPECT_EQ(Object("pack-1.idx"), "sealed idx");
  // A refusal is never taken for a lost reply, even if the bytes are there.
  store_->FailWrites(ESHUTDOWN, 1);
  EXPECT_EQ(env_.WriteFileAtomic(kRoot, "pack-1.idx", "sealed idx").err(), ESHUTDOWN);
}

TEST_F(ObjectEnvTest, SpaceIsTheClustersCapacityLessWhatItHolds) {
  store_->SetCapacity(1 << 20);
  ASSERT_TRUE(env_.CreateDir(kRoot).ok());
  ASSERT_TRUE(env_.WriteFileAtomic(kRoot, "f", std::string(100000, 'f')).ok());
  SpaceInfo space;
  ASSERT_TRUE(env_.GetSpace(kRoot, &space).ok());
  EXPECT_EQ(space.total_bytes, 1u << 20);
  EXPECT_LE(space.avail_bytes, (1u << 20) - 100000);
  EXPECT_GE(space.avail_bytes, (1u << 20) - 101000);  // the catalogs' few bytes
}

// A shard's merged index that outgrows one atomic write (90 MiB on RADOS;
// here 8 KiB) is not written again: lookups of the packs it would add go
// through their idx files, every chunk is still found, and it is said once.
TEST_F(ObjectEnvTest, AMergedIndexTooLargeForOneWriteLeavesLookupsOnTheIdxFiles) {
  store_->SetLimits(8 << 10, 4 << 20);
  ASSERT_TRUE(Repository::Create(kRoot, testutil::SmallSettings(4096), &env_).ok());
  std::vector<std::string> log;
  OpenOptions o;
  o.env = &env_;
  o.log = [&log](const std::string& m) { log.push_back(m); };
  std::vector<std::string> chunks;
  for (int round = 0; round < 2; ++round) {  // the second round reopens over the stale index
    std::unique_ptr<Repository> r;
    ASSERT_TRUE(Repository::Open(kRoot, o, &r).ok());
    for (int i = 0; i < 200; ++i) {
      chunks.push_back(testutil::ContentInShard(0x3a, 200 + i % 50, round * 1000 + i));
      testutil::PutOrDie(r.get(), chunks.back());
      if (i % 10 == 9) {
        ASSERT_TRUE(r->Sync().ok());
      }
    }
    for (const auto& c : chunks) EXPECT_TRUE(testutil::HasChunk(r.get(), c));
    ASSERT_TRUE(r->Close().ok());
  }
  EXPECT_TRUE(HasObject("shards/3a/merged.midx")) << "the first, small merged index was written";
  EXPECT_LT(Object("shards/3a/merged.midx").size(), 8u << 10);
  int said = 0;
  for (const auto& m : log) said += m.find("larger than one write") != std::string::npos;
  EXPECT_EQ(said, 2) << "once a shard and open";
  std::unique_ptr<Repository> r;
  o.read_only = true;
  ASSERT_TRUE(Repository::Open(kRoot, o, &r).ok());
  for (const auto& c : chunks) EXPECT_TRUE(testutil::HasChunk(r.get(), c));
  EXPECT_EQ(r->GetStats().chunks, chunks.size());
}

// A writer whose process died on this host: the next LockFile fences it and
// breaks its lock at once (as flock would be released by the kernel).
TEST_F(ObjectEnvTest, LockOfADeadProcessOnThisHostIsBrokenAndFenced) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  std::string cookie = ObjectEnv::LockCookie();
  const std::string mine = "pid=" + std::to_string(getpid()) + ";";
  ASSERT_NE(cookie.find(mine), std::string::npos) << cookie;
  cookie.replace(cookie.find(mine), mine.size(), "pid=" + std::to_string(child) + ";");
  auto dead = Client("client.dead");
  ASSERT_TRUE(dead->Lock("lock", "chunkfs", cookie, "pid " + std::to_string(child)).ok());

  std::unique_ptr<FileLock> lock;
  std::string holder;
  Status s = env_.LockFile(Path("lock"), &lock, &holder);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::lock_guard<std::mutex> l(cluster_->mu);
  EXPECT_EQ(cluster_->blocklist.count(dead->address()), 1u);
  EXPECT_EQ(cluster_->locks.begin()->second.client, "client.1");
}

TEST_F(ObjectEnvTest, LockOfALiveProcessOrAnotherHostIsNeverBroken) {
  std::string cookie = ObjectEnv::LockCookie();
  const std::string host = cookie.substr(cookie.find("host="), cookie.find(';', cookie.find("host=")) -
                                                                      cookie.find("host="));
  std::string other_host = cookie;
  other_host.replace(other_host.find(host), host.size(), "host=elsewhere");
  auto live = Client("client.live");
  auto remote = Client("client.remote");
  for (auto& [who, c] : {std::pair{live, cookie}, std::pair{remote, other_host}}) {
    ASSERT_TRUE(who->Lock("lock", "chunkfs", c, "").ok());
    std::unique_ptr<FileLock> lock;
    std::string holder;
    Status s = env_.LockFile(Path("lock"), &lock, &holder);
    EXPECT_TRUE(s.IsBusy()) << s.ToString();
    EXPECT_NE(holder.find("pid " + std::to_string(getpid())), std::string::npos) << holder;
    ASSERT_TRUE(who->Unlock("lock", "chunkfs", c).ok());
  }
  std::lock_guard<std::mutex> l(cluster_->mu);
  EXPECT_TRUE(cluster_->blocklist.empty());
}

}  // namespace
}  // namespace chunkfs::testing_env
