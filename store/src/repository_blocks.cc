// Blocked records (chunkfs/blocks.h): RepositoryImpl::PutBlocks and
// OpenChunk (EncodeBlock: blocks.cc). Work in progress (issue 9): not implemented yet.
#include "chunkfs/blocks.h"
#include "repository_impl.h"

namespace chunkfs {

Status RepositoryImpl::PutBlocks(const Digest& digest, std::vector<EncodedBlock> blocks, PutResult* result) {
  (void)digest, (void)blocks, (void)result;
  return Status::NotSupported("PutBlocks: blocked records are not implemented yet");
}

Status RepositoryImpl::OpenChunk(const Digest& digest, std::unique_ptr<ChunkReader>* out) {
  (void)digest, (void)out;
  return Status::NotSupported("OpenChunk: blocked records are not implemented yet");
}

}  // namespace chunkfs
