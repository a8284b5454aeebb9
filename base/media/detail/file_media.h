// file_media: a pool file mapped through libpmem2.
//
// libpmem2 detects the store granularity (BYTE on eADR persistent memory,
// CACHE_LINE on DAX, PAGE on an ordinary file; PMEM2_FORCE_GRANULARITY
// overrides it) and provides the copy/flush/drain functions used on byte and
// cache-line media. On page media this class calls msync itself, because
// libpmem2's page persist function cannot report an error to its caller and
// a failed sync must become a clear io_error (docs/durability.md).
//
// Address space: each view lives in a range reserved for max_size bytes
// (address space only: no memory, no swap). The durable view is a libpmem2
// reservation (pmem2_vm_reservation) holding one libpmem2 mapping per part
// of the file: [0, size at open), then one more per grow(). The working
// view is a PROT_NONE anonymous reservation into which the file is mapped
// privately (mmap MAP_FIXED), part by part the same way. A grow maps only
// [old size, new size): no existing page, private copy or address changes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ferrite/base/media/media.h"

struct pmem2_vm_reservation;

namespace ferrite::detail {

class file_media final : public media {
 public:
  // Maps `fd` (owned by the caller, which keeps it open and locked for the
  // lifetime of this object) of `size` bytes, reserving address space for
  // `max_size` bytes (rounded up to 4 KiB; at least `size`): the largest
  // size grow() may reach. `writable` selects a writable shared mapping; the
  // working view is always privately writable. Throws io_error.
  file_media(int fd, std::size_t size, bool writable, const std::string& path,
             std::size_t max_size);
  ~file_media() override;

  void write(std::uint64_t offset, const void* src, std::size_t len) override;
  void store(std::uint64_t offset, const void* src, std::size_t len) override;
  void flush(std::uint64_t offset, std::size_t len) override;
  void barrier(std::uint64_t offset, std::size_t len) override;
  void sync_all() override;
  void prefault(std::uint64_t offset, std::size_t len) noexcept override;
  void map_working_view() override;
  void grow(std::size_t new_size) override;
  void drop_page(std::uint64_t offset) override;
  void drop_pages(const std::vector<std::uint64_t>& offsets, std::size_t& dropped) override;

 private:
  struct mapping;
  // Maps [offset, offset + len) of the file at the same offset of the
  // durable / working reservation.
  std::unique_ptr<mapping> map_durable_part(std::size_t offset, std::size_t len);
  void map_working_part(std::size_t offset, std::size_t len);
  void unmap_all() noexcept;

  int fd_;
  bool writable_;
  std::string path_;
  pmem2_vm_reservation* durable_range_ = nullptr;
  // The durable view's parts in file order: the file as opened, then one
  // per grow. The first part's copy/flush/drain functions serve the whole
  // view (they work on addresses, and grow checks that every part has the
  // same granularity); write() and barrier() read only first_part_, so a
  // grow may run meanwhile.
  std::unique_ptr<mapping> first_part_;
  std::vector<std::unique_ptr<mapping>> grown_parts_;
  std::byte* working_range_ = nullptr;  // reserved, max_size_ bytes
  // drop_pages(): a pidfd of this process for process_madvise (-1: not
  // opened yet), and the process it was opened in (a fork child opens its
  // own).
  int self_pidfd_ = -1;
  int self_pid_ = 0;
  bool batched_drops_ = true;  // false once the kernel refused process_madvise
};

}  // namespace ferrite::detail
