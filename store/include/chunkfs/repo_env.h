// Which Env holds a repository, chosen from its path in one place: a local
// folder (Env::Default()) or "rados:POOL[/NAMESPACE]", a Ceph RADOS pool
// (docs/RADOS.md). Repository::Create/Open call it for an Env-less open; the
// mount and chunkctl call it to pass their Ceph options.
//
// Thread safety: EnvForRepository may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "chunkfs/env.h"
#include "chunkfs/status.h"

namespace chunkfs {

struct RepoEnvOptions {
  // RADOS only. The cluster is found as the ceph tools find it: the config
  // file `ceph_conf` (else CEPH_CONF, else /etc/ceph/ceph.conf, ...), then
  // CEPH_ARGS; `ceph_id` is the client id ("admin" for client.admin; else
  // --id in CEPH_ARGS, else admin).
  std::string ceph_conf;
  std::string ceph_id;
  // Local folder for unnamed temporary files (the mount's spill); "": a
  // folder chunkfs-UID below $TMPDIR or /tmp.
  std::string local_tmp;
};

struct OpenedEnv {
  Env* env = nullptr;          // where the repository is
  std::shared_ptr<Env> owner;  // keeps `env` alive (null for Env::Default())
  std::string path;            // the repository's path in `env` ("rados:pool/ns" for RADOS)
  bool rados = false;
};

// The default RepoEnvOptions::local_tmp: chunkfs-UID below $TMPDIR or /tmp.
std::string DefaultLocalTempDir();

// True for "rados:..." (a repository in a RADOS pool).
bool IsRadosPath(const std::string& path);

// Takes a repository over from a writer that is dead or stuck on another
// host: fences it (a RADOS blocklist, so that it can never write again even
// if it was only paused) and breaks its lock; a writable open may then
// proceed. *fenced names the former holder ("" if there was none).
// NotSupported for a local repository (the kernel releases a dead holder's
// lock; stop a live one).
Status TakeOverRepository(const std::string& path, const RepoEnvOptions& options, std::string* fenced);

// The Env of the repository at `path`, connected (RADOS: InvalidArgument for
// a malformed path, NotSupported in a build without librados, NotFound for a
// missing pool, IOError when the cluster cannot be reached).
Status EnvForRepository(const std::string& path, const RepoEnvOptions& options, OpenedEnv* out);

}  // namespace chunkfs
