// MountTest: a temporary repository mounted by the real chunkfs binary.
//
// SetUp creates a scratch directory with a repository (Repository::Create), a
// mountpoint and a work directory for source files, starts `chunkfs -f`
// (CHUNKFS_BINARY, the built target) and waits until the mount shows in
// /proc/self/mountinfo, failing at once if the process exits. TearDown
// unmounts with `fusermount3 -u` and requires exit status 0 from it and from
// chunkfs (lazy unmount and SIGKILL only as a fallback, and a failure).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace chunkfs::fs::testing {

class MountTest : public ::testing::Test {
 public:
  std::string Chunks() const { return mnt_ + "/chunks"; }
  std::string Incoming() const { return mnt_ + "/incoming"; }
  std::string ChunkPath(const std::string& hex) const { return Chunks() + "/" + hex; }

 protected:
  void SetUp() override;
  void TearDown() override;

  // Options given to every mount of this test (after -o); override to change.
  virtual std::vector<std::string> MountOptions() const { return {}; }
  // Settings of the repository SetUp creates.
  virtual uint32_t RepoMaxChunk() const { return 16u << 20; }
  // Called between creating the repository and mounting it.
  virtual void BeforeMount() {}

  // Starts chunkfs -f with MountOptions() plus `extra` and waits for the
  // mount. Fails the test (fatal) if it does not come up in 15 s.
  void Mount(const std::vector<std::string>& extra = {});
  // fusermount3 -u, then waits for chunkfs; expects both to exit 0.
  void Unmount();
  // Sends `sig` to chunkfs and returns its exit status (-1: killed by a
  // signal, -2: did not exit within `timeout_s`).
  int SignalAndWait(int sig, int timeout_s = 30);
  // Waits for chunkfs to exit; its exit status, or -1 (signal), -2 (timeout).
  int WaitExit(int timeout_s);
  bool Mounted() const;
  std::set<std::string> MountIds() const;  // ids of the mounts on mnt_
  pid_t pid() const { return pid_; }
  std::string Log() const;  // chunkfs's stderr so far
  // Polls for up to `timeout_s`: true once a published .idx of the
  // repository names the chunk `hex` (read-only readers find chunks even
  // unpublished, by scanning pack tails: only this shows publication).
  bool EventuallyPublished(const std::string& hex, int timeout_s = 15) const;


  // Checks that `dst` (below the mount) holds the same regular files as
  // `src` (sha256sum, the tool), that each has the digest attribute equal to
  // its sha256sum, and that each digest reads back under /chunks.
  void ExpectTreeStored(const std::string& src, const std::string& dst);

  std::string dir_;   // scratch root
  std::string repo_;  // dir_/repo
  std::string mnt_;   // dir_/mnt
  std::string work_;  // dir_/work: source files, outside the mount
  pid_t pid_ = -1;
  int mounts_ = 0;
};

// Runs `cmd` with bash -c; returns its exit status (-1 if it was killed).
int Sh(const std::string& cmd);
// Same, also capturing stdout (and stderr if `merge_stderr`).
int ShOut(const std::string& cmd, std::string* out, bool merge_stderr = false);
// ShOut in two halves, for a caller that must know when the child runs:
// ShStart returns once bash is started (popen), ShFinish reads its output to
// the end into *out and returns its exit status (-1 for a null `f`).
FILE* ShStart(const std::string& cmd, bool merge_stderr = false);
int ShFinish(FILE* f, std::string* out);
// Quotes for bash.
std::string Q(const std::string& s);

std::string ReadFile(const std::string& path);
bool ReadFileChecked(const std::string& path, std::string* out, int* err);
void WriteFile(const std::string& path, const std::string& data);
std::string RandomBytes(size_t n, uint64_t seed);
// Compressible pseudo-text.
std::string TextBytes(size_t n, uint64_t seed);
std::string Sha256Hex(const std::string& data);
// The user.chunkfs.digest attribute, or "" (errno in *err).
std::string DigestXattr(const std::string& path, int* err = nullptr);
// sha256sum (the tool) of every regular file below `root`: relative path -> hex.
std::vector<std::pair<std::string, std::string>> Sha256sumTree(const std::string& root);
// Makes a tree below `root`: nested directories, files of 0 bytes to ~3 MiB,
// random and text, a few with equal content; modes 0600..0755.
void MakeTree(const std::string& root, uint64_t seed);
// A JSON number field of /.stats (top level or "group.field"); -1 if absent.
int64_t StatsField(const std::string& stats_json, const std::string& name);
// The errno of a failed call, or 0 on success.
int Errno(int rc);
// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM", "RssAnon"); -1 if
// unreadable.
int64_t StatusKiB(pid_t pid, const std::string& field);
// Damages a stored chunk: flips one byte (the 11th) of the first copy of
// `needle` (64 bytes of a raw, i.e. random, payload) found in a pack file
// (.dat) below `repo`. False if no pack holds it.
bool FlipStoredByte(const std::string& repo, const std::string& needle);

}  // namespace chunkfs::fs::testing
