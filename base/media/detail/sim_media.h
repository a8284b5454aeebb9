// sim_media: the media interface over a sim_device (see sim_device.h).
// Selected at run time by pool options; the engine is the same build.
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
  explicit sim_media(std::shared_ptr<sim_device> device);

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
  // The working view is page-aligned like a file's mapping (checked mode
  // protects it page by page).
  static std::byte* allocate_working(std::size_t size);
  void unmap_working() noexcept;

  std::shared_ptr<sim_device> device_;
  std::size_t working_size_ = 0;
};

}  // namespace ferrite::detail
