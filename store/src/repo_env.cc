// EnvForRepository: a local folder or a RADOS pool (chunkfs/repo_env.h).
#include "chunkfs/repo_env.h"

#include <unistd.h>

#include <cstdlib>

#include "filenames.h"
#include "object_env.h"
#ifdef CHUNKFS_HAVE_RADOS
#include "rados_object_store.h"
#endif

namespace chunkfs {
namespace {

constexpr char kRadosPrefix[] = "rados:";

// "rados:POOL[/NAMESPACE]" -> pool, namespace.
Status ParseRadosPath(const std::string& path, std::string* pool, std::string* ns) {
  std::string rest = path.substr(sizeof(kRadosPrefix) - 1);
  size_t slash = rest.find('/');
  *pool = rest.substr(0, slash);
  *ns = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (pool->empty() || (slash != std::string::npos && (ns->empty() || ns->back() == '/'))) {
    return Status::InvalidArgument("malformed RADOS repository " + path + " (expected rados:POOL or rados:POOL/NAMESPACE)");
  }
  return Status::OK();
}

}  // namespace

std::string DefaultLocalTempDir() {
  const char* t = std::getenv("TMPDIR");
  std::string base = t != nullptr && *t == '/' ? t : "/tmp";
  return base + "/chunkfs-" + std::to_string(::getuid());
}

bool IsRadosPath(const std::string& path) { return path.compare(0, sizeof(kRadosPrefix) - 1, kRadosPrefix) == 0; }

Status EnvForRepository(const std::string& path, const RepoEnvOptions& options, OpenedEnv* out) {
  *out = OpenedEnv{};
  out->path = path;
  if (!IsRadosPath(path)) {
    out->env = Env::Default();
    return Status::OK();
  }
  std::string pool, ns;
  Status s = ParseRadosPath(path, &pool, &ns);
  if (!s.ok()) return s;
#ifdef CHUNKFS_HAVE_RADOS
  std::shared_ptr<ObjectStore> store;
  if (!(s = OpenRadosObjectStore(pool, ns, RadosConnectOptions{options.ceph_conf, options.ceph_id}, &store)).ok()) {
    return s.WithContext(path);
  }
  out->owner = std::make_shared<ObjectEnv>(std::move(store), path,
                                           options.local_tmp.empty() ? DefaultLocalTempDir() : options.local_tmp);
  out->env = out->owner.get();
  out->rados = true;
  return Status::OK();
#else
  (void)options;
  return Status::NotSupported(path + ": this chunkfs was built without librados (CHUNKFS_RADOS=OFF)");
#endif
}

Status TakeOverRepository(const std::string& path, const RepoEnvOptions& options, std::string* fenced) {
  OpenedEnv opened;
  Status s = EnvForRepository(path, options, &opened);
  if (!s.ok()) return s;
  return opened.env->FenceLockHolders(filenames::LockPath(opened.path), fenced);
}

}  // namespace chunkfs
