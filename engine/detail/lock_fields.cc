#include "ferrite/engine/detail/lock_fields.h"

#include <algorithm>

#include "ferrite/base/format/heap_format.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/type_table.h"

namespace ferrite::detail {
namespace {

// A typed heap object seen through the type table: `count` values of
// `type` from pool offset `data`.
struct typed_object {
  std::uint64_t data = 0;
  std::uint64_t count = 0;
  const stored_type* type = nullptr;
};

// The typed object whose slot contains `at` (false for free space,
// metadata, untyped objects, container storage and unknown type ids);
// `next` is where the walk of a range goes on.
bool typed_object_at(const pool_impl& p, std::uint64_t at, typed_object& o, std::uint64_t& next) {
  std::uint64_t data = 0;
  object_header h;
  if (!p.heap->object_containing(at, &data, &h, &next)) return false;
  if (h.type_id < first_stored_type_id) return false;
  const stored_type* t = p.types->find(h.type_id);
  if (!t || t->kind == type_kind::container || t->size == 0) return false;
  // Never past the slot, whatever the header claims.
  const std::uint64_t size = data < next ? std::min(object_size_of(h), next - data) : 0;
  o = {data, size / t->size, t};
  return true;
}

// Appends the field of `t` holding byte `rel` of one of its values to `name`.
void name_field(const type_table& types, const stored_type& t, std::uint64_t rel, int depth,
                std::string& name) {
  if (t.kind != type_kind::structure || depth > 64) return;
  for (const stored_field& f : t.fields) {
    if (rel < f.offset || rel - f.offset >= f.size) continue;
    const stored_type* ft = types.find(f.type);
    if (!ft || ft->size == 0) return;
    const std::uint64_t k = (rel - f.offset) / ft->size;
    name += "." + f.name;
    if (f.count > 1) name += "[" + std::to_string(k) + "]";
    name_field(types, *ft, rel - f.offset - k * ft->size, depth + 1, name);
    return;
  }
}

}  // namespace

bool has_lock_fields(const pool_impl& p) noexcept {
  return p.types && p.types->has_locks();
}

void lock_fields_in(const pool_impl& p, std::uint64_t begin, std::uint64_t end,
                    std::vector<std::pair<std::uint64_t, std::uint64_t>>& out) {
  if (!has_lock_fields(p)) return;
  std::uint64_t at = begin;
  while (at < end) {
    typed_object o;
    std::uint64_t next = 0;
    if (typed_object_at(p, at, o, next) && !o.type->locks.empty() && o.data < end) {
      const std::uint64_t size = o.type->size;
      // Only the values that overlap [begin, end).
      const std::uint64_t first = begin > o.data ? (begin - o.data) / size : 0;
      const std::uint64_t last = std::min(o.count, (end - o.data + size - 1) / size);
      for (std::uint64_t i = first; i < last; ++i) {
        for (std::uint32_t off : o.type->locks) {
          const std::uint64_t b = std::max(begin, o.data + i * size + off);
          const std::uint64_t e = std::min(end, o.data + i * size + off + lock_word_size);
          if (b < e) out.emplace_back(b, e);
        }
      }
    }
    at = std::max(next, at + 1);
  }
}

std::string field_name_at(const pool_impl& p, std::uint64_t offset) {
  typed_object o;
  std::uint64_t next = 0;
  if (!typed_object_at(p, offset, o, next) || offset < o.data) return {};
  const std::uint64_t i = (offset - o.data) / o.type->size;
  if (i >= o.count) return {};
  std::string name = o.type->name;
  if (o.count > 1) name += "[" + std::to_string(i) + "]";
  if (o.type->kind != type_kind::structure) return name;
  const std::size_t bare = name.size();
  name_field(*p.types, *o.type, offset - o.data - i * o.type->size, 0, name);
  return name.size() == bare ? std::string() : name;
}

}  // namespace ferrite::detail
