#include "ferrite/base/media/detail/sim_media.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "ferrite/base/error.h"

namespace ferrite::detail {

sim_media::sim_media(std::shared_ptr<sim_device> device) : device_(std::move(device)) {
  granularity_ = device_->store_granularity();
  size_ = device_->size();
  durable_ = device_->visible_data();
}

void sim_media::write(std::uint64_t offset, const void* src, std::size_t len) {
  refuse_forked();
  device_->write(offset, src, len);
  count_write(len, granularity_ == granularity::cache_line ? lines_touched(offset, len) : 0);
}

void sim_media::store(std::uint64_t offset, const void* src, std::size_t len) {
  refuse_forked();
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
  refuse_forked();
  if (granularity_ == granularity::page)
    count_sync();
  else
    count_fence();
  device_->barrier(offset, len);
}

void sim_media::sync_all() {
  refuse_forked();
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
  unmap_working();
  working_ = allocate_working(size_);
  working_size_ = size_;
  std::memcpy(working_, device_->visible().data(), size_);
}

// Page-aligned heap memory, not a fresh mapping: the crash runner opens
// thousands of images, and malloc reuses pages that are already mapped
// (a first touch of a fresh page costs 100 us on some VMs).
std::byte* sim_media::allocate_working(std::size_t size) {
  void* m = nullptr;
  const std::size_t rounded = (size + 4095) / 4096 * 4096;
  if (posix_memalign(&m, 4096, rounded) != 0) {
    fail(error_code::io_error, "simulated device: cannot allocate the working view");
  }
  return static_cast<std::byte*>(m);
}

void sim_media::unmap_working() noexcept {
  std::free(working_);
  working_ = nullptr;
  working_size_ = 0;
}

sim_media::~sim_media() {
  unmap_working();
}

// What a file's private mapping does when a page is dropped: the page
// shows the device's visible bytes (a shared mapping's view). The page is
// held read-only; a new read-only page with those bytes replaces it in one
// step (mremap), so a store waiting on it never runs on the old page.
void sim_media::drop_page(std::uint64_t offset) {
  constexpr std::size_t page = 4096;
  void* fresh = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fresh == MAP_FAILED) fail_errno(errno, "simulated device: dropping a working-view page", "");
  std::memcpy(fresh, device_->visible_data() + offset, page);
  if (mprotect(fresh, page, PROT_READ) != 0 ||
      mremap(fresh, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, working_ + offset) == MAP_FAILED) {
    const int e = errno;
    munmap(fresh, page);
    fail_errno(e, "simulated device: dropping a working-view page", "");
  }
}

void sim_media::grow(std::size_t new_size) {
  refuse_forked();
  if (new_size <= size_) return;
  device_->resize(new_size);
  size_ = new_size;
  durable_ = device_->visible_data();
  if (!working_) return;
  std::byte* grown = allocate_working(new_size);
  std::memcpy(grown, working_, working_size_);
  std::memset(grown + working_size_, 0, new_size - working_size_);
  std::free(working_);
  working_ = grown;
  working_size_ = new_size;
}

}  // namespace ferrite::detail
