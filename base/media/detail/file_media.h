// file_media: a pool file mapped through libpmem2.
//
// libpmem2 detects the store granularity (BYTE on eADR persistent memory,
// CACHE_LINE on DAX, PAGE on an ordinary file; PMEM2_FORCE_GRANULARITY
// overrides it) and provides the copy/flush/drain functions used on byte and
// cache-line media. On page media this class calls msync itself, because
// libpmem2's page persist function cannot report an error to its caller and
// a failed sync must become a clear io_error (docs/durability.md).
#pragma once

#include <memory>
#include <string>

#include "ferrite/base/media/media.h"

namespace ferrite::detail {

class file_media final : public media {
 public:
  // Maps `fd` (owned by the caller, which keeps it open and locked for the
  // lifetime of this object) of `size` bytes. `writable` selects a writable
  // shared mapping; the working view is always privately writable.
  file_media(int fd, std::size_t size, bool writable, const std::string& path);
  ~file_media() override;

  void write(std::uint64_t offset, const void* src, std::size_t len) override;
  void store(std::uint64_t offset, const void* src, std::size_t len) override;
  void flush(std::uint64_t offset, std::size_t len) override;
  void barrier(std::uint64_t offset, std::size_t len) override;
  void sync_all() override;
  void map_working_view() override;
  void grow(std::size_t new_size) override;
  void drop_page(std::uint64_t offset) override;

 private:
  struct mapping;
  std::unique_ptr<mapping> map_file(int sharing, unsigned prot);
  void map_durable();
  void unmap_all() noexcept;

  int fd_;
  bool writable_;
  std::string path_;
  std::unique_ptr<mapping> durable_map_;
  std::unique_ptr<mapping> working_map_;
};

}  // namespace ferrite::detail
