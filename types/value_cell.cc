// Cells and inputs of the value model: descriptors, the class registry,
// reading a cell's text and payload, and building inputs.
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "ferrite/base/error.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pool_registry.h"
#include "ferrite/types/detail/value_internal.h"
#include "ferrite/types/detail/value_text.h"

namespace ferrite {
namespace detail {

const type_descriptor& describe<value_cell>::get() {
  static const type_descriptor d = [] {
    type_descriptor r;
    r.name = value_type_name;
    r.kind = type_kind::container;
    r.subkind = static_cast<std::uint8_t>(container_kind::value);
    r.size = sizeof(value_cell);
    r.align = alignof(value_cell);
    // A cell is a reference: freeing the struct or container holding it
    // drops it (docs/gc.md).
    r.release = [](pool_impl& p, void* obj) { drop_cell(p, *static_cast<value_cell*>(obj)); };
    return r;
  }();
  return d;
}

namespace {

struct class_registry {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<type_descriptor>, std::less<>> classes;
};

class_registry& classes() {
  static class_registry* r = new class_registry;  // lives for the process (descriptors must)
  return *r;
}

}  // namespace

const type_descriptor* class_descriptor(std::string_view name) {
  class_registry& r = classes();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.classes.find(name);
  return it == r.classes.end() ? nullptr : it->second.get();
}

pool_impl* pool_or_null(const void* obj) noexcept {
  return pool_of(obj);
}

std::uint64_t cell_length(const value_cell& c) noexcept {
  return value_length(c.rep());
}

bool split_encoded(std::string_view all, std::string_view* codec, std::string_view* data) {
  const std::size_t n = all.empty() ? 0 : static_cast<std::uint8_t>(all[0]);
  if (all.empty() || all.size() < 1 + n) return false;
  *codec = all.substr(1, n);
  *data = all.substr(1 + n);
  return true;
}

std::uint64_t payload_bytes(const value_cell_rep& r) noexcept {
  const std::uint64_t n = value_length(r);  // < 2^48: no overflow below
  switch (static_cast<value_kind>(r.kind)) {
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded:
      return value_payload_header + n;
    case value_kind::tuple:
    case value_kind::frozenset:
      return value_payload_header + n * sizeof(value_cell);
    case value_kind::list:
      return sizeof(list_rep);
    case value_kind::dict:
      return sizeof(dict_rep);
    case value_kind::set:
      return sizeof(set_rep);
    case value_kind::object:
      return sizeof(object_rep);
    default:
      return value_payload_header;
  }
}

void* payload_of(pool_impl* p, const value_cell_rep& r) {
  if (p) check_pointer(*p, r.payload, "a value");
  return pptr_resolve(r.payload, payload_bytes(r), alignof(std::uint64_t));
}

void* cell_target(pool_impl* p, const value_cell& c) {
  return payload_of(p, c.rep());
}

std::string_view cell_text(pool_impl* p, const value_cell& c) {
  const value_cell_rep& r = c.rep();
  if (r.inline_size != 0) {
    const std::size_t n = std::min<std::size_t>(r.inline_size - 1, value_inline_max);
    return {reinterpret_cast<const char*>(&r) + 2, n};
  }
  const std::uint64_t n = cell_length(c);
  if (n == 0) return {};
  return {static_cast<const char*>(cell_target(p, c)) + value_payload_header, n};
}

const value_cell* cell_items(pool_impl* p, const value_cell& c) {
  if (cell_length(c) == 0) return nullptr;
  return reinterpret_cast<const value_cell*>(static_cast<const std::byte*>(cell_target(p, c)) +
                                             value_payload_header);
}

std::string kind_name(pool_impl* p, const value_cell& c) {
  switch (c.kind()) {
    case value_kind::object: {
      if (!p) return "object";
      return stored_type_name(*p, cell_target(p, c));
    }
    case value_kind::encoded: {
      std::string_view codec, data;
      if (!split_encoded(cell_text(p, c), &codec, &data)) return "encoded";
      return std::string(codec);
    }
    default:
      if (static_cast<std::uint8_t>(c.kind()) >= value_kind_count) {
        return "unknown kind " + std::to_string(static_cast<int>(c.kind()));
      }
      return python_kind_name(c.kind());
  }
}

void wrong_kind(const value_cell& c, pool_impl* p, const char* wanted) {
  fail(error_code::wrong_type,
       std::string("the value is a '") + kind_name(p, c) + "', not a '" + wanted + "'");
}

input make_container(value_kind kind, std::vector<input> items) {
  auto n = std::make_shared<input_node>();
  n->kind = kind;
  n->items = std::move(items);
  return input_access::make(std::move(n));
}

input make_object(std::string_view class_name, input_pairs attributes) {
  if (!class_descriptor(class_name)) {
    fail(error_code::invalid_argument,
         "class '" + std::string(class_name) +
             "' is not registered: declare it with FERRITE_CLASS or call "
             "ferrite::register_class first");
  }
  auto n = std::make_shared<input_node>();
  n->kind = value_kind::object;
  n->name = class_name;
  for (const auto& [k, v] : attributes) {
    if (k.kind() != value_kind::string) {
      fail(error_code::wrong_type, "attribute names must be strings");
    }
    n->items.push_back(k);
    n->items.push_back(v);
  }
  return input_access::make(std::move(n));
}

}  // namespace detail

// --- input ---------------------------------------------------------------------

namespace {
std::shared_ptr<detail::input_node> new_node(value_kind k) {
  auto n = std::make_shared<detail::input_node>();
  n->kind = k;
  return n;
}
}  // namespace

input::input() noexcept : input(none) {}
input::input(none_t) noexcept {
  static const std::shared_ptr<const detail::input_node> none_node = new_node(value_kind::none);
  node_ = none_node;
}
input::input(bool b) noexcept {
  static const std::shared_ptr<const detail::input_node> f = [] {
    auto n = new_node(value_kind::boolean);
    return n;
  }();
  static const std::shared_ptr<const detail::input_node> t = [] {
    auto n = new_node(value_kind::boolean);
    n->boolean = true;
    return n;
  }();
  node_ = b ? t : f;
}
input::input(integer_tag, std::int64_t i) {
  auto n = new_node(value_kind::integer);
  n->integer = i;
  node_ = std::move(n);
}
void input::check_unsigned(std::uint64_t u) {
  if (u > static_cast<std::uint64_t>(INT64_MAX)) {
    fail(error_code::invalid_argument,
         "the integer " + std::to_string(u) + " does not fit a value's int (i64)");
  }
}
input::input(double d) noexcept {
  auto n = new_node(value_kind::floating);
  n->floating = d;
  node_ = std::move(n);
}
input::input(const char* text) : input(std::string_view(text)) {}
input::input(const std::string& text) : input(std::string_view(text)) {}
input::input(std::string_view text) {
  auto n = new_node(value_kind::string);
  n->text = text;
  node_ = std::move(n);
}
input::input(const value& v) {
  auto n = new_node(v.kind());
  n->shared = true;
  std::memcpy(static_cast<void*>(&n->cell), &v.cell(), sizeof(value_cell));
  n->pool = v.pool();
  node_ = std::move(n);
}

value_kind input::kind() const noexcept {
  return node_->kind;
}

input dict_of(input_pairs items) {
  std::vector<input> flat;
  flat.reserve(items.size() * 2);
  for (const auto& [k, v] : items) {
    flat.push_back(k);
    flat.push_back(v);
  }
  return detail::make_container(value_kind::dict, std::move(flat));
}
input list_from(std::vector<input> items) {
  return detail::make_container(value_kind::list, std::move(items));
}
input tuple_from(std::vector<input> items) {
  return detail::make_container(value_kind::tuple, std::move(items));
}
input bytes_of(std::string_view raw) {
  auto n = new_node(value_kind::bytes);
  n->text = raw;
  return detail::input_access::make(std::move(n));
}
input object_of(std::string_view class_name, input_pairs attributes) {
  return detail::make_object(class_name, attributes);
}
input encoded(std::string_view codec_name, std::string_view bytes) {
  if (codec_name.empty() || codec_name.size() > 255) {
    fail(error_code::invalid_argument, "a codec name must have 1 to 255 bytes");
  }
  auto n = new_node(value_kind::encoded);
  n->name = codec_name;
  n->text = bytes;
  return detail::input_access::make(std::move(n));
}

void register_class(std::string_view class_name) {
  if (class_name.empty() || class_name.size() >= detail::type_name_max ||
      class_name.starts_with("ferrite.")) {
    fail(error_code::invalid_argument, "bad class name '" + std::string(class_name) +
                                           "': it must have 1 to " +
                                           std::to_string(detail::type_name_max - 1) +
                                           " bytes and must not start with 'ferrite.'");
  }
  detail::class_registry& r = detail::classes();
  std::lock_guard<std::mutex> lock(r.mu);
  if (r.classes.count(class_name)) return;
  auto d = std::make_unique<type_descriptor>(detail::make_struct<detail::object_rep>(
      std::string(class_name).c_str(),
      {detail::make_field<std::uint64_t>("refs", offsetof(detail::object_rep, refs)),
       detail::make_field<detail::value_map>("attributes",
                                             offsetof(detail::object_rep, attributes))}));
  detail::register_type(*d);
  r.classes.emplace(std::string(class_name), std::move(d));
}

}  // namespace ferrite
