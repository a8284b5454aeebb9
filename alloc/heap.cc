#include "ferrite/alloc/heap.h"

#include <atomic>
#include <bit>
#include <cstring>
#include <thread>

#include "ferrite/alloc/size_classes.h"
#include "ferrite/base/error.h"
#include "ferrite/txlog/change_log.h"

namespace ferrite::detail {

// Volatile state of one run. `used` mirrors the run bitmap plus slots
// reserved by running transactions.
struct run_state {
  std::mutex mu;
  std::uint64_t head_chunk = 0;
  std::uint64_t offset = 0;  // pool offset of the run start
  std::size_t cls = 0;
  std::vector<std::uint64_t> used;
  std::uint64_t free_count = 0;
  std::size_t hint = 0;
  bool owned = false;   // an arena's current run (guarded by mu)
  bool listed = false;  // in heap::partial_ (guarded by heap::mu_)
};

struct heap::zone_state {
  std::vector<std::unique_ptr<run_state>> runs =
      std::vector<std::unique_ptr<run_state>>(chunks_per_zone);
};

struct heap::arena {
  std::mutex mu;
  std::vector<run_state*> current = std::vector<run_state*>(size_class_count(), nullptr);
};

namespace {

[[noreturn]] void corrupt(std::uint64_t chunk, const std::string& what) {
  fail(error_code::corrupted, "heap metadata of chunk " + std::to_string(chunk) + " is invalid (" +
                                  what + "); run `ferrite check` on the pool for details");
}

std::atomic<std::uint64_t>& word_at(std::byte* p) {
  return *reinterpret_cast<std::atomic<std::uint64_t>*>(p);
}

}  // namespace

heap::heap(media& store, const pool_header& header, const pool_state& state, change_log& log,
           std::string pool_name)
    : store_(store),
      header_(header),
      state_(state),
      log_(log),
      pool_name_(std::move(pool_name)),
      partial_(size_class_count()) {
  const unsigned n = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) arenas_.push_back(std::make_unique<arena>());
}

heap::~heap() = default;

std::byte* heap::base() const {
  return store_.working();
}

std::uint64_t heap::total_chunks() const {
  return state_.heap_size / chunk_size;
}

std::uint64_t heap::chunk_offset(std::uint64_t chunk) const {
  return header_.heap_offset + chunk * chunk_size;
}

std::uint64_t* heap::entry_ptr(std::uint64_t chunk) const {
  const std::uint64_t zone = chunk / chunks_per_zone;
  return reinterpret_cast<std::uint64_t*>(base() + header_.heap_offset + zone * zone_bytes) +
         chunk % chunks_per_zone;
}

heap::arena& heap::my_arena() {
  static std::atomic<unsigned> next{0};
  thread_local unsigned slot = next.fetch_add(1);
  return *arenas_[slot % arenas_.size()];
}

void heap::give_chunks(std::uint64_t first, std::uint64_t n, std::uint64_t free_lsn) {
  auto next = free_.lower_bound(first);
  if (next != free_.end() && next->first == first + n) {
    n += next->second.chunks;
    free_lsn = std::max(free_lsn, next->second.free_lsn);
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.chunks == first) {
      prev->second.chunks += n;
      prev->second.free_lsn = std::max(prev->second.free_lsn, free_lsn);
      return;
    }
  }
  free_.emplace(first, free_range{n, free_lsn});
}

std::uint64_t heap::take_chunks(std::uint64_t n, std::uint64_t& free_lsn) {
  for (;;) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second.chunks < n) continue;
      const std::uint64_t first = it->first;
      free_range rest = it->second;
      free_lsn = rest.free_lsn;
      free_.erase(it);
      if (rest.chunks > n) free_.emplace(first + n, free_range{rest.chunks - n, rest.free_lsn});
      return first;
    }
    if (!scan_next_zone()) return UINT64_MAX;
  }
}

bool heap::scan_next_zone() {
  const std::uint64_t total = total_chunks();
  const std::uint64_t zone = zones_scanned_;
  const std::uint64_t first = zone * chunks_per_zone;
  if (first >= total) return false;
  const std::uint64_t end = std::min(total, first + chunks_per_zone);
  if (zones_.size() <= zone) zones_.resize(zone + 1);
  zones_[zone] = std::make_unique<zone_state>();
  zone_state& zs = *zones_[zone];
  std::uint64_t free_start = 0, free_len = 0;
  auto flush_free = [&] {
    if (free_len) give_chunks(free_start, free_len, 0);
    free_len = 0;
  };
  for (std::uint64_t g = first + 1; g < end;) {
    const std::uint64_t e = *entry_ptr(g);
    const chunk_kind kind = entry_kind_of(e);
    if (kind == chunk_kind::free) {
      if (e != 0) corrupt(g, "free entry with bits set");
      if (!free_len) free_start = g;
      ++free_len;
      ++g;
      continue;
    }
    flush_free();
    if (kind == chunk_kind::continuation) corrupt(g, "continuation without a head");
    const std::uint64_t len = entry_length(e);
    if (len == 0 || len > end - g) corrupt(g, "length " + std::to_string(len) + " beyond its zone");
    for (std::uint64_t k = 1; k < len; ++k) {
      if (*entry_ptr(g + k) != make_entry(chunk_kind::continuation, 0, k)) {
        corrupt(g + k, "bad continuation entry");
      }
    }
    if (kind == chunk_kind::run) {
      const std::uint64_t cls = entry_class(e);
      if (cls >= size_class_count()) corrupt(g, "size class out of range");
      const size_class& c = class_at(cls);
      run_header rh;
      std::memcpy(&rh, base() + chunk_offset(g), sizeof rh);
      if (rh.magic != run_magic || rh.size_class != cls || rh.slot_size != c.slot_size ||
          rh.slot_count != c.slot_count || rh.data_offset != c.data_offset ||
          rh.chunks != c.run_chunks || len != c.run_chunks) {
        corrupt(g, "run header does not match its size class");
      }
      auto rs = std::make_unique<run_state>();
      rs->head_chunk = g;
      rs->offset = chunk_offset(g);
      rs->cls = cls;
      const std::size_t words = (c.slot_count + 63) / 64;
      rs->used.resize(words);
      std::memcpy(rs->used.data(), base() + rs->offset + run_bitmap_offset, words * 8);
      std::uint64_t used = 0;
      for (std::size_t w = 0; w < words; ++w) {
        if (w == words - 1 && c.slot_count % 64) {
          const std::uint64_t beyond = ~0ull << (c.slot_count % 64);
          if (rs->used[w] & beyond) corrupt(g, "bitmap bits beyond the last slot");
        }
        used += static_cast<std::uint64_t>(std::popcount(rs->used[w]));
      }
      rs->free_count = c.slot_count - used;
      if (rs->free_count > 0) {
        rs->listed = true;
        partial_[cls].push_back(rs.get());
      }
      zs.runs[g % chunks_per_zone] = std::move(rs);
    } else if (kind != chunk_kind::extent) {
      corrupt(g, "unknown kind");
    }
    g += len;
  }
  flush_free();
  ++zones_scanned_;
  return true;
}

run_state* heap::run_of(std::uint64_t chunk) const {
  const std::uint64_t zone = chunk / chunks_per_zone;
  if (zone >= zones_.size() || !zones_[zone]) return nullptr;
  return zones_[zone]->runs[chunk % chunks_per_zone].get();
}

run_state* heap::acquire_run(std::size_t cls) {
  const size_class& c = class_at(cls);
  {
    std::unique_lock lk(mu_);
    for (;;) {
      while (!partial_[cls].empty()) {
        run_state* r = partial_[cls].back();
        partial_[cls].pop_back();
        r->listed = false;
        std::lock_guard rl(r->mu);
        if (r->free_count > 0 && !r->owned) {
          r->owned = true;
          return r;
        }
      }
      bool chunks_free = false;
      for (const auto& [first, range] : free_) chunks_free |= range.chunks >= c.run_chunks;
      if (chunks_free || !scan_next_zone()) break;
    }
  }
  return nullptr;
}

run_state* heap::create_run(heap_tx& tx, std::size_t cls) {
  const size_class& c = class_at(cls);
  std::uint64_t g, free_lsn = 0;
  {
    std::lock_guard lk(mu_);
    g = take_chunks(c.run_chunks, free_lsn);
  }
  if (g == UINT64_MAX) return nullptr;
  const std::uint64_t off = chunk_offset(g);
  const std::size_t words = (c.slot_count + 63) / 64;
  run_header rh{};
  rh.magic = run_magic;
  rh.size_class = static_cast<std::uint32_t>(cls);
  rh.slot_size = c.slot_size;
  rh.slot_count = c.slot_count;
  rh.data_offset = c.data_offset;
  rh.chunks = c.run_chunks;
  std::memcpy(base() + off, &rh, sizeof rh);
  std::memset(base() + off + run_bitmap_offset, 0, words * 8);
  // The run is created by a record of its own, durable before any slot of
  // it is handed out; it does not depend on the caller's transaction.
  record_builder rb;
  rb.add_range(off, base() + off, run_bitmap_offset + words * 8);
  for (std::uint64_t k = 0; k < c.run_chunks; ++k) {
    const std::uint64_t e = k == 0 ? make_entry(chunk_kind::run, cls, c.run_chunks)
                                   : make_entry(chunk_kind::continuation, 0, k);
    *entry_ptr(g + k) = e;
    rb.add_bits(entry_kind::set_bits,
                static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(entry_ptr(g + k)) - base()),
                e);
  }
  try {
    log_.commit(rb);
  } catch (...) {
    for (std::uint64_t k = 0; k < c.run_chunks; ++k) *entry_ptr(g + k) = 0;
    std::lock_guard lk(mu_);
    give_chunks(g, c.run_chunks, free_lsn);
    throw;
  }
  // The new run's metadata is committed: not the caller's change.
  tx.committed_aside(off, run_bitmap_offset + words * 8);
  for (std::uint64_t k = 0; k < c.run_chunks; ++k) {
    tx.committed_aside(
        static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(entry_ptr(g + k)) - base()), 8);
  }
  auto rs = std::make_unique<run_state>();
  rs->head_chunk = g;
  rs->offset = off;
  rs->cls = cls;
  rs->used.assign(words, 0);
  rs->free_count = c.slot_count;
  rs->owned = true;
  run_state* raw = rs.get();
  std::lock_guard lk(mu_);
  zones_[g / chunks_per_zone]->runs[g % chunks_per_zone] = std::move(rs);
  return raw;
}

void heap::out_of_space(heap_tx& tx, std::uint64_t size) {
  tx.poison(error_code::out_of_space,
            "pool '" + pool_name_ + "' has no free block for an object of " + std::to_string(size) +
                " bytes; free objects or grow the pool (pool::grow, "
                "`ferrite grow`). The transaction was aborted");
}

std::uint64_t heap::allocate(heap_tx& tx, std::uint64_t size, std::uint32_t type_id,
                             std::uint64_t align) {
  if (align == 0) align = 16;
  if (!std::has_single_bit(align) || align > chunk_size) {
    tx.poison(error_code::invalid_argument,
              "alignment " + std::to_string(align) + " is not a power of two up to 256 KiB");
  }
  if (size > max_pool_size) out_of_space(tx, size);
  const std::uint64_t pad = align > 16 ? align - 16 : 0;
  const std::uint64_t slot_bytes = sizeof(object_header) + size + pad;
  std::uint64_t slot_off = 0;
  if (slot_bytes <= max_slot_size) {
    const std::size_t cls = class_for(slot_bytes);
    const size_class& c = class_at(cls);
    arena& a = my_arena();
    run_state* run = nullptr;
    std::uint64_t idx = 0;
    {
      std::lock_guard al(a.mu);
      for (;;) {
        run = a.current[cls];
        if (!run) {
          run = acquire_run(cls);
          if (!run) run = create_run(tx, cls);
          if (!run) out_of_space(tx, size);
          a.current[cls] = run;
        }
        std::lock_guard rl(run->mu);
        bool found = false;
        for (std::size_t n = 0; n < run->used.size() && !found; ++n) {
          const std::size_t w = (run->hint + n) % run->used.size();
          std::uint64_t free_bits = ~run->used[w];
          if (w == run->used.size() - 1 && c.slot_count % 64) {
            free_bits &= (1ull << (c.slot_count % 64)) - 1;
          }
          if (free_bits) {
            idx = w * 64 + static_cast<std::uint64_t>(std::countr_zero(free_bits));
            run->used[w] |= 1ull << (idx % 64);
            run->hint = w;
            --run->free_count;
            found = true;
          }
        }
        if (found) break;
        run->owned = false;
        a.current[cls] = nullptr;
      }
    }
    const std::uint64_t word_off = run->offset + run_bitmap_offset + idx / 64 * 8;
    const std::uint64_t mask = 1ull << (idx % 64);
    word_at(base() + word_off).fetch_or(mask, std::memory_order_relaxed);
    tx.log_bits(entry_kind::set_bits, word_off, mask);
    tx.heap_allocs.push_back({heap_action::slot, run, idx, 0, 0, 0});
    slot_off = run->offset + c.data_offset + idx * c.slot_size;
  } else {
    const std::uint64_t n = (slot_bytes + chunk_size - 1) / chunk_size;
    if (n >= chunks_per_zone) out_of_space(tx, size);
    std::uint64_t g, free_lsn = 0;
    {
      std::lock_guard lk(mu_);
      g = take_chunks(n, free_lsn);
    }
    if (g == UINT64_MAX) out_of_space(tx, size);
    tx.heap_allocs.push_back({heap_action::extent, nullptr, 0, g, n, free_lsn});
    for (std::uint64_t k = 0; k < n; ++k) {
      const std::uint64_t e = k == 0 ? make_entry(chunk_kind::extent, 0, n)
                                     : make_entry(chunk_kind::continuation, 0, k);
      *entry_ptr(g + k) = e;
      tx.log_bits(
          entry_kind::set_bits,
          static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(entry_ptr(g + k)) - base()), e);
    }
    slot_off = chunk_offset(g);
    // The extent's data goes straight to the durable image at commit; no
    // older record may still write there.
    if (free_lsn > log_.checkpoint_lsn()) log_.checkpoint();
  }
  const std::uint64_t data = (slot_off + sizeof(object_header) + align - 1) / align * align;
  object_header h{size | std::uint64_t{object_magic} << 48, type_id,
                  static_cast<std::uint32_t>(data - slot_off)};
  std::memcpy(base() + slot_off, &h, sizeof h);
  std::memset(base() + slot_off + sizeof h, 0, data + size - slot_off - sizeof h);
  if (slot_bytes <= max_slot_size) {
    tx.cover_new(slot_off, data + size - slot_off);
  } else {
    tx.direct.push_back({slot_off, data + size});
  }
  return data;
}

std::uint64_t heap::locate_slot(std::uint64_t data, run_state** run, std::uint64_t* index,
                                std::uint64_t* head_chunk, std::uint64_t* chunks) const {
  const std::uint64_t heap_off = header_.heap_offset;
  auto bad = [&](const std::string& why) {
    fail(error_code::invalid_argument,
         "pool offset " + std::to_string(data) + " is not an allocated object (" + why + ")");
  };
  if (data < heap_off || data >= heap_off + state_.heap_size) bad("outside the heap");
  std::uint64_t g = (data - heap_off) / chunk_size;
  if (g % chunks_per_zone == 0) bad("inside heap metadata");
  {
    // The object's zone must be scanned before its space can be given
    // back: a later scan would otherwise count the freed chunks twice.
    std::unique_lock lk(mu_);
    while (zones_scanned_ <= g / chunks_per_zone && const_cast<heap*>(this)->scan_next_zone()) {
    }
  }
  std::uint64_t e = *entry_ptr(g);
  if (entry_kind_of(e) == chunk_kind::continuation) {
    const std::uint64_t back = entry_length(e);
    if (back == 0 || back > g % chunks_per_zone) bad("broken chunk table");
    g -= back;
    e = *entry_ptr(g);
  }
  *head_chunk = g;
  *chunks = entry_length(e);
  *run = nullptr;
  std::uint64_t slot_off = 0;
  switch (entry_kind_of(e)) {
    case chunk_kind::extent:
      slot_off = chunk_offset(g);
      break;
    case chunk_kind::run: {
      {
        std::unique_lock lk(mu_);
        *run = run_of(g);
      }
      if (!*run) bad("run not found");
      const size_class& c = class_at((*run)->cls);
      const std::uint64_t first = (*run)->offset + c.data_offset;
      if (data < first) bad("inside a run header");
      *index = (data - first) / c.slot_size;
      if (*index >= c.slot_count) bad("beyond the last slot");
      slot_off = first + *index * c.slot_size;
      const std::uint64_t word =
          word_at(base() + (*run)->offset + run_bitmap_offset + *index / 64 * 8)
              .load(std::memory_order_relaxed);
      if (!(word >> (*index % 64) & 1)) bad("slot is free");
      break;
    }
    default:
      bad("chunk is free");
  }
  object_header h;
  std::memcpy(&h, base() + slot_off, sizeof h);
  if (!object_magic_ok(h) || slot_off + h.data_offset != data) bad("not the start of an object");
  return slot_off;
}

bool heap::object_containing(std::uint64_t at, std::uint64_t* data, object_header* header,
                             std::uint64_t* next) const noexcept {
  const std::uint64_t heap_off = header_.heap_offset;
  *next = at + 1;
  if (at < heap_off || at >= heap_off + state_.heap_size) return false;
  std::uint64_t g = (at - heap_off) / chunk_size;
  *next = chunk_offset(g) + chunk_size;
  if (g % chunks_per_zone == 0) return false;
  std::uint64_t e = *entry_ptr(g);
  if (entry_kind_of(e) == chunk_kind::continuation) {
    const std::uint64_t back = entry_length(e);
    if (back == 0 || back > g % chunks_per_zone) return false;
    g -= back;
    e = *entry_ptr(g);
  }
  std::uint64_t slot = 0;
  if (entry_kind_of(e) == chunk_kind::extent) {
    slot = chunk_offset(g);
    *next = slot + entry_length(e) * chunk_size;
  } else if (entry_kind_of(e) == chunk_kind::run) {
    run_header rh;
    std::memcpy(&rh, base() + chunk_offset(g), sizeof rh);
    if (rh.magic != run_magic || rh.slot_size == 0) return false;
    const std::uint64_t first = chunk_offset(g) + rh.data_offset;
    if (at < first) {
      *next = first;
      return false;
    }
    const std::uint64_t index = (at - first) / rh.slot_size;
    if (index >= rh.slot_count) return false;
    slot = first + index * rh.slot_size;
    *next = slot + rh.slot_size;
    const std::uint64_t word =
        word_at(base() + chunk_offset(g) + run_bitmap_offset + index / 64 * 8)
            .load(std::memory_order_relaxed);
    if (!(word >> (index % 64) & 1)) return false;
  } else {
    return false;
  }
  std::memcpy(header, base() + slot, sizeof *header);
  if (!object_magic_ok(*header)) return false;
  *data = slot + header->data_offset;
  return true;
}

object_header heap::header_of(std::uint64_t data) const {
  run_state* run;
  std::uint64_t idx, g, n;
  const std::uint64_t slot = locate_slot(data, &run, &idx, &g, &n);
  object_header h;
  std::memcpy(&h, base() + slot, sizeof h);
  return h;
}

void heap::free(heap_tx& tx, std::uint64_t data) {
  run_state* run;
  std::uint64_t idx = 0, g, n;
  try {
    locate_slot(data, &run, &idx, &g, &n);
  } catch (const error& e) {
    tx.poison(e.code(), e.what());
  }
  for (const heap_action& f : tx.heap_frees) {
    if ((run && f.run == run && f.slot_index == idx) || (!run && f.first_chunk == g && !f.run)) {
      tx.poison(error_code::invalid_argument,
                "object at pool offset " + std::to_string(data) + " freed twice");
    }
  }
  if (run) {
    const std::uint64_t word_off = run->offset + run_bitmap_offset + idx / 64 * 8;
    tx.log_bits(entry_kind::clear_bits, word_off, 1ull << (idx % 64));
    tx.heap_frees.push_back({heap_action::slot, run, idx, 0, 0, 0});
  } else {
    for (std::uint64_t k = 0; k < n; ++k) {
      tx.log_bits(
          entry_kind::clear_bits,
          static_cast<std::uint64_t>(reinterpret_cast<std::byte*>(entry_ptr(g + k)) - base()),
          ~0ull);
    }
    tx.heap_frees.push_back({heap_action::extent, nullptr, 0, g, n, 0});
  }
}

void heap::release(const heap_action& a, std::uint64_t free_lsn) noexcept {
  if (a.kind == heap_action::slot) {
    const std::uint64_t word_off = a.run->offset + run_bitmap_offset + a.slot_index / 64 * 8;
    word_at(base() + word_off).fetch_and(~(1ull << (a.slot_index % 64)), std::memory_order_relaxed);
    bool unowned;
    {
      std::lock_guard rl(a.run->mu);
      a.run->used[a.slot_index / 64] &= ~(1ull << (a.slot_index % 64));
      ++a.run->free_count;
      unowned = !a.run->owned;
    }
    if (unowned) {  // list the run for reuse when no arena owns it
      std::lock_guard lk(mu_);
      if (!a.run->listed) {
        a.run->listed = true;
        partial_[a.run->cls].push_back(a.run);
      }
    }
  } else {
    for (std::uint64_t k = 0; k < a.chunks; ++k) *entry_ptr(a.first_chunk + k) = 0;
    std::lock_guard lk(mu_);
    give_chunks(a.first_chunk, a.chunks, free_lsn);
  }
}

void heap::on_abort(heap_tx& tx) noexcept {
  for (const heap_action& a : tx.heap_allocs) release(a, a.free_lsn);
}

void heap::on_durable(heap_tx& tx, std::uint64_t lsn) {
  for (const heap_action& f : tx.heap_frees) release(f, lsn);
}

void heap::grown(std::uint64_t old_heap_size) {
  // Chunks added to a zone that was already scanned are free now; zones
  // beyond it are scanned lazily like any other.
  std::lock_guard lk(mu_);
  const std::uint64_t old_total = old_heap_size / chunk_size;
  const std::uint64_t zone = old_total / chunks_per_zone;
  if (old_total % chunks_per_zone == 0 || zone >= zones_scanned_) return;
  const std::uint64_t end = std::min(total_chunks(), (zone + 1) * chunks_per_zone);
  if (end > old_total) give_chunks(old_total, end - old_total, 0);
}

}  // namespace ferrite::detail
