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
  // Not for pptr<void> (as for void*).
  std::add_lvalue_reference_t<T> operator*() const requires(!std::is_void_v<T>) { return *get(); }
  T* operator->() const requires(!std::is_void_v<T>) { return get(); }
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
static_assert(sizeof(pptr<void>) == 8);
static_assert(std::is_trivially_copyable_v<pptr<void>>);
static_assert(std::has_unique_object_representations_v<pptr<void>>);

}  // namespace ferrite
