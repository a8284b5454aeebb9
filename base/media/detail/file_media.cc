#include "ferrite/base/media/detail/file_media.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ferrite/base/error.h"

namespace ferrite::detail {
namespace {

constexpr std::size_t page_size = 4096;

[[noreturn]] void fail_pmem2(const std::string& what, const std::string& path) {
  fail(error_code::io_error, what + " '" + path + "' failed: " + pmem2_errormsg() +
                                 " (is the file on a file system that supports mmap?)");
}

}  // namespace

// One libpmem2 mapping and the functions it provides.
struct file_media::mapping {
  pmem2_map* map = nullptr;
  pmem2_memcpy_fn memcpy_fn = nullptr;
  pmem2_drain_fn drain_fn = nullptr;
  pmem2_flush_fn flush_fn = nullptr;

  ~mapping() {
    if (map) pmem2_map_delete(&map);
  }
};

file_media::file_media(int fd, std::size_t size, bool writable, const std::string& path)
    : fd_(fd), writable_(writable), path_(path) {
  size_ = size;
  map_durable();
}

file_media::~file_media() {
  unmap_all();
}

void file_media::unmap_all() noexcept {
  working_map_.reset();
  durable_map_.reset();
  working_ = nullptr;
  durable_ = nullptr;
}

// Maps the whole file with the given sharing and protection.
std::unique_ptr<file_media::mapping> file_media::map_file(int sharing, unsigned prot) {
  pmem2_source* src = nullptr;
  if (pmem2_source_from_fd(&src, fd_) != 0) fail_pmem2("reading", path_);
  pmem2_config* cfg = nullptr;
  if (pmem2_config_new(&cfg) != 0) {
    pmem2_source_delete(&src);
    fail_pmem2("configuring a mapping of", path_);
  }
  pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
  pmem2_config_set_length(cfg, size_);
  pmem2_config_set_sharing(cfg, static_cast<pmem2_sharing_type>(sharing));
  pmem2_config_set_protection(cfg, prot);
  auto m = std::make_unique<mapping>();
  int rc = pmem2_map_new(&m->map, cfg, src);
  pmem2_config_delete(&cfg);
  pmem2_source_delete(&src);
  if (rc != 0) fail_pmem2("mapping", path_);
  m->memcpy_fn = pmem2_get_memcpy_fn(m->map);
  m->drain_fn = pmem2_get_drain_fn(m->map);
  m->flush_fn = pmem2_get_flush_fn(m->map);
  return m;
}

void file_media::map_durable() {
  auto m =
      map_file(PMEM2_SHARED, writable_ ? (PMEM2_PROT_READ | PMEM2_PROT_WRITE) : PMEM2_PROT_READ);
  switch (pmem2_map_get_store_granularity(m->map)) {
    case PMEM2_GRANULARITY_BYTE:
      granularity_ = granularity::byte;
      break;
    case PMEM2_GRANULARITY_CACHE_LINE:
      granularity_ = granularity::cache_line;
      break;
    default:
      granularity_ = granularity::page;
      break;
  }
  durable_ = static_cast<std::byte*>(pmem2_map_get_address(m->map));
  durable_map_ = std::move(m);
}

void file_media::map_working_view() {
  working_map_.reset();
  working_ = nullptr;
  auto m = map_file(PMEM2_PRIVATE, PMEM2_PROT_READ | PMEM2_PROT_WRITE);
  working_ = static_cast<std::byte*>(pmem2_map_get_address(m->map));
  working_map_ = std::move(m);
}

void file_media::write(std::uint64_t offset, const void* src, std::size_t len) {
  refuse_forked();
  std::byte* dst = durable_ + offset;
  if (granularity_ == granularity::page) {
    std::memcpy(dst, src, len);
    count_write(len, 0);
  } else {
    durable_map_->memcpy_fn(dst, src, len, PMEM2_F_MEM_NODRAIN);
    count_write(len, granularity_ == granularity::byte ? 0 : lines_touched(offset, len));
  }
}

void file_media::store(std::uint64_t offset, const void* src, std::size_t len) {
  refuse_forked();
  std::memcpy(durable_ + offset, src, len);
  count_write(len, 0);
}

void file_media::flush(std::uint64_t offset, std::size_t len) {
  if (granularity_ == granularity::page || len == 0) return;  // msync writes back pages
  durable_map_->flush_fn(durable_ + offset, len);
  if (granularity_ == granularity::cache_line) count_flush(lines_touched(offset, len));
}

void file_media::barrier(std::uint64_t offset, std::size_t len) {
  refuse_forked();
  if (granularity_ != granularity::page) {
    durable_map_->drain_fn();
    count_fence();
    return;
  }
  std::uint64_t begin = offset & ~(page_size - 1);
  std::uint64_t end = offset + len;
  count_sync();
  if (msync(durable_ + begin, end - begin, MS_SYNC) != 0) {
    fail_errno(errno, "msync (durability of the pool is no longer known) of", path_);
  }
}

void file_media::sync_all() {
  refuse_forked();
  if (granularity_ != granularity::page) {
    durable_map_->drain_fn();
    count_fence();
    return;
  }
  count_sync();
  if (fdatasync(fd_) != 0) {
    fail_errno(errno, "fdatasync (durability of the pool is no longer known) of", path_);
  }
}

// A private page dropped from a file's private mapping maps the file's
// page again: the page cache, which holds every write() made so far.
void file_media::drop_page(std::uint64_t offset) {
  if (madvise(working_ + offset, page_size, MADV_DONTNEED) != 0) {
    fail_errno(errno, "giving back a working-view page of", path_);
  }
}

void file_media::grow(std::size_t new_size) {
  refuse_forked();
  if (new_size <= size_) return;
  int rc = posix_fallocate(fd_, 0, static_cast<off_t>(new_size));
  if (rc != 0) {
    // A failed fallocate may leave the file partly extended (ext4 keeps the
    // blocks it got): cut it back, so the pool is as it was, and its length
    // still matches its superblock.
    if (ftruncate(fd_, static_cast<off_t>(size_)) == 0) fsync(fd_);
    fail_errno(rc, "growing", path_);
  }
  if (fsync(fd_) != 0) fail_errno(errno, "syncing the grown file", path_);
  count_sync();
  bool had_working = working_ != nullptr;
  unmap_all();
  size_ = new_size;
  map_durable();
  if (had_working) map_working_view();
}

}  // namespace ferrite::detail
