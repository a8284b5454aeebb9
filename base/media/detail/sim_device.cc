#include "ferrite/base/media/detail/sim_device.h"

#include <algorithm>
#include <atomic>
#include <cstring>

#include "ferrite/base/error.h"

namespace ferrite {

sim_device::sim_device(granularity g) : granularity_(g) {}

std::shared_ptr<sim_device> sim_device::from_image(std::vector<std::byte> image, granularity g) {
  auto dev = std::make_shared<sim_device>(g);
  dev->durable_ = image;
  dev->visible_ = std::move(image);
  dev->dirty_.assign(dev->visible_.size() / dev->unit_size() + 1, false);
  dev->flushed_.assign(dev->dirty_.size(), false);
  return dev;
}

std::shared_ptr<sim_device> sim_device::after_process_crash(
    std::vector<std::byte> visible, std::vector<std::byte> durable,
    const std::vector<std::uint64_t>& in_flight, granularity g) {
  if (visible.size() != durable.size()) {
    fail(error_code::invalid_argument,
         "simulated device: a process-crash image needs a visible "
         "and a durable image of the same size");
  }
  auto dev = std::make_shared<sim_device>(g);
  dev->visible_ = std::move(visible);
  dev->durable_ = std::move(durable);
  dev->dirty_.assign(dev->visible_.size() / dev->unit_size() + 1, false);
  dev->flushed_.assign(dev->dirty_.size(), false);
  for (std::uint64_t unit : in_flight) {
    if (unit >= dev->dirty_.size() || dev->dirty_[unit]) continue;
    dev->dirty_[unit] = true;  // unflushed: see the contract in the header
    dev->dirty_list_.push_back(unit);
  }
  return dev;
}

std::size_t sim_device::unit_size() const noexcept {
  return granularity_ == granularity::page ? 512 : 8;
}

sim_device::thread_tag sim_device::this_thread() noexcept {
  static std::atomic<thread_tag> next{1};
  thread_local const thread_tag tag = next.fetch_add(1, std::memory_order_relaxed);
  return tag;
}

std::vector<std::byte> sim_device::crash_image(const std::vector<std::uint64_t>& units) const {
  std::vector<std::byte> image = durable_;
  std::size_t u = unit_size();
  for (std::uint64_t unit : units) {
    std::size_t off = unit * u;
    if (off >= image.size()) continue;
    std::size_t n = std::min(u, image.size() - off);
    std::memcpy(image.data() + off, visible_.data() + off, n);
  }
  return image;
}

void sim_device::resize(std::size_t new_size) {
  std::lock_guard lk(mu_);
  if (capacity != 0 && new_size > capacity) {
    fail(error_code::no_space, "simulated device: no space left for " + std::to_string(new_size) +
                                   " bytes (capacity " + std::to_string(capacity) + ")");
  }
  // A resize is a metadata operation made durable at once (like fallocate
  // followed by fsync); new bytes are zero.
  visible_.resize(new_size);
  durable_.resize(new_size);
  dirty_.resize(new_size / unit_size() + 1, false);
  flushed_.resize(dirty_.size(), false);
  if (!flushed_by_.empty()) flushed_by_.resize(dirty_.size(), 0);
}

void sim_device::store_locked(std::uint64_t offset, const void* src, std::size_t len) {
  std::memcpy(visible_.data() + offset, src, len);
  if (len == 0) return;
  std::size_t u = unit_size();
  for (std::uint64_t unit = offset / u; unit <= (offset + len - 1) / u; ++unit) {
    flushed_[unit] = false;  // a store after a flush needs another flush
    if (!dirty_[unit]) {
      dirty_[unit] = true;
      dirty_list_.push_back(unit);
    }
  }
}

void sim_device::flush_locked(std::uint64_t offset, std::size_t len) {
  if (len == 0) return;
  const std::size_t u = unit_size();
  const std::uint64_t first = offset / u, last = (offset + len - 1) / u;
  if (granularity_ == granularity::page) {  // msync covers every writer's units
    for (std::uint64_t unit = first; unit <= last; ++unit) {
      if (dirty_[unit]) flushed_[unit] = true;
    }
    return;
  }
  const thread_tag t = this_thread();
  if (sole_flusher_ == 0) sole_flusher_ = t;
  if (t != sole_flusher_ && flushed_by_.empty()) {
    // A second thread flushes: from now on each unit remembers its flusher;
    // the units flushed so far were the first thread's.
    flushed_by_.assign(dirty_.size(), sole_flusher_);
  }
  for (std::uint64_t unit = first; unit <= last; ++unit) {
    if (!dirty_[unit]) continue;
    if (!flushed_by_.empty()) {
      // Flushed again by another thread (no store in between): either
      // thread's fence makes it durable.
      flushed_by_[unit] = flushed_[unit] && flushed_by_[unit] != t ? any_thread : t;
    }
    flushed_[unit] = true;
  }
}

bool sim_device::fenced_by(std::uint64_t unit, thread_tag t) const noexcept {
  if (!flushed_[unit]) return false;
  if (flushed_by_.empty()) return t == sole_flusher_;
  return flushed_by_[unit] == t || flushed_by_[unit] == any_thread;
}

void sim_device::store(std::uint64_t offset, const void* src, std::size_t len) {
  std::lock_guard lk(mu_);
  store_locked(offset, src, len);
}

void sim_device::flush(std::uint64_t offset, std::size_t len) {
  std::lock_guard lk(mu_);
  flush_locked(offset, len);
}

void sim_device::write(std::uint64_t offset, const void* src, std::size_t len) {
  std::lock_guard lk(mu_);
  store_locked(offset, src, len);
  flush_locked(offset, len);
}

void sim_device::before_barrier() {
  if (on_barrier) on_barrier(*this);
  std::uint64_t n = barriers_++;
  if (fail_barrier_at >= 0 && n == static_cast<std::uint64_t>(fail_barrier_at)) {
    fail(error_code::io_error, "simulated device: sync failed (EIO, injected)");
  }
}

void sim_device::make_durable(std::uint64_t unit) {
  std::size_t u = unit_size();
  std::size_t off = unit * u;
  std::size_t n = std::min(u, durable_.size() - off);
  std::memcpy(durable_.data() + off, visible_.data() + off, n);
  dirty_[unit] = false;
  flushed_[unit] = false;
}

void sim_device::fence_locked() {
  // A fence makes this thread's flushed lines durable; unflushed stores,
  // and lines other threads flushed, stay in flight.
  const thread_tag t = this_thread();
  for (std::uint64_t unit : dirty_list_) {
    if (fenced_by(unit, t)) make_durable(unit);
  }
  std::erase_if(dirty_list_, [&](std::uint64_t unit) { return !dirty_[unit]; });
}

void sim_device::barrier(std::uint64_t offset, std::size_t len) {
  std::lock_guard lk(mu_);
  before_barrier();
  if (granularity_ != granularity::page) {
    fence_locked();
    return;
  }
  std::uint64_t begin = offset & ~std::uint64_t{4095};
  std::uint64_t end = (offset + len + 4095) & ~std::uint64_t{4095};
  std::size_t u = unit_size();
  auto covered = [&](std::uint64_t unit) { return unit * u >= begin && unit * u < end; };
  for (std::uint64_t unit : dirty_list_) {
    if (covered(unit)) make_durable(unit);
  }
  std::erase_if(dirty_list_, covered);
}

void sim_device::sync_all() {
  std::lock_guard lk(mu_);
  before_barrier();
  if (granularity_ != granularity::page) {
    fence_locked();  // on cache-line media sync_all is a fence
    return;
  }
  for (std::uint64_t unit : dirty_list_) make_durable(unit);
  dirty_list_.clear();
}

}  // namespace ferrite
