#include "ferrite/alloc/heap_check.h"

#include <bit>
#include <cstring>

#include "ferrite/alloc/size_classes.h"
#include "ferrite/txlog/superblock.h"

namespace ferrite::detail {
namespace {

struct walker {
  const std::byte* base;
  std::uint64_t image_size;
  const heap_layout& layout;
  const std::function<void(std::uint64_t, const object_header&)>& visit;
  heap_report r;
  std::uint64_t free_run = 0, largest_free_chunks = 0;

  void problem(std::uint64_t off, std::string what) {
    if (r.problems.size() < 1000) r.problems.push_back({off, std::move(what)});
  }
  std::uint64_t chunk_off(std::uint64_t g) const { return layout.chunk_offset(g); }
  std::uint64_t entry(std::uint64_t g) const {
    std::uint64_t e;
    std::memcpy(&e, base + layout.entry_offset(g), 8);
    return e;
  }
  void add_free(std::uint64_t chunks) {
    free_run += chunks;
    r.free_bytes += chunks * chunk_size;
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

  // A run at chunk g; true when it holds no object (its chunks are free
  // space for any size: the allocator retires it when it needs them).
  bool run(std::uint64_t g, std::uint64_t len, std::uint64_t cls) {
    const std::uint64_t off = chunk_off(g);
    if (cls >= size_class_count()) {
      problem(off, "run with size class " + std::to_string(cls) + " out of range");
      return false;
    }
    const size_class& c = class_at(cls);
    run_header rh;
    std::memcpy(&rh, base + off, sizeof rh);
    if (rh.magic != run_magic || rh.size_class != cls || rh.slot_size != c.slot_size ||
        rh.slot_count != c.slot_count || rh.data_offset != c.data_offset ||
        rh.chunks != c.run_chunks || len != c.run_chunks) {
      problem(off, "run header does not match its chunk table entry (class " + std::to_string(cls) +
                       ")");
      return false;
    }
    class_usage& cu = r.classes[cls];
    cu.slot_size = c.slot_size;
    ++cu.runs;
    std::uint64_t free_slots = 0;
    for (std::uint64_t i = 0; i < (c.slot_count + 63) / 64; ++i) {
      std::uint64_t w;
      std::memcpy(&w, base + off + run_bitmap_offset + i * 8, 8);
      const std::uint64_t valid =
          c.slot_count - i * 64 >= 64 ? ~0ull : (1ull << (c.slot_count - i * 64)) - 1;
      if (w & ~valid) problem(off + run_bitmap_offset + i * 8, "bitmap bits beyond the last slot");
      w &= valid;
      free_slots += static_cast<std::uint64_t>(std::popcount(valid & ~w));
      while (w) {
        const std::uint64_t idx = i * 64 + static_cast<std::uint64_t>(std::countr_zero(w));
        w &= w - 1;
        object(off + c.data_offset + idx * c.slot_size, c.slot_size, &cu);
      }
    }
    cu.free_slots += free_slots;
    if (free_slots == c.slot_count) {
      ++r.empty_runs;
      return true;
    }
    r.free_bytes += free_slots * c.slot_size;
    if (free_slots) r.largest_free = std::max<std::uint64_t>(r.largest_free, c.slot_size - 16);
    return false;
  }

  void walk() {
    const std::uint64_t total = layout.chunks();
    bool table_seen = false;
    for (std::uint64_t g = 0; g < total;) {
      const std::uint64_t e = entry(g);
      const chunk_kind kind = entry_kind_of(e);
      if (e == 0) {
        add_free(1);
        ++g;
        continue;
      }
      if (kind == chunk_kind::mark) {
        end_free();
        problem(chunk_off(g), "chunk mark without a block (overlap or lost head)");
        ++g;
        continue;
      }
      const std::uint64_t len = entry_length(e);
      if ((kind != chunk_kind::run && kind != chunk_kind::extent && kind != chunk_kind::table) ||
          len == 0 || len > total - g) {
        end_free();
        problem(chunk_off(g), "chunk entry " + std::to_string(e) + " is not a valid block head");
        ++g;
        continue;
      }
      bool ok = true;
      for (std::uint64_t k = 1; k < len; ++k) {
        if (entry(g + k) != block_entry(e, k)) {
          problem(chunk_off(g + k), "chunk inside a " + std::to_string(len) +
                                        "-chunk block has a foreign entry (overlap)");
          ok = false;
        }
      }
      bool empty = false;
      if (kind == chunk_kind::table) {
        if (g != layout.table_chunk || len != layout.table_chunks) {
          problem(chunk_off(g), "a chunk table block where the superblock has none");
        }
        table_seen = true;
      } else if (ok && kind == chunk_kind::run) {
        empty = run(g, len, entry_class(e));
      } else if (ok) {
        object(chunk_off(g), len * chunk_size, nullptr);
      }
      if (empty) {
        add_free(len);
      } else {
        end_free();
      }
      g += len;
    }
    end_free();
    if (!table_seen) problem(chunk_off(layout.table_chunk), "the chunk table's own entry is lost");
  }
};

}  // namespace

heap_layout heap_layout_of(const pool_header& header, const pool_state& state) {
  return {header.heap_offset, state.heap_size, state.heap_table_chunk, state.heap_table_chunks};
}

heap_report walk_heap(const std::byte* base, std::uint64_t image_size, const heap_layout& layout,
                      const std::function<void(std::uint64_t, const object_header&)>& visit) {
  walker w{base, image_size, layout, visit, {}};
  w.r.classes.resize(size_class_count());
  w.r.heap_bytes = layout.heap_size;
  const std::uint64_t chunks = layout.chunks();
  if (layout.heap_offset > image_size || layout.heap_size > image_size - layout.heap_offset ||
      layout.heap_offset % chunk_size != 0 || layout.heap_size % chunk_size != 0) {
    w.problem(layout.heap_offset, "heap lies outside the pool image");
    return w.r;
  }
  if (layout.table_chunks == 0 || layout.table_chunks > chunks ||
      layout.table_chunk > chunks - layout.table_chunks || layout.capacity() < chunks) {
    w.problem(layout.heap_offset, "the chunk table lies outside the heap");
    return w.r;
  }
  w.walk();
  if (w.largest_free_chunks) {
    w.r.largest_free =
        std::max(w.r.largest_free, std::min(w.largest_free_chunks, max_block_chunks) * chunk_size -
                                       sizeof(object_header));
  }
  if (w.r.free_bytes) {
    w.r.fragmentation = 1.0 - static_cast<double>(std::min(w.r.largest_free, w.r.free_bytes)) /
                                  static_cast<double>(w.r.free_bytes);
  }
  return w.r;
}

}  // namespace ferrite::detail
