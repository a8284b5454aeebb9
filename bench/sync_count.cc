// The definitions that stand in front of the C library's sync and write
// functions (bench/sync_count.h says why and what counts). Each one counts,
// then calls the C library's own function, found once with
// dlsym(RTLD_NEXT, name).
//
// Meson builds with _FILE_OFFSET_BITS=64, which makes the C library's
// headers rename pwrite to pwrite64 (and pwritev to pwritev64): this file
// defines both names, so it declares each under its own. (On 64-bit Linux
// off_t and off64_t are the same type anyway.)
#undef _FILE_OFFSET_BITS

#include "bench/sync_count.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace ferrite::bench {
namespace {

enum kind {
  fsync_calls,
  fdatasync_calls,
  msync_calls,
  range_calls,
  syncfs_calls,
  sync_calls,
  dsync_writes,
  kinds
};

constinit std::atomic<std::uint64_t> counts[kinds] = {};

void count(kind k) noexcept {
  counts[k].fetch_add(1, std::memory_order_relaxed);
}

// The C library's definition of `name`, the one this file stands in front of.
template <class Function>
Function next_definition(const char* name) noexcept {
  void* f = dlsym(RTLD_NEXT, name);
  if (f == nullptr) {
    std::fputs("ferrite-bench: sync_count: dlsym(RTLD_NEXT) found no definition to call\n", stderr);
    std::abort();
  }
  return reinterpret_cast<Function>(f);
}

// A write on `fd` waits for the device when the descriptor was opened with
// O_SYNC or O_DSYNC (O_SYNC includes O_DSYNC's bit). errno is kept: the
// caller looks at the write's, not at ours.
void count_if_synchronous(int fd) noexcept {
  const int saved = errno;
  const int flags = ::fcntl(fd, F_GETFL);
  errno = saved;
  if (flags != -1 && (flags & O_DSYNC) != 0) count(dsync_writes);
}

}  // namespace

os_sync_counts os_syncs() noexcept {
  os_sync_counts c;
  c.fsync = counts[fsync_calls].load(std::memory_order_relaxed);
  c.fdatasync = counts[fdatasync_calls].load(std::memory_order_relaxed);
  c.msync = counts[msync_calls].load(std::memory_order_relaxed);
  c.sync_file_range = counts[range_calls].load(std::memory_order_relaxed);
  c.syncfs = counts[syncfs_calls].load(std::memory_order_relaxed);
  c.sync = counts[sync_calls].load(std::memory_order_relaxed);
  c.dsync_writes = counts[dsync_writes].load(std::memory_order_relaxed);
  return c;
}

os_sync_counts operator-(const os_sync_counts& later, const os_sync_counts& earlier) noexcept {
  os_sync_counts d;
  d.fsync = later.fsync - earlier.fsync;
  d.fdatasync = later.fdatasync - earlier.fdatasync;
  d.msync = later.msync - earlier.msync;
  d.sync_file_range = later.sync_file_range - earlier.sync_file_range;
  d.syncfs = later.syncfs - earlier.syncfs;
  d.sync = later.sync - earlier.sync;
  d.dsync_writes = later.dsync_writes - earlier.dsync_writes;
  return d;
}

os_sync_counts operator+(const os_sync_counts& a, const os_sync_counts& b) noexcept {
  os_sync_counts s;
  s.fsync = a.fsync + b.fsync;
  s.fdatasync = a.fdatasync + b.fdatasync;
  s.msync = a.msync + b.msync;
  s.sync_file_range = a.sync_file_range + b.sync_file_range;
  s.syncfs = a.syncfs + b.syncfs;
  s.sync = a.sync + b.sync;
  s.dsync_writes = a.dsync_writes + b.dsync_writes;
  return s;
}

}  // namespace ferrite::bench

// The stand-ins, with the C library's signatures (exported by the
// executable: bench/sync_count.dynamic).
using ferrite::bench::count;
using ferrite::bench::count_if_synchronous;
using ferrite::bench::next_definition;

extern "C" int fsync(int fd) {
  static const auto real = next_definition<decltype(&::fsync)>("fsync");
  count(ferrite::bench::fsync_calls);
  return real(fd);
}

extern "C" int fdatasync(int fd) {
  static const auto real = next_definition<decltype(&::fdatasync)>("fdatasync");
  count(ferrite::bench::fdatasync_calls);
  return real(fd);
}

extern "C" int msync(void* addr, size_t length, int flags) {
  static const auto real = next_definition<decltype(&::msync)>("msync");
  count(ferrite::bench::msync_calls);
  return real(addr, length, flags);
}

extern "C" int sync_file_range(int fd, off64_t offset, off64_t bytes, unsigned int flags) {
  static const auto real = next_definition<decltype(&::sync_file_range)>("sync_file_range");
  count(ferrite::bench::range_calls);
  return real(fd, offset, bytes, flags);
}

extern "C" int syncfs(int fd) noexcept {
  static const auto real = next_definition<decltype(&::syncfs)>("syncfs");
  count(ferrite::bench::syncfs_calls);
  return real(fd);
}

extern "C" void sync() noexcept {
  static const auto real = next_definition<decltype(&::sync)>("sync");
  count(ferrite::bench::sync_calls);
  real();
}

extern "C" ssize_t write(int fd, const void* buffer, size_t bytes) {
  static const auto real = next_definition<decltype(&::write)>("write");
  count_if_synchronous(fd);
  return real(fd, buffer, bytes);
}

extern "C" ssize_t writev(int fd, const struct iovec* vector, int vector_length) {
  static const auto real = next_definition<decltype(&::writev)>("writev");
  count_if_synchronous(fd);
  return real(fd, vector, vector_length);
}

extern "C" ssize_t pwrite(int fd, const void* buffer, size_t bytes, off_t offset) {
  static const auto real = next_definition<decltype(&::pwrite)>("pwrite");
  count_if_synchronous(fd);
  return real(fd, buffer, bytes, offset);
}

extern "C" ssize_t pwrite64(int fd, const void* buffer, size_t bytes, off64_t offset) {
  static const auto real = next_definition<decltype(&::pwrite64)>("pwrite64");
  count_if_synchronous(fd);
  return real(fd, buffer, bytes, offset);
}

extern "C" ssize_t pwritev(int fd, const struct iovec* vector, int vector_length, off_t offset) {
  static const auto real = next_definition<decltype(&::pwritev)>("pwritev");
  count_if_synchronous(fd);
  return real(fd, vector, vector_length, offset);
}

extern "C" ssize_t pwritev64(int fd, const struct iovec* vector, int vector_length,
                             off64_t offset) {
  static const auto real = next_definition<decltype(&::pwritev64)>("pwritev64");
  count_if_synchronous(fd);
  return real(fd, vector, vector_length, offset);
}
