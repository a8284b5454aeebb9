#include "ferrite/alloc/heap.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <thread>

#include "ferrite/alloc/size_classes.h"
#include "ferrite/base/error.h"
#include "ferrite/txlog/change_log.h"

namespace ferrite::detail {

// Chunks the table walk advances by at a time (its entries fill 64 chunks).
inline constexpr std::uint64_t zone_chunks = 32768;
// Runs of a class whose bitmaps an allocation reads before it takes fresh
// chunks instead (the rest are read when chunks run out).
inline constexpr int runs_loaded_per_request = 8;

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
  bool owned = false;    // an arena's current run (guarded by mu)
  bool listed = false;   // in heap::partial_ (guarded by heap::mu_)
  bool retired = false;  // given back to the free chunks (set holding heap::mu_ and mu)
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
      partial_(size_class_count()),
      unloaded_(size_class_count()) {
  const unsigned n = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) arenas_.push_back(std::make_unique<arena>());
}

heap::~heap() = default;

std::byte* heap::base() const {
  return store_.working();
}

heap_layout heap::layout() const {
  return {header_.heap_offset, state_.heap_size, state_.heap_table_chunk, state_.heap_table_chunks};
}

std::uint64_t heap::total_chunks() const {
  return state_.heap_size / chunk_size;
}

std::uint64_t heap::chunk_offset(std::uint64_t chunk) const {
  return header_.heap_offset + chunk * chunk_size;
}

std::uint64_t heap::entry_off(std::uint64_t chunk) const {
  return chunk_offset(state_.heap_table_chunk) + 8 * chunk;
}

std::uint64_t* heap::entry_ptr(std::uint64_t chunk) const {
  return reinterpret_cast<std::uint64_t*>(base() + entry_off(chunk));
}

std::uint64_t heap::head_of(std::uint64_t g) const noexcept {
  const std::uint64_t total = total_chunks();
  if (g >= total) return UINT64_MAX;
  const std::uint64_t lowest = g >= mark_interval - 1 ? g - (mark_interval - 1) : 0;
  for (std::uint64_t j = g + 1; j-- > lowest;) {
    const std::uint64_t e = *entry_ptr(j);
    if (e == 0) continue;
    std::uint64_t head = j;
    if (entry_kind_of(e) == chunk_kind::mark) {
      const std::uint64_t back = entry_length(e);
      if (back == 0 || back > j) return UINT64_MAX;
      head = j - back;
    }
    const std::uint64_t he = *entry_ptr(head);
    const chunk_kind k = entry_kind_of(he);
    if (k != chunk_kind::run && k != chunk_kind::extent && k != chunk_kind::table) {
      return UINT64_MAX;
    }
    return g - head < entry_length(he) ? head : UINT64_MAX;
  }
  return UINT64_MAX;
}

heap::arena& heap::my_arena() {
  static std::atomic<unsigned> next{0};
  thread_local unsigned slot = next.fetch_add(1);
  return *arenas_[slot % arenas_.size()];
}

// ---- free chunks ----------------------------------------------------------

void heap::unlink_range(std::map<std::uint64_t, free_range>::iterator it) {
  by_size_.erase({it->second.chunks, it->first});
  free_.erase(it);
}

void heap::give_chunks(std::uint64_t first, std::uint64_t n, std::uint64_t free_lsn) {
  auto next = free_.lower_bound(first);
  if (next != free_.end() && next->first == first + n) {
    n += next->second.chunks;
    free_lsn = std::max(free_lsn, next->second.free_lsn);
    auto after = std::next(next);
    unlink_range(next);
    next = after;
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second.chunks == first) {
      first = prev->first;
      n += prev->second.chunks;
      free_lsn = std::max(free_lsn, prev->second.free_lsn);
      unlink_range(prev);
    }
  }
  free_.emplace(first, free_range{n, free_lsn});
  by_size_.emplace(n, first);
}

std::uint64_t heap::take_chunks(std::uint64_t n, std::uint64_t& free_lsn) {
  // Best fit: the smallest range that holds n, lowest first chunk on ties.
  auto fit = by_size_.lower_bound({n, 0});
  if (fit == by_size_.end()) return UINT64_MAX;
  const std::uint64_t first = fit->second;
  auto it = free_.find(first);
  const free_range range = it->second;
  unlink_range(it);
  if (range.chunks > n) {
    free_.emplace(first + n, free_range{range.chunks - n, range.free_lsn});
    by_size_.emplace(range.chunks - n, first + n);
  }
  free_lsn = range.free_lsn;
  return first;
}

// ---- walking the table ----------------------------------------------------

run_state* heap::new_run_state() {
  if (!spare_runs_.empty()) {
    run_state* r = spare_runs_.back();
    spare_runs_.pop_back();
    return r;
  }
  run_store_.push_back(std::make_unique<run_state>());
  return run_store_.back().get();
}

std::uint64_t heap::free_hint() const {
  std::lock_guard lk(mu_);
  if (!by_size_.empty()) return by_size_.rbegin()->second;
  return state_.heap_free_hint;
}

bool heap::scan_more() {
  const std::uint64_t zones = (total_chunks() + zone_chunks - 1) / zone_chunks;
  if (walked_.size() < zones) {
    walked_.resize(zones, false);
    walk_from_.resize(zones, 0);
  }
  // The zone of the hint stored at the last clean close, then the last
  // zone (a heap filled in order keeps its free chunks at the end), then
  // the others from the start.
  std::uint64_t z = zones - 1;
  if (const std::uint64_t hint = state_.heap_free_hint;
      hint != 0 && hint < total_chunks() && !walked_[hint / zone_chunks]) {
    z = hint / zone_chunks;
  } else if (walked_[z]) {
    while (next_zone_ < zones && walked_[next_zone_]) ++next_zone_;
    if (next_zone_ >= zones) return false;
    z = next_zone_;
  }
  walk_zone(z);
  return true;
}

void heap::ensure_walked(std::uint64_t chunk) {
  const std::uint64_t z = chunk / zone_chunks;
  const std::uint64_t zones = (total_chunks() + zone_chunks - 1) / zone_chunks;
  if (walked_.size() < zones) {
    walked_.resize(zones, false);
    walk_from_.resize(zones, 0);
  }
  if (!walked_[z]) walk_zone(z);
}

bool heap::walked(std::uint64_t chunk) const {
  const std::uint64_t z = chunk / zone_chunks;
  return z < walked_.size() && walked_[z];
}

void heap::walk_zone(std::uint64_t z) {
  // Marked first: a walk that stops at damage (corrupt() throws) is not
  // repeated, so the free chunks it already gave are never given twice.
  walked_[z] = true;
  const std::uint64_t total = total_chunks();
  const std::uint64_t* table = entry_ptr(0);  // hoisted: the walk reads a word per block
  // Zone z's walk covers the free chunks in the zone and the blocks whose
  // head is there (to their end, which may lie in a later zone).
  std::uint64_t g = std::max(z * zone_chunks, walk_from_[z]);
  const std::uint64_t stop = std::min(total, z * zone_chunks + zone_chunks);
  if (const std::uint64_t h = head_of(g); h != UINT64_MAX && h < g) {
    g = h + entry_length(table[h]);  // the tail of a block of an unwalked zone
  }
  std::uint64_t free_start = 0, free_len = 0;
  auto flush_free = [&] {
    if (free_len) give_chunks(free_start, free_len, 0);
    free_len = 0;
  };
  while (g < stop) {
    const std::uint64_t e = table[g];
    if (e == 0) {
      if (!free_len) free_start = g;
      ++free_len;
      ++g;
      continue;
    }
    flush_free();
    const chunk_kind kind = entry_kind_of(e);
    if (kind == chunk_kind::mark) corrupt(g, "mark without a head");
    if (kind != chunk_kind::run && kind != chunk_kind::extent && kind != chunk_kind::table) {
      corrupt(g, "unknown kind");
    }
    const std::uint64_t len = entry_length(e);
    if (len == 0 || len > total - g)
      corrupt(g, "length " + std::to_string(len) + " beyond the heap");
    if (kind == chunk_kind::table &&
        (g != state_.heap_table_chunk || len != state_.heap_table_chunks)) {
      corrupt(g, "a chunk table block that is not the superblock's");
    }
    for (std::uint64_t k = mark_interval; k < len; k += mark_interval) {
      if (table[g + k] != block_entry(e, k)) corrupt(g + k, "bad mark entry");
    }
    if (kind == chunk_kind::run) {
      // Only noted: its run_state is made when the run is wanted.
      const std::uint64_t cls = entry_class(e);
      if (cls >= size_class_count() || len != class_at(cls).run_chunks) {
        corrupt(g, "size class or length of a run");
      }
      unloaded_[cls].push_back(g);
    }
    g += len;
    if (g > stop) {
      // The block reaches into later zones: they are walked from its end,
      // even once it is freed (its chunks are in the free map by then).
      for (std::uint64_t zz = z + 1; zz * zone_chunks < g; ++zz) {
        if (zz >= walked_.size()) break;
        if ((zz + 1) * zone_chunks <= g) {
          walked_[zz] = true;
        } else {
          walk_from_[zz] = std::max(walk_from_[zz], g);
        }
      }
    }
  }
  flush_free();
}

void heap::load_run(run_state& r) {
  const size_class& c = class_at(r.cls);
  run_header rh;
  std::memcpy(&rh, base() + r.offset, sizeof rh);
  if (rh.magic != run_magic || rh.size_class != r.cls || rh.slot_size != c.slot_size ||
      rh.slot_count != c.slot_count || rh.data_offset != c.data_offset ||
      rh.chunks != c.run_chunks) {
    corrupt(r.head_chunk, "run header does not match its size class");
  }
  const std::size_t words = (c.slot_count + 63) / 64;
  r.used.resize(words);
  std::memcpy(r.used.data(), base() + r.offset + run_bitmap_offset, words * 8);
  std::uint64_t used = 0;
  for (std::size_t w = 0; w < words; ++w) {
    if (w == words - 1 && c.slot_count % 64) {
      const std::uint64_t beyond = ~0ull << (c.slot_count % 64);
      if (r.used[w] & beyond) corrupt(r.head_chunk, "bitmap bits beyond the last slot");
    }
    used += static_cast<std::uint64_t>(std::popcount(r.used[w]));
  }
  r.free_count = c.slot_count - used;
  r.hint = 0;
}

run_state* heap::run_of(std::uint64_t chunk) {
  auto it = runs_.find(chunk);
  if (it != runs_.end()) return it->second;
  // A run the walk noted but nobody wanted yet: made and read now.
  if (!walked(chunk)) return nullptr;
  const std::uint64_t e = *entry_ptr(chunk);
  if (entry_kind_of(e) != chunk_kind::run || entry_class(e) >= size_class_count()) return nullptr;
  run_state* r = new_run_state();
  r->head_chunk = chunk;
  r->offset = chunk_offset(chunk);
  r->cls = entry_class(e);
  r->owned = r->listed = r->retired = false;
  load_run(*r);
  runs_[chunk] = r;
  return r;
}

void heap::list_partial(run_state* r) {
  if (!r->listed && !r->retired) {
    r->listed = true;
    partial_[r->cls].push_back(r);
  }
}

// ---- runs -----------------------------------------------------------------

run_state* heap::pop_unloaded(std::size_t cls) {
  auto& list = unloaded_[cls];
  while (!list.empty()) {
    const std::uint64_t g = list.back();
    list.pop_back();
    if (runs_.count(g)) continue;  // made since by a free, listed if it has room
    if (run_state* r = run_of(g)) return r;
  }
  return nullptr;
}

run_state* heap::acquire_run(std::size_t cls) {
  std::lock_guard lk(mu_);
  for (;;) {
    while (!partial_[cls].empty()) {
      run_state* r = partial_[cls].back();
      partial_[cls].pop_back();
      r->listed = false;
      std::lock_guard rl(r->mu);
      if (r->cls == cls && r->free_count > 0 && !r->owned && !r->retired) {
        r->owned = true;
        return r;
      }
    }
    // While chunks are free, a few unread runs of the class and then fresh
    // chunks; without free chunks, the next zone of the table; only when
    // the whole table is walked, every unread run.
    const bool chunks_free = by_size_.lower_bound({class_at(cls).run_chunks, 0}) != by_size_.end();
    if (!chunks_free && scan_more()) continue;
    for (int n = 0; !chunks_free || n < runs_loaded_per_request; ++n) {
      run_state* r = pop_unloaded(cls);
      if (!r) break;
      std::lock_guard rl(r->mu);
      if (r->free_count > 0 && !r->owned) {
        r->owned = true;
        return r;
      }
    }
    return nullptr;
  }
}

run_state* heap::create_run(heap_tx& tx, std::size_t cls) {
  const size_class& c = class_at(cls);
  std::uint64_t free_lsn = 0;
  const std::uint64_t g = find_chunks(tx, c.run_chunks, free_lsn);
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
  // Announced before the stores (checked mode, engine/detail/write_watch.h).
  tx.add_aside(off, off + run_bitmap_offset + words * 8);
  tx.add_aside(entry_off(g), entry_off(g) + 8);
  std::memcpy(base() + off, &rh, sizeof rh);
  std::memset(base() + off + run_bitmap_offset, 0, words * 8);
  // The run is created by a record of its own, durable before any slot of
  // it is handed out; it does not depend on the caller's transaction. A
  // run is at most 17 chunks: its head is its only table word.
  const std::uint64_t e = make_entry(chunk_kind::run, cls, c.run_chunks);
  *entry_ptr(g) = e;
  record_builder rb;
  rb.add_range(off, base() + off, run_bitmap_offset + words * 8);
  rb.add_bits(entry_kind::set_bits, entry_off(g), e);
  try {
    log_.commit(rb);
  } catch (...) {
    *entry_ptr(g) = 0;
    std::lock_guard lk(mu_);
    give_chunks(g, c.run_chunks, free_lsn);
    throw;
  }
  std::lock_guard lk(mu_);
  run_state* r = new_run_state();
  std::lock_guard rl(r->mu);
  r->head_chunk = g;
  r->offset = off;
  r->cls = cls;
  r->used.assign(words, 0);
  r->free_count = c.slot_count;
  r->hint = 0;
  r->listed = r->retired = false;
  r->owned = true;
  runs_[g] = r;
  return r;
}

bool heap::retire_empty_runs(heap_tx& tx) {
  std::vector<run_state*> victims;
  {
    std::lock_guard lk(mu_);
    for (std::size_t k = 0; k < unloaded_.size(); ++k) {  // empty runs not yet read
      while (run_state* r = pop_unloaded(k)) {
        if (r->free_count > 0) list_partial(r);
      }
    }
    for (auto& list : partial_) {
      auto keep = list.begin();
      for (run_state* r : list) {
        std::lock_guard rl(r->mu);
        if (!r->owned && !r->retired && r->free_count == class_at(r->cls).slot_count) {
          r->retired = true;
          r->listed = false;
          victims.push_back(r);
        } else {
          *keep++ = r;
        }
      }
      list.erase(keep, list.end());
    }
  }
  if (victims.empty()) return false;
  record_builder rb;
  for (run_state* r : victims) {
    rb.add_bits(entry_kind::clear_bits, entry_off(r->head_chunk), *entry_ptr(r->head_chunk));
  }
  std::uint64_t lsn;
  try {
    lsn = log_.commit(rb);
  } catch (...) {
    std::lock_guard lk(mu_);
    for (run_state* r : victims) {
      std::lock_guard rl(r->mu);
      r->retired = false;
      list_partial(r);
    }
    throw;
  }
  std::lock_guard lk(mu_);
  for (run_state* r : victims) {
    tx.add_aside(entry_off(r->head_chunk), entry_off(r->head_chunk) + 8);
    *entry_ptr(r->head_chunk) = 0;
    runs_.erase(r->head_chunk);
    give_chunks(r->head_chunk, class_at(r->cls).run_chunks, lsn);
    spare_runs_.push_back(r);
  }
  return true;
}

std::uint64_t heap::find_chunks(heap_tx& tx, std::uint64_t n, std::uint64_t& free_lsn) {
  for (bool retired = false;;) {
    {
      std::lock_guard lk(mu_);
      for (;;) {
        const std::uint64_t g = take_chunks(n, free_lsn);
        if (g != UINT64_MAX) return g;
        if (!scan_more()) break;
      }
    }
    if (retired || !retire_empty_runs(tx)) return UINT64_MAX;
    retired = true;
  }
}

void heap::release_arena_runs() {
  for (auto& a : arenas_) {
    std::lock_guard al(a->mu);
    for (run_state*& r : a->current) {
      if (!r) continue;
      bool has_free;
      {
        std::lock_guard rl(r->mu);
        r->owned = false;
        has_free = r->free_count > 0;
      }
      if (has_free) {
        std::lock_guard lk(mu_);
        list_partial(r);
      }
      r = nullptr;
    }
  }
}

bool heap::take_any_slot(std::size_t cls, run_state** run, std::uint64_t* idx) {
  std::lock_guard lk(mu_);
  for (std::size_t k = cls; k < size_class_count(); ++k) {
    while (run_state* r = pop_unloaded(k)) {  // every run is a candidate now
      if (r->free_count > 0) list_partial(r);
    }
    for (run_state* r : partial_[k]) {
      std::lock_guard rl(r->mu);
      if (r->owned || r->retired || r->free_count == 0) continue;
      const size_class& c = class_at(k);
      for (std::size_t w = 0; w < r->used.size(); ++w) {
        std::uint64_t free_bits = ~r->used[w];
        if (w == r->used.size() - 1 && c.slot_count % 64) {
          free_bits &= (1ull << (c.slot_count % 64)) - 1;
        }
        if (!free_bits) continue;
        *idx = w * 64 + static_cast<std::uint64_t>(std::countr_zero(free_bits));
        r->used[w] |= 1ull << (*idx % 64);
        --r->free_count;
        *run = r;
        return true;
      }
    }
  }
  return false;
}

// ---- allocate and free ----------------------------------------------------

void heap::out_of_space(heap_tx& tx, std::uint64_t size) {
  tx.poison(error_code::out_of_space,
            "pool '" + pool_name_ + "' has no free block for an object of " + std::to_string(size) +
                " bytes; free objects or grow the pool (pool::grow, "
                "`ferrite grow`). The transaction was aborted");
}

std::uint64_t heap::allocate_extent(heap_tx& tx, std::uint64_t n) {
  std::uint64_t free_lsn = 0;
  const std::uint64_t g = find_chunks(tx, n, free_lsn);
  if (g == UINT64_MAX) return UINT64_MAX;
  tx.heap_allocs.push_back({heap_action::extent, nullptr, 0, g, n, free_lsn});
  const std::uint64_t head = make_entry(chunk_kind::extent, 0, n);
  for (std::uint64_t k = 0; k < n; k += mark_interval) {
    const std::uint64_t e = block_entry(head, k);
    tx.log_bits(entry_kind::set_bits, entry_off(g + k), e);  // logged before stored (checked mode)
    *entry_ptr(g + k) = e;
  }
  // The extent's data goes straight to the durable image at commit; no
  // older record may still write there.
  if (free_lsn > log_.checkpoint_lsn()) log_.checkpoint();
  return chunk_offset(g);
}

std::uint64_t heap::allocate(heap_tx& tx, std::uint64_t size, std::uint32_t type_id,
                             std::uint64_t align) {
  if (align == 0) align = 16;
  if (!std::has_single_bit(align) || align > max_alignment) {
    tx.poison(error_code::invalid_argument,
              "alignment " + std::to_string(align) + " is not a power of two up to 256 KiB");
  }
  if (size > max_pool_size) out_of_space(tx, size);
  const std::uint64_t pad = align > 16 ? align - 16 : 0;
  const std::uint64_t slot_bytes = sizeof(object_header) + size + pad;
  const std::uint64_t extent_chunks = (slot_bytes + chunk_size - 1) / chunk_size;
  if (extent_chunks > max_block_chunks) out_of_space(tx, size);
  std::uint64_t slot_off = UINT64_MAX;
  bool in_run = false;
  if (slot_bytes <= max_slot_size) {
    const std::size_t cls = class_for(slot_bytes);
    const size_class& c = class_at(cls);
    arena& a = my_arena();
    run_state* run = nullptr;
    std::uint64_t idx = 0;
    bool found = false;
    {
      std::lock_guard al(a.mu);
      while (!found) {
        run = a.current[cls];
        if (!run) {
          run = acquire_run(cls);
          if (!run) run = create_run(tx, cls);
          if (!run) break;
          a.current[cls] = run;
        }
        std::lock_guard rl(run->mu);
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
    if (!found) {
      // No run of the class has room and no chunks hold a new one: other
      // arenas' runs, a slot of a larger class, or just enough chunks.
      release_arena_runs();
      found = take_any_slot(cls, &run, &idx);
    }
    if (found) {
      const std::uint64_t word_off = run->offset + run_bitmap_offset + idx / 64 * 8;
      const std::uint64_t mask = 1ull << (idx % 64);
      tx.log_bits(entry_kind::set_bits, word_off, mask);  // logged before stored (checked mode)
      word_at(base() + word_off).fetch_or(mask, std::memory_order_relaxed);
      tx.heap_allocs.push_back({heap_action::slot, run, idx, 0, 0, 0});
      const size_class& rc = class_at(run->cls);
      slot_off = run->offset + rc.data_offset + idx * rc.slot_size;
      in_run = true;
    }
  }
  if (!in_run) {
    slot_off = allocate_extent(tx, extent_chunks);
    if (slot_off == UINT64_MAX) {
      release_arena_runs();  // their empty runs can be retired now
      slot_off = allocate_extent(tx, extent_chunks);
    }
    if (slot_off == UINT64_MAX) out_of_space(tx, size);
  }
  const std::uint64_t data = (slot_off + sizeof(object_header) + align - 1) / align * align;
  object_header h{size | std::uint64_t{object_magic} << 48, type_id,
                  static_cast<std::uint32_t>(data - slot_off)};
  // Covered before stored: checked mode reads the ranges of running
  // transactions from other threads (engine/detail/write_watch.h).
  if (in_run) {
    tx.cover_new(slot_off, data + size - slot_off);
  } else {
    tx.add_direct(slot_off, data + size);
  }
  std::memcpy(base() + slot_off, &h, sizeof h);
  std::memset(base() + slot_off + sizeof h, 0, data + size - slot_off - sizeof h);
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
  const std::uint64_t g = head_of((data - heap_off) / chunk_size);
  if (g == UINT64_MAX) bad("chunk is free");
  const std::uint64_t e = *entry_ptr(g);
  *head_chunk = g;
  *chunks = entry_length(e);
  *run = nullptr;
  heap& self = const_cast<heap&>(*this);
  {
    // The block's part of the table must be walked before its space can be
    // given back: a later walk would count the freed chunks twice.
    std::lock_guard lk(mu_);
    self.ensure_walked(g);
  }
  std::uint64_t slot_off = 0;
  switch (entry_kind_of(e)) {
    case chunk_kind::extent:
      slot_off = chunk_offset(g);
      break;
    case chunk_kind::run: {
      {
        // ... and a run's bitmap read.
        std::lock_guard lk(mu_);
        const bool known = self.runs_.count(g) != 0;
        *run = self.run_of(g);
        // A run made here has its unloaded_ entry skipped when popped.
        if (*run && !known && (*run)->free_count > 0) self.list_partial(*run);
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
      bad("inside heap metadata");
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
  const std::uint64_t c = (at - heap_off) / chunk_size;
  *next = chunk_offset(c) + chunk_size;
  const std::uint64_t g = head_of(c);
  if (g == UINT64_MAX) return false;
  const std::uint64_t e = *entry_ptr(g);
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
    *next = chunk_offset(g) + entry_length(e) * chunk_size;
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
    const std::uint64_t head = *entry_ptr(g);
    for (std::uint64_t k = 0; k < n; k += mark_interval) {
      tx.log_bits(entry_kind::clear_bits, entry_off(g + k), block_entry(head, k));
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
    // List the run for reuse when no arena owns it. A run_state is never
    // destroyed while the heap lives, so this is safe even if the run was
    // retired (or reused) in between: list_partial skips retired runs, and
    // every taker checks the run's state under its lock.
    if (unowned) {
      std::lock_guard lk(mu_);
      list_partial(a.run);
    }
  } else {
    for (std::uint64_t k = 0; k < a.chunks; k += mark_interval) *entry_ptr(a.first_chunk + k) = 0;
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

// ---- grow -----------------------------------------------------------------

heap_layout heap::plan_table(std::uint64_t heap_size) const {
  const heap_layout now = layout();
  const std::uint64_t old_chunks = now.chunks();
  const std::uint64_t new_chunks = heap_size / chunk_size;
  heap_layout next = now;
  next.heap_size = heap_size;
  if (new_chunks <= now.capacity()) return next;
  // The first chunk after the last block: the table goes there, with room
  // to double the heap before it moves again when the grow allows.
  std::uint64_t tail = 0;
  for (std::uint64_t g = 0; g < old_chunks;) {
    const std::uint64_t e = *entry_ptr(g);
    if (e == 0) {
      ++g;
      continue;
    }
    const std::uint64_t len = entry_length(e);
    if (len == 0 || len > old_chunks - g) corrupt(g, "length beyond the heap");
    g += len;
    tail = g;
  }
  std::uint64_t t = table_chunks_for(2 * new_chunks);
  if (tail + t > new_chunks) t = table_chunks_for(new_chunks);
  if (tail + t > new_chunks) {
    fail(error_code::invalid_argument,
         "pool '" + pool_name_ + "': this grow moves the heap's chunk table, which needs " +
             std::to_string(t * chunk_size) + " bytes after the last object; grow by at least " +
             std::to_string((tail + t - new_chunks) * chunk_size) + " bytes more");
  }
  next.table_chunk = tail;
  next.table_chunks = t;
  return next;
}

void heap::write_table(const heap_layout& next) {
  const heap_layout now = layout();
  if (next.table_chunk == now.table_chunk && next.table_chunks == now.table_chunks) return;
  const std::uint64_t old_chunks = now.chunks();
  const std::uint64_t tail = next.table_chunk, t = next.table_chunks;
  // The new table: the old entries, the old table's block free, the new
  // table's own block; the rest zero (free).
  std::vector<std::uint64_t> entries(t * chunk_size / 8, 0);
  std::memcpy(entries.data(), entry_ptr(0), old_chunks * 8);
  for (std::uint64_t k = 0; k < now.table_chunks; k += mark_interval)
    entries[now.table_chunk + k] = 0;
  const std::uint64_t head = make_entry(chunk_kind::table, 0, t);
  for (std::uint64_t k = 0; k < t; k += mark_interval) entries[tail + k] = block_entry(head, k);
  const std::uint64_t off = next.chunk_offset(tail);
  std::memcpy(base() + off, entries.data(), entries.size() * 8);
  store_.write(off, entries.data(), entries.size() * 8);
  store_.sync_all();
}

void heap::grown(const heap_layout& before, const heap_layout& now) {
  if (before.table_chunk == now.table_chunk && before.table_chunks == now.table_chunks) {
    // The new chunks are free. Those in the old last zone, if it was
    // walked, are given now; later zones are walked like any others.
    std::lock_guard lk(mu_);
    const std::uint64_t old_total = before.chunks(), new_total = now.chunks();
    if (old_total % zone_chunks != 0 && walked(old_total - 1)) {
      const std::uint64_t end = std::min(new_total, (old_total / zone_chunks + 1) * zone_chunks);
      give_chunks(old_total, end - old_total, 0);
    }
    return;
  }
  // The table moved: everything volatile is read again, lazily. No
  // transaction runs during a grow, so no run_state is referenced.
  for (auto& a : arenas_) {  // arena locks come before mu_ (as in allocate)
    std::lock_guard al(a->mu);
    std::fill(a->current.begin(), a->current.end(), nullptr);
  }
  std::lock_guard lk(mu_);
  walked_.clear();
  walk_from_.clear();
  next_zone_ = 0;
  runs_.clear();
  spare_runs_.clear();
  for (auto& r : run_store_) spare_runs_.push_back(r.get());
  free_.clear();
  by_size_.clear();
  for (auto& l : partial_) l.clear();
  for (auto& l : unloaded_) l.clear();
}

}  // namespace ferrite::detail
