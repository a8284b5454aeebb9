// Reading the typed objects of a pool in the checks of the typed workloads,
// safely on every handle ferrite-crash opens.
//
//   image_view v(p);                                  // p: any open pool
//   const my_root* r = v.root<my_root>();             // null: no root yet
//   std::string title = v.text(r->title);             // checks the string's invariants
//   const item* it = v.get(r->head);                  // a pptr, checked and resolved in p
//   if (v.objects() != p.heap_statistics().objects) ... // no leak
//
// Why: ferrite-crash opens many copies of one pool in one process (the
// workload's own pool, and the crash images the checker threads recover).
// They share the pool's tag, and a pptr resolves through the process-wide
// slot of its tag, which belongs to the first handle opened
// (engine/pool_registry.h): on every other handle pptr::get(),
// string::data() and the containers' reads would read the workload's pool,
// which its thread is changing meanwhile. image_view resolves pointer bits
// in the pool it was given (a pool offset plus a tag check), and validates
// all it follows: the tag, the offset, that it is the start of an allocated
// object (pool::object_size), its stored type and size. A damaged image
// gives a broken_image exception with a message, never a crash.
//
// It also counts the distinct objects it reached and refuses to reach one
// twice (two owners for one allocation), so that a workload can compare the
// count with the heap's: no leaked object, none shared.
//
// Thread-safety: one view per check (it keeps the set of objects seen);
// any number of views on one pool at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ferrite/base/error.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/type_info.h"
#include "ferrite/types/string.h"

namespace ferrite::crash {

// What image_view throws when the pool does not hold what it must.
class broken_image : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class image_view {
 public:
  explicit image_view(const pool& p);

  const pool& target() const noexcept { return p_; }

  // True when persistent pointers resolve to this handle (it owns the
  // pool's tag): the containers' own read API is then sound on it too.
  bool owns_pointers() const;

  // The root object as a T, or null when the pool has none. Throws
  // broken_image when the root is of another type or not an object.
  template <class T>
  const T* root() {
    return reinterpret_cast<const T*>(root_object(detail::descriptor_of<T>().name, sizeof(T)));
  }

  // The T `ptr` points to (null for null), checked as object() does.
  template <class T>
  const T* get(pptr<T> ptr) {
    return reinterpret_cast<const T*>(
        object(ptr.raw(), detail::descriptor_of<T>().name, sizeof(T), "a pptr"));
  }

  // The object at pointer bits `bits` (null for 0): it must be in this pool
  // (tag), start an allocated object of at least `size` bytes, be of the
  // stored type `type_name` ("" accepts any) and not have been reached
  // before. `what` names the pointer in messages.
  // `count` false: checked the same, not recorded as reached (a second look).
  const std::byte* object(std::uint64_t bits, std::string_view type_name, std::size_t size,
                          const std::string& what, bool count = true);

  // The text of a ferrite::string anywhere in the pool, after checking its
  // invariants (container_format.h: data == 0 iff capacity == 0, size <=
  // capacity, a "ferrite.string" buffer of capacity + 1 bytes, NUL at size).
  // `count` false: its buffer is not recorded as reached (comparing keys).
  std::string text(const ferrite::string& s, bool count = true);

  // The buffer of the vector handle at `handle` (container_format.h:
  // data == 0 iff capacity == 0, size <= capacity, a buffer of stored type
  // `type_name` holding capacity elements of `element_size` bytes); sets
  // `size`. Null when the vector has no buffer.
  const std::byte* vector_buffer(const void* handle, std::size_t element_size,
                                 std::string_view type_name, std::uint64_t& size);

  // Distinct objects reached so far (root included).
  std::uint64_t objects() const noexcept { return seen_.size(); }

 private:
  const std::byte* root_object(const std::string& type_name, std::size_t size);

  const pool& p_;
  std::uint16_t tag_;
  std::set<std::uint64_t> seen_;
};

// Runs `fn` (returning "" or a problem) and turns a broken_image or a
// ferrite::error it throws into the problem's text.
template <class Fn>
std::string checked_read(Fn&& fn) {
  try {
    return fn();
  } catch (const broken_image& e) {
    return e.what();
  } catch (const ferrite::error& e) {
    return std::string("reading the pool: ") + e.what();
  }
}

}  // namespace ferrite::crash
