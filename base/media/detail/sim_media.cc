#include "ferrite/base/media/detail/sim_media.h"

#include "ferrite/base/error.h"

namespace ferrite::detail {

sim_media::sim_media(std::shared_ptr<sim_device> device) : device_(std::move(device)) {
  granularity_ = device_->store_granularity();
  size_ = device_->size();
  durable_ = device_->visible_data();
}

void sim_media::write(std::uint64_t offset, const void* src, std::size_t len) {
  device_->write(offset, src, len);
  count_write(len, granularity_ == granularity::cache_line ? lines_touched(offset, len) : 0);
}

void sim_media::store(std::uint64_t offset, const void* src, std::size_t len) {
  // Stored units are in flight (a crash image may hold any subset of them);
  // a barrier makes them durable only once they are flushed.
  device_->store(offset, src, len);
  count_write(len, 0);
}

void sim_media::flush(std::uint64_t offset, std::size_t len) {
  device_->flush(offset, len);
  if (granularity_ == granularity::cache_line) count_flush(lines_touched(offset, len));
}

void sim_media::barrier(std::uint64_t offset, std::size_t len) {
  if (granularity_ == granularity::page)
    count_sync();
  else
    count_fence();
  device_->barrier(offset, len);
}

void sim_media::sync_all() {
  if (granularity_ == granularity::page)
    count_sync();
  else
    count_fence();
  device_->sync_all();
}

void sim_media::map_working_view() {
  if (device_->fail_map) {
    fail(error_code::io_error, "simulated device: mapping the working view failed (injected)");
  }
  working_copy_.assign(device_->visible().begin(), device_->visible().end());
  working_ = working_copy_.data();
}

void sim_media::grow(std::size_t new_size) {
  if (new_size <= size_) return;
  device_->resize(new_size);
  size_ = new_size;
  durable_ = device_->visible_data();
  if (working_) working_copy_.resize(new_size), working_ = working_copy_.data();
}

}  // namespace ferrite::detail
