#include "ferrite/engine/pool_registry.h"

#include <mutex>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite::detail {

open_pool_slot open_pools[65536];
std::atomic<std::uint64_t> recent_pool{0};

namespace {

std::uint64_t pack_recent(std::uint16_t tag, const std::byte* base) {
  const auto b = reinterpret_cast<std::uintptr_t>(base);
  return b >> 48 == 0 ? std::uint64_t{tag} << 48 | b : 0;  // 0: no hint for such an address
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
    s.size.store(size);
    s.generation.store(gen);
    s.base.store(base, std::memory_order_release);
    recent_pool.store(pack_recent(tag, base), std::memory_order_release);
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
    if (recent_pool.load() >> 48 == r->tag.load()) recent_pool.store(0, std::memory_order_release);
    s.base.store(nullptr, std::memory_order_release);
    s.generation.store(0);
  }
  r->pool.store(nullptr, std::memory_order_release);
}

void reregister_pool(std::uint64_t generation, std::byte* base, std::uint64_t size) noexcept {
  std::lock_guard lk(registry_mu);
  open_range* r =
      find_range([generation](const open_range& x) { return x.generation.load() == generation; });
  if (!r) return;
  r->base.store(reinterpret_cast<std::uintptr_t>(base));
  r->size.store(size);
  if (r->owns_tag.load()) {
    open_pool_slot& s = open_pools[r->tag.load()];
    s.size.store(size);
    s.base.store(base, std::memory_order_release);
    if (recent_pool.load() >> 48 == r->tag.load()) {
      recent_pool.store(pack_recent(r->tag.load(), base), std::memory_order_release);
    }
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
