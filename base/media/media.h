// The media layer: the one place in ferrite that makes bytes durable.
//
// A media object owns two views of one pool image:
//   - the durable view, which mirrors the pool file (or the simulated device).
//     Bytes reach it only through write(); they are durable only after a
//     barrier() or sync_all() that covers them (invariant 1, docs/design.md).
//   - the working view, a private copy-on-write view used by the heap. Stores
//     to it never reach the durable image by themselves.
//
// Every write, flushed cache line, fence and sync syscall is counted; the
// counters are the noise-free performance figures of the engine.
//
// Giving memory back (the memory budget, docs/durability.md "Memory"): a
// private page of the working view whose bytes equal the durable view's may
// be dropped, and its next access sees the durable view again. A store
// racing with the drop must not be lost, so the pages are held first:
//
//   hold_pages(runs)      working pages read-only; a thread that stores to
//                         one waits (in the SIGSEGV handler) until release
//   ... compare, drop_pages(offsets) of the pages found equal ...
//   release_pages()       writable again; waiting stores run
//
// The working view never moves: it lies in an address range reserved for
// max_size() bytes, and grow() maps only the new part into it (a file's
// durable view too; the simulated device's durable bytes may move in a
// grow, so callers read durable() again after one).
//
// Thread-safety: write() and barrier() may be called from several threads on
// disjoint ranges; map_working_view() requires exclusive access. grow() on
// a file may run while other threads write, flush, fence and read below
// the old size (nothing there moves); on the simulated device it requires
// exclusive access (the device's bytes move). One thread at a time holds
// pages; holding is not concurrent with grow() or map_working_view().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace ferrite {

// How small a store the media makes durable on its own (libpmem2's notion).
enum class granularity : std::uint8_t {
  byte,        // eADR persistent memory: stores are durable once visible
  cache_line,  // DAX with ADR: flush the cache line, then fence
  page,        // ordinary file in the page cache: msync / fdatasync
};

std::string_view to_string(granularity g) noexcept;

// Counters of what the media did. Per pool, since open.
struct media_stats {
  std::uint64_t writes = 0;         // write() calls into the durable image
  std::uint64_t bytes_written = 0;  // bytes copied into the durable image
  std::uint64_t flushed_lines = 0;  // cache lines flushed (byte/cache_line)
  std::uint64_t fences = 0;         // store fences (byte/cache_line media)
  std::uint64_t syncs = 0;          // msync/fdatasync system calls (page)
};

namespace detail {

class media {
 public:
  virtual ~media();
  media(const media&) = delete;
  media& operator=(const media&) = delete;

  granularity store_granularity() const noexcept { return granularity_; }
  std::size_t size() const noexcept { return size_; }
  // The largest size grow() may reach: the size of the reserved ranges.
  std::size_t max_size() const noexcept { return max_size_; }

  // Read access to the durable view. It shows every write() made so far,
  // durable or not, like a shared mapping of the file does.
  const std::byte* durable() const noexcept { return durable_; }

  // The private working view; null until map_working_view().
  std::byte* working() const noexcept { return working_; }

  // Copies `len` bytes to `offset` of the durable image and starts making
  // them durable (flush). They are durable once a barrier covers them.
  // REQUIRES: offset + len <= size().
  virtual void write(std::uint64_t offset, const void* src, std::size_t len) = 0;

  // write() in two steps, for callers that write the same lines many times
  // (checkpoints): store() copies without flushing; flush() starts making a
  // range durable. Each line needs one flush after its last store.
  virtual void store(std::uint64_t offset, const void* src, std::size_t len) = 0;
  virtual void flush(std::uint64_t offset, std::size_t len) = 0;

  // Returns when every write() of this thread, and every write() by any
  // thread inside [offset, offset+len), is durable. Throws error(io_error)
  // when the media reports a failure; the caller must treat the media as
  // failed from then on (a failed sync cannot be retried).
  virtual void barrier(std::uint64_t offset, std::size_t len) = 0;

  // Makes every write so far durable (fdatasync on page media).
  virtual void sync_all() = 0;

  // Maps the pages of [offset, offset + len) of the durable view into this
  // process ahead of the writes that will go there, so that those writes
  // take no page fault: the log's ring, by the checkpointer thread (its
  // first lap after an open otherwise faults once every 4 KiB on the
  // committing thread), and large new extents before their write
  // (change_log::prefault_direct). Changes no byte; may run while other
  // threads write the range. Does nothing where it would not help: page media
  // (every sync write-protects the pages again) and the simulated device.
  // REQUIRES: offset + len <= size().
  virtual void prefault(std::uint64_t offset, std::size_t len) noexcept;

  // Creates the private working view over the current durable contents.
  virtual void map_working_view() = 0;

  // Extends the image to `new_size` bytes (zero-filled), mapping the new
  // part after the old one: working() keeps its address and its private
  // pages their bytes (durable(): see the top of this file).
  // Throws invalid_argument past max_size(), no_space when the storage is
  // full (the image is then as it was).
  virtual void grow(std::size_t new_size) = 0;

  // Page runs [offset, offset + len) of the working view, 4 KiB-aligned.
  using page_runs = std::vector<std::pair<std::uint64_t, std::uint64_t>>;
  // Makes `runs` read-only until release_pages(): stores to them wait.
  // A run may hold pages that are not dropped: they are kept as they are
  // (a store to one waits, then runs).
  // REQUIRES: no pages held. Throws io_error when mprotect fails (nothing
  // is held then).
  void hold_pages(const page_runs& runs);
  // Frees the private copy of the held page at `offset`: the working view
  // shows the durable view's bytes there from now on. REQUIRES: the page
  // is held and its working bytes equal its durable bytes.
  virtual void drop_page(std::uint64_t offset) = 0;
  // drop_page() for each of `offsets` (ascending). `dropped` counts the
  // pages dropped so far, a prefix of `offsets`, also when it throws. The
  // default drops one page at a time; a file drops them all in one system
  // call where the kernel allows it (one TLB shootdown, not one a page).
  virtual void drop_pages(const std::vector<std::uint64_t>& offsets, std::size_t& dropped);
  // Makes the held pages writable again. Never throws: a failure to
  // unprotect is fatal (a store would wait forever), so it aborts.
  void release_pages() noexcept;
  // The SIGSEGV handler's part: waits while `addr` lies in the held span.
  // True when it waited (the store may run again). Async-signal-safe.
  bool wait_if_held(const void* addr) noexcept;
  // True when `addr` lies in the working view's reserved range.
  bool in_working_range(const void* addr) const noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(addr);
    const auto w = reinterpret_cast<std::uintptr_t>(working_);
    return working_ && a >= w && a - w < max_size_;
  }

  // True when each thread must fence its own flushes (cache-line media):
  // group commit then shares nothing but the wait.
  bool per_thread_fence() const noexcept { return granularity_ != granularity::page; }

  media_stats stats() const noexcept;

  // True in a child of fork() made after this media was created. The child
  // shares the pool file but not the opener's log or allocator state (its
  // copies stop at the fork, while the parent goes on): anything it wrote
  // would corrupt the pool. Every write path refuses it (refuse_forked);
  // reading the views is fine.
  bool forked() const noexcept { return forks_at_open_ != forks_seen(); }
  // Throws error(pool_locked) when forked().
  void refuse_forked() const {
    if (forked()) [[unlikely]]
      fail_forked();
  }
  // Children of fork() this process descends from (a pthread_atfork
  // handler, registered when the library loads, counts them): 0 in the
  // first process. Read inline: every write and barrier asks.
  static std::atomic<std::uint64_t> process_forks;

 protected:
  media() = default;

  // Counters are sharded by thread and bumped with plain loads and stores,
  // not locked read-modify-writes: on x86 a locked instruction waits for the
  // thread's pending cache-line flushes, a hidden fence on every write.
  // Two threads that share a shard (more than 64 threads) may lose counts.
  struct alignas(64) counter_shard {
    std::atomic<std::uint64_t> writes{0}, bytes{0}, lines{0}, fences{0}, syncs{0};
  };
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  counter_shard& shard() noexcept;
  void count_write(std::size_t len, std::uint64_t lines) noexcept {
    counter_shard& s = shard();
    bump(s.writes, 1);
    bump(s.bytes, len);
    bump(s.lines, lines);
  }
  void count_flush(std::uint64_t lines) noexcept { bump(shard().lines, lines); }
  void count_fence() noexcept { bump(shard().fences, 1); }
  void count_sync() noexcept { bump(shard().syncs, 1); }

  // The working-view span holding pages (for the SIGSEGV handler).
  std::atomic<std::uintptr_t> held_begin_{0}, held_end_{0};
  page_runs held_;

  granularity granularity_ = granularity::page;
  std::size_t size_ = 0;
  std::size_t max_size_ = 0;
  std::byte* durable_ = nullptr;
  std::byte* working_ = nullptr;

 private:
  static std::uint64_t forks_seen() noexcept {
    return process_forks.load(std::memory_order_relaxed);
  }
  [[noreturn]] static void fail_forked();
  const std::uint64_t forks_at_open_ = forks_seen();

  static constexpr std::size_t shard_count = 64;
  counter_shard shards_[shard_count];
};

// Installs ferrite's SIGSEGV handler (once per call, so that it is back
// after code that swapped handlers). It lets a store to a held page wait
// for release_pages(); faults it does not own go to `watch_fault` (checked
// mode's write tracking, engine/detail/write_watch.h) when set, then to the
// handler that was installed before. Throws io_error.
void install_fault_handler(bool (*watch_fault)(void* addr) noexcept = nullptr);

// Number of 64-byte cache lines touched by [offset, offset+len).
inline std::uint64_t lines_touched(std::uint64_t offset, std::size_t len) noexcept {
  if (len == 0) return 0;
  return (offset + len - 1) / 64 - offset / 64 + 1;
}

}  // namespace detail
}  // namespace ferrite
