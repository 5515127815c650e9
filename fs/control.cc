// ControlSession: the request of one open of /.control, and its reply.
#include "control.h"

#include <cerrno>

namespace chunkfs::fs {

bool ControlSession::ParseCommand(std::string_view line) {
  have_command_ = true;
  return control::ParseRequestLine(line, &request_, &error_);
}

// Bytes after the command line: the keep list of a prune; nothing else
// takes input.
void ControlSession::Input(std::string_view data) {
  if (request_.command == control::Command::kPrune) {
    if (!keep_.Feed(data)) error_ = keep_.error();
    return;
  }
  if (data.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    std::string line = control::FormatRequestLine(request_);
    error_ = "'" + line.substr(0, line.find_first_of(" \n")) + "' takes no input (only prune reads a keep list)";
  }
}

int ControlSession::Write(uint64_t offset, std::string_view data) {
  if (answered_) return EINVAL;  // one request per open
  if (offset != received_) return EINVAL;
  received_ += data.size();
  if (!error_.empty()) return 0;  // already malformed: the rest is not looked at
  if (!have_command_) {
    size_t nl = data.find('\n');
    std::string_view part = data.substr(0, nl);
    if (command_line_.size() + part.size() > kMaxCommandLine) {
      error_ = "the command line is longer than " + std::to_string(kMaxCommandLine) + " bytes";
      return 0;
    }
    command_line_.append(part);
    if (nl == std::string_view::npos) return 0;
    if (!ParseCommand(command_line_)) return 0;
    data.remove_prefix(nl + 1);
  }
  Input(data);
  return 0;
}

bool ControlSession::Finish(control::Request* request, std::vector<Digest>* keep, std::string* error) {
  if (error_.empty() && !have_command_) ParseCommand(command_line_);  // no newline after it
  if (error_.empty() && !keep_.Finish()) error_ = keep_.error();
  if (!error_.empty()) {
    *error = error_;
    return false;
  }
  *request = request_;
  *keep = keep_.TakeSorted();
  return true;
}

void ControlSession::SetReply(std::string reply, uint64_t base) {
  answered_ = true;
  reply_ = std::move(reply);
  reply_base_ = base;
}

int ControlSession::ReadReply(uint64_t offset, size_t size, std::string_view* out) const {
  if (offset < reply_base_) return EINVAL;
  uint64_t o = offset - reply_base_;
  *out = o < reply_.size() ? std::string_view(reply_).substr(o, size) : std::string_view();
  return 0;
}

}  // namespace chunkfs::fs
