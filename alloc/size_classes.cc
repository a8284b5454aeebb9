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
    for (std::uint64_t chunks = 1;; ++chunks) {
      const std::uint64_t run = chunks * chunk_size;
      // Slots and bitmap: n slots need n bits; solve n from the run size.
      std::uint64_t n = (run - run_bitmap_offset) * 8 / (slot * 8 + 1);
      std::uint64_t data = align_up64(run_bitmap_offset + (n + 63) / 64 * 8);
      while (n > 0 && data + n * slot > run) {
        --n;
        data = align_up64(run_bitmap_offset + (n + 63) / 64 * 8);
      }
      // The fewest chunks whose unused tail is at most 1/16 of the run.
      if (n > 0 && (run - data - n * slot) * 16 <= run) {
        c.run_chunks = static_cast<std::uint32_t>(chunks);
        c.slot_count = static_cast<std::uint32_t>(n);
        c.data_offset = static_cast<std::uint32_t>(data);
        break;
      }
    }
    classes.push_back(c);
  };
  for (std::uint64_t s = 32; s <= 128; s += 16) add(s);
  // Slots stay multiples of 16, so that every object's data is 16-aligned.
  for (std::uint64_t p = 128; p < max_slot_size; p *= 2) {
    const std::uint64_t step = std::max<std::uint64_t>(16, p / 16);
    for (std::uint64_t s = p + step; s <= 2 * p; s += step) add(s);
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
