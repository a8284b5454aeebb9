// ferrite::pptr<T> — a persistent pointer.
//
//   struct node { std::uint64_t value; ferrite::pptr<node> next; };
//   ferrite::pptr<node> n(static_cast<node*>(pool.allocate(sizeof(node))));
//   n->value = 1;                                  // two compares and an add
//
// 8 bytes, trivially copyable, usable in persistent and volatile memory:
// bits 0-47 are the offset in its pool, bits 48-63 the pool's tag (from the
// pool header). A pointer resolves through the process-wide table of open
// pools (pool_registry.h), so it stays valid when a pool is mapped at
// another address. Null is all zeros. Building a pptr from an address
// outside every open pool (volatile memory) throws invalid_argument.
//
// A pool file is untrusted input (DESIGN invariant 7): get(), * and ->
// check the pointer before making an address. The sizeof(T) bytes it
// points to must lie in its pool's heap (not in the header or the log,
// not past the end) and its offset must be a multiple of alignof(T);
// otherwise they throw error(corrupted) naming the pool and the offset,
// never a wild address. pptr<void> checks one byte. A pointer into a pool
// that is not open throws invalid_argument. Containers check their arrays
// the same way (detail::resolve_array: a count read from the pool too).
//
// Cost. The most recently opened pool's route (detail::recent_route) is
// tried first: one load of the route, then `low <= raw <= high - sizeof(T)`
// (the heap's bounds as pointer bits, so the compares check the tag too),
// a test of the low bits for the alignment, and the address is route bias
// + raw. Against the unchecked resolution (tag compare with a packed
// tag/base word, then an add) that is one compare-and-branch more per
// get(); the route's words do not depend on the pointer just loaded, so a
// chain of pointers still waits for one load per hop, like raw pointers.
// Measured on ferrite-bench `chase` (two get() per hop: p->value, p->next;
// g++ 12 -O2, callgrind): 30 instructions per hop against 27 unchecked and
// 5 for raw pointers (std engine); wall-clock figures in docs/types.md
// ("A damaged pool"). Other pools, null, objects over 4 KiB and failures
// take an out-of-line call (detail::pptr_resolve_slow).
//
// pptr<void> is an untyped pointer, like void*: any pptr<U> converts to it,
// it converts back only explicitly (`pptr<node>(p)`, unchecked, like
// static_cast), and it has get() but no * or ->. Stored in a pool (a field,
// a container element or key) it is followed by the garbage collector like
// a typed one: its target's type comes from the target's allocation header.
// Except for a container made on its own (pool.make<vector<int>>()): its
// header carries the type id of container storage, so the collector would
// keep the handle but not its storage. A pptr to a container therefore does
// not convert to pptr<void> (a compile error); point at it with a typed pptr.
//
// A pool never points into another: make, set_root, the containers and
// commit refuse it (docs/types.md).
#pragma once

#include <bit>
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
// Throws for a pointer that failed the heap check: invalid_argument when
// its pool is not open, else corrupted (misaligned, or `bytes` at its
// offset not within the heap).
[[noreturn]] void pptr_out_of_heap(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align);

inline constexpr std::uint64_t pptr_offset_mask = (1ull << 48) - 1;

// Whether `route` admits the pointer bits `raw` to Bytes bytes aligned to
// Align: the bytes lie in the route's heap (so raw has the route's tag)
// and the offset is a multiple of Align. Two compares and a test of the
// low bits. high is read before low (acquire), so a reader racing with an
// open or grow sees bounds inside the route's tag band (pool_registry.h).
// REQUIRES: Bytes <= 4096 (the heap ends at 4096 or more: high - Bytes
// cannot wrap); `route` is no_route or a route that a pool owns or owned.
template <std::uint64_t Bytes, std::uint64_t Align>
inline bool route_admits(const tag_route& route, std::uint64_t raw) noexcept {
  static_assert(std::has_single_bit(Align) && Bytes <= 4096);
  const std::uint64_t high = route.high.load(std::memory_order_acquire);
  return raw >= route.low.load(std::memory_order_relaxed) && raw <= high - Bytes &&
         (raw & (Align - 1)) == 0;
}

// The same for any `bytes` and alignment known at run time, and any route
// (one no pool ever owned is all zeros: admits nothing but null).
inline bool route_admits(const tag_route& route, std::uint64_t raw, std::uint64_t bytes,
                         std::uint64_t align) noexcept {
  const std::uint64_t high = route.high.load(std::memory_order_acquire);
  return raw >= route.low.load(std::memory_order_relaxed) && raw <= high && bytes <= high - raw &&
         (raw & (align - 1)) == 0;
}

// The address of the `bytes` bytes (alignment `align`) that `raw` points
// to, through the route of raw's tag; null for null. Throws as
// pptr::get() does. Out of line: pointers into a pool other than the most
// recently opened one, and the failures.
void* pptr_resolve_slow(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align);

// Whether `raw` (not null) points to `bytes` bytes aligned to `align` in
// the heap of an open pool (for checkers that report rather than throw).
inline bool pptr_in_heap(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align) noexcept {
  return open_pools[raw >> 48].base.load(std::memory_order_acquire) != nullptr &&
         route_admits(tag_routes[raw >> 48], raw, bytes, align);
}

// The same, trying the most recent pool's route first (containers' arrays).
inline void* pptr_resolve(std::uint64_t raw, std::uint64_t bytes, std::uint64_t align) {
  const tag_route* route = recent_route.load(std::memory_order_acquire);
  if (raw != 0 && route_admits(*route, raw, bytes, align)) [[likely]]
    return reinterpret_cast<void*>(route->bias.load(std::memory_order_relaxed) + raw);
  return pptr_resolve_slow(raw, bytes, align);
}

// An array of `count` T at `raw` (a count read from the pool: a vector's
// capacity, a segment's buckets), checked whole; null for null. Throws
// corrupted when count * sizeof(T) overflows or the array leaves the heap.
template <class T>
T* resolve_array(std::uint64_t raw, std::uint64_t count) {
  constexpr std::uint64_t size = sizeof(T);
  const std::uint64_t bytes = count <= pptr_offset_mask / size ? count * size : ~std::uint64_t{0};
  return static_cast<T*>(pptr_resolve(raw, bytes, alignof(T)));
}

// Conversions between pptr<From> and pptr<To>: implicit to an untyped
// pointer (as U* -> void*), explicit from one (as static_cast), keeping const.
// The ferrite containers (types/) declare `using ferrite_container_handle =
// void;`: the garbage collector cannot follow an untyped pointer to a
// container made on its own (see above), so none converts to pptr<void>.
template <class T>
concept container_handle = requires {
  typename T::ferrite_container_handle;
};
template <class From, class To>
inline constexpr bool pptr_widens =
    std::is_void_v<To> && !std::is_void_v<From> && !container_handle<std::remove_cv_t<From>> &&
    std::is_convertible_v<From*, To*>;
// The bytes and alignment pptr<T>::get() checks.
template <class T>
struct pptr_target {
  static constexpr std::uint64_t bytes = sizeof(T);
  static constexpr std::uint64_t align = alignof(T);
};
template <class T>
requires std::is_void_v<T>
struct pptr_target<T> {
  static constexpr std::uint64_t bytes = 1;
  static constexpr std::uint64_t align = 1;
};
template <class From, class To>
inline constexpr bool pptr_narrows =
    std::is_void_v<From> && !std::is_void_v<To> && (std::is_const_v<To> || !std::is_const_v<From>);
}  // namespace detail

template <class T>
class pptr {
 public:
  pptr() noexcept = default;
  pptr(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)
  explicit pptr(T* p) : raw_(p ? detail::pptr_encode(p) : 0) {}
  // pptr<U> -> pptr<void>, implicit like U* -> void*.
  template <class U, std::enable_if_t<detail::pptr_widens<U, T>, int> = 0>
  pptr(pptr<U> other) noexcept : raw_(other.raw()) {}  // NOLINT(google-explicit-constructor)
  // pptr<void> -> pptr<U>, explicit like static_cast<U*>(void*): nothing
  // checks that the target is a U.
  template <class U, std::enable_if_t<detail::pptr_narrows<U, T>, int> = 0>
  explicit pptr(pptr<U> other) noexcept : raw_(other.raw()) {}

  static pptr from_raw(std::uint64_t raw) noexcept {
    pptr p;
    p.raw_ = raw;
    return p;
  }
  std::uint64_t raw() const noexcept { return raw_; }
  std::uint64_t offset() const noexcept { return raw_ & offset_mask; }
  std::uint16_t tag() const noexcept { return static_cast<std::uint16_t>(raw_ >> 48); }

  // The address in this process. Throws invalid_argument when the pool is
  // not open, corrupted when the target is not within its heap or is
  // misaligned (see the top of this file).
  T* get() const {
    // Null fails the route's check (low > 0) and resolves out of line.
    using target = detail::pptr_target<T>;
    if constexpr (target::bytes <= 4096) {
      const detail::tag_route* route = detail::recent_route.load(std::memory_order_acquire);
      if (detail::route_admits<target::bytes, target::align>(*route, raw_)) [[likely]] {
        return reinterpret_cast<T*>(route->bias.load(std::memory_order_relaxed) + raw_);
      }
    }
    return static_cast<T*>(detail::pptr_resolve_slow(raw_, target::bytes, target::align));
  }
  // Not for pptr<void> (as for void*).
  std::add_lvalue_reference_t<T> operator*() const requires(!std::is_void_v<T>) { return *get(); }
  T* operator->() const requires(!std::is_void_v<T>) { return get(); }
  explicit operator bool() const noexcept { return raw_ != 0; }

  friend bool operator==(pptr a, pptr b) noexcept { return a.raw_ == b.raw_; }
  friend auto operator<=>(pptr a, pptr b) noexcept { return a.raw_ <=> b.raw_; }

 private:
  static constexpr std::uint64_t offset_mask = detail::pptr_offset_mask;
  std::uint64_t raw_ = 0;
};

static_assert(sizeof(pptr<int>) == 8);
static_assert(std::is_trivially_copyable_v<pptr<int>>);
static_assert(std::is_standard_layout_v<pptr<int>>);
static_assert(sizeof(pptr<void>) == 8);
static_assert(std::is_trivially_copyable_v<pptr<void>>);
static_assert(std::has_unique_object_representations_v<pptr<void>>);

}  // namespace ferrite
