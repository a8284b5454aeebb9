#include "ferrite/engine/pool_registry.h"

#include <algorithm>
#include <mutex>
#include <string>

#include "ferrite/base/error.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/pptr.h"

namespace ferrite::detail {

open_pool_slot open_pools[65536];
tag_route tag_routes[65536];
const tag_route no_route{~std::uint64_t{0}, 0, 0};
std::atomic<const tag_route*> recent_route{&no_route};

namespace {

// Makes `pool`, whose working view is `size` bytes at `base`, the route of
// `tag` (its heap bounds from its header and superblock, clamped to the
// view). A route is never cleared: when its pool closes, its bounds stay
// in the tag's band (so a racing reader admits no other tag against them)
// and the slot's null base says the tag is not open.
void store_route(std::uint16_t tag, const pool_impl* pool, const std::byte* base,
                 std::uint64_t size) {
  tag_route& r = tag_routes[tag];
  const std::uint64_t band = std::uint64_t{tag} << 48;
  const std::uint64_t begin = std::min(pool->header.heap_offset, size);
  const std::uint64_t end = begin + std::min(pool->state.heap_size, size - begin);
  r.bias.store(reinterpret_cast<std::uintptr_t>(base) - band, std::memory_order_relaxed);
  r.low.store(band | begin, std::memory_order_relaxed);
  r.high.store(band | end, std::memory_order_release);
}

// One open pool. Written under registry_mu; `pool` is set last and cleared
// first, so a reader that sees it non-null sees the other fields.
struct open_range {
  std::atomic<pool_impl*> pool{nullptr};
  std::atomic<std::uintptr_t> base{0};
  std::atomic<std::uint64_t> size{0};
  std::atomic<std::uint64_t> generation{0};
  std::atomic<std::uint16_t> tag{0};
  std::atomic<bool> owns_tag{false};
};

std::mutex registry_mu;
std::uint64_t next_generation = 1;  // under registry_mu
open_range ranges[max_open_pools];
std::atomic<std::size_t> ranges_used{0};  // slots [0, ranges_used) may be in use

template <class Fn>
open_range* find_range(Fn&& match) noexcept {
  const std::size_t n = ranges_used.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < n; ++i) {
    if (ranges[i].pool.load(std::memory_order_acquire) != nullptr && match(ranges[i])) {
      return &ranges[i];
    }
  }
  return nullptr;
}

open_range* range_containing(const void* addr) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  return find_range([a](const open_range& r) {
    const std::uintptr_t b = r.base.load(std::memory_order_relaxed);
    return a >= b && a - b < r.size.load(std::memory_order_relaxed);
  });
}

}  // namespace

std::uint64_t register_pool(pool_impl* pool, std::uint16_t tag, std::byte* base, std::uint64_t size,
                            std::uint64_t open_count) {
  std::lock_guard lk(registry_mu);
  std::size_t i = 0;
  while (i < max_open_pools && ranges[i].pool.load() != nullptr) ++i;
  if (i == max_open_pools) {
    fail(error_code::invalid_argument, "cannot open more than " + std::to_string(max_open_pools) +
                                           " pools at once in one process; close one first");
  }
  const std::uint64_t gen = open_count << 20 | (next_generation++ & 0xfffff);
  open_pool_slot& s = open_pools[tag];
  // A second handle on the same pool (read-only sharing, or a copy of the
  // file) does not take the tag: pointers resolve to the first one.
  const bool owns = s.base.load() == nullptr;
  if (owns) {
    store_route(tag, pool, base, size);
    s.generation.store(gen);
    s.base.store(base, std::memory_order_release);
    recent_route.store(&tag_routes[tag], std::memory_order_release);
  }
  open_range& r = ranges[i];
  r.base.store(reinterpret_cast<std::uintptr_t>(base));
  r.size.store(size);
  r.generation.store(gen);
  r.tag.store(tag);
  r.owns_tag.store(owns);
  r.pool.store(pool, std::memory_order_release);
  if (i + 1 > ranges_used.load()) ranges_used.store(i + 1, std::memory_order_release);
  return gen;
}

void unregister_pool(std::uint64_t generation) noexcept {
  if (generation == 0) return;
  std::lock_guard lk(registry_mu);
  open_range* r =
      find_range([generation](const open_range& x) { return x.generation.load() == generation; });
  if (!r) return;
  if (r->owns_tag.load()) {
    open_pool_slot& s = open_pools[r->tag.load()];
    if (recent_route.load() == &tag_routes[r->tag.load()]) {
      // Another open pool keeps the fast path, if there is one.
      const open_range* other =
          find_range([r](const open_range& x) { return &x != r && x.owns_tag.load(); });
      recent_route.store(other ? &tag_routes[other->tag.load()] : &no_route,
                         std::memory_order_release);
    }
    s.base.store(nullptr, std::memory_order_release);
    s.generation.store(0);
  }
  r->pool.store(nullptr, std::memory_order_release);
}

void reregister_pool(std::uint64_t generation, std::uint64_t size) noexcept {
  std::lock_guard lk(registry_mu);
  open_range* r =
      find_range([generation](const open_range& x) { return x.generation.load() == generation; });
  if (!r) return;
  r->size.store(size);
  if (r->owns_tag.load()) {
    // The same bias and low, a higher high: a racing pptr lookup admits a
    // pointer into the new chunks or not yet, never a wrong address.
    store_route(r->tag.load(), r->pool.load(), reinterpret_cast<const std::byte*>(r->base.load()),
                size);
  }
}

std::uint64_t pptr_encode(const void* addr) {
  open_range* r = range_containing(addr);
  if (!r || !r->owns_tag.load(std::memory_order_relaxed)) {
    fail(error_code::invalid_argument,
         "a persistent pointer must point into an open pool (this address is volatile memory, "
         "or a second handle of a pool that is open twice)");
  }
  return std::uint64_t{r->tag.load(std::memory_order_relaxed)} << 48 |
         (reinterpret_cast<std::uintptr_t>(addr) - r->base.load(std::memory_order_relaxed));
}

void pptr_unresolved(std::uint64_t raw) {
  fail(error_code::invalid_argument, "persistent pointer to pool tag " + std::to_string(raw >> 48) +
                                         " offset " + std::to_string(raw & ((1ull << 48) - 1)) +
                                         ": that pool is not open in this process");
}

void* pptr_resolve_slow(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align) {
  if (raw == 0) return nullptr;
  const tag_route& route = tag_routes[raw >> 48];
  if (!pptr_in_heap(raw, bytes, align)) pptr_out_of_heap(raw, bytes, align);
  return reinterpret_cast<void*>(route.bias.load(std::memory_order_relaxed) + raw);
}

void pptr_out_of_heap(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align) {
  const auto tag = static_cast<std::uint16_t>(raw >> 48);
  const std::uint64_t off = raw & ((1ull << 48) - 1);
  if (open_pools[tag].base.load(std::memory_order_acquire) == nullptr) pptr_unresolved(raw);
  std::string pool = "pool tag " + std::to_string(tag);
  {
    std::lock_guard lk(registry_mu);
    const open_range* r =
        find_range([tag](const open_range& x) { return x.owns_tag.load() && x.tag.load() == tag; });
    if (r) pool = "pool '" + r->pool.load()->path.string() + "'";
  }
  const std::uint64_t begin =
      tag_routes[tag].low.load(std::memory_order_relaxed) & ((1ull << 48) - 1);
  const std::uint64_t end =
      tag_routes[tag].high.load(std::memory_order_relaxed) & ((1ull << 48) - 1);
  const std::string what =
      off % align != 0 ? " is not a multiple of " + std::to_string(align) +
                             ", the alignment of what it points to"
                       : " (" + std::to_string(bytes) + " bytes read) lies outside the heap [" +
                             std::to_string(begin) + ", " + std::to_string(end) + ")";
  fail(error_code::corrupted, pool + ": a persistent pointer's offset " + std::to_string(off) +
                                  what +
                                  "; the pool is damaged (run `ferrite check` on it, or restore "
                                  "a copy)");
}

std::uint64_t generation_of(const void* addr) noexcept {
  open_range* r = range_containing(addr);
  return r ? r->generation.load(std::memory_order_relaxed) : 0;
}

pool_impl* pool_of(const void* addr) noexcept {
  open_range* r = range_containing(addr);
  return r ? r->pool.load(std::memory_order_acquire) : nullptr;
}

bool owns_tag(std::uint16_t tag, std::uint64_t generation) noexcept {
  return open_pools[tag].generation.load(std::memory_order_acquire) == generation;
}

}  // namespace ferrite::detail
