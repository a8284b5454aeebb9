// sim_media: the media interface over a sim_device (see sim_device.h).
// Selected at run time by pool options; the engine is the same build.
//
// The working view lies in an address range reserved for max_size bytes
// (PROT_NONE anonymous memory, made read-write as the view grows): grow()
// copies only the new bytes in, so working() never moves. The durable view
// is the device's visible bytes, which a grow may move: read durable()
// again after one. Reserved ranges are reused by later sim_media of this
// process (the crash runner opens thousands of images; a fresh page's first
// touch costs 10-100 us on some VMs, a reused one nothing).
//
// Thread-safety: as media.h says. write, store, flush, barrier and sync_all
// may come from several threads at once (the device serialises them);
// map_working_view() and grow() need exclusive access: they read the
// device's bytes without its lock, and grow() moves them.
#pragma once

#include <memory>
#include <vector>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/base/media/media.h"

namespace ferrite::detail {

class sim_media final : public media {
 public:
  // `max_size` (rounded up to 4 KiB; at least the device's size) is the
  // largest size grow() may reach.
  sim_media(std::shared_ptr<sim_device> device, std::size_t max_size);

  void write(std::uint64_t offset, const void* src, std::size_t len) override;
  void store(std::uint64_t offset, const void* src, std::size_t len) override;
  void flush(std::uint64_t offset, std::size_t len) override;
  void barrier(std::uint64_t offset, std::size_t len) override;
  void sync_all() override;
  void map_working_view() override;
  void grow(std::size_t new_size) override;
  void drop_page(std::uint64_t offset) override;
  ~sim_media() override;

 private:
  // Makes the first `len` bytes (a page multiple) of the range read-write.
  void make_writable(std::size_t len);

  std::shared_ptr<sim_device> device_;
  std::byte* range_ = nullptr;  // reserved; working_ once mapped
  std::size_t range_size_ = 0;  // bytes reserved (>= max_size_)
  std::size_t writable_ = 0;    // [0, writable_) is read-write (ever touched)
};

}  // namespace ferrite::detail
