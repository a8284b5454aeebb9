// list, dict, set, tuple, frozenset and object handles.
#include <algorithm>
#include <cstring>

#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite {

using namespace detail;

namespace {
// Index of the first of items[0, n) equal to v, or n.
std::size_t first_equal(pool_impl* p, const value_cell* items, std::size_t n, const input& v) {
  for (std::size_t i = 0; i < n; ++i) {
    if (values_equal(p, items[i], v)) return i;
  }
  return n;
}

pool_impl& writable(pool_impl* p) {
  if (!p) fail(error_code::invalid_argument, "this container is not in an open pool");
  return *p;
}
}  // namespace

// --- value_access ----------------------------------------------------------------

list value_access::make_list(pool_impl* p, list_rep* l) {
  list r;
  r.rep_ = l;
  r.pool_ = p;
  return r;
}
dict value_access::make_dict(pool_impl* p, value_map* m) {
  dict r;
  r.map_ = m;
  r.pool_ = p;
  return r;
}
value_set value_access::make_set(pool_impl* p, set_rep* s) {
  value_set r;
  r.rep_ = s;
  r.pool_ = p;
  return r;
}
tuple value_access::make_tuple(pool_impl* p, const value_cell& c) {
  tuple t;
  t.size_ = cell_length(c);
  t.items_ = cell_items(p, c);
  t.pool_ = p;
  return t;
}
frozenset value_access::make_frozenset(pool_impl* p, const value_cell& c) {
  frozenset f;
  f.items_ = make_tuple(p, c);
  return f;
}
value value_access::attribute(const object& o, const input& name) {
  return dict_item(o.pool_, &o.rep_->attributes, name);
}

object value_access::as_object(const value& v, std::string_view class_name) {
  const value_cell& c = v.cell();
  pool_impl* p = v.pool();
  if (c.kind() != value_kind::object)
    wrong_kind(c, p, class_name.empty() ? "object" : std::string(class_name).c_str());
  if (!p) fail(error_code::invalid_argument, "this value is not in an open pool");
  void* target = cell_target(p, c);
  const std::optional<stored_type_summary> t =
      target ? summary_of_stored_type(*p, target) : std::nullopt;
  if (!t || t->kind != type_kind::structure || t->size != sizeof(object_rep) ||
      t->fields.size() != 2 || t->fields[0] != "refs" || t->fields[1] != "attributes") {
    fail(error_code::corrupted,
         "pool '" + pool_path(*p) + "': an object value does not point at an object");
  }
  if (!class_name.empty() && t->name != class_name) {
    fail(error_code::wrong_type,
         "the object is a '" + t->name + "', not a '" + std::string(class_name) + "'");
  }
  object o;
  o.rep_ = static_cast<object_rep*>(target);
  o.pool_ = p;
  return o;
}

std::string_view value_access::encoded_bytes(const value& v, std::string_view codec_name) {
  const value_cell& c = v.cell();
  if (c.kind() != value_kind::encoded) wrong_kind(c, v.pool(), std::string(codec_name).c_str());
  std::string_view codec, data;
  if (!split_encoded(cell_text(v.pool(), c), &codec, &data)) {
    fail(error_code::corrupted, "an encoded value is shorter than its codec name");
  }
  if (codec != codec_name) {
    fail(error_code::wrong_type, "the value was encoded by codec '" + std::string(codec) +
                                     "', not '" + std::string(codec_name) + "'");
  }
  return data;
}

// --- list -------------------------------------------------------------------------

std::size_t list::size() const noexcept {
  return rep_->items.size();
}

value list::operator[](std::int64_t i) const {
  return list_item(pool_, rep_, i);
}

void list::append(const input& v) {
  pool_impl& p = writable(pool_);
  atomically(p, [&] { rep_->items.push_back(as_cell(build_cell(p, v))); });
}

void list::insert(std::int64_t i, const input& v) {
  pool_impl& p = writable(pool_);
  atomically(p, [&] {
    const auto n = static_cast<std::int64_t>(rep_->items.size());
    std::int64_t at = i < 0 ? i + n : i;
    at = std::clamp<std::int64_t>(at, 0, n);
    rep_->items.insert(static_cast<std::size_t>(at), as_cell(build_cell(p, v)));
  });
}

void list::extend(const std::vector<input>& items) {
  pool_impl& p = writable(pool_);
  atomically(p, [&] {
    rep_->items.reserve(rep_->items.size() + items.size());
    for (const input& v : items) rep_->items.push_back(as_cell(build_cell(p, v)));
  });
}

value list::pop(std::int64_t i) {
  pool_impl& p = writable(pool_);
  if (rep_->items.empty()) fail(error_code::out_of_range, "pop from empty list");
  return atomically(p, [&] {
    const std::uint64_t at = sequence_index(i, rep_->items.size(), "pop");
    value out = detached(pool_, rep_->items[at]);
    rep_->items.erase(at);
    return out;
  });
}

std::size_t list::index(const input& v) const {
  const std::size_t i = first_equal(pool_, rep_->items.data(), size(), v);
  if (i < size()) return i;
  fail(error_code::not_found, "ValueError: " + input_repr(v) + " is not in list");
}

void list::remove(const input& v) {
  pool_impl& p = writable(pool_);
  atomically(p, [&] { rep_->items.erase(index(v)); });
}

std::size_t list::count(const input& v) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < size(); ++i) n += values_equal(pool_, rep_->items[i], v) ? 1 : 0;
  return n;
}

bool list::contains(const input& v) const {
  return first_equal(pool_, rep_->items.data(), size(), v) < size();
}

void list::clear() {
  pool_impl& p = writable(pool_);
  atomically(p, [&] { rep_->items.clear(); });
}

list::iterator list::begin() const {
  iterator it;
  it.rep_ = rep_;
  it.pool_ = pool_;
  return it;
}
list::iterator list::end() const {
  iterator it = begin();
  it.i_ = static_cast<std::int64_t>(size());
  return it;
}
value list::iterator::operator*() const {
  return list_item(pool_, rep_, i_);
}

// --- dict -------------------------------------------------------------------------

std::size_t dict::size() const noexcept {
  return map_->size();
}

value dict::operator[](const input& key) const {
  return dict_item(pool_, map_, key);
}

bool dict::contains(const input& key) const {
  return map_->contains(value_key(key));
}

std::optional<value> dict::get(const input& key) const {
  auto it = map_->find(value_key(key));
  if (it == map_->end()) return std::nullopt;
  return cell_handle(pool_, &it.value(), false);
}

void dict::set(const input& key, const input& v) {
  map_store(writable(pool_), *map_, key, v);
}

bool dict::erase(const input& key) {
  pool_impl& p = writable(pool_);
  return atomically(p, [&] { return map_->erase(value_key(key)) == 1; });
}

value dict::pop(const input& key) {
  pool_impl& p = writable(pool_);
  return atomically(p, [&] {
    auto it = map_->find(value_key(key));
    if (it == map_->end()) fail(error_code::not_found, "KeyError: " + input_repr(key));
    value out = detached(pool_, it.value());
    map_->erase(it);
    return out;
  });
}

value dict::setdefault(const input& key, const input& fallback) {
  pool_impl& p = writable(pool_);
  atomically(p, [&] {
    if (!map_->contains(value_key(key))) map_store(p, *map_, key, fallback);
  });
  return (*this)[key];
}

void dict::clear() {
  map_->clear();
}

dict::iterator dict::begin() const {
  iterator it;
  it.it_ = map_->begin();
  return it;
}
dict::iterator dict::end() const {
  return {};
}
dict::entry dict::iterator::operator*() const {
  const value_cell& k = it_.key();
  return {cell_handle(pool_or_null(&k), &k, true), value(it_.value())};
}

std::vector<value> dict::keys() const {
  std::vector<value> out;
  for (auto it = map_->begin(); it != map_->end(); ++it)
    out.push_back(cell_handle(pool_, &it.key(), true));
  return out;
}

// --- set --------------------------------------------------------------------------

std::size_t value_set::size() const noexcept {
  return rep_->items.size();
}
bool value_set::contains(const input& v) const {
  return rep_->items.contains(value_key(v));
}
bool value_set::add(const input& v) {
  return set_add(writable(pool_), rep_->items, v);
}
bool value_set::discard(const input& v) {
  pool_impl& p = writable(pool_);
  return atomically(p, [&] { return rep_->items.erase(value_key(v)) == 1; });
}
void value_set::remove(const input& v) {
  if (!discard(v)) fail(error_code::not_found, "KeyError: " + input_repr(v));
}
void value_set::clear() {
  rep_->items.clear();
}
value_set::iterator value_set::begin() const {
  iterator it;
  it.it_ = rep_->items.begin();
  return it;
}
value_set::iterator value_set::end() const {
  return {};
}
value value_set::iterator::operator*() const {
  const value_cell& k = it_.key();
  return cell_handle(pool_or_null(&k), &k, true);
}

// --- tuple, frozenset -------------------------------------------------------------

value tuple::operator[](std::int64_t i) const {
  return cell_handle(pool_, &items_[sequence_index(i, size_, "tuple")], true);
}

bool tuple::contains(const input& v) const {
  return first_equal(pool_, items_, size_, v) < size_;
}

tuple::iterator tuple::begin() const {
  iterator it;
  it.at_ = items_;
  it.pool_ = pool_;
  return it;
}
tuple::iterator tuple::end() const {
  iterator it = begin();
  it.at_ = items_ + size_;
  return it;
}
value tuple::iterator::operator*() const {
  return cell_handle(pool_, at_, true);
}

bool frozenset::contains(const input& v) const {
  const std::uint64_t h = value_hash(value_key(v));
  const value_cell* first = items_.items_;
  const value_cell* last = first + items_.size_;
  // Members are sorted by hash: binary search, then the run of equal hashes.
  const value_cell* at = std::partition_point(
      first, last, [&](const value_cell& c) { return value_hash(value_key(c)) < h; });
  for (; at != last && value_hash(value_key(*at)) == h; ++at) {
    if (value_equal(*at, value_key(v))) return true;
  }
  return false;
}
tuple::iterator frozenset::begin() const {
  return items_.begin();
}
tuple::iterator frozenset::end() const {
  return items_.end();
}

// --- object -----------------------------------------------------------------------

std::string object::class_name() const {
  return stored_type_name(*pool_, rep_);
}

value object::operator[](std::string_view name) const {
  return dict_item(pool_, &rep_->attributes, input(name));
}

bool object::has_attr(std::string_view name) const {
  return rep_->attributes.contains(value_key(input(name)));
}

bool object::del_attr(std::string_view name) {
  return value_access::make_dict(pool_, &rep_->attributes).erase(input(name));
}

dict object::attributes() const {
  return value_access::make_dict(pool_, &rep_->attributes);
}

void object::transaction(const std::function<void()>& fn) const {
  detail::pool_transaction tx(writable(pool_));
  fn();
  tx.commit();
}

}  // namespace ferrite
