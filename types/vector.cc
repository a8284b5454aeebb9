// The type-erased core of ferrite::vector<T> (types/vector.h).
//
// Log use per operation. Every byte of an existing buffer an operation
// changes is snapshotted, so it goes to the log at commit; new buffers do
// not (slots up to 256 KiB are logged once as new memory, larger buffers
// are extents written straight to the pool file). Hence:
// - push_back/emplace_back/set log one element (plus the 8-byte size);
//   growth logs at most a new 256 KiB slot;
// - insert/erase/resize move or zero at most max_logged_move(p) bytes in
//   place (256 KiB, or a quarter of the largest log record in a pool with a
//   small log); beyond that they rebuild the buffer (new extent, copy, free
//   old);
// - snapshots inside an extent this transaction allocated are skipped: the
//   whole extent is written directly at commit, and freed on abort;
// - releasing owning elements (strings...) costs each element's release
//   (a 24-byte snapshot and a free per string), which is not bounded when
//   one call erases very many of them.
#include "ferrite/types/vector.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "ferrite/base/error.h"
#include "ferrite/base/format/heap_format.h"

namespace ferrite::detail {

namespace {

// Larger moves rebuild the buffer instead of logging the moved bytes.
std::uint64_t max_logged_move(pool_impl& p) {
  return std::min<std::uint64_t>(max_slot_size, max_record_bytes(p) / 4);
}
// Heap header and alignment padding in front of an extent's data.
constexpr std::uint64_t extent_overhead = 64;
// Chunk size of the heap: extents are whole chunks.
constexpr std::uint64_t extent_granule = chunk_size;

std::uint64_t max_elements(const vector_element& e) {
  return (1ull << 46) / e.size;
}

// The buffer, checked as vector_buffer checks it (the element size known
// at run time). REQUIRES: rep lies in p.
std::byte* buffer(pool_impl& p, const vector_rep& rep, const vector_element& e) {
  if (rep.size > rep.capacity || (rep.data == 0 && rep.capacity != 0) ||
      rep.capacity > max_elements(e)) {
    vector_damaged(rep);
  }
  check_pointer(p, rep.data, "a vector's buffer");
  return static_cast<std::byte*>(pptr_resolve(rep.data, rep.capacity * e.size, e.align));
}

// Capacity for at least `need` elements growing from `have`: doubling,
// at least 64 bytes, and for extents the whole chunks the heap hands out.
std::uint64_t grown_capacity(const vector_element& e, std::uint64_t have, std::uint64_t need) {
  if (need > max_elements(e)) {
    fail(error_code::invalid_argument, e.vector_type().name + ": " + std::to_string(need) +
                                           " elements are more than a vector can hold");
  }
  std::uint64_t cap = std::max({need, have * 2, std::max<std::uint64_t>(4, 64 / e.size)});
  cap = std::min(cap, max_elements(e));
  const std::uint64_t bytes = cap * e.size;
  if (bytes + extent_overhead > max_slot_size) {
    const std::uint64_t whole =
        (bytes + extent_overhead + extent_granule - 1) / extent_granule * extent_granule;
    cap = (whole - extent_overhead) / e.size;
  }
  return cap;
}

// True when the buffer is an extent allocated by the running transaction:
// its bytes reach the pool file whole at commit, so they need no snapshot.
bool is_new_extent(pool_impl& p, const vector_rep& rep, const vector_element& e) {
  if (rep.capacity * e.size <= max_slot_size - extent_overhead) return false;
  return in_new_extent(p, buffer(p, rep, e));
}

// Snapshots elements [first, first + count) of the buffer.
void snapshot_elements(pool_impl& p, const vector_rep& rep, const vector_element& e,
                       std::uint64_t first, std::uint64_t count) {
  if (count == 0 || is_new_extent(p, rep, e)) return;
  tx_snapshot(buffer(p, rep, e) + first * e.size, count * e.size);
}

// Moves the elements to a new (zeroed) buffer of `capacity` slots: elements
// [0, keep) keep their index, elements [from, size) go to index `to`.
// REQUIRES: keep <= from <= size; to >= keep; to + size - from <= capacity.
void relocate(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t capacity,
              std::uint64_t keep, std::uint64_t from, std::uint64_t to) {
  const std::uint32_t id = type_id_of(p, e.vector_type());
  auto* fresh = static_cast<std::byte*>(
      tx_allocate(p, capacity * e.size, id, std::max<std::uint32_t>(e.align, 8)));
  if (rep.data != 0) {
    std::byte* old = buffer(p, rep, e);
    std::memcpy(fresh, old, keep * e.size);
    std::memcpy(fresh + to * e.size, old + from * e.size, (rep.size - from) * e.size);
    tx_free(p, old);
  }
  tx_snapshot(&rep);
  rep.data = pointer_bits(p, fresh);
  rep.capacity = capacity;
}

void set_size(vector_rep& rep, std::uint64_t n) {
  tx_snapshot(&rep.size);
  rep.size = n;
}

}  // namespace

void* vector_append_slot(pool_impl& p, vector_rep& rep, const vector_element& e) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (rep.size == rep.capacity) {
    relocate(p, rep, e, grown_capacity(e, rep.capacity, rep.size + 1), rep.size, rep.size,
             rep.size);
    return buffer(p, rep, e) + rep.size * e.size;  // new memory, zero; rep snapshotted
  }
  std::byte* slot = buffer(p, rep, e) + rep.size * e.size;
  if (!is_new_extent(p, rep, e)) tx_snapshot(slot, e.size);
  std::memset(slot, 0, e.size);  // bytes past the size are unspecified
  tx_snapshot(&rep.size);
  return slot;
}

void* vector_insert_gap(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t pos,
                        std::uint64_t count) {
  if (pos > rep.size) vector_bad_index("insert", pos, rep.size);
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (count > max_elements(e) - rep.size) grown_capacity(e, 0, max_elements(e) + 1);  // throws
  const std::uint64_t need = rep.size + count;
  const std::uint64_t touched = need - pos;
  if (need > rep.capacity) {
    relocate(p, rep, e, grown_capacity(e, rep.capacity, need), pos, pos, pos + count);
  } else if (touched * e.size > max_logged_move(p) && !is_new_extent(p, rep, e)) {
    relocate(p, rep, e, rep.capacity, pos, pos, pos + count);
  } else {
    snapshot_elements(p, rep, e, pos, touched);
    std::byte* at = buffer(p, rep, e) + pos * e.size;
    std::memmove(at + count * e.size, at, (rep.size - pos) * e.size);
    std::memset(at, 0, count * e.size);
  }
  set_size(rep, need);
  return buffer(p, rep, e) + pos * e.size;
}

void* vector_slot_for_write(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t i,
                            const char* op) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (i >= rep.size) vector_bad_index(op, i, rep.size);
  snapshot_elements(p, rep, e, i, 1);
  return buffer(p, rep, e) + i * e.size;
}

void vector_erase(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t first,
                  std::uint64_t last) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (first > last || last > rep.size) {
    fail(error_code::out_of_range, "vector::erase(" + std::to_string(first) + ", " +
                                       std::to_string(last) + ") on a vector of " +
                                       std::to_string(rep.size) +
                                       " elements; the range must satisfy first <= last <= size()");
  }
  if (first == last) return;
  if (e.release) {
    std::byte* buf = buffer(p, rep, e);
    for (std::uint64_t i = first; i < last; ++i) e.release(p, buf + i * e.size);
  }
  const std::uint64_t tail = rep.size - last;
  if (tail * e.size > max_logged_move(p) && !is_new_extent(p, rep, e)) {
    relocate(p, rep, e, rep.capacity, first, last, first);
  } else if (tail != 0) {
    snapshot_elements(p, rep, e, first, tail);
    std::byte* buf = buffer(p, rep, e);
    std::memmove(buf + first * e.size, buf + last * e.size, tail * e.size);
  }
  set_size(rep, rep.size - (last - first));
}

void vector_resize(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t n) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (n <= rep.size) {
    vector_erase(p, rep, e, n, rep.size);
    return;
  }
  const std::uint64_t added = n - rep.size;
  if (n > rep.capacity) {
    relocate(p, rep, e, grown_capacity(e, rep.capacity, n), rep.size, rep.size, rep.size);
  } else if (added * e.size > max_logged_move(p) && !is_new_extent(p, rep, e)) {
    relocate(p, rep, e, rep.capacity, rep.size, rep.size, rep.size);
  } else {
    snapshot_elements(p, rep, e, rep.size, added);
    std::memset(buffer(p, rep, e) + rep.size * e.size, 0, added * e.size);
  }
  set_size(rep, n);
}

void vector_reserve(pool_impl& p, vector_rep& rep, const vector_element& e, std::uint64_t n) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (n <= rep.capacity) return;
  if (n > max_elements(e)) grown_capacity(e, 0, n);  // throws
  relocate(p, rep, e, n, rep.size, rep.size, rep.size);
}

void vector_shrink_to_fit(pool_impl& p, vector_rep& rep, const vector_element& e) {
  buffer(p, rep, e);  // checks the handle first (a damaged one is corrupted)
  if (rep.capacity == rep.size) return;
  if (rep.size != 0) {
    relocate(p, rep, e, rep.size, rep.size, rep.size, rep.size);
    return;
  }
  tx_free(p, buffer(p, rep, e));
  tx_snapshot(&rep);
  rep = {};
}

void vector_release(pool_impl& p, vector_rep& rep, const vector_element& e) {
  if (rep.data == 0) return;
  std::byte* buf = buffer(p, rep, e);
  if (e.release) {
    for (std::uint64_t i = 0; i < rep.size; ++i) e.release(p, buf + i * e.size);
  }
  tx_free(p, buf);
  tx_snapshot(&rep);
  rep = {};
}

// Positions outside the vector are out_of_range, as a bad index of the
// value model's list (Python's IndexError; docs/values.md).
void vector_damaged(const vector_rep& rep) {
  fail(error_code::corrupted,
       "a ferrite vector in this pool is damaged (size " + std::to_string(rep.size) +
           ", capacity " + std::to_string(rep.capacity) + (rep.data == 0 ? ", no buffer" : "") +
           "; a vector holds at most capacity elements, in a buffer); run `ferrite check` on "
           "the pool file");
}

void vector_empty(const char* op) {
  fail(error_code::out_of_range,
       std::string("vector::") + op + "() on an empty vector; check empty() first");
}

void vector_bad_index(const char* op, std::uint64_t i, std::uint64_t size) {
  const bool insert = std::string_view(op) == "insert";
  fail(error_code::out_of_range, std::string("vector::") + op + "(" + std::to_string(i) +
                                     ") on a vector of " + std::to_string(size) +
                                     " elements; the index must be " +
                                     (insert ? "at most size()" : "below size()"));
}

void vector_not_copyable(const vector_element& e) {
  fail(error_code::invalid_argument,
       "the elements of " + e.vector_type().name +
           " own storage and cannot be copied in (two owners would share it); append a "
           "default element with emplace_back() or resize() and fill it in place");
}

type_descriptor vector_descriptor(const type_descriptor& element, type_ref element_ref,
                                  std::uint32_t size, std::uint32_t align,
                                  void (*release)(pool_impl&, void*)) {
  type_descriptor d;
  d.name = "ferrite.vector<" + element.name + ">";
  d.kind = type_kind::container;
  d.subkind = static_cast<std::uint8_t>(container_kind::vector);
  d.size = size;
  d.align = align;
  d.value = element_ref;
  d.release = release;
  return d;
}

}  // namespace ferrite::detail
