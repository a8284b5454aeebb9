// Internals of the value model (value.h), shared by its .cc files.
//
// - input_node: what an `input` describes (an immutable tree, shared).
// - The payload structs of list, dict, set and object (value_format.h),
//   registered as types so that the type table, the garbage collector and
//   `ferrite dump` see them as ordinary structs.
// - build_cell: turns an input into a cell in a pool, allocating payloads
//   in the running transaction.
#pragma once

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

struct list_rep {
  vector<value_cell> items;
};
struct dict_rep {
  value_map items;
};
struct set_rep {
  member_map items;
};
// An object's class is the type name of its allocation.
struct object_rep {
  value_map attributes;
};

FERRITE_TYPE(list_rep, "ferrite.list", items)
FERRITE_TYPE(dict_rep, "ferrite.dict", items)
FERRITE_TYPE(set_rep, "ferrite.set", items)

// The descriptor of class `name` (registered by register_class), or null.
const type_descriptor* class_descriptor(std::string_view name);

// The cell `in` stands for, built in pool `p` (payloads allocated in the
// running transaction). REQUIRES: a transaction runs on p.
value_cell_rep build_cell(pool_impl& p, const input& in);

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
void* cell_target(pool_impl* p, const value_cell& c);           // out-of-line payload
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
