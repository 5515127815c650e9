// Keep lists, control-file requests and replies, and the deletion commands.
#include "control_protocol.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cstdio>

namespace chunkfs::control {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// What a message shows of a bad line: printable, at most 80 characters.
std::string Shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  if (s.size() > 80) out += "...";
  return out;
}

constexpr std::string_view kOk = "ok\n";
constexpr std::string_view kError = "error\n";

}  // namespace

// ---------------------------------------------------------------- keep list

bool KeepListParser::Line(std::string_view raw) {
  ++line_;
  std::string_view line = Trim(raw);
  if (line.empty()) return true;
  std::string lower(line);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  Digest d;
  if (!Digest::FromHex(lower, &d)) {
    error_ = "keep list line " + std::to_string(line_) + ": '" + Shown(line) +
             "' is not a digest (expected 64 hex characters); nothing was deleted";
    return false;
  }
  digests_.push_back(d);
  return true;
}

bool KeepListParser::Feed(std::string_view data) {
  if (failed()) return false;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (partial_.size() + piece.size() > kMaxLine) {
      error_ = "keep list line " + std::to_string(line_ + 1) + ": longer than " + std::to_string(kMaxLine) +
               " bytes (expected one 64-hex digest a line); nothing was deleted";
      return false;
    }
    if (nl == std::string_view::npos) {
      partial_.append(piece);
      return true;
    }
    bool ok;
    if (partial_.empty()) {
      ok = Line(piece);
    } else {
      partial_.append(piece);
      ok = Line(partial_);
      partial_.clear();
    }
    if (!ok) return false;
    data.remove_prefix(nl + 1);
  }
  return true;
}

bool KeepListParser::Finish() {
  if (failed()) return false;
  if (partial_.empty()) return true;
  std::string last = std::move(partial_);
  partial_.clear();
  return Line(last);
}

std::vector<Digest> KeepListParser::TakeSorted() {
  std::vector<Digest> out = std::move(digests_);
  digests_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ------------------------------------------------------------------ request

std::string FormatRequestLine(const Request& r) {
  switch (r.command) {
    case Command::kPrune: {
      std::string line = "prune";
      if (!r.since.empty()) line += " --since " + r.since;
      if (r.dry_run) line += " --dry-run";
      if (r.force) line += " --force";
      return line + "\n";
    }
    case Command::kPruneBegin:
      return "prune-begin\n";
    case Command::kCompact:
      return "compact\n";
    case Command::kStats:
      return r.json ? "stats --json\n" : "stats\n";
  }
  return "\n";
}

bool ParseRequestLine(std::string_view line, Request* out, std::string* error) {
  std::vector<std::string_view> words;
  line = Trim(line);
  while (!line.empty()) {
    size_t sp = line.find(' ');
    words.push_back(line.substr(0, sp));
    line = sp == std::string_view::npos ? std::string_view() : Trim(line.substr(sp + 1));
  }
  *out = Request{};
  if (words.empty()) {
    *error = "empty request: write a command line (prune, prune-begin, compact or stats) first";
    return false;
  }
  std::string_view cmd = words[0];
  if (cmd == "prune") {
    out->command = Command::kPrune;
  } else if (cmd == "prune-begin") {
    out->command = Command::kPruneBegin;
  } else if (cmd == "compact") {
    out->command = Command::kCompact;
  } else if (cmd == "stats") {
    out->command = Command::kStats;
  } else {
    *error = "unknown command '" + Shown(cmd) + "' (expected prune, prune-begin, compact or stats)";
    return false;
  }
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view w = words[i];
    const bool prune = out->command == Command::kPrune;
    if (prune && w == "--dry-run") {
      out->dry_run = true;
    } else if (prune && w == "--force") {
      out->force = true;
    } else if (prune && w == "--since" && i + 1 < words.size()) {
      out->since = std::string(words[++i]);
    } else if (out->command == Command::kStats && w == "--json") {
      out->json = true;
    } else {
      *error = "'" + std::string(cmd) + "' does not take '" + Shown(w) + "'";
      return false;
    }
  }
  return true;
}

std::string FormatReply(bool ok, std::string_view text) {
  std::string out(ok ? kOk : kError);
  out += text;
  if (!text.empty() && text.back() != '\n') out += '\n';
  return out;
}

bool ParseReply(std::string_view reply, bool* ok, std::string* text) {
  if (reply.substr(0, kOk.size()) == kOk) {
    *ok = true;
  } else if (reply.substr(0, kError.size()) == kError) {
    *ok = false;
  } else {
    return false;
  }
  reply.remove_prefix(*ok ? kOk.size() : kError.size());
  text->assign(reply);
  return true;
}

// ------------------------------------------------------------------ output

void ForEachRepoStat(const RepoStats& s, const std::function<void(const char*, uint64_t)>& fn) {
  fn("chunks", s.chunks);
  fn("bytes_raw", s.bytes_raw);
  fn("bytes_stored", s.bytes_stored);
  fn("packs_sealed", s.packs_sealed);
  fn("packs_open", s.packs_open);
  fn("puts", s.puts);
  fn("dedup_hits", s.dedup_hits);
  fn("syncs", s.syncs);
  fn("corrupt_reads", s.corrupt_reads);
  fn("store_errors", s.errors);
  fn("chunks_deleted", s.chunks_deleted);
  fn("dead_bytes", s.dead_bytes);
  fn("bytes_reclaimed", s.bytes_reclaimed);
  fn("compactions", s.compactions);
  fn("compaction_running", s.compaction_running);
  fn("compaction_bytes_copied", s.compaction_bytes_copied);
}

std::string FormatStatsText(const RepoStats& s) {
  std::string out;
  ForEachRepoStat(s, [&](const char* name, uint64_t v) { out += std::string(name) + ": " + std::to_string(v) + "\n"; });
  return out;
}

std::string FormatStatsJson(const RepoStats& s) {
  std::string out = "{";
  ForEachRepoStat(s, [&](const char* name, uint64_t v) {
    out += std::string(out.size() > 1 ? "," : "") + "\n  \"" + name + "\": " + std::to_string(v);
  });
  return out + "\n}\n";
}

std::string FormatPruneResult(const PruneResult& r, bool dry_run) {
  char buf[256];
  std::string out;
  if (dry_run) out += "dry run: nothing was deleted\n";
  std::snprintf(buf, sizeof buf, "%s: %" PRIu64 " chunks, %" PRIu64 " bytes (%" PRIu64 " bytes stored)\n",
                dry_run ? "would delete" : "deleted", r.chunks_deleted, r.bytes_deleted, r.stored_bytes_deleted);
  out += buf;
  std::snprintf(buf, sizeof buf, "kept: %" PRIu64 " of %" PRIu64 " chunks\n", r.chunks_before - r.chunks_deleted,
                r.chunks_before);
  out += buf;
  std::snprintf(buf, sizeof buf, "protected (stored, stored again or touched since the token): %" PRIu64 " chunks\n",
                r.protected_chunks);
  out += buf;
  std::snprintf(buf, sizeof buf, "keep list digests not stored: %" PRIu64 "\n", r.keep_missing);
  out += buf;
  constexpr size_t kShown = 10;
  for (size_t i = 0; i < r.missing.size() && i < kShown; ++i) out += "  " + r.missing[i].ToHex() + "\n";
  if (r.keep_missing > kShown) out += "  ...\n";
  if (!dry_run && r.chunks_deleted > 0) out += "run `chunkctl compact` (or let the mount compact) to free the space\n";
  return out;
}

std::string FormatCompactResult(const CompactResult& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "bytes reclaimed: %" PRIu64 "\npacks removed: %" PRIu64 "\npacks written: %" PRIu64
                "\nbytes copied: %" PRIu64 "\n",
                r.bytes_reclaimed, r.packs_removed, r.packs_written, r.bytes_copied);
  return buf;
}

// ----------------------------------------------------------------- execute

namespace {

Status ExecutePrune(Repository* repo, const Request& r, const std::vector<Digest>& keep, std::string* out,
                    const std::function<void(uint64_t, uint64_t)>& progress) {
  PruneToken token;
  PruneOptions o;
  if (!r.since.empty()) {
    if (!PruneToken::Parse(r.since, &token)) {
      return Status::InvalidArgument("malformed prune token '" + Shown(r.since) +
                                     "' (expected what prune-begin printed, such as 0123456789abcdef-1)");
    }
    o.since = &token;
  }
  o.dry_run = r.dry_run;
  o.force = r.force;
  o.progress = progress;
  PruneResult result;
  Status s = repo->Prune(keep, o, &result);
  if (!s.ok()) return s;
  *out = FormatPruneResult(result, r.dry_run);
  return Status::OK();
}

}  // namespace

Status Execute(Repository* repo, const Request& r, const std::vector<Digest>& keep_sorted, std::string* out,
               const std::function<void(uint64_t, uint64_t)>& progress) {
  out->clear();
  switch (r.command) {
    case Command::kPrune:
      return ExecutePrune(repo, r, keep_sorted, out, progress);
    case Command::kPruneBegin: {
      PruneToken t;
      Status s = repo->BeginPrune(&t);
      if (s.ok()) *out = t.ToString() + "\n";
      return s;
    }
    case Command::kCompact: {
      CompactResult c;
      CompactOptions o;
      o.progress = progress;
      Status s = repo->Compact(o, &c);
      if (s.ok()) *out = FormatCompactResult(c);
      return s;
    }
    case Command::kStats: {
      RepoStats st = repo->GetStats();
      *out = r.json ? FormatStatsJson(st) : FormatStatsText(st);
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown command");
}

}  // namespace chunkfs::control
