#include "engine/pool_registry.h"

#include <mutex>
#include <vector>

namespace ferrite::detail {

open_pool_slot open_pools[65536];

namespace {

struct open_entry {
  std::uint16_t tag;
  bool owns_tag_slot;
  std::uintptr_t base;
  std::uint64_t size;
  std::uint64_t generation;
};

std::mutex registry_mu;
std::uint64_t next_generation = 1;
std::vector<open_entry> open_entries;  // under registry_mu

}  // namespace

std::uint64_t register_pool(std::uint16_t tag, std::byte* base, std::uint64_t size,
                            std::uint64_t open_count) {
  std::lock_guard lk(registry_mu);
  const std::uint64_t gen = open_count << 20 | (next_generation++ & 0xfffff);
  open_pool_slot& s = open_pools[tag];
  // A second handle on the same pool (read-only sharing, or a copy of the
  // file) does not take the tag: pointers resolve to the first one.
  const bool owns = s.base.load() == nullptr;
  if (owns) {
    s.size.store(size);
    s.generation.store(gen);
    s.base.store(base, std::memory_order_release);
  }
  open_entries.push_back({tag, owns, reinterpret_cast<std::uintptr_t>(base), size, gen});
  return gen;
}

void unregister_pool(std::uint64_t generation) noexcept {
  if (generation == 0) return;
  std::lock_guard lk(registry_mu);
  for (auto it = open_entries.begin(); it != open_entries.end(); ++it) {
    if (it->generation != generation) continue;
    if (it->owns_tag_slot) {
      open_pool_slot& s = open_pools[it->tag];
      s.base.store(nullptr, std::memory_order_release);
      s.generation.store(0);
    }
    open_entries.erase(it);
    return;
  }
}

void reregister_pool(std::uint64_t generation, std::byte* base, std::uint64_t size) noexcept {
  std::lock_guard lk(registry_mu);
  for (open_entry& e : open_entries) {
    if (e.generation != generation) continue;
    e.base = reinterpret_cast<std::uintptr_t>(base);
    e.size = size;
    if (e.owns_tag_slot) {
      open_pool_slot& s = open_pools[e.tag];
      s.size.store(size);
      s.base.store(base, std::memory_order_release);
    }
  }
}

}  // namespace ferrite::detail

#include "engine/error.h"

namespace ferrite::detail {

std::uint64_t pptr_encode(const void* addr) {
  std::lock_guard lk(registry_mu);
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  for (const open_entry& e : open_entries) {
    if (e.owns_tag_slot && a >= e.base && a - e.base < e.size) {
      return std::uint64_t{e.tag} << 48 | (a - e.base);
    }
  }
  fail(error_code::invalid_argument,
       "a persistent pointer must point into an open pool (this address is volatile memory, or "
       "a second handle of a pool that is open twice)");
}

void pptr_unresolved(std::uint64_t raw) {
  fail(error_code::invalid_argument, "persistent pointer to pool tag " +
                                         std::to_string(raw >> 48) + " offset " +
                                         std::to_string(raw & ((1ull << 48) - 1)) +
                                         ": that pool is not open in this process");
}

std::uint64_t generation_of(const void* addr) noexcept {
  std::lock_guard lk(registry_mu);
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  for (const open_entry& e : open_entries) {
    if (a >= e.base && a - e.base < e.size) return e.generation;
  }
  return 0;
}

}  // namespace ferrite::detail
