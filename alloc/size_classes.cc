#include "ferrite/alloc/size_classes.h"

#include <algorithm>
#include <vector>

#include "ferrite/base/format/heap_format.h"

namespace ferrite::detail {
namespace {

std::vector<size_class> build() {
  std::vector<size_class> classes;
  auto add = [&](std::uint64_t slot) {
    size_class c{};
    c.slot_size = static_cast<std::uint32_t>(slot);
    c.run_chunks = 1;
    for (;;) {
      const std::uint64_t run = c.run_chunks * chunk_size;
      // Slots and bitmap: n slots need n bits; solve n from the run size.
      std::uint64_t n = (run - run_bitmap_offset) * 8 / (slot * 8 + 1);
      std::uint64_t data = align_up64(run_bitmap_offset + (n + 63) / 64 * 8);
      while (n > 0 && data + n * slot > run) {
        --n;
        data = align_up64(run_bitmap_offset + (n + 63) / 64 * 8);
      }
      if (n >= 8) {
        c.slot_count = static_cast<std::uint32_t>(n);
        c.data_offset = static_cast<std::uint32_t>(data);
        break;
      }
      ++c.run_chunks;
    }
    classes.push_back(c);
  };
  for (std::uint64_t s = 32; s <= 128; s += 16) add(s);
  for (std::uint64_t p = 128; p < max_slot_size; p *= 2) {
    for (std::uint64_t k = 1; k <= 8; ++k) add(p + k * p / 8);
  }
  return classes;
}

const std::vector<size_class>& table() {
  static const std::vector<size_class> t = build();
  return t;
}

}  // namespace

std::uint64_t align_up64(std::uint64_t v) {
  return (v + 63) / 64 * 64;
}

std::size_t size_class_count() noexcept {
  return table().size();
}
const size_class& class_at(std::size_t index) noexcept {
  return table()[index];
}

std::size_t class_for(std::uint64_t slot_bytes) noexcept {
  const auto& t = table();
  auto it = std::lower_bound(t.begin(), t.end(), slot_bytes,
                             [](const size_class& c, std::uint64_t v) { return c.slot_size < v; });
  return static_cast<std::size_t>(it - t.begin());
}

}  // namespace ferrite::detail
