#include "ferrite/base/media/detail/file_media.h"

#include <fcntl.h>
#include <libpmem2.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "ferrite/base/error.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FERRITE_MEDIA_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FERRITE_MEDIA_TSAN 1
#endif

namespace ferrite::detail {
namespace {

constexpr std::size_t page_size = 4096;

#if defined(__x86_64__)
// Cache-line media: a log record (64-byte aligned, a whole number of lines)
// copied with SSE2 non-temporal stores, which every x86-64 CPU has. Its
// copy through libpmem2's memcpy_fn cost ~110 instructions a commit of a
// 128-byte record (dispatch, then its own alignment and size cases: callgrind,
// tx_set8), this loop ~30. The drain that follows (barrier) orders these
// stores as it does libpmem2's.
bool stream_copy(std::byte* dst, const void* src, std::size_t len) noexcept {
  if ((reinterpret_cast<std::uintptr_t>(dst) & 15) != 0 || (len & 15) != 0) return false;
  const auto* from = static_cast<const std::byte*>(src);
  for (std::size_t i = 0; i < len; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), v);
  }
  return true;
}
#else
bool stream_copy(std::byte*, const void*, std::size_t) noexcept {
  return false;
}
#endif

[[noreturn]] void fail_pmem2(const std::string& what, const std::string& path) {
  fail(error_code::io_error, what + " '" + path + "' failed: " + pmem2_errormsg() +
                                 " (is the file on a file system that supports mmap?)");
}

}  // namespace

// One libpmem2 mapping (a part of the durable view) and the functions it
// provides.
struct file_media::mapping {
  pmem2_map* map = nullptr;
  pmem2_memcpy_fn memcpy_fn = nullptr;
  pmem2_drain_fn drain_fn = nullptr;
  pmem2_flush_fn flush_fn = nullptr;

  ~mapping() {
    if (map) pmem2_map_delete(&map);
  }
};

namespace {

granularity granularity_of(pmem2_map* m) {
  switch (pmem2_map_get_store_granularity(m)) {
    case PMEM2_GRANULARITY_BYTE:
      return granularity::byte;
    case PMEM2_GRANULARITY_CACHE_LINE:
      return granularity::cache_line;
    default:
      return granularity::page;
  }
}

std::string bytes(std::size_t n) {
  return std::to_string(n) + " bytes";
}

// A PROT_NONE range of `len` bytes of address space, 2 MiB-aligned when
// `len` allows (so that DAX media can be mapped with huge pages), or null.
void* reserve_address_space(std::size_t len) {
  constexpr std::size_t align = 2u << 20;
  const std::size_t padded = len + align;
  if (padded < len) return nullptr;
  void* p = mmap(nullptr, padded, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t aligned = (a + align - 1) / align * align;
  if (aligned > a) munmap(p, aligned - a);
  munmap(reinterpret_cast<void*>(aligned + len), a + padded - (aligned + len));
  return reinterpret_cast<void*>(aligned);
}

}  // namespace

file_media::file_media(int fd, std::size_t size, bool writable, const std::string& path,
                       std::size_t max_size)
    : fd_(fd), writable_(writable), path_(path) {
  size_ = size;
  max_size_ = std::max(size, (max_size + page_size - 1) / page_size * page_size);
  // The durable reservation: libpmem2 places it at a free aligned address
  // when it can, anywhere otherwise.
#ifdef FERRITE_MEDIA_TSAN
  // ThreadSanitizer's mmap does not take MAP_FIXED_NOREPLACE and libpmem2
  // aborts: let libpmem2 choose the address.
  void* hint = nullptr;
#else
  void* hint = reserve_address_space(max_size_);
  if (hint) munmap(hint, max_size_);  // pmem2 maps it again (MAP_FIXED_NOREPLACE)
#endif
  if ((hint == nullptr || pmem2_vm_reservation_new(&durable_range_, hint, max_size_) != 0) &&
      pmem2_vm_reservation_new(&durable_range_, nullptr, max_size_) != 0) {
    durable_range_ = nullptr;
    fail(error_code::io_error,
         "cannot reserve " + bytes(max_size_) + " of address space for pool '" + path_ +
             "': " + pmem2_errormsg() + " (open it with a smaller pool_options::max_size)");
  }
  try {
    first_part_ = map_durable_part(0, size_);
  } catch (...) {
    unmap_all();
    throw;
  }
  granularity_ = granularity_of(first_part_->map);
  durable_ = static_cast<std::byte*>(pmem2_vm_reservation_get_address(durable_range_));
}

file_media::~file_media() {
  unmap_all();
  if (self_pidfd_ >= 0) close(self_pidfd_);
}

void file_media::unmap_all() noexcept {
  if (working_range_) munmap(working_range_, max_size_);  // and the file parts in it
  working_range_ = nullptr;
  working_ = nullptr;
  while (!grown_parts_.empty()) grown_parts_.pop_back();  // newest first
  first_part_.reset();
  if (durable_range_) pmem2_vm_reservation_delete(&durable_range_);
  durable_ = nullptr;
}

// Maps [offset, offset + len) of the file, shared, at `offset` of the
// durable reservation.
std::unique_ptr<file_media::mapping> file_media::map_durable_part(std::size_t offset,
                                                                  std::size_t len) {
  pmem2_source* src = nullptr;
  if (pmem2_source_from_fd(&src, fd_) != 0) fail_pmem2("reading", path_);
  pmem2_config* cfg = nullptr;
  if (pmem2_config_new(&cfg) != 0) {
    pmem2_source_delete(&src);
    fail_pmem2("configuring a mapping of", path_);
  }
  pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE);
  pmem2_config_set_offset(cfg, offset);
  pmem2_config_set_length(cfg, len);
  pmem2_config_set_sharing(cfg, PMEM2_SHARED);
  pmem2_config_set_protection(cfg,
                              writable_ ? (PMEM2_PROT_READ | PMEM2_PROT_WRITE) : PMEM2_PROT_READ);
  pmem2_config_set_vm_reservation(cfg, durable_range_, offset);
  auto m = std::make_unique<mapping>();
  int rc = pmem2_map_new(&m->map, cfg, src);
  pmem2_config_delete(&cfg);
  pmem2_source_delete(&src);
  if (rc != 0) {
    m->map = nullptr;
    fail_pmem2("mapping", path_);
  }
  m->memcpy_fn = pmem2_get_memcpy_fn(m->map);
  m->drain_fn = pmem2_get_drain_fn(m->map);
  m->flush_fn = pmem2_get_flush_fn(m->map);
  return m;
}

// Maps [offset, offset + len) of the file, private, at `offset` of the
// working reservation. MAP_FIXED replaces what was there (PROT_NONE, or a
// previous working view's pages). MAP_NORESERVE: a writable private
// mapping is otherwise charged in full against the kernel's commit limit,
// and one larger than RAM fails with ENOMEM (overcommit_memory 0); only the
// pages written take memory, and the memory budget gives those back.
void file_media::map_working_part(std::size_t offset, std::size_t len) {
  void* want = working_range_ + offset;
  void* got = mmap(want, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd_,
                   static_cast<off_t>(offset));
  if (got == MAP_FAILED) fail_errno(errno, "mapping the working view of", path_);
}

void file_media::map_working_view() {
  if (!working_range_) {
    void* r = reserve_address_space(max_size_);
    if (!r) {
      fail(error_code::io_error, "cannot reserve " + bytes(max_size_) +
                                     " of address space for the working view of pool '" + path_ +
                                     "' (open it with a smaller pool_options::max_size)");
    }
    working_range_ = static_cast<std::byte*>(r);
  }
  map_working_part(0, size_);
  working_ = working_range_;
}

void file_media::write(std::uint64_t offset, const void* src, std::size_t len) {
  refuse_forked();
  std::byte* dst = durable_ + offset;
  if (granularity_ == granularity::page) {
    std::memcpy(dst, src, len);
    count_write(len, 0);
  } else {
    // Non-temporal stores on cache-line media: no read-for-ownership of
    // lines the log has not held for a while, and nothing to write back at
    // the fence. The fence after a 128-byte record waited ~120 ns, against
    // ~195 ns for cached stores + clwb (docs/bench.md, "The durability
    // floor"). Byte media keeps libpmem2's choice.
    if (granularity_ == granularity::cache_line) {
      if (!stream_copy(dst, src, len))
        first_part_->memcpy_fn(dst, src, len, PMEM2_F_MEM_NODRAIN | PMEM2_F_MEM_NONTEMPORAL);
    } else {
      first_part_->memcpy_fn(dst, src, len, PMEM2_F_MEM_NODRAIN);
    }
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
  first_part_->flush_fn(durable_ + offset, len);
  if (granularity_ == granularity::cache_line) count_flush(lines_touched(offset, len));
}

void file_media::barrier(std::uint64_t offset, std::size_t len) {
  refuse_forked();
  if (granularity_ != granularity::page) {
    first_part_->drain_fn();
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
    first_part_->drain_fn();
    count_fence();
    return;
  }
  count_sync();
  if (fdatasync(fd_) != 0) {
    fail_errno(errno, "fdatasync (durability of the pool is no longer known) of", path_);
  }
}

namespace {
// One load a page. A committer may be writing the same bytes: the value is
// not used, only the access, hence no ThreadSanitizer report for it.
__attribute__((no_sanitize("thread"))) void touch_pages(const std::byte* b,
                                                        const std::byte* e) noexcept {
  for (; b < e; b += page_size) (void)*reinterpret_cast<const volatile std::byte*>(b);
}
}  // namespace

// Two steps. On our VM (a 4 MiB tmpfs file, 1,024 pages, docs/bench.md
// "The log's first lap") a first write took ~10 us a page with nothing
// done, ~4.5 us after MADV_POPULATE_WRITE alone (the kernel maps the
// pages writable, ~0.2 us a page), and 0.01-0.06 us after a load from
// user space, made on either CPU. A load alone was enough there (tmpfs
// maps a page writable on a read fault), but a file system that tracks
// writes (DAX) maps it read-only and takes a second fault at the first
// write: the populate, first, makes that write fault now.
// No failure is reported: the committer's write then faults as it would
// have. The load is left out when the kernel could not back a page
// (EFAULT, ENOMEM: a SIGBUS for the load), not when it lacks the advice
// (EINVAL: before Linux 5.14, or a mapping it does not apply to).
void file_media::prefault(std::uint64_t offset, std::size_t len) noexcept {
  if (granularity_ == granularity::page || !writable_ || len == 0 || forked()) return;
  const std::uint64_t begin = offset & ~std::uint64_t{page_size - 1};
  const std::uint64_t end = offset + len;
#if defined(MADV_POPULATE_WRITE)
  if (madvise(durable_ + begin, end - begin, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) return;
#endif
  touch_pages(durable_ + begin, durable_ + end);
}

// A private page dropped from a file's private mapping maps the file's
// page again: the page cache, which holds every write() made so far.
void file_media::drop_page(std::uint64_t offset) {
  if (madvise(working_ + offset, page_size, MADV_DONTNEED) != 0) {
    fail_errno(errno, "giving back a working-view page of", path_);
  }
}

// Many pages in one process_madvise(MADV_DONTNEED) on this process: the
// kernel (6.16 and later) zaps them under one TLB flush, where a madvise a
// page interrupts every other CPU running this process once a page (a
// page's worth of work, or more, on a virtual machine). Where the kernel
// refuses it (no process_madvise, or no MADV_DONTNEED there: before 6.13)
// the pages go one madvise per run of adjacent pages, as drop_page().
void file_media::drop_pages(const std::vector<std::uint64_t>& offsets, std::size_t& dropped) {
  dropped = 0;
  std::vector<iovec> runs;
  for (std::uint64_t off : offsets) {
    std::byte* a = working_ + off;
    if (!runs.empty() && static_cast<std::byte*>(runs.back().iov_base) + runs.back().iov_len == a) {
      runs.back().iov_len += page_size;
    } else {
      runs.push_back({a, page_size});
    }
  }
  std::size_t next = 0;
#if defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  if (batched_drops_ && self_pid_ != getpid()) {
    if (self_pidfd_ >= 0) close(self_pidfd_);
    self_pid_ = getpid();
    self_pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, self_pid_, 0));
    if (self_pidfd_ < 0) batched_drops_ = false;
  }
  while (batched_drops_ && next < runs.size()) {
    const std::size_t n = std::min<std::size_t>(runs.size() - next, IOV_MAX);
    std::size_t want = 0;
    for (std::size_t i = next; i < next + n; ++i) want += runs[i].iov_len;
    const long r =
        syscall(SYS_process_madvise, self_pidfd_, runs.data() + next, n, MADV_DONTNEED, 0);
    if (r < 0 && (errno == EINVAL || errno == ENOSYS || errno == EPERM)) {
      batched_drops_ = false;  // nothing dropped: the fallback below does it
      break;
    }
    if (r < 0) fail_errno(errno, "giving back working-view pages of", path_);
    dropped += static_cast<std::size_t>(r) / page_size;  // the kernel goes in order
    if (static_cast<std::size_t>(r) != want) {
      fail(error_code::io_error, "giving back working-view pages of '" + path_ +
                                     "': process_madvise stopped after " + std::to_string(r) +
                                     " of " + std::to_string(want) + " bytes");
    }
    next += n;
  }
#endif
  for (; next < runs.size(); ++next) {
    if (madvise(runs[next].iov_base, runs[next].iov_len, MADV_DONTNEED) != 0) {
      fail_errno(errno, "giving back working-view pages of", path_);
    }
    dropped += runs[next].iov_len / page_size;
  }
}

void file_media::grow(std::size_t new_size) {
  refuse_forked();
  if (new_size <= size_) return;
  if (new_size > max_size_) {
    fail(error_code::invalid_argument,
         "cannot grow pool '" + path_ + "' to " + bytes(new_size) + ": its address range was " +
             "reserved for at most " + bytes(max_size_) +
             " when it was opened; close it and reopen it with a larger pool_options::max_size");
  }
  if (new_size % page_size != 0) {
    fail(error_code::invalid_argument, "cannot grow pool '" + path_ + "' to " + bytes(new_size) +
                                           ": not a multiple of 4096 bytes");
  }
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
  // From here a failure leaves a longer file whose superblock still
  // describes the old heap: it opens fine, and a later grow maps it again.
  const std::size_t old_size = size_;
  std::unique_ptr<mapping> part = map_durable_part(old_size, new_size - old_size);
  if (granularity_of(part->map) != granularity_) {
    fail(error_code::io_error, "growing pool '" + path_ + "': the new part of the file is " +
                                   std::string(to_string(granularity_of(part->map))) +
                                   " media, the rest " + std::string(to_string(granularity_)));
  }
  if (working_) map_working_part(old_size, new_size - old_size);  // on failure `part` unmaps
  grown_parts_.push_back(std::move(part));
  size_ = new_size;
}

}  // namespace ferrite::detail
