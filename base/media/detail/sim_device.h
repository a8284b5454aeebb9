// sim_device: a simulated storage device for crash injection and fault tests.
//
// It stands in for a pool file. It keeps two images:
//   - visible(): what a reader of a shared mapping would see (every write);
//   - durable(): what would survive a power failure right now.
// Between them it tracks the dirty units: the 8-byte words (byte and
// cache-line granularity) or 512-byte sectors (page granularity) written
// since they were last made durable. A crash image is durable() plus any
// subset of the dirty units taken from visible(); the crash runner
// enumerates such subsets at every barrier.
//
// Barriers: on byte/cache-line granularity a barrier (a fence) makes durable
// the dirty units that the calling thread flushed (write() flushes; store()
// does not, and its units stay in flight until a flush() and a barrier of
// the thread that flushed them), as a store fence orders only its own
// thread's flushes; a unit flushed by several threads is made durable by
// the barrier of any thread. On page granularity a barrier over a range
// makes the dirty units of the pages it covers durable (as msync does),
// whoever wrote them, and sync_all() all of them (fdatasync).
//
// Fault injection knobs make the next barrier fail (EIO), the working view
// fail to map, or size changes beyond `capacity` fail with ENOSPC.
//
// Thread-safety: several threads may write, store, flush and fence at once
// (a pool whose transactions run on several threads): those calls, and
// resize(), take the device's mutex. on_barrier runs under it, so what it
// reads (visible(), durable(), dirty_units(), crash_image()) is one
// consistent moment of the device while every other writer waits. Outside
// on_barrier, the readers, barriers(), from_image() and the knobs below
// take no lock: use them while no other thread writes to the device (before
// or after a run, or from on_barrier). The engine reads visible bytes
// through visible_data() without the lock (other threads only write other
// ranges meanwhile); resize() moves them, so it needs exclusive use as
// media::grow() does. The cost for one thread is an uncontended mutex per
// call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "ferrite/base/media/media.h"

namespace ferrite {

class sim_device {
 public:
  explicit sim_device(granularity g = granularity::cache_line);

  // A device whose durable (and visible) contents are `image`, as after a
  // crash: this is how a crash image is reopened.
  static std::shared_ptr<sim_device> from_image(std::vector<std::byte> image, granularity g);

  // The device as the next process finds it after the writer was killed
  // (kill -9) at some moment: the page cache (page media) or the CPU caches
  // (cache-line media) still hold `visible`, every store the dead process
  // made; the media hold `durable`. The units `in_flight` (a writer's
  // dirty_units() of that moment, in that order) are dirty and unflushed:
  // a power failure keeps any subset of them until they are made durable.
  // On page media a barrier over their pages (msync, fdatasync) writes them
  // back, whoever dirtied them; on cache-line media only a flush and a
  // fence of the new process do (the dead process's own flushes are not
  // ordered by anyone's fence). REQUIRES: visible.size() == durable.size().
  static std::shared_ptr<sim_device> after_process_crash(
      std::vector<std::byte> visible, std::vector<std::byte> durable,
      const std::vector<std::uint64_t>& in_flight, granularity g);

  granularity store_granularity() const noexcept { return granularity_; }
  std::size_t unit_size() const noexcept;  // 8 or 512
  std::size_t size() const noexcept { return visible_.size(); }

  const std::vector<std::byte>& visible() const noexcept { return visible_; }
  const std::vector<std::byte>& durable() const noexcept { return durable_; }
  // Indices (offset / unit_size()) of units written but not yet durable, in
  // the order they were first dirtied.
  const std::vector<std::uint64_t>& dirty_units() const noexcept { return dirty_list_; }

  // durable() with the listed dirty units copied from visible().
  std::vector<std::byte> crash_image(const std::vector<std::uint64_t>& units) const;

  // Called at every barrier/sync, before it takes effect, on the thread
  // that calls it, under the device's mutex. It must not call the device's
  // writing members. `barriers()` counts them, starting at 0.
  std::function<void(const sim_device&)> on_barrier;
  std::uint64_t barriers() const noexcept { return barriers_; }

  // Fault injection. -1 / 0 mean "off".
  std::int64_t fail_barrier_at = -1;  // barrier number that fails with EIO
  bool fail_map = false;              // map_working_view() fails
  std::size_t capacity = 0;           // resize beyond this fails (ENOSPC)

  // Lock emulation for pool::open: one writer or many readers.
  bool writer_open = false;
  int readers_open = 0;

  // --- used by the engine's simulated media backend ---
  void resize(std::size_t new_size);  // throws error(no_space) past capacity
  void write(std::uint64_t offset, const void* src, std::size_t len);  // store + flush
  void store(std::uint64_t offset, const void* src, std::size_t len);
  void flush(std::uint64_t offset, std::size_t len);
  void barrier(std::uint64_t offset, std::size_t len);  // may throw io_error
  void sync_all();                                      // may throw io_error
  std::byte* visible_data() noexcept { return visible_.data(); }

 private:
  using thread_tag = std::uint32_t;  // 1, 2, ...: the thread that flushed a unit
  static constexpr thread_tag any_thread = ~thread_tag{0};
  static thread_tag this_thread() noexcept;

  void store_locked(std::uint64_t offset, const void* src, std::size_t len);
  void flush_locked(std::uint64_t offset, std::size_t len);
  void before_barrier();
  void make_durable(std::uint64_t unit);
  // Byte/cache-line media: makes the units the calling thread flushed durable.
  void fence_locked();
  // Whether `unit`, flushed, is made durable by a fence of thread `t`.
  bool fenced_by(std::uint64_t unit, thread_tag t) const noexcept;

  mutable std::mutex mu_;  // guards everything below while threads write
  granularity granularity_;
  std::vector<std::byte> visible_;
  std::vector<std::byte> durable_;
  std::vector<bool> dirty_;
  std::vector<bool> flushed_;
  // Who flushed each unit, once a second thread flushes on this device
  // (empty until then: one thread's units are all its own).
  thread_tag sole_flusher_ = 0;  // the one thread that flushed so far (0: none)
  std::vector<thread_tag> flushed_by_;
  std::vector<std::uint64_t> dirty_list_;
  std::uint64_t barriers_ = 0;
};

}  // namespace ferrite
