// ferrite::p<T> — a field that snapshots itself.
//
//   struct account {
//     ferrite::p<std::int64_t> balance;
//     ferrite::p<ferrite::pptr<account>> next;
//   };
//   FERRITE_TYPE(account, "bank.Account", balance, next)
//
//   pool.transaction([&] {
//     a->balance -= 10;                 // snapshotted, then stored
//     b->balance += 10;                 // (no tx_snapshot to forget)
//   });
//   a->next = b;                        // outside a transaction: a transaction
//                                       // of its own, durable on return
//   std::int64_t v = a->next->balance;  // reads are plain loads; -> follows the pptr
//   a->balance = b->balance.get();      // not `a->balance = b->balance` (see below)
//
// T is a scalar (bool, char, the fixed-width integers, float, double, an
// enum) or a ferrite::pptr<U> (pptr<void> included). A p<T> has T's size,
// alignment and bytes: it is trivially copyable and standard-layout, all
// zeros is T{}, and the type table records it as T (a pool written with an
// `std::int64_t` field opens with the field declared `p<std::int64_t>`).
//
// Storing into a p<T> (`=`, the compound assignments T supports, `++`/`--`)
// depends on where the field is:
// - in the pool the calling thread's transaction runs on: the field is
//   snapshotted (tx_snapshot), then stored; abort restores it;
// - in an open pool, with no transaction running on this thread: the store
//   is a transaction of its own (begin, snapshot, store, commit), durable
//   when the assignment returns (one fence or one msync: batch many stores
//   in one pool.transaction). It is never silently volatile;
// - outside every open pool (a copy in ordinary memory, `node n = *ptr;`):
//   a plain store;
// - in an open pool other than the one this thread's transaction runs on:
//   throws tx_invalid and stores nothing (a transaction changes one pool).
// Like any store, it may throw what a transaction throws: tx_aborted in a
// poisoned transaction, read_only on a read-only pool, io_error.
//
// Copy and move assignment between two p<T> are deleted: the implicit ones
// would copy the bytes without the snapshot, and user-written ones would
// make p<T> (and every struct holding one) not trivially copyable. Write
// `a->x = b->x.get();` (or `a->x = T(b->x);`). For the same reason a
// struct with p<T> fields has no assignment (`*a = *b` does not compile):
// assign its fields one by one, or snapshot the whole object with
// tx_snapshot(a) and memcpy. Copy construction is trivial
// (`node local = *ptr;` copies the bytes). Arrays, byte ranges and whole
// objects are snapshotted with tx_snapshot as before.
//
// Costs: a read is a load. A store inside a transaction is one out-of-line
// call that checks the address against the running pool's heap, then
// tx_snapshot and the store: about 65 instructions more than tx_snapshot
// plus the store written by hand (callgrind, g++ 12 -O2: 263 against 198
// for a field stored again and again, 366 against 301 for 1000 fields in
// turn). Outside a transaction a store costs a commit. A field in ordinary
// memory costs a walk over the open pools.
//
// Thread-safety: that of the underlying field. Two threads storing into
// the same p<T> race as with plain fields (use ferrite::pmutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "ferrite/engine/pptr.h"
#include "ferrite/engine/type_info.h"

namespace ferrite {

namespace detail {

template <class T>
inline constexpr bool is_pptr_v = false;
template <class U>
inline constexpr bool is_pptr_v<pptr<U>> = true;

// What p<T> holds: a scalar or a persistent pointer, without cv.
template <class T>
concept p_value = std::is_same_v<T, std::remove_cv_t<T>> &&
    (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_pptr_v<T>);
template <class T>
concept p_pointer = is_pptr_v<T>;
// A typed pptr (pptr<void> has no * or ->).
template <class T>
concept p_dereferenceable = is_pptr_v<T> && requires(const T& t) {
  t.operator->();
};
// Integers have ++ and -- (not bool, not pointers).
template <class T>
concept p_counter = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Stores the `n` bytes at `src` into the field at `at` as p<T> documents:
// snapshot first in this thread's transaction, a transaction of its own in
// an open pool, a plain store in ordinary memory; tx_invalid for a field of
// another pool than the running transaction's.
void p_store(void* at, const void* src, std::size_t n);

}  // namespace detail

template <class T>
class p {
  static_assert(detail::p_value<T>,
                "ferrite::p<T>: T must be a scalar (arithmetic or enum, not const) or a "
                "ferrite::pptr<U>; snapshot arrays and other ranges with tx_snapshot");

 public:
  using value_type = T;

  constexpr p() noexcept = default;
  constexpr p(T v) noexcept : value_(v) {}  // NOLINT(google-explicit-constructor)
  // NOLINTNEXTLINE(google-explicit-constructor)
  constexpr p(std::nullptr_t) noexcept requires detail::p_pointer<T> {}
  // Copy construction copies the bytes (a field read into a local copy).
  constexpr p(const p&) noexcept = default;

  // Deleted: `a->x = b->x` would store without the snapshot. Write
  // `a->x = b->x.get();` (see the header comment).
  p& operator=(const p&) = delete;
  p& operator=(p&&) = delete;

  // --- Reads: plain loads ---
  T get() const noexcept { return value_; }
  operator T() const noexcept { return value_; }  // NOLINT(google-explicit-constructor)

  // pptr fields: `root->next->v`, `*root->next`, `if (root->next)`.
  auto operator->() const requires detail::p_dereferenceable<T> { return value_.operator->(); }
  decltype(auto) operator*() const requires detail::p_dereferenceable<T> { return *value_; }
  explicit operator bool() const noexcept requires detail::p_pointer<T> {
    return static_cast<bool>(value_);
  }
  friend bool operator==(const p& a, const p& b) noexcept requires detail::p_pointer<T> {
    return a.value_ == b.value_;
  }
  friend bool operator==(const p& a, const T& b) noexcept requires detail::p_pointer<T> {
    return a.value_ == b;
  }
  friend bool operator==(const p& a, std::nullptr_t) noexcept requires detail::p_pointer<T> {
    return !a.value_;
  }

  // --- Stores: snapshotted (see the header comment) ---
  p& operator=(T v) {
    detail::p_store(&value_, &v, sizeof(T));
    return *this;
  }
  p& operator=(std::nullptr_t) requires detail::p_pointer<T> { return *this = T(nullptr); }

  // The compound assignments T has, computed as T computes them.
  template <class U>
  requires requires(T& t, const U& u) { t += u; }
  p& operator+=(const U& v) {
    T t = value_;
    t += v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t -= u; }
  p& operator-=(const U& v) {
    T t = value_;
    t -= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t *= u; }
  p& operator*=(const U& v) {
    T t = value_;
    t *= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t /= u; }
  p& operator/=(const U& v) {
    T t = value_;
    t /= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t %= u; }
  p& operator%=(const U& v) {
    T t = value_;
    t %= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t &= u; }
  p& operator&=(const U& v) {
    T t = value_;
    t &= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t |= u; }
  p& operator|=(const U& v) {
    T t = value_;
    t |= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t ^= u; }
  p& operator^=(const U& v) {
    T t = value_;
    t ^= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t <<= u; }
  p& operator<<=(const U& v) {
    T t = value_;
    t <<= v;
    return *this = t;
  }
  template <class U>
  requires requires(T& t, const U& u) { t >>= u; }
  p& operator>>=(const U& v) {
    T t = value_;
    t >>= v;
    return *this = t;
  }

  // Integer fields (not bool, not pointers).
  p& operator++() requires detail::p_counter<T> {
    T t = value_;
    ++t;
    return *this = t;
  }
  p& operator--() requires detail::p_counter<T> {
    T t = value_;
    --t;
    return *this = t;
  }
  T operator++(int) requires detail::p_counter<T> {
    const T old = value_;
    ++*this;
    return old;
  }
  T operator--(int) requires detail::p_counter<T> {
    const T old = value_;
    --*this;
    return old;
  }

 private:
  T value_{};
};

namespace detail {

// The type table records a p<T> field as a T: same layout, same table.
template <class T>
struct describe<p<T>> {
  static const type_descriptor& get() { return descriptor_of<T>(); }
};

// The layout promises, checked where users meet them (g++ and clang++).
struct p_check_target;
enum class p_check_enum : std::uint8_t { a, b };
struct p_check_struct {
  p<std::int64_t> i;
  p<pptr<p_check_target>> next;
  p<pptr<void>> any;
  p<double> d;
  p<std::int32_t> i32;
  p<bool> flag;
  p<p_check_enum> e;
};
static_assert(sizeof(p<std::int64_t>) == sizeof(std::int64_t) &&
              alignof(p<std::int64_t>) == alignof(std::int64_t));
static_assert(sizeof(p<pptr<p_check_target>>) == 8 && alignof(p<pptr<p_check_target>>) == 8);
static_assert(sizeof(p<bool>) == 1 && sizeof(p<p_check_enum>) == 1);
static_assert(std::is_trivially_copyable_v<p<std::int64_t>> &&
              std::is_trivially_copyable_v<p<pptr<void>>>);
static_assert(std::is_standard_layout_v<p<std::int64_t>>);
static_assert(std::is_trivially_copyable_v<p_check_struct>,
              "a struct of p<T> fields must stay trivially copyable (FERRITE_TYPE needs it)");
static_assert(std::is_standard_layout_v<p_check_struct>);
static_assert(!std::is_copy_assignable_v<p<std::int64_t>> &&
              !std::is_move_assignable_v<p<std::int64_t>>);
static_assert(std::is_trivially_copy_constructible_v<p<std::int64_t>>);

}  // namespace detail
}  // namespace ferrite
