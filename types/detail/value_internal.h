// Internals of the value model (value.h), shared by its .cc files.
//
// - input_node: what an `input` describes (an immutable tree, shared).
// - The payload structs of list, dict, set and object (value_format.h),
//   registered as types so that the type table, the garbage collector and
//   `ferrite dump` see them as ordinary structs.
// - build_cell: turns an input into a cell in a pool, allocating payloads
//   in the running transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ferrite/types/value.h"

namespace ferrite::detail {

struct input_node {
  value_kind kind = value_kind::none;
  bool boolean = false;
  std::int64_t integer = 0;
  double floating = 0;
  std::string text;  // str, bytes, encoded data
  std::string name;  // encoded: codec name; object: class name
  std::vector<input>
      items;  // list, tuple, set, frozenset; dict / object: key, value, key, value...
  // An existing value (input(const value&)): its cell, in `pool`.
  bool shared = false;
  value_cell cell{};
  pool_impl* pool = nullptr;
};

struct input_access {
  static input make(std::shared_ptr<const input_node> n) { return input(std::move(n)); }
};

// The payload structs. `refs` is the reference count every out-of-line
// payload starts with (value_format.h, docs/gc.md).
struct list_rep {
  std::uint64_t refs;
  vector<value_cell> items;
};
struct dict_rep {
  std::uint64_t refs;
  value_map items;
};
struct set_rep {
  std::uint64_t refs;
  member_map items;
};
// An object's class is the type name of its allocation.
struct object_rep {
  std::uint64_t refs;
  value_map attributes;
};
static_assert(offsetof(list_rep, refs) == value_refs_offset);
static_assert(offsetof(dict_rep, refs) == value_refs_offset);
static_assert(offsetof(set_rep, refs) == value_refs_offset);
static_assert(offsetof(object_rep, refs) == value_refs_offset);

FERRITE_TYPE(list_rep, "ferrite.list", refs, items)
FERRITE_TYPE(dict_rep, "ferrite.dict", refs, items)
FERRITE_TYPE(set_rep, "ferrite.set", refs, items)

// The descriptor of class `name` (registered by register_class), or null.
const type_descriptor* class_descriptor(std::string_view name);

// The cell `in` stands for, built in pool `p` (payloads allocated in the
// running transaction). The result is not yet a reference: new payloads
// have a count of 0 and a shared input's payload is not retained; storing
// the cell (store_cell, a container's insert) retains it.
// REQUIRES: a transaction runs on p.
value_cell_rep build_cell(pool_impl& p, const input& in);

// Reference counts (value_refs.cc, docs/gc.md). A cell holding an
// out-of-line payload is one reference to it.
// - retain: the payload's count + 1 (snapshotted).
// - drop: the count - 1; at zero the payload becomes a candidate that the
//   commit frees if it is still at zero then (its cells dropped in turn,
//   from an explicit work list). A count already at zero is left alone (a
//   damaged count: the collector repairs it) rather than freed twice.
// - store_cell: writes `r` over the cell at `dest` (snapshotted), retaining
//   the new payload before dropping the old one (so `x = x` keeps it).
// REQUIRES: a transaction runs on p; the cells are p's.
void retain(pool_impl& p, const value_cell_rep& r);
void drop(pool_impl& p, const value_cell_rep& r);
void store_cell(pool_impl& p, value_cell* dest, const value_cell_rep& r);

// Stores key: v into a dict's or object's map / adds a set member (atomic,
// or in the running transaction). Payloads are built only when needed.
void map_store(pool_impl& p, value_map& m, const input& key, const input& v);
bool set_add(pool_impl& p, member_map& m, const input& member);
// Python == of a cell (in pool p, or volatile) and an input.
bool values_equal(pool_impl* p, const value_cell& c, const input& in);

// A built cell as the element type containers store.
inline const value_cell& as_cell(const value_cell_rep& r) noexcept {
  return *reinterpret_cast<const value_cell*>(&r);
}

// Splits an encoded payload ({u8 n; codec name[n]; data}); false when it is
// shorter than its codec name.
bool split_encoded(std::string_view all, std::string_view* codec, std::string_view* data);

// Reading cells. `p` is the pool holding the cell (null for a volatile
// cell, which can only hold inline values).
std::string_view cell_text(pool_impl* p, const value_cell& c);  // str / bytes / encoded
std::uint64_t cell_length(const value_cell& c) noexcept;        // out-of-line length
// The payload of a cell naming one (null when its pointer is 0), checked
// first (DESIGN invariant 7): a pointer into pool p, 8-aligned, and the
// payload's bytes the cell's kind and length imply (payload_bytes) within
// the heap. Throws corrupted otherwise (invalid_argument for a pointer
// into another pool).
void* cell_target(pool_impl* p, const value_cell& c);  // out-of-line payload
void* payload_of(pool_impl* p, const value_cell_rep& r);
// The bytes every payload of r's kind and length has: the count, then the
// text or items; the whole struct for list, dict, set and object.
std::uint64_t payload_bytes(const value_cell_rep& r) noexcept;
// The items of a tuple / frozenset cell (after the payload's count), or null.
const value_cell* cell_items(pool_impl* p, const value_cell& c);
[[noreturn]] void wrong_kind(const value_cell& c, pool_impl* p, const char* wanted);
std::string kind_name(pool_impl* p, const value_cell& c);

// The pool holding `obj` when it is in an open pool, else null.
pool_impl* pool_or_null(const void* obj) noexcept;

// An input's int / str (REQUIRES: of that kind; shared inputs read their cell).
std::int64_t input_int(const input& in);
std::string_view input_str(const input& in);
// Python repr() of an input (for KeyError messages).
std::string input_repr(const input& in);

// Handles (value.cc).
std::uint64_t sequence_index(std::int64_t i, std::uint64_t n, const char* what);
void* typed_payload(pool_impl* p, const value_cell& c, const type_descriptor& d);
value detached(pool_impl* p, const value_cell& c);
value cell_handle(pool_impl* p, const value_cell* c, bool read_only);
value list_item(pool_impl* p, list_rep* l, std::int64_t i);
value dict_item(pool_impl* p, value_map* m, const input& key);

}  // namespace ferrite::detail
