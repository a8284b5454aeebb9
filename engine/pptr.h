// ferrite::pptr<T> — a persistent pointer.
//
//   struct node { std::uint64_t value; ferrite::pptr<node> next; };
//   ferrite::pptr<node> n(static_cast<node*>(pool.allocate(sizeof(node))));
//   n->value = 1;                                  // resolves with a compare and an add
//
// 8 bytes, trivially copyable, usable in persistent and volatile memory:
// bits 0-47 are the offset in its pool, bits 48-63 the pool's tag (from the
// pool header). A pointer resolves through the process-wide table of open
// pools, so it stays valid when a pool is mapped at another address. The
// most recently opened pool is tried first (one word holding its tag and
// base), so a chain of pointers into it costs one load per hop, like raw
// pointers; other pools cost one more load.
// Null is all zeros. Building a pptr from an address outside every open
// pool (volatile memory) throws invalid_argument.
//
// A pool never points into another: make, set_root, the containers and
// commit refuse it (docs/types.md).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ferrite/engine/pool_registry.h"

namespace ferrite {

namespace detail {
// Resolves an address to (tag << 48 | offset); throws invalid_argument when
// it lies in no open pool.
std::uint64_t pptr_encode(const void* addr);
[[noreturn]] void pptr_unresolved(std::uint64_t raw);
}  // namespace detail

template <class T>
class pptr {
 public:
  pptr() noexcept = default;
  pptr(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  explicit pptr(T* p) : raw_(p ? detail::pptr_encode(p) : 0) {}

  static pptr from_raw(std::uint64_t raw) noexcept {
    pptr p;
    p.raw_ = raw;
    return p;
  }
  std::uint64_t raw() const noexcept { return raw_; }
  std::uint64_t offset() const noexcept { return raw_ & offset_mask; }
  std::uint16_t tag() const noexcept { return static_cast<std::uint16_t>(raw_ >> 48); }

  // The address in this process. Throws invalid_argument when the pool is
  // not open.
  T* get() const {
    if (raw_ == 0) return nullptr;
    const std::uint64_t recent = detail::recent_pool.load(std::memory_order_relaxed);
    if ((recent ^ raw_) >> 48 == 0 && recent != 0) [[likely]] {
      return reinterpret_cast<T*>(
          static_cast<std::uintptr_t>((recent & offset_mask) + (raw_ & offset_mask)));
    }
    std::byte* base = detail::open_pools[raw_ >> 48].base.load(std::memory_order_relaxed);
    if (base == nullptr) [[unlikely]]
      detail::pptr_unresolved(raw_);
    return reinterpret_cast<T*>(base + (raw_ & offset_mask));
  }
  T& operator*() const { return *get(); }
  T* operator->() const { return get(); }
  explicit operator bool() const noexcept { return raw_ != 0; }

  friend bool operator==(pptr a, pptr b) noexcept { return a.raw_ == b.raw_; }
  friend auto operator<=>(pptr a, pptr b) noexcept { return a.raw_ <=> b.raw_; }

 private:
  static constexpr std::uint64_t offset_mask = (1ull << 48) - 1;
  std::uint64_t raw_ = 0;
};

static_assert(sizeof(pptr<int>) == 8);
static_assert(std::is_trivially_copyable_v<pptr<int>>);
static_assert(std::is_standard_layout_v<pptr<int>>);

}  // namespace ferrite
