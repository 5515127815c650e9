// `chunkctl put`: check inputs, lock, store, sync, then print.
#include "put_files.h"

#include <memory>

#include "cli.h"
#include "input_files.h"

namespace chunkctl {
namespace {

using chunkfs::Status;

bool IsStdin(const std::string& input) { return input == "-"; }

// The repository's maximum chunk size, from a read-only open (no lock).
Status MaxChunkSize(const std::string& repo_path, chunkfs::Env* env, uint64_t* max_size) {
  std::unique_ptr<chunkfs::Repository> reader;
  Status s = OpenRepo(repo_path, /*read_only=*/true, &reader, env);
  if (!s.ok()) return s;
  *max_size = reader->settings().max_chunk_size;
  return reader->Close();
}

// Step 1 of put_files.h: returns the inputs that may be stored (standard
// input, if named, is read into *stdin_data); *rc becomes kExitFailure if any
// was refused. Returns none if the repository could not be opened.
std::vector<std::string> CheckInputs(const std::string& repo_path, const std::vector<std::string>& inputs,
                                     chunkfs::Env* env, std::string* stdin_data, int* rc) {
  std::vector<std::string> ready;
  bool stdin_read = false;
  Status stdin_status;
  for (const std::string& input : inputs) {
    if (!IsStdin(input)) {
      Status s = CheckInputFile(input);
      if (s.ok()) ready.push_back(input);
      else *rc = FailStatus("put " + input, s);
      continue;
    }
    if (!stdin_read) {  // "-" named twice stores the same bytes twice
      uint64_t max_size = 0;
      Status s = MaxChunkSize(repo_path, env, &max_size);
      if (!s.ok()) {
        *rc = FailStatus("open " + repo_path, s);
        return {};
      }
      stdin_status = ReadStdin(max_size, stdin_data);
      if (!stdin_status.ok()) FailStatus("put -", stdin_status);
      stdin_read = true;
    }
    if (stdin_status.ok()) ready.push_back(input);
    else *rc = kExitFailure;
  }
  return ready;
}

// Syncs and closes; both results count.
Status SyncAndClose(chunkfs::Repository* repo) {
  Status synced = repo->Sync();
  Status closed = repo->Close();
  return synced.ok() ? closed : synced;
}

}  // namespace

int PutFiles(const std::string& repo_path, const std::vector<std::string>& inputs, chunkfs::Env* env,
             const std::function<void(const std::string& line)>& print,
             const std::function<void(uint64_t done, uint64_t total)>& progress) {
  int rc = kExitOk;
  std::string stdin_data;
  std::vector<std::string> ready = CheckInputs(repo_path, inputs, env, &stdin_data, &rc);
  if (ready.empty()) return rc;
  std::unique_ptr<chunkfs::Repository> repo;
  Status s = OpenRepo(repo_path, /*read_only=*/false, &repo, env);
  if (!s.ok()) return FailStatus("open " + repo_path, s);
  std::vector<std::string> lines;  // printed once all are durable
  std::string data;
  uint64_t done = 0;
  for (const std::string& input : ready) {
    if (progress) progress(done++, ready.size());
    s = IsStdin(input) ? Status::OK() : ReadInputFile(input, repo->settings().max_chunk_size, &data);
    chunkfs::PutResult result;
    if (s.ok()) s = repo->Put(IsStdin(input) ? stdin_data : data, &result);
    if (!s.ok()) {
      rc = FailStatus("put " + input, s);
      continue;
    }
    lines.push_back(result.digest.ToHex() + "  " + input + "\n");
  }
  if (progress) progress(done, ready.size());
  s = SyncAndClose(repo.get());
  if (!s.ok()) {
    return Fail("sync " + repo_path, s.ToString() + "; no digest printed: the " + std::to_string(lines.size()) +
                                         " input(s) put are not known to be stored");
  }
  for (const std::string& line : lines) print(line);
  return rc;
}

}  // namespace chunkctl
