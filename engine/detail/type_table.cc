#include "ferrite/engine/detail/type_table.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <unordered_set>

#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/txlog/record.h"

namespace ferrite::detail {

namespace {

constexpr scalar_kind last_scalar = scalar_kind::f64;

std::uint64_t table_checksum(const type_table_header& h, const std::byte* image,
                             std::uint64_t seed) {
  type_table_header copy = h;
  copy.checksum = 0;
  std::uint64_t c = checksum64(&copy, sizeof copy, seed);
  c = checksum64(image + type_entries_offset, std::size_t{h.type_count} * sizeof(type_entry), c);
  return checksum64(image + field_entries_offset, std::size_t{h.field_count} * sizeof(field_entry),
                    c);
}

std::uint32_t builtin_size(scalar_kind k) {
  switch (k) {
    case scalar_kind::boolean:
    case scalar_kind::character:
    case scalar_kind::i8:
    case scalar_kind::u8:
      return 1;
    case scalar_kind::i16:
    case scalar_kind::u16:
      return 2;
    case scalar_kind::i32:
    case scalar_kind::u32:
    case scalar_kind::f32:
      return 4;
    default:
      return 8;
  }
}

const std::vector<stored_type>& builtins() {
  static const std::vector<stored_type> all = [] {
    std::vector<stored_type> v;
    for (int k = 1; k <= static_cast<int>(last_scalar); ++k) {
      stored_type t;
      t.id = static_cast<std::uint32_t>(k);
      t.name = scalar_name(static_cast<scalar_kind>(k));
      t.kind = type_kind::scalar;
      t.subkind = static_cast<std::uint8_t>(k);
      t.size = t.align = builtin_size(static_cast<scalar_kind>(k));
      t.version = 1;
      v.push_back(std::move(t));
    }
    return v;
  }();
  return all;
}

std::string bounded_name(const char* field, std::size_t max) {
  return std::string(field, strnlen(field, max));
}

}  // namespace

const char* scalar_name(scalar_kind k) {
  switch (k) {
    case scalar_kind::boolean:
      return "bool";
    case scalar_kind::character:
      return "char";
    case scalar_kind::i8:
      return "i8";
    case scalar_kind::u8:
      return "u8";
    case scalar_kind::i16:
      return "i16";
    case scalar_kind::u16:
      return "u16";
    case scalar_kind::i32:
      return "i32";
    case scalar_kind::u32:
      return "u32";
    case scalar_kind::i64:
      return "i64";
    case scalar_kind::u64:
      return "u64";
    case scalar_kind::f32:
      return "f32";
    case scalar_kind::f64:
      return "f64";
  }
  return "?";
}

const stored_type* builtin_type(std::uint32_t id) noexcept {
  const auto& b = builtins();
  return id >= 1 && id <= b.size() ? &b[id - 1] : nullptr;
}

void layout_mismatch(const std::string& path, const std::string& what) {
  fail(error_code::layout_mismatch,
       "pool '" + path + "': " + what +
           ". The pool was written by a program with another definition of this type; open it "
           "with that program, or register the changed struct under a new name or version");
}

std::vector<stored_type> parse_type_table(const std::byte* image, std::uint64_t seed,
                                          const std::string& path) {
  auto bad = [&](const std::string& what) -> void {
    fail(error_code::corrupted, "pool '" + path + "': the type table is corrupted (" + what +
                                    "); run `ferrite check` on it");
  };
  type_table_header h;
  std::memcpy(&h, image, sizeof h);
  if (h.magic == 0) {
    for (std::size_t i = 0; i < sizeof h; ++i) {
      if (image[i] != std::byte{0}) bad("no magic but a non-zero header");
    }
    return {};
  }
  if (h.magic != type_table_magic) bad("wrong magic");
  if (h.version != type_table_version) {
    fail(error_code::bad_version, "pool '" + path + "': type table version " +
                                      std::to_string(h.version) +
                                      " is not supported (this "
                                      "build reads version " +
                                      std::to_string(type_table_version) + ")");
  }
  if (h.type_count > max_types || h.field_count > max_fields) bad("entry counts out of range");
  if (table_checksum(h, image, seed) != h.checksum) bad("checksum mismatch");

  std::vector<stored_type> out;
  std::unordered_set<std::string> names;
  const std::uint32_t last_id = first_stored_type_id + h.type_count;
  auto valid_ref = [&](std::uint32_t id, bool zero_ok) {
    return (zero_ok && id == 0) || builtin_type(id) != nullptr ||
           (id >= first_stored_type_id && id < last_id);
  };
  for (std::uint32_t i = 0; i < h.type_count; ++i) {
    type_entry e;
    std::memcpy(&e, image + type_entries_offset + i * sizeof e, sizeof e);
    const std::string where = "type " + std::to_string(first_stored_type_id + i);
    if (strnlen(e.name, sizeof e.name) == sizeof e.name || e.name[0] == 0)
      bad(where + ": bad name");
    stored_type t;
    t.id = first_stored_type_id + i;
    t.name = bounded_name(e.name, sizeof e.name);
    if (!names.insert(t.name).second) bad(where + ": duplicate name '" + t.name + "'");
    if (e.kind < static_cast<std::uint8_t>(type_kind::pointer) ||
        e.kind > static_cast<std::uint8_t>(type_kind::lock)) {
      bad(where + ": unknown kind " + std::to_string(e.kind) +
          " (or a kind of a newer ferrite than this build)");
    }
    t.kind = static_cast<type_kind>(e.kind);
    t.subkind = e.subkind;
    if (t.kind == type_kind::container &&
        (e.subkind < static_cast<std::uint8_t>(container_kind::string) ||
         e.subkind > static_cast<std::uint8_t>(container_kind::value))) {
      bad(where + ": unknown container kind");
    }
    if (t.kind == type_kind::lock) {
      if (e.subkind < static_cast<std::uint8_t>(lock_kind::exclusive) ||
          e.subkind > static_cast<std::uint8_t>(lock_kind::shared)) {
        bad(where + ": unknown lock kind");
      }
      if (e.size != lock_word_size || e.align != lock_word_size || e.key != 0 || e.value != 0)
        bad(where + ": a lock is not " + std::to_string(lock_word_size) + " aligned bytes");
    }
    t.size = e.size;
    t.align = e.align;
    t.version = e.version;
    if (e.size == 0 || e.size > (1u << 30) || e.align == 0 || (e.align & (e.align - 1)) != 0) {
      bad(where + ": bad size or alignment");
    }
    if (!valid_ref(e.key, true) || !valid_ref(e.value, true)) bad(where + ": bad key/value type");
    t.key = e.key;
    t.value = e.value;
    if (e.first_field > h.field_count || e.field_count > h.field_count - e.first_field) {
      bad(where + ": fields out of range");
    }
    if (t.kind != type_kind::structure && e.field_count != 0)
      bad(where + ": fields on a non-struct");
    for (std::uint32_t f = 0; f < e.field_count; ++f) {
      field_entry fe;
      std::memcpy(&fe, image + field_entries_offset + (e.first_field + f) * sizeof fe, sizeof fe);
      if (strnlen(fe.name, sizeof fe.name) == sizeof fe.name || fe.name[0] == 0) {
        bad(where + " field " + std::to_string(f) + ": bad name");
      }
      stored_field sf;
      sf.name = bounded_name(fe.name, sizeof fe.name);
      sf.offset = fe.offset;
      sf.size = fe.size;
      sf.count = fe.count;
      sf.type = fe.type;
      if (!valid_ref(fe.type, false) || fe.count == 0 || fe.offset > e.size ||
          fe.size > e.size - fe.offset) {
        bad(where + " field '" + sf.name + "': bad offset, size or type");
      }
      t.fields.push_back(std::move(sf));
    }
    out.push_back(std::move(t));
  }
  // Element sizes need every type parsed: check field size = count * type size.
  auto size_of = [&](std::uint32_t id) {
    return id < first_stored_type_id ? builtin_type(id)->size : out[id - first_stored_type_id].size;
  };
  for (const stored_type& t : out) {
    for (const stored_field& f : t.fields) {
      if (std::uint64_t{f.count} * size_of(f.type) != f.size) {
        bad("type '" + t.name + "' field '" + f.name + "': size does not match its type");
      }
    }
  }
  return out;
}

type_table::type_table(pool_impl& pool)
    : pool_(pool), cache_(new std::atomic<std::uint32_t>[cache_size]) {
  for (std::uint32_t i = 0; i < cache_size; ++i) cache_[i].store(0, std::memory_order_relaxed);
  types_.reserve(max_types);
  const std::byte* image = pool.store->working() + pool.header.type_table_offset;
  types_ = parse_type_table(image, pool_seed(pool.header), pool.path.string());
  types_.reserve(max_types);
  for (const stored_type& t : types_) {
    by_name_.emplace(t.name, t.id);
    field_count_ += static_cast<std::uint32_t>(t.fields.size());
  }
  derive_offsets(types_, 0);
  count_.store(static_cast<std::uint32_t>(types_.size()), std::memory_order_release);
}

void type_table::derive_offsets(std::vector<stored_type>& types, std::size_t from) {
  // `types` holds every stored type by id order; a struct's nested structs
  // may come later, so derive recursively (by-value nesting has no cycles;
  // the depth bound stops a corrupted table that claims one).
  std::vector<int> state(types.size(), 0);  // 0 todo, 1 in progress, 2 done
  std::function<const stored_type*(std::uint32_t, int)> of = [&](std::uint32_t id,
                                                                 int depth) -> const stored_type* {
    if (id < first_stored_type_id || id - first_stored_type_id >= types.size() || depth > 64) {
      return nullptr;
    }
    const std::size_t i = id - first_stored_type_id;
    stored_type& t = types[i];
    if (state[i] == 2) return &t;
    if (state[i] == 1) return nullptr;
    state[i] = 1;
    t.pointers.clear();
    t.locks.clear();
    if (t.kind == type_kind::pointer) t.pointers.push_back(0);
    if (t.kind == type_kind::lock) t.locks.push_back(0);
    for (const stored_field& f : t.fields) {
      const stored_type* ft = of(f.type, depth + 1);
      // Containers keep their elements in storage objects of their own.
      if (!ft || ft->kind == type_kind::container) continue;
      for (std::uint32_t k = 0; k < f.count; ++k) {
        for (std::uint32_t o : ft->pointers) t.pointers.push_back(f.offset + k * ft->size + o);
        for (std::uint32_t o : ft->locks) t.locks.push_back(f.offset + k * ft->size + o);
      }
    }
    std::sort(t.locks.begin(), t.locks.end());
    state[i] = 2;
    return &t;
  };
  for (std::size_t i = 0; i < types.size(); ++i) {
    of(static_cast<std::uint32_t>(first_stored_type_id + i), 0);
    if (i < from || types[i].kind == type_kind::container) continue;
    if (!types[i].pointers.empty()) has_pointers_.store(true, std::memory_order_release);
    if (!types[i].locks.empty()) has_locks_.store(true, std::memory_order_release);
  }
}

const stored_type* type_table::find(std::uint32_t id) const noexcept {
  if (id < first_stored_type_id) return builtin_type(id);
  const std::uint32_t i = id - first_stored_type_id;
  return i < count_.load(std::memory_order_acquire) ? &types_[i] : nullptr;
}

const stored_type* type_table::find(std::string_view name) const {
  for (const stored_type& b : builtins()) {
    if (b.name == name) return &b;
  }
  std::lock_guard lk(mu_);
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &types_[it->second - first_stored_type_id];
}

std::string type_table::name_of(std::uint32_t id) const {
  if (id == 0) return "untyped";
  const stored_type* t = find(id);
  return t ? t->name : "unknown type " + std::to_string(id);
}

std::vector<stored_type> type_table::types() const {
  std::lock_guard lk(mu_);
  return types_;
}

std::string type_table::difference(const type_descriptor& d, const stored_type& s) const {
  const std::string t = "type '" + d.name + "'";
  auto differs = [&](const char* what, std::uint64_t stored, std::uint64_t compiled) {
    return t + ": " + what + " is " + std::to_string(stored) + " in the pool but " +
           std::to_string(compiled) + " in this program";
  };
  auto ref_name = [&](std::uint32_t id) { return id == 0 ? std::string("none") : name_of(id); };
  auto compiled_name = [](type_ref r) { return r ? r().name : std::string("none"); };
  if (static_cast<std::uint8_t>(d.kind) != static_cast<std::uint8_t>(s.kind)) {
    return differs("the kind", static_cast<std::uint8_t>(s.kind),
                   static_cast<std::uint8_t>(d.kind));
  }
  if (d.subkind != s.subkind) return differs("the sub-kind", s.subkind, d.subkind);
  if (d.size != s.size) return differs("the size", s.size, d.size);
  if (d.align != s.align) return differs("the alignment", s.align, d.align);
  if (d.version != s.version) return differs("the version", s.version, d.version);
  if (compiled_name(d.key) != ref_name(s.key)) {
    return t + ": the key type is '" + ref_name(s.key) + "' in the pool but '" +
           compiled_name(d.key) + "' in this program";
  }
  if (compiled_name(d.value) != ref_name(s.value)) {
    return t + ": the element type is '" + ref_name(s.value) + "' in the pool but '" +
           compiled_name(d.value) + "' in this program";
  }
  const std::size_t n = std::max(d.fields.size(), s.fields.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (i >= s.fields.size())
      return t + ": field '" + std::string(d.fields[i].name) + "' is not in the pool";
    if (i >= d.fields.size())
      return t + ": field '" + s.fields[i].name + "' is in the pool but not in this program";
    const field_descriptor& fd = d.fields[i];
    const stored_field& sf = s.fields[i];
    const std::string f = t + " field '" + std::string(fd.name) + "'";
    if (fd.name != sf.name) {
      return t + ": field " + std::to_string(i) + " is '" + sf.name + "' in the pool but '" +
             std::string(fd.name) + "' in this program";
    }
    if (fd.offset != sf.offset) {
      return f + ": offset " + std::to_string(sf.offset) + " in the pool but " +
             std::to_string(fd.offset) + " in this program";
    }
    if (fd.size != sf.size || fd.count != sf.count) {
      return f + ": " + std::to_string(sf.size) + " bytes in the pool but " +
             std::to_string(fd.size) + " in this program";
    }
    if (fd.type().name != name_of(sf.type)) {
      return f + ": type '" + name_of(sf.type) + "' in the pool but '" + fd.type().name +
             "' in this program";
    }
  }
  return {};
}

void type_table::check_registered() const {
  for (const type_descriptor* d : registered_types()) {
    if (d->kind == type_kind::scalar) continue;
    const stored_type* s = find(d->name);
    if (!s) continue;
    std::string diff = difference(*d, *s);
    if (!diff.empty()) layout_mismatch(pool_.path.string(), diff);
  }
}

std::uint32_t type_table::id_of(const type_descriptor& d) {
  if (d.kind == type_kind::scalar) return d.subkind;
  const std::uint32_t index =
      std::atomic_ref<std::uint32_t>(d.index).load(std::memory_order_acquire);
  if (index != 0 && index < cache_size) {
    const std::uint32_t id = cache_[index].load(std::memory_order_acquire);
    if (id != 0) return id;
  }
  std::lock_guard lk(mu_);
  const std::uint32_t id = add_missing(d);
  if (index != 0 && index < cache_size) cache_[index].store(id, std::memory_order_release);
  return id;
}

std::uint32_t type_table::add_missing(const type_descriptor& d) {
  if (auto it = by_name_.find(d.name); it != by_name_.end()) {
    std::string diff = difference(d, types_[it->second - first_stored_type_id]);
    if (!diff.empty()) layout_mismatch(pool_.path.string(), diff);
    return it->second;
  }
  if (pool_.read_only) {
    fail(error_code::read_only, "pool '" + pool_.path.string() +
                                    "' is open read-only and has no "
                                    "type '" +
                                    d.name + "' yet");
  }
  // Every descriptor reachable from d that the table lacks, in order; ids
  // are assigned before entries are written, so cycles (a struct pointing
  // at itself) need no special case.
  std::vector<const type_descriptor*> added;
  std::unordered_map<std::string, std::uint32_t> new_ids;
  std::function<void(const type_descriptor&)> collect = [&](const type_descriptor& t) {
    if (t.kind == type_kind::scalar || by_name_.count(t.name) || new_ids.count(t.name)) return;
    new_ids.emplace(
        t.name, first_stored_type_id + static_cast<std::uint32_t>(types_.size() + added.size()));
    added.push_back(&t);
    for (const field_descriptor& f : t.fields) collect(f.type());
    if (t.key) collect(t.key());
    if (t.value) collect(t.value());
  };
  collect(d);
  // Referenced types that are already stored must match too.
  for (const type_descriptor* t : added) {
    auto check = [&](type_ref r) {
      if (!r) return;
      const type_descriptor& ref = r();
      if (auto it = by_name_.find(ref.name); it != by_name_.end()) {
        std::string diff = difference(ref, types_[it->second - first_stored_type_id]);
        if (!diff.empty()) layout_mismatch(pool_.path.string(), diff);
      }
    };
    for (const field_descriptor& f : t->fields) check(f.type);
    check(t->key);
    check(t->value);
  }
  std::uint32_t new_fields = 0;
  for (const type_descriptor* t : added) new_fields += static_cast<std::uint32_t>(t->fields.size());
  if (types_.size() + added.size() > max_types || field_count_ + new_fields > max_fields) {
    fail(error_code::out_of_space, "pool '" + pool_.path.string() + "': the type table is full (" +
                                       std::to_string(max_types) + " types, " +
                                       std::to_string(max_fields) + " fields); cannot add '" +
                                       d.name + "'");
  }
  auto id_for = [&](type_ref r) -> std::uint32_t {
    if (!r) return 0;
    const type_descriptor& t = r();
    if (t.kind == type_kind::scalar) return t.subkind;
    if (auto it = by_name_.find(t.name); it != by_name_.end()) return it->second;
    return new_ids.at(t.name);
  };
  auto too_long = [&](const std::string& what, std::size_t max) {
    fail(error_code::invalid_argument, what + " is longer than " + std::to_string(max - 1) +
                                           " bytes, the limit of the type table");
  };

  // The new entries and header, built aside and committed as one record.
  const std::uint64_t table = pool_.header.type_table_offset;
  std::byte* image = pool_.store->working() + table;
  std::vector<type_entry> entries;
  std::vector<field_entry> fields;
  std::vector<stored_type> parsed;
  std::uint32_t next_field = field_count_;
  for (const type_descriptor* t : added) {
    if (t->name.empty() || t->name.size() >= type_name_max)
      too_long("type name '" + t->name + "'", type_name_max);
    type_entry e;
    std::memset(&e, 0, sizeof e);
    std::memcpy(e.name, t->name.data(), t->name.size());
    e.kind = static_cast<std::uint8_t>(t->kind);
    e.subkind = t->subkind;
    e.size = t->size;
    e.align = t->align;
    e.version = t->version;
    e.first_field = next_field;
    e.field_count = static_cast<std::uint32_t>(t->fields.size());
    e.key = id_for(t->key);
    e.value = id_for(t->value);
    stored_type s{new_ids.at(t->name), t->name, t->kind, t->subkind, t->size, t->align,
                  t->version,          {},      e.key,   e.value};
    for (const field_descriptor& f : t->fields) {
      if (f.name.size() >= field_name_max)
        too_long("field name '" + std::string(f.name) + "'", field_name_max);
      field_entry fe;
      std::memset(&fe, 0, sizeof fe);
      std::memcpy(fe.name, f.name.data(), f.name.size());
      fe.offset = f.offset;
      fe.size = f.size;
      fe.count = f.count;
      fe.type = id_for(f.type);
      fields.push_back(fe);
      s.fields.push_back({std::string(f.name), f.offset, f.size, f.count, fe.type});
    }
    next_field += e.field_count;
    entries.push_back(e);
    parsed.push_back(std::move(s));
  }
  // Compose the new image in a copy, so that a failed commit leaves the
  // working view as it was.
  std::vector<std::byte> copy(image, image + type_table_bytes);
  const std::size_t first_type = types_.size();
  std::memcpy(copy.data() + type_entries_offset + first_type * sizeof(type_entry), entries.data(),
              entries.size() * sizeof(type_entry));
  if (!fields.empty()) {
    std::memcpy(copy.data() + field_entries_offset + field_count_ * sizeof(field_entry),
                fields.data(), fields.size() * sizeof(field_entry));
  }
  type_table_header h;
  std::memset(&h, 0, sizeof h);
  h.magic = type_table_magic;
  h.version = type_table_version;
  h.type_count = static_cast<std::uint32_t>(first_type + entries.size());
  h.field_count = next_field;
  h.checksum = table_checksum(h, copy.data(), pool_seed(pool_.header));
  std::memcpy(copy.data(), &h, sizeof h);

  record_builder rb;
  rb.add_range(table, copy.data(), sizeof h);
  rb.add_range(table + type_entries_offset + first_type * sizeof(type_entry),
               copy.data() + type_entries_offset + first_type * sizeof(type_entry),
               entries.size() * sizeof(type_entry));
  if (!fields.empty()) {
    rb.add_range(table + field_entries_offset + field_count_ * sizeof(field_entry),
                 copy.data() + field_entries_offset + field_count_ * sizeof(field_entry),
                 fields.size() * sizeof(field_entry));
  }
  // Derive before publishing: published entries never change.
  std::vector<stored_type> all = types_;
  const std::size_t first_new = all.size();
  all.insert(all.end(), parsed.begin(), parsed.end());
  derive_offsets(all, first_new);
  pool_.log->commit(rb);
  std::memcpy(image, copy.data(), type_table_bytes);
  for (std::size_t i = first_new; i < all.size(); ++i) {
    by_name_.emplace(all[i].name, all[i].id);
    types_.push_back(std::move(all[i]));
  }
  field_count_ = next_field;
  count_.store(static_cast<std::uint32_t>(types_.size()), std::memory_order_release);
  return by_name_.at(d.name);
}

void type_table::adopt(const type_table& source) {
  std::lock_guard lk(mu_);
  if (pool_.read_only) {
    fail(error_code::read_only, "pool '" + pool_.path.string() + "' is open read-only");
  }
  if (!types_.empty()) {
    fail(error_code::invalid_argument, "pool '" + pool_.path.string() +
                                           "' already has types: only an empty type table "
                                           "can take another pool's");
  }
  std::lock_guard source_lk(source.mu_);
  if (source.types_.empty()) return;
  // The source's image holds exactly its parsed types (it changes only
  // with them, under its mu_): entries and fields are copied as they are,
  // the header gets this pool's checksum seed.
  const std::uint64_t table = pool_.header.type_table_offset;
  const std::byte* from = source.pool_.store->working() + source.pool_.header.type_table_offset;
  std::vector<std::byte> copy(type_table_bytes, std::byte{0});
  type_table_header h;
  std::memcpy(&h, from, sizeof h);
  const std::size_t types_bytes = std::size_t{h.type_count} * sizeof(type_entry);
  const std::size_t fields_bytes = std::size_t{h.field_count} * sizeof(field_entry);
  std::memcpy(copy.data() + type_entries_offset, from + type_entries_offset, types_bytes);
  std::memcpy(copy.data() + field_entries_offset, from + field_entries_offset, fields_bytes);
  h.checksum = table_checksum(h, copy.data(), pool_seed(pool_.header));
  std::memcpy(copy.data(), &h, sizeof h);
  std::vector<stored_type> parsed =
      parse_type_table(copy.data(), pool_seed(pool_.header), pool_.path.string());
  derive_offsets(parsed, 0);

  record_builder rb;
  rb.add_range(table, copy.data(), sizeof h);
  rb.add_range(table + type_entries_offset, copy.data() + type_entries_offset, types_bytes);
  if (fields_bytes) {
    rb.add_range(table + field_entries_offset, copy.data() + field_entries_offset, fields_bytes);
  }
  pool_.log->commit(rb);
  std::memcpy(pool_.store->working() + table, copy.data(), type_table_bytes);
  for (stored_type& t : parsed) {
    by_name_.emplace(t.name, t.id);
    field_count_ += static_cast<std::uint32_t>(t.fields.size());
    types_.push_back(std::move(t));
  }
  count_.store(static_cast<std::uint32_t>(types_.size()), std::memory_order_release);
}

}  // namespace ferrite::detail
