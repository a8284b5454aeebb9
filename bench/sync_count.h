// os_syncs: the requests to make data durable that this process made to the
// operating system, counted from outside the engines, the same way for every
// engine (ferrite, libpmemobj, LMDB, SQLite).
//
// How: ferrite-bench defines fsync, fdatasync, msync, sync_file_range,
// syncfs and sync itself, and the write family (write, writev, pwrite,
// pwrite64, pwritev, pwritev64). Each definition bumps a counter and calls
// the C library's function (dlsym(RTLD_NEXT, name)). bench/meson.build
// exports these names from the executable (sync_count.dynamic), so the
// dynamic linker binds every shared library's call to them first:
// libferrite, libpmem2, libpmem, libpmemobj, liblmdb and libsqlite3 all
// call through here.
//
// What counts as one sync:
//   - one call of fsync, fdatasync, msync (any flags), sync_file_range,
//     syncfs or sync;
//   - one write (write, writev, pwrite, pwrite64, pwritev, pwritev64) on a
//     descriptor opened with O_SYNC or O_DSYNC: it returns only once the
//     data is on the device, like a write followed by fdatasync. (LMDB
//     writes its meta page that way.) To know, the write functions ask
//     fcntl(F_GETFL) first: one more system call per write, next to a sync
//     that costs a thousand times more.
//
// Not seen: calls made inside the C library itself, through syscall(2), or
// by the kernel on its own (writeback). docs/bench.md says how the count was
// checked against strace for every engine.
//
// Thread-safety: the counters are relaxed atomics, read from any thread.
#pragma once

#include <cstdint>

namespace ferrite::bench {

struct os_sync_counts {
  std::uint64_t fsync = 0;
  std::uint64_t fdatasync = 0;
  std::uint64_t msync = 0;
  std::uint64_t sync_file_range = 0;
  std::uint64_t syncfs = 0;
  std::uint64_t sync = 0;
  std::uint64_t dsync_writes = 0;  // writes on O_SYNC/O_DSYNC descriptors

  // Every kind together: the `os syncs` of the report.
  std::uint64_t total() const noexcept {
    return fsync + fdatasync + msync + sync_file_range + syncfs + sync + dsync_writes;
  }
};

// later - earlier, kind by kind.
os_sync_counts operator-(const os_sync_counts& later, const os_sync_counts& earlier) noexcept;
os_sync_counts operator+(const os_sync_counts& a, const os_sync_counts& b) noexcept;

// The counts since the process started.
os_sync_counts os_syncs() noexcept;

}  // namespace ferrite::bench
