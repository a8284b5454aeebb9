#include "ferrite/base/media/detail/sim_media.h"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite::detail {
namespace {

constexpr std::size_t page = 4096;

std::size_t round_to_pages(std::size_t n) {
  return (n + page - 1) / page * page;
}

// Reserved ranges given back by closed sim_media, kept for the next ones:
// their read-write pages are already backed (no first-touch faults), their
// bytes are whatever the last user left. A few, of bounded memory.
struct spare_range {
  std::byte* base;
  std::size_t reserved;
  std::size_t writable;
};
constexpr std::size_t max_spares = 4;
constexpr std::size_t max_spare_writable = 256u << 20;
std::mutex spares_mu;
std::vector<spare_range>& spares() {
  static auto* s = new std::vector<spare_range>();  // never destroyed: used until exit
  return *s;
}
// A fork() while another thread holds spares_mu must not leave the child
// with it locked (the crash runner forks while its checker threads run).
[[maybe_unused]] const int spares_fork_safe = pthread_atfork(
    [] { spares_mu.lock(); }, [] { spares_mu.unlock(); }, [] { spares_mu.unlock(); });

spare_range take_range(std::size_t reserved) {
  {
    std::lock_guard g(spares_mu);
    auto& s = spares();
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (it->reserved >= reserved) {
        const spare_range r = *it;
        s.erase(it);
        return r;
      }
    }
  }
  void* p = mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    fail_errno(errno,
               "simulated device: reserving " + std::to_string(reserved) +
                   " bytes of address space for the working view (pool_options::max_size)",
               "");
  }
  return {static_cast<std::byte*>(p), reserved, 0};
}

void give_back(spare_range r) noexcept {
  // Held or protected pages (memory budget, checked mode) are writable
  // again by now; this makes sure (a no-op for pages already read-write).
  if (r.writable <= max_spare_writable &&
      (r.writable == 0 || mprotect(r.base, r.writable, PROT_READ | PROT_WRITE) == 0)) {
    std::lock_guard g(spares_mu);
    if (spares().size() < max_spares) {
      spares().push_back(r);
      return;
    }
  }
  munmap(r.base, r.reserved);
}

}  // namespace

sim_media::sim_media(std::shared_ptr<sim_device> device, std::size_t max_size)
    : device_(std::move(device)) {
  granularity_ = device_->store_granularity();
  size_ = device_->size();
  max_size_ = std::max(size_, round_to_pages(max_size));
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
  if (!range_) {
    const spare_range r = take_range(round_to_pages(max_size_));
    range_ = r.base;
    range_size_ = r.reserved;
    writable_ = r.writable;
  }
  const std::size_t rounded = round_to_pages(size_);
  make_writable(rounded);
  std::memcpy(range_, device_->visible().data(), size_);
  std::memset(range_ + size_, 0, rounded - size_);
  working_ = range_;
}

void sim_media::make_writable(std::size_t len) {
  if (len <= writable_) return;
  if (mprotect(range_ + writable_, len - writable_, PROT_READ | PROT_WRITE) != 0) {
    fail_errno(errno, "simulated device: growing the working view", "");
  }
  writable_ = len;
}

sim_media::~sim_media() {
  if (range_) give_back({range_, range_size_, writable_});
}

// What a file's private mapping does when a page is dropped: the page
// shows the device's visible bytes (a shared mapping's view). The page is
// held read-only; a new read-only page with those bytes replaces it in one
// step (mremap), so a store waiting on it never runs on the old page.
void sim_media::drop_page(std::uint64_t offset) {
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
  if (new_size > max_size_) {
    fail(error_code::invalid_argument,
         "simulated device: cannot grow to " + std::to_string(new_size) +
             " bytes: the working view's address range was reserved for at most " +
             std::to_string(max_size_) +
             " bytes when the pool was opened; reopen it with a larger pool_options::max_size");
  }
  // Pages past the range's high-water mark were never touched: zero, as
  // the device's new bytes are. Only reused pages need the copy.
  const std::size_t touched = working_ ? writable_ : 0;
  if (working_) make_writable(round_to_pages(new_size));
  device_->resize(new_size);
  const std::size_t old_size = size_;
  size_ = new_size;
  durable_ = device_->visible_data();
  if (working_ && touched > old_size) {
    const std::size_t end = std::min(new_size, touched);
    std::memcpy(working_ + old_size, durable_ + old_size, end - old_size);
  }
}

}  // namespace ferrite::detail
