// ferrite::value handles: resolving a slot, storing into it, reading it.
#include "ferrite/types/value.h"

#include <cstring>
#include <ostream>

#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pool.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite {

using detail::value_slot;
using where = value_slot::where;

namespace detail {

// Index i of a sequence of n items, Python style (negative from the end).
std::uint64_t sequence_index(std::int64_t i, std::uint64_t n, const char* what) {
  const std::int64_t j = i < 0 ? i + static_cast<std::int64_t>(n) : i;
  if (j < 0 || static_cast<std::uint64_t>(j) >= n) {
    fail(error_code::out_of_range, std::string(what) + " index " + std::to_string(i) +
                                       " out of range (size " + std::to_string(n) + ")");
  }
  return static_cast<std::uint64_t>(j);
}

// The payload of `c` (of kind `kind`) when it is an allocation of type `d`.
void* typed_payload(pool_impl* p, const value_cell& c, const type_descriptor& d) {
  if (!p) {
    fail(error_code::invalid_argument, "this value is not in an open pool");
  }
  void* target = cell_target(p, c);
  if (target == nullptr || stored_type_of(*p, target) != type_id_of(*p, d)) {
    fail(error_code::corrupted, "pool '" + pool_path(*p) + "': a " + kind_name(p, c) +
                                    " value does not point at a " + d.name);
  }
  return target;
}

value detached(pool_impl* p, const value_cell& c) {
  value_slot s;
  s.at = where::detached;
  s.read_only = true;
  s.pool = p;
  std::memcpy(static_cast<void*>(&s.copy), &c, sizeof c);
  return value_access::make(std::move(s));
}

value cell_handle(pool_impl* p, const value_cell* c, bool read_only) {
  value_slot s;
  s.at = where::cell;
  s.pool = p;
  s.cell = const_cast<value_cell*>(c);
  s.read_only = read_only || p == nullptr;
  return value_access::make(std::move(s));
}

value list_item(pool_impl* p, list_rep* l, std::int64_t i) {
  value_slot s;
  s.at = where::list_item;
  s.pool = p;
  s.container = l;
  s.index = i;
  return value_access::make(std::move(s));
}

value dict_item(pool_impl* p, value_map* m, const input& key) {
  value_hash(value_key(key));  // unhashable keys fail here, not at first use
  value_slot s;
  s.at = where::dict_item;
  s.pool = p;
  s.container = m;
  s.key = std::make_shared<const input>(key);
  return value_access::make(std::move(s));
}

}  // namespace detail

using namespace detail;

value::value(value_cell& c) {
  slot_.at = where::cell;
  slot_.cell = &c;
  slot_.pool = pool_or_null(&c);
  slot_.read_only = slot_.pool == nullptr;
}

value::value(const value_cell& c) {
  slot_.at = where::cell;
  slot_.cell = const_cast<value_cell*>(&c);
  slot_.pool = pool_or_null(&c);
  slot_.read_only = true;
}

value::~value() = default;

value& value::operator=(const value& other) {
  if (this != &other) store(input(other));
  return *this;
}

value& value::operator=(const input& v) {
  store(v);
  return *this;
}

const value_cell& value::cell() const {
  switch (slot_.at) {
    case where::cell:
      return *slot_.cell;
    case where::detached:
      return slot_.copy;
    case where::list_item: {
      auto& items = static_cast<list_rep*>(slot_.container)->items;
      return items[sequence_index(slot_.index, items.size(), "list")];
    }
    case where::dict_item: {
      auto* m = static_cast<value_map*>(slot_.container);
      auto it = m->find(value_key(*slot_.key));
      if (it == m->end()) fail(error_code::not_found, "KeyError: " + input_repr(*slot_.key));
      return it.value();
    }
  }
  fail(error_code::invalid_argument, "a value handle in an impossible state");
}

void value::store(const input& v) {
  if (slot_.read_only || slot_.at == where::detached) {
    fail(error_code::wrong_type,
         "this value cannot be assigned: it is a read-only copy, a key, an item of an "
         "immutable tuple or frozenset, or not in an open pool");
  }
  pool_impl& p = *slot_.pool;
  switch (slot_.at) {
    case where::cell:
      atomically(p, [&] { store_cell(p, slot_.cell, build_cell(p, v)); });
      return;
    case where::list_item:
      atomically(p, [&] {
        auto& items = static_cast<list_rep*>(slot_.container)->items;
        const std::uint64_t i = sequence_index(slot_.index, items.size(), "list assignment");
        const value_cell_rep r = build_cell(p, v);
        items.set(i, as_cell(r));
      });
      return;
    case where::dict_item:
      map_store(p, *static_cast<value_map*>(slot_.container), *slot_.key, v);
      return;
    case where::detached:
      break;
  }
}

value_kind value::kind() const {
  return cell().kind();
}

std::string value::type_name() const {
  return kind_name(slot_.pool, cell());
}

bool value::as_bool() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::boolean) wrong_kind(c, slot_.pool, "bool");
  return c.rep().payload != 0;
}

std::int64_t value::as_int() const {
  const value_cell& c = cell();
  if (c.kind() == value_kind::boolean) return c.rep().payload != 0;
  if (c.kind() != value_kind::integer) wrong_kind(c, slot_.pool, "int");
  std::int64_t i = 0;
  std::memcpy(&i, &c.rep().payload, 8);
  return i;
}

double value::as_float() const {
  const value_cell& c = cell();
  if (c.kind() == value_kind::integer || c.kind() == value_kind::boolean) {
    return static_cast<double>(as_int());
  }
  if (c.kind() != value_kind::floating) wrong_kind(c, slot_.pool, "float");
  double d = 0;
  std::memcpy(&d, &c.rep().payload, 8);
  return d;
}

std::string_view value::as_str() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::string) wrong_kind(c, slot_.pool, "str");
  return cell_text(slot_.pool, c);
}

std::string_view value::as_bytes() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::bytes) wrong_kind(c, slot_.pool, "bytes");
  return cell_text(slot_.pool, c);
}

list value::as_list() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::list) wrong_kind(c, slot_.pool, "list");
  return value_access::make_list(
      slot_.pool, static_cast<list_rep*>(typed_payload(slot_.pool, c, descriptor_of<list_rep>())));
}

dict value::as_dict() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::dict) wrong_kind(c, slot_.pool, "dict");
  auto* d = static_cast<dict_rep*>(typed_payload(slot_.pool, c, descriptor_of<dict_rep>()));
  return value_access::make_dict(slot_.pool, &d->items);
}

value_set value::as_set() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::set) wrong_kind(c, slot_.pool, "set");
  return value_access::make_set(
      slot_.pool, static_cast<set_rep*>(typed_payload(slot_.pool, c, descriptor_of<set_rep>())));
}

tuple value::as_tuple() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::tuple) wrong_kind(c, slot_.pool, "tuple");
  return value_access::make_tuple(slot_.pool, c);
}

frozenset value::as_frozenset() const {
  const value_cell& c = cell();
  if (c.kind() != value_kind::frozenset) wrong_kind(c, slot_.pool, "frozenset");
  return value_access::make_frozenset(slot_.pool, c);
}

object value::as_object() const {
  return value_access::as_object(*this, {});
}

value::operator bool() const {
  const value_cell& c = cell();
  switch (c.kind()) {
    case value_kind::none:
      return false;
    case value_kind::boolean:
    case value_kind::integer:
      return c.rep().payload != 0;
    case value_kind::floating:
      return as_float() != 0.0;
    case value_kind::object:
    case value_kind::encoded:
      return true;
    default:
      return size() != 0;
  }
}

std::size_t value::size() const {
  const value_cell& c = cell();
  switch (c.kind()) {
    case value_kind::string:
    case value_kind::bytes:
      return cell_text(slot_.pool, c).size();
    case value_kind::list:
      return as_list().size();
    case value_kind::dict:
      return as_dict().size();
    case value_kind::set:
      return as_set().size();
    case value_kind::tuple:
    case value_kind::frozenset:
      return cell_length(c);
    default:
      fail(error_code::wrong_type,
           "object of type '" + kind_name(slot_.pool, c) + "' has no len()");
  }
}

value value::operator[](const input& key) const {
  const value_cell& c = cell();
  switch (c.kind()) {
    case value_kind::dict:
      return as_dict()[key];
    case value_kind::list:
    case value_kind::tuple:
      if (key.kind() != value_kind::integer && key.kind() != value_kind::boolean) {
        fail(error_code::wrong_type, kind_name(slot_.pool, c) + " indices must be integers");
      }
      if (c.kind() == value_kind::tuple) return as_tuple()[input_int(key)];
      return as_list()[input_int(key)];
    case value_kind::object:
      if (key.kind() != value_kind::string) {
        fail(error_code::wrong_type, "attribute names must be strings");
      }
      return value_access::attribute(as_object(), key);
    default:
      fail(error_code::wrong_type,
           "'" + kind_name(slot_.pool, c) + "' object is not subscriptable");
  }
}

bool value::contains(const input& key) const {
  const value_cell& c = cell();
  switch (c.kind()) {
    case value_kind::dict:
      return as_dict().contains(key);
    case value_kind::set:
      return as_set().contains(key);
    case value_kind::frozenset:
      return as_frozenset().contains(key);
    case value_kind::list:
      return as_list().contains(key);
    case value_kind::tuple:
      return as_tuple().contains(key);
    case value_kind::object:
      if (key.kind() != value_kind::string) return false;
      return as_object().attributes().contains(key);
    case value_kind::string: {
      if (key.kind() != value_kind::string) {
        fail(error_code::wrong_type, "'in <string>' requires a string on the left");
      }
      return as_str().find(input_str(key)) != std::string_view::npos;
    }
    default:
      fail(error_code::wrong_type,
           "argument of type '" + kind_name(slot_.pool, c) + "' is not iterable");
  }
}

bool operator==(const value& a, const input& b) {
  return values_equal(a.slot_.pool, a.cell(), b);
}

std::ostream& operator<<(std::ostream& os, const value& v) {
  return os << v.repr();
}

// --- pool::root --------------------------------------------------------------

value pool::root() {
  pptr<value_cell> r = root<value_cell>();
  return value(*r.get());
}

}  // namespace ferrite
