#include "ferrite/alloc/heap_check.h"

#include <bit>
#include <cstring>

#include "ferrite/alloc/size_classes.h"

namespace ferrite::detail {
namespace {

struct walker {
  const std::byte* base;
  std::uint64_t image_size;
  const pool_header& header;
  std::uint64_t heap_size;
  const std::function<void(std::uint64_t, const object_header&)>& visit;
  heap_report r;
  std::uint64_t free_run = 0, largest_free_chunks = 0;

  void problem(std::uint64_t off, std::string what) {
    if (r.problems.size() < 1000) r.problems.push_back({off, std::move(what)});
  }
  std::uint64_t chunk_off(std::uint64_t g) const { return header.heap_offset + g * chunk_size; }
  std::uint64_t entry(std::uint64_t g) const {
    const std::uint64_t off =
        header.heap_offset + g / chunks_per_zone * zone_bytes + g % chunks_per_zone * 8;
    std::uint64_t e;
    std::memcpy(&e, base + off, 8);
    return e;
  }
  void end_free() {
    largest_free_chunks = std::max(largest_free_chunks, free_run);
    free_run = 0;
  }

  // Checks the object in [slot, slot + room) and reports it.
  void object(std::uint64_t slot, std::uint64_t room, class_usage* cu) {
    object_header h;
    std::memcpy(&h, base + slot, sizeof h);
    if (!object_magic_ok(h)) {
      problem(slot, "allocated slot without an object header");
      return;
    }
    const std::uint64_t size = object_size_of(h);
    if (h.data_offset < sizeof h || h.data_offset > room || size > room - h.data_offset) {
      problem(slot, "object of " + std::to_string(size) + " bytes at data offset " +
                        std::to_string(h.data_offset) + " overflows its " + std::to_string(room) +
                        "-byte slot");
      return;
    }
    ++r.objects;
    r.object_bytes += size;
    if (cu) {
      ++cu->objects;
      cu->bytes += size;
    } else {
      ++r.extents;
      r.extent_bytes += size;
    }
    if (visit) visit(slot + h.data_offset, h);
  }

  void run(std::uint64_t g, std::uint64_t len, std::uint64_t cls) {
    const std::uint64_t off = chunk_off(g);
    if (cls >= size_class_count()) {
      problem(off, "run with size class " + std::to_string(cls) + " out of range");
      return;
    }
    const size_class& c = class_at(cls);
    run_header rh;
    std::memcpy(&rh, base + off, sizeof rh);
    if (rh.magic != run_magic || rh.size_class != cls || rh.slot_size != c.slot_size ||
        rh.slot_count != c.slot_count || rh.data_offset != c.data_offset ||
        rh.chunks != c.run_chunks || len != c.run_chunks) {
      problem(off, "run header does not match its chunk table entry (class " + std::to_string(cls) +
                       ")");
      return;
    }
    class_usage& cu = r.classes[cls];
    cu.slot_size = c.slot_size;
    ++cu.runs;
    for (std::uint64_t i = 0; i < (c.slot_count + 63) / 64; ++i) {
      std::uint64_t w;
      std::memcpy(&w, base + off + run_bitmap_offset + i * 8, 8);
      const std::uint64_t valid =
          c.slot_count - i * 64 >= 64 ? ~0ull : (1ull << (c.slot_count - i * 64)) - 1;
      if (w & ~valid) problem(off + run_bitmap_offset + i * 8, "bitmap bits beyond the last slot");
      w &= valid;
      const std::uint64_t free_here = static_cast<std::uint64_t>(std::popcount(valid & ~w));
      cu.free_slots += free_here;
      r.free_bytes += free_here * c.slot_size;
      if (free_here) r.largest_free = std::max<std::uint64_t>(r.largest_free, c.slot_size - 16);
      while (w) {
        const std::uint64_t idx = i * 64 + static_cast<std::uint64_t>(std::countr_zero(w));
        w &= w - 1;
        object(off + c.data_offset + idx * c.slot_size, c.slot_size, &cu);
      }
    }
  }

  void zone(std::uint64_t z, std::uint64_t total) {
    const std::uint64_t first = z * chunks_per_zone;
    const std::uint64_t end = std::min(total, first + chunks_per_zone);
    if (entry(first) != 0) problem(chunk_off(first), "entry 0 of a chunk table is not zero");
    for (std::uint64_t g = first + 1; g < end;) {
      const std::uint64_t e = entry(g);
      const chunk_kind kind = entry_kind_of(e);
      if (kind == chunk_kind::free) {
        if (e != 0) problem(chunk_off(g), "free chunk entry with bits set");
        ++free_run;
        r.free_bytes += chunk_size;
        ++g;
        continue;
      }
      end_free();
      if (kind == chunk_kind::continuation) {
        problem(chunk_off(g), "continuation chunk without a head (overlap or lost head)");
        ++g;
        continue;
      }
      const std::uint64_t len = entry_length(e);
      if (len == 0 || len > end - g) {
        problem(chunk_off(g), "length of " + std::to_string(len) + " chunks runs past its zone");
        ++g;
        continue;
      }
      bool ok = true;
      for (std::uint64_t k = 1; k < len; ++k) {
        if (entry(g + k) != make_entry(chunk_kind::continuation, 0, k)) {
          problem(chunk_off(g + k), "chunk inside a " + std::to_string(len) +
                                        "-chunk block is not its continuation (overlap)");
          ok = false;
        }
      }
      if (ok) {
        if (kind == chunk_kind::run) {
          run(g, len, entry_class(e));
        } else {
          object(chunk_off(g), len * chunk_size, nullptr);
        }
      }
      g += len;
    }
    end_free();
  }
};

}  // namespace

heap_report walk_heap(const std::byte* base, std::uint64_t image_size, const pool_header& header,
                      std::uint64_t heap_size,
                      const std::function<void(std::uint64_t, const object_header&)>& visit) {
  walker w{base, image_size, header, heap_size, visit, {}};
  w.r.classes.resize(size_class_count());
  w.r.heap_bytes = heap_size;
  if (header.heap_offset > image_size || heap_size > image_size - header.heap_offset ||
      header.heap_offset % chunk_size != 0) {
    w.problem(header.heap_offset, "heap lies outside the pool image");
    return w.r;
  }
  const std::uint64_t total = heap_size / chunk_size;
  for (std::uint64_t z = 0; z * chunks_per_zone < total; ++z) w.zone(z, total);
  if (w.largest_free_chunks) {
    w.r.largest_free = std::max(
        w.r.largest_free,
        std::min(w.largest_free_chunks, chunks_per_zone - 1) * chunk_size - sizeof(object_header));
  }
  if (w.r.free_bytes) {
    w.r.fragmentation = 1.0 - static_cast<double>(std::min(w.r.largest_free, w.r.free_bytes)) /
                                  static_cast<double>(w.r.free_bytes);
  }
  return w.r;
}

}  // namespace ferrite::detail
