// Paths inside a repository for programs beside the store (the mount, the
// tools). Like every repository path they are built in store/src/filenames.cc
// (docs/FORMAT.md lists the layout).
#pragma once

#include <string>

namespace chunkfs::repo_paths {

// REPO/chunkfs.repo: a directory is a repository once it holds this file.
std::string HeaderFile(const std::string& repo);
// REPO/tmp: where the mount's uploads spill (unnamed temporary files).
std::string TempDir(const std::string& repo);

}  // namespace chunkfs::repo_paths
