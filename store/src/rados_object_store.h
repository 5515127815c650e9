// RadosObjectStore: ObjectStore (object_store.h) over a RADOS pool and
// namespace through librados' C++ API. Built only with librados
// (CHUNKFS_RADOS, store/CMakeLists.txt).
#pragma once

#include <memory>
#include <string>

#include "object_store.h"

namespace chunkfs {

struct RadosConnectOptions {
  std::string conf_file;  // "": CEPH_CONF, else the default search (/etc/ceph/ceph.conf, ...)
  std::string client_id;  // "": "admin", or --id/--name in CEPH_ARGS
};

// Connects to the cluster (as the ceph tools do: the config file, then
// CEPH_ARGS) and opens `pool`/`ns`. NotFound if the pool does not exist;
// IOError with librados' errno and a hint otherwise.
Status OpenRadosObjectStore(const std::string& pool, const std::string& ns, const RadosConnectOptions& options,
                            std::shared_ptr<ObjectStore>* out);

}  // namespace chunkfs
