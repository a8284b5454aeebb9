#include "ferrite/base/media/detail/sim_device.h"

#include <algorithm>
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

std::size_t sim_device::unit_size() const noexcept {
  return granularity_ == granularity::page ? 512 : 8;
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
}

void sim_device::store(std::uint64_t offset, const void* src, std::size_t len) {
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

void sim_device::flush(std::uint64_t offset, std::size_t len) {
  if (len == 0) return;
  std::size_t u = unit_size();
  for (std::uint64_t unit = offset / u; unit <= (offset + len - 1) / u; ++unit) {
    if (dirty_[unit]) flushed_[unit] = true;
  }
}

void sim_device::write(std::uint64_t offset, const void* src, std::size_t len) {
  store(offset, src, len);
  flush(offset, len);
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

void sim_device::barrier(std::uint64_t offset, std::size_t len) {
  before_barrier();
  if (granularity_ != granularity::page) {
    // A fence makes flushed lines durable; unflushed stores stay in flight.
    auto flushed = [&](std::uint64_t unit) { return flushed_[unit]; };
    for (std::uint64_t unit : dirty_list_) {
      if (flushed(unit)) make_durable(unit);
    }
    std::erase_if(dirty_list_, [&](std::uint64_t unit) { return !dirty_[unit]; });
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
  before_barrier();
  if (granularity_ != granularity::page) {
    // On cache-line media sync_all is a fence: only flushed lines.
    for (std::uint64_t unit : dirty_list_) {
      if (flushed_[unit]) make_durable(unit);
    }
    std::erase_if(dirty_list_, [&](std::uint64_t unit) { return !dirty_[unit]; });
    return;
  }
  for (std::uint64_t unit : dirty_list_) make_durable(unit);
  dirty_list_.clear();
}

}  // namespace ferrite
