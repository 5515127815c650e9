#include "readahead.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace chunkfs::fs {

namespace {
// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const std::string oct = field.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}
}  // namespace

std::string MountDevice(const std::string& mountinfo, const std::string& mountpoint) {
  // Each line: ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ...; later lines are
  // newer mounts, which hide older ones on the same path.
  std::istringstream lines(mountinfo);
  std::string line, device;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    if (!(fields >> id >> parent >> dev >> root >> point)) continue;
    if (Unescape(point) == mountpoint) device = dev;
  }
  return device;
}

int SetMountReadahead(const std::string& mountpoint, uint64_t bytes, std::string* where) {
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  std::string dev = MountDevice(text.str(), mountpoint);
  *where = "/sys/class/bdi/" + (dev.empty() ? std::string("?") : dev) + "/read_ahead_kb";
  if (dev.empty()) return ENOENT;
  int fd = ::open(where->c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  std::string value = std::to_string(bytes >> 10) + "\n";
  int err = 0;
  if (::write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) err = errno ? errno : EIO;
  ::close(fd);
  return err;
}

}  // namespace chunkfs::fs
