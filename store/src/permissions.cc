// ParseGroup and WorldAccessWarning (chunkfs/permissions.h).
#include "chunkfs/permissions.h"

#include <dirent.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <vector>

namespace chunkfs {
namespace {

// The first path at or below `path` (down to `depth` more levels) that
// "other" may read, write or search: *found and its mode; false if none.
bool FindOtherAccess(const std::string& path, int depth, std::string* found, mode_t* mode) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) return false;
  if ((st.st_mode & S_IRWXO) != 0) {
    *found = path;
    *mode = st.st_mode & 07777;
    return true;
  }
  if (!S_ISDIR(st.st_mode) || depth == 0) return false;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return false;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") names.emplace_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    if (FindOtherAccess(path + "/" + n, depth - 1, found, mode)) return true;
  }
  return false;
}

}  // namespace

Status ParseGroup(std::string_view text, int64_t* gid) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    if (v >= UINT32_MAX) return Status::InvalidArgument("group id " + std::string(text) + " is out of range");
    *gid = static_cast<int64_t>(v);
    return Status::OK();
  }
  std::string name(text);
  struct group gr;
  struct group* res = nullptr;
  std::vector<char> buf(16384);
  int err = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &res);
  if (err != 0 || res == nullptr) {
    return Status::InvalidArgument("no group named '" + name + "' (give a group name or a numeric id)");
  }
  *gid = static_cast<int64_t>(gr.gr_gid);
  return Status::OK();
}

std::string WorldAccessWarning(const std::string& repo) {
  // REPO, REPO/shards, REPO/shards/XX, REPO/shards/XX/pack-N.dat: three levels below.
  std::string found;
  mode_t mode = 0;
  if (!FindOtherAccess(repo, 3, &found, &mode)) return "";
  struct stat st;
  bool shared = ::stat(repo.c_str(), &st) == 0 && (st.st_mode & S_ISGID) != 0;
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
  return "the repository " + repo + " is open to every user of this machine: " + found + " has mode " + octal +
         " (anyone may read the stored chunks from the pack files, whatever the mount allows); fix it with: chmod -R " +
         (shared ? "o-rwx " : "go-rwx ") + repo;
}

}  // namespace chunkfs
