// ferrite::vector<T> — a growable array in a pool.
//
//   struct guesser {
//     std::int64_t maximum;
//     ferrite::vector<std::int64_t> guesses;
//     ferrite::vector<ferrite::string> names;
//   };
//   FERRITE_TYPE(guesser, "guess.Guesser", maximum, guesses, names)
//
//   auto g = pool.root<guesser>();
//   g->guesses.push_back(42);             // atomic on its own, or joins the transaction
//   g->names.push_back("ada");            // strings go in as std::string_view
//   for (std::int64_t x : g->guesses) {}  // read in place
//   g->guesses.set(0, 7);                 // write one element (snapshotted for you)
//
// A 24-byte handle (detail::vector_rep, base/format/container_format.h) embedded
// in its owner, owning one buffer of `capacity` elements in the same pool.
// Elements live in the buffer: data(), operator[], at(), front(), back()
// and the iterators (plain T*) return references into the pool. Reading
// through them is free; WRITING through a non-const reference must happen
// inside a transaction after ferrite::tx_snapshot(&v[i]) (or use set(i, x),
// which does both). Any call that can reallocate (push_back, emplace_back,
// insert, resize, reserve, shrink_to_fit, assign) invalidates references
// and iterators, as in std::vector; so does erase (it may rebuild a large
// buffer, below). set() and clear() keep the buffer.
//
// Mutating calls must be made on the handle in the pool (on a copy in
// volatile memory they throw invalid_argument); each is atomic on its own
// and joins the transaction the thread runs on that pool. Copy assignment is
// deleted: `a = b` would make two vectors share one buffer.
//
// Elements that own storage (ferrite::string, containers, structs holding
// them) are never copied in: strings are inserted from std::string_view,
// other owning elements are default-constructed in place with
// emplace_back() / resize() and filled there. Erasing an element frees what
// it owns. Pointer elements (pptr, structs with pptr fields) must point into
// this pool (else invalid_argument, the vector unchanged).
//
// Growth doubles the capacity (a new buffer, the elements copied, the old
// buffer freed at commit). Buffers above 256 KiB are extents that the
// engine writes directly rather than through the log, and an insert/erase/
// resize that would have to log more than 256 KiB of moved bytes rebuilds
// the buffer instead, so every single operation stays within the log limit
// (except releasing many owning elements at once: see vector.cc).
//
// Errors: a position outside the vector is out_of_range, as a bad index of
// the value model's list (Python's IndexError): at(), set(), erase(i) with
// i >= size(), insert(i) with i > size(), erase(first, last) unless
// first <= last <= size(), and pop_back(), front(), back() on an empty
// vector. The vector is unchanged and an enclosing transaction goes on.
// Copying in an element that owns storage, a pointer into another pool, or
// a mutation through a copy in volatile memory are invalid_argument; a full
// pool is out_of_space.
//
// Thread-safety: like std::vector (concurrent reads, or one writer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <type_traits>

#include "ferrite/base/format/container_format.h"
#include "ferrite/types/element.h"

namespace ferrite {

namespace detail {

// What the type-erased core (vector.cc) knows of an element type.
struct vector_element {
  std::uint32_t size;
  std::uint32_t align;
  type_ref vector_type;                // vector<T>: the type id its buffers carry
  void (*release)(pool_impl&, void*);  // frees what one element owns; null if nothing
  bool by_copy;                        // inserted by copying a T (element_traits default)
};

// Core operations. REQUIRE: a transaction runs on `p` and `rep` lies in `p`.
// They snapshot what they change; elements are built by the caller.

// Makes room for element rep.size and returns its zeroed slot; snapshots
// the slot and rep.size. The caller builds the element, then increments
// rep.size (so a failing build leaves the size unchanged).
void* vector_append_slot(pool_impl& p, vector_rep& rep, const vector_element& e);
// Opens `count` zeroed slots at index `pos` (moving the tail up), adds
// `count` to the size and returns the first slot. Throws out_of_range
// when pos > size.
void* vector_insert_gap(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t pos,
                        std::uint64_t count);
// Snapshots element i and returns it. Throws out_of_range when i >= size.
void* vector_slot_for_write(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t i,
                            const char* op);
// Releases elements [first, last) and closes the gap. Throws
// out_of_range unless first <= last <= size.
void vector_erase(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t first,
                  std::uint64_t last);
// New elements are zero bytes; removed ones are released.
void vector_resize(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t n);
void vector_reserve(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t n);
void vector_shrink_to_fit(pool_impl& p, vector_rep& rep, const vector_element& e);
// Releases every element and frees the buffer; the vector becomes empty.
void vector_release(pool_impl& p, vector_rep& rep, const vector_element& e);

// Frees the buffer of the vector<T> at `obj` and what its elements own.
template <class T>
void release_vector(pool_impl& p, void* obj);

// Throws corrupted: the handle read from the pool cannot be right (size >
// capacity, or a capacity without a buffer).
[[noreturn]] void vector_damaged(const vector_rep& rep);

// The buffer of a vector of T, after checking the handle (DESIGN invariant
// 7): size <= capacity, a buffer when capacity > 0, and the whole buffer
// (capacity elements) within the pool's heap, aligned. Null when empty.
// Throws corrupted otherwise; so every element index below size() reads
// inside the heap.
template <class T>
T* vector_buffer(const vector_rep& rep) {
  if (rep.size > rep.capacity || (rep.data == 0 && rep.capacity != 0)) [[unlikely]]
    vector_damaged(rep);
  return resolve_array<T>(rep.data, rep.capacity);
}

[[noreturn]] void vector_empty(const char* op);
[[noreturn]] void vector_bad_index(const char* op, std::uint64_t i, std::uint64_t size);
[[noreturn]] void vector_not_copyable(const vector_element& e);

}  // namespace detail

template <class T>
class vector {
 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  using value_type = T;
  using size_type = std::size_t;
  using difference_type = std::ptrdiff_t;
  using reference = T&;
  using const_reference = const T&;
  using iterator = T*;
  using const_iterator = const T*;
  using input = typename element_traits<T>::input;

  vector() noexcept = default;
  vector(const vector&) noexcept = default;  // a read-only view of the same elements
  vector& operator=(const vector&) = delete;

  // --- Reading ---
  size_type size() const noexcept { return rep_.size; }
  size_type capacity() const noexcept { return rep_.capacity; }
  bool empty() const noexcept { return rep_.size == 0; }
  // Null when capacity() == 0. Throws corrupted when the handle or its
  // buffer is damaged (detail::vector_buffer): every read goes through here.
  T* data() { return detail::vector_buffer<T>(rep_); }
  const T* data() const { return detail::vector_buffer<const T>(rep_); }
  // References into the pool. Writing through a non-const one needs a
  // transaction and ferrite::tx_snapshot(&v[i]) first; set(i, x) does both.
  // REQUIRES: i < size() (unchecked; at() checks).
  T& operator[](size_type i) { return data()[i]; }
  const T& operator[](size_type i) const { return data()[i]; }
  // Throws out_of_range when i >= size() (as the value model's list).
  T& at(size_type i) { return data()[checked(i, "at")]; }
  const T& at(size_type i) const { return data()[checked(i, "at")]; }
  T& front() { return data()[nonempty("front")]; }
  const T& front() const { return data()[nonempty("front")]; }
  T& back() { return data()[nonempty("back") + size() - 1]; }
  const T& back() const { return data()[nonempty("back") + size() - 1]; }
  iterator begin() { return data(); }
  iterator end() { return data() + size(); }
  const_iterator begin() const { return data(); }
  const_iterator end() const { return data() + size(); }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  std::reverse_iterator<const_iterator> rbegin() const { return std::reverse_iterator(end()); }
  std::reverse_iterator<const_iterator> rend() const { return std::reverse_iterator(begin()); }

  // --- Changing ---
  void push_back(input v) {
    detail::pool_impl& p = detail::pool_holding(this);
    const detail::vector_element& e = element();
    if (e.by_copy && e.release) detail::vector_not_copyable(e);
    detail::atomically(p, [&] {
      T* slot = static_cast<T*>(detail::vector_append_slot(p, rep_, e));
      element_traits<T>::construct(p, slot, v);
      ++rep_.size;  // snapshotted by vector_append_slot
    });
  }

  // Appends a zero-bytes (default) element and returns it, for elements
  // that own storage: `v.emplace_back().push_back(1)` on a vector of vectors.
  T& emplace_back() {
    detail::pool_impl& p = detail::pool_holding(this);
    return detail::atomically(p, [&]() -> T& {
      T* slot = static_cast<T*>(detail::vector_append_slot(p, rep_, element()));
      ++rep_.size;
      return *slot;
    });
  }

  void pop_back() {
    if (empty()) detail::vector_empty("pop_back");
    erase(size() - 1);
  }

  // Replaces element i (releasing what the old one owned).
  void set(size_type i, input v) {
    detail::pool_impl& p = detail::pool_holding(this);
    const detail::vector_element& e = element();
    if (i >= size()) detail::vector_bad_index("set", i, size());
    if (e.by_copy && e.release) detail::vector_not_copyable(e);
    detail::atomically(p, [&] {
      if (e.by_copy) {
        T* slot = static_cast<T*>(detail::vector_slot_for_write(p, rep_, e, i, "set"));
        alignas(T) std::byte built[sizeof(T)];  // validated before the slot changes
        element_traits<T>::construct(p, reinterpret_cast<T*>(built), v);
        std::memcpy(static_cast<void*>(slot), built, sizeof(T));
      } else {
        T* slot = static_cast<T*>(detail::vector_slot_for_write(p, rep_, e, i, "set"));
        if (e.release) e.release(p, slot);
        std::memset(static_cast<void*>(slot), 0, sizeof(T));
        element_traits<T>::construct(p, slot, v);
      }
    });
  }

  // Inserts v before index pos (pos <= size()); returns the new element.
  iterator insert(size_type pos, input v) {
    detail::pool_impl& p = detail::pool_holding(this);
    const detail::vector_element& e = element();
    if (pos > size()) detail::vector_bad_index("insert", pos, size());
    if (e.by_copy && e.release) detail::vector_not_copyable(e);
    return detail::atomically(p, [&]() -> T* {
      if (e.by_copy) {
        // Built first: v may refer to an element the gap moves.
        alignas(T) std::byte built[sizeof(T)];
        element_traits<T>::construct(p, reinterpret_cast<T*>(built), v);
        T* slot = static_cast<T*>(detail::vector_insert_gap(p, rep_, e, pos, 1));
        std::memcpy(static_cast<void*>(slot), built, sizeof(T));
        return slot;
      }
      T* slot = static_cast<T*>(detail::vector_insert_gap(p, rep_, e, pos, 1));
      element_traits<T>::construct(p, slot, v);
      return slot;
    });
  }

  // Removes element pos / elements [first, last), freeing what they own.
  void erase(size_type pos) {
    if (pos >= size()) detail::vector_bad_index("erase", pos, size());
    erase(pos, pos + 1);
  }
  void erase(size_type first, size_type last) {
    detail::pool_impl& p = detail::pool_holding(this);
    detail::atomically(p, [&] { detail::vector_erase(p, rep_, element(), first, last); });
  }

  // Elements from size() to n are zero bytes (empty strings and containers).
  void resize(size_type n) {
    detail::pool_impl& p = detail::pool_holding(this);
    detail::atomically(p, [&] { detail::vector_resize(p, rep_, element(), n); });
  }
  // Keeps room for n elements (never shrinks).
  void reserve(size_type n) {
    if (n <= capacity()) return;
    detail::pool_impl& p = detail::pool_holding(this);
    detail::atomically(p, [&] { detail::vector_reserve(p, rep_, element(), n); });
  }
  // Keeps the buffer (like std::vector).
  void clear() {
    if (empty()) return;
    erase(0, size());
  }
  // Moves the elements to a buffer of exactly size() (none when empty).
  void shrink_to_fit() {
    if (capacity() == size()) return;
    detail::pool_impl& p = detail::pool_holding(this);
    detail::atomically(p, [&] { detail::vector_shrink_to_fit(p, rep_, element()); });
  }

  // Replaces the contents with the inputs in [first, last), all or nothing.
  template <std::input_iterator It>
  void assign(It first, It last) {
    detail::pool_impl& p = detail::pool_holding(this);
    if (element().by_copy && element().release) detail::vector_not_copyable(element());
    detail::atomically(p, [&] {
      clear();
      if constexpr (std::forward_iterator<It>) {
        reserve(static_cast<size_type>(std::distance(first, last)));
      }
      for (; first != last; ++first) push_back(*first);
    });
  }
  template <class U>
  void assign(std::initializer_list<U> values) {
    assign(values.begin(), values.end());
  }

 private:
  friend void detail::release_vector<T>(detail::pool_impl& p, void* obj);

  // The element layout the core works with.
  static const detail::vector_element& element() {
    static const detail::vector_element e{
        sizeof(T), alignof(T), &detail::descriptor_of<vector<T>>,
        detail::owns_storage(detail::descriptor_of<T>()) ? &release_one : nullptr,
        std::is_same_v<input, const T&>};
    return e;
  }
  static void release_one(detail::pool_impl& p, void* v) {
    element_traits<T>::release(p, static_cast<T*>(v));
  }
  size_type checked(size_type i, const char* op) const {
    if (i >= size()) detail::vector_bad_index(op, i, size());
    return i;
  }
  // 0, or throws when empty.
  size_type nonempty(const char* op) const {
    if (empty()) detail::vector_empty(op);
    return 0;
  }

  detail::vector_rep rep_{};
};

static_assert(std::is_trivially_copyable_v<vector<std::int64_t>>);
static_assert(std::is_standard_layout_v<vector<std::int64_t>>);
static_assert(sizeof(vector<std::int64_t>) == sizeof(detail::vector_rep));

namespace detail {

template <class T>
void release_vector(pool_impl& p, void* obj) {
  vector_release(p, *static_cast<vector_rep*>(obj), vector<T>::element());
}

// "ferrite.vector<" + element name + ">" (types/vector.cc).
type_descriptor vector_descriptor(const type_descriptor& element, type_ref element_ref,
                                  std::uint32_t size, std::uint32_t align,
                                  void (*release)(pool_impl&, void*));

template <class T>
struct describe<vector<T>> {
  static const type_descriptor& get() {
    static const type_descriptor d =
        vector_descriptor(descriptor_of<T>(), &descriptor_of<T>, sizeof(vector<T>),
                          alignof(vector<T>), &release_vector<T>);
    return d;
  }
};

}  // namespace detail
}  // namespace ferrite
