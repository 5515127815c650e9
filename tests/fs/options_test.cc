// Command-line parsing of chunkfs (no mount).
#include "options.h"

#include <fuse_lowlevel.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chunkfs::fs {
namespace {

struct Parsed {
  ParseOutcome outcome;
  MountOptions opts;
  std::string error;
  std::vector<std::string> rest;  // what is left for fuse_session_new
};

Parsed Parse(std::vector<std::string> argv) {
  argv.insert(argv.begin(), "chunkfs");
  std::vector<char*> ptrs;
  for (auto& a : argv) ptrs.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(ptrs.size()), ptrs.data());
  Parsed p;
  p.outcome = ParseCommandLine(&args, &p.opts, &p.error);
  for (int i = 1; i < args.argc; i++) p.rest.push_back(args.argv[i]);
  fuse_opt_free_args(&args);
  return p;
}

TEST(ParseSizeTest, Suffixes) {
  uint64_t v;
  EXPECT_TRUE(ParseSize("4096", &v));
  EXPECT_EQ(v, 4096u);
  EXPECT_TRUE(ParseSize("64K", &v));
  EXPECT_EQ(v, 64u << 10);
  EXPECT_TRUE(ParseSize("16M", &v));
  EXPECT_EQ(v, 16u << 20);
  EXPECT_TRUE(ParseSize("16MiB", &v));
  EXPECT_EQ(v, 16u << 20);
  EXPECT_TRUE(ParseSize("1g", &v));
  EXPECT_EQ(v, 1ull << 30);
  EXPECT_TRUE(ParseSize("2T", &v));
  EXPECT_EQ(v, 2ull << 40);
  for (const char* bad : {"", "M", "12X", "1.5M", "-1", "16 M", "16MM", "99999999999999999999",
                          "20000000T"}) {
    EXPECT_FALSE(ParseSize(bad, &v)) << bad;
  }
}

TEST(ParseDurationTest, SecondsAndMilliseconds) {
  uint64_t ms;
  EXPECT_TRUE(ParseDuration("5", &ms));
  EXPECT_EQ(ms, 5000u);
  EXPECT_TRUE(ParseDuration("0.5", &ms));
  EXPECT_EQ(ms, 500u);
  EXPECT_TRUE(ParseDuration("2s", &ms));
  EXPECT_EQ(ms, 2000u);
  EXPECT_TRUE(ParseDuration("250ms", &ms));
  EXPECT_EQ(ms, 250u);
  for (const char* bad : {"", "s", "ms", "soon", "-1", "1e3", "5m", "1..2"}) {
    EXPECT_FALSE(ParseDuration(bad, &ms)) << bad;
  }
}

TEST(ParseCommandLineTest, PositionalsAndOwnOptions) {
  Parsed p = Parse({"/repo", "/mnt", "-f", "-o",
                    "max_chunk=1M,compression=9,sync,flush_interval=250ms,allow_other",
                    "-o", "max_names=1000,write_buffer=0,cache_size=1G,create,clear_stale,readahead=0"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_EQ(p.opts.repo, "/repo");
  EXPECT_EQ(p.opts.mountpoint, "/mnt");
  EXPECT_TRUE(p.opts.foreground);
  EXPECT_EQ(p.opts.max_chunk, 1u << 20);
  EXPECT_EQ(p.opts.compression, 9);
  EXPECT_TRUE(p.opts.sync);
  EXPECT_EQ(p.opts.flush_interval_ms, 250u);
  EXPECT_EQ(p.opts.max_names, 1000u);
  EXPECT_EQ(p.opts.write_buffer, 0u);
  EXPECT_EQ(p.opts.cache_size, 1ull << 30);
  EXPECT_EQ(p.opts.readahead, 0u);
  EXPECT_TRUE(p.opts.create);
  EXPECT_TRUE(p.opts.clear_stale);
  // Only libfuse's options are left for fuse_session_new.
  std::string rest;
  for (const auto& r : p.rest) rest += r + " ";
  EXPECT_NE(rest.find("allow_other"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("max_chunk"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("/repo"), std::string::npos) << rest;
}

TEST(ParseCommandLineTest, Defaults) {
  Parsed p = Parse({"r", "m"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_FALSE(p.opts.foreground);
  EXPECT_EQ(p.opts.flush_interval_ms, 5000u);
  EXPECT_EQ(p.opts.max_names, 100000u);
  EXPECT_EQ(p.opts.write_buffer, 64u << 20);
  EXPECT_EQ(p.opts.readahead, 1u << 20);
  EXPECT_EQ(p.opts.max_chunk, 0u);     // the repository's
  EXPECT_EQ(p.opts.compression, -1);  // the repository's
  EXPECT_FALSE(p.opts.sync);
}

TEST(ParseCommandLineTest, HelpAndVersion) {
  EXPECT_EQ(Parse({"--help"}).outcome, ParseOutcome::kHelp);
  EXPECT_EQ(Parse({"-h"}).outcome, ParseOutcome::kHelp);
  EXPECT_EQ(Parse({"--version"}).outcome, ParseOutcome::kVersion);
  EXPECT_EQ(Parse({"-V"}).outcome, ParseOutcome::kVersion);
}

TEST(ParseCommandLineTest, Errors) {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  };
  const Case cases[] = {
      {{"r"}, "missing REPO or MOUNTPOINT"},
      {{}, "missing REPO or MOUNTPOINT"},
      {{"r", "m", "x"}, "unexpected argument 'x'"},
      {{"r", "m", "-o", "max_chunk=abc"}, "max_chunk=abc: malformed"},
      {{"r", "m", "-o", "max_chunk=2G"}, "out of range"},
      {{"r", "m", "-o", "max_chunk=0"}, "out of range"},
      {{"r", "m", "-o", "compression=20"}, "out of range"},
      {{"r", "m", "-o", "compression=x"}, "malformed"},
      {{"r", "m", "-o", "flush_interval=0"}, "out of range"},
      {{"r", "m", "-o", "flush_interval=2h"}, "malformed"},
      {{"r", "m", "-o", "max_names=5"}, "out of range"},
      {{"r", "m", "-o", "pack_size=1K"}, "out of range"},
      {{"r", "m", "-o", "pack_size"}, "needs a value"},
      {{"r", "m", "-o", "max_chunk=32M,pack_size=16M"}, "must not exceed"},
      // libfuse's thread options (it would take all of these silently).
      {{"r", "m", "-o", "max_threads=0"}, "max_threads=0: out of range (1 to 100000)"},
      {{"r", "m", "-o", "max_threads=-1"}, "max_threads=-1: malformed"},
      {{"r", "m", "-o", "max_threads=8x"}, "max_threads=8x: malformed"},
      {{"r", "m", "-o", "max_threads=100001"}, "out of range"},
      {{"r", "m", "-o", "max_threads"}, "needs a value"},
      {{"r", "m", "-o", "max_idle_threads=-1"}, "max_idle_threads=-1: malformed"},
      {{"r", "m", "-o", "max_idle_threads=100001"}, "out of range"},
      {{"r", "m", "-o", "max_read=-1"}, "max_read=-1: malformed"},
      {{"r", "m", "-o", "max_read=0"}, "max_read=0: out of range"},
  };
  for (const auto& c : cases) {
    Parsed p = Parse(c.argv);
    EXPECT_EQ(p.outcome, ParseOutcome::kError);
    EXPECT_NE(p.error.find(c.message), std::string::npos) << p.error;
  }
}

TEST(ParseCommandLineTest, ThreadOptions) {
  Parsed d = Parse({"r", "m"});
  ASSERT_EQ(d.outcome, ParseOutcome::kOk) << d.error;
  EXPECT_EQ(d.opts.max_threads, 10u);
  EXPECT_FALSE(d.opts.max_idle_threads_set);
  Parsed p = Parse({"r", "m", "-o", "max_threads=1,max_idle_threads=0,clone_fd"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_EQ(p.opts.max_threads, 1u);
  EXPECT_TRUE(p.opts.max_idle_threads_set);
  EXPECT_EQ(p.opts.max_idle_threads, 0u);
  EXPECT_TRUE(p.opts.clone_fd);
  for (const auto& r : p.rest) EXPECT_EQ(r.find("threads"), std::string::npos) << r;
  Parsed m = Parse({"r", "m", "-o", "max_read=131072"});
  ASSERT_EQ(m.outcome, ParseOutcome::kOk) << m.error;
  std::string rest;
  for (const auto& r : m.rest) rest += r + " ";
  EXPECT_NE(rest.find("max_read=131072"), std::string::npos) << rest;  // for the kernel
}

TEST(ParseCommandLineTest, FsnameAndReadOnly) {
  Parsed p = Parse({"r", "m", "-o", "fsname=mine,ro"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk);
  EXPECT_TRUE(p.opts.user_fsname);
  EXPECT_TRUE(p.opts.read_only);
  EXPECT_FALSE(p.opts.user_subtype);
}

// -o incoming_mode / incoming_group (docs/MOUNT.md "Permissions").
TEST(ParseCommandLineTest, IncomingAccess) {
  Parsed p = Parse({"r", "m"});
  EXPECT_EQ(p.opts.incoming_mode, 0700u);  // only the mounting user writes
  EXPECT_EQ(p.opts.incoming_group, -1);
  p = Parse({"r", "m", "-o", "incoming_group=root"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_EQ(p.opts.incoming_group, 0);
  EXPECT_EQ(p.opts.incoming_mode, 0770u);  // the group may write
  p = Parse({"r", "m", "-o", "incoming_mode=2775,incoming_group=4244"});
  ASSERT_EQ(p.outcome, ParseOutcome::kOk) << p.error;
  EXPECT_EQ(p.opts.incoming_mode, 02775u);
  EXPECT_EQ(p.opts.incoming_group, 4244);
  for (const char* bad : {"incoming_mode=9", "incoming_mode=x", "incoming_mode=", "incoming_mode=17777",
                                 "incoming_mode", "incoming_group=no-such-group-here", "incoming_group"}) {
    p = Parse({"r", "m", "-o", bad});
    EXPECT_EQ(p.outcome, ParseOutcome::kError) << bad;
    EXPECT_NE(p.error.find("incoming_"), std::string::npos) << bad << ": " << p.error;
  }
}

}  // namespace
}  // namespace chunkfs::fs
