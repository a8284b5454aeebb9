// Typed objects: the root, make/destroy, type ids, pointer checks.
#include "ferrite/engine/object_ops.h"

#include <cstring>
#include <mutex>

#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/pool_registry.h"

namespace ferrite {
namespace detail {

pool_impl& pool_holding(const void* obj) {
  pool_impl* p = pool_of(obj);
  if (!p) {
    fail(error_code::invalid_argument,
         "this persistent object is not inside an open pool (a copy in volatile memory, or "
         "its pool was closed); containers and objects must be used in place");
  }
  return *p;
}

std::uint32_t type_id_of(pool_impl& p, const type_descriptor& d) {
  if (std::atomic_ref<std::uint32_t>(d.index).load(std::memory_order_acquire) == 0) {
    register_type(d);
  }
  return p.types->id_of(d);
}

std::uint64_t pointer_bits(pool_impl& p, const void* obj) {
  const auto a = reinterpret_cast<std::uintptr_t>(obj);
  const auto b = reinterpret_cast<std::uintptr_t>(p.store->working());
  if (a < b || a - b >= p.store->size()) {
    fail(error_code::invalid_argument, "address is not inside pool '" + p.path.string() + "'");
  }
  if (!owns_tag(p.header.pool_tag, p.generation)) {
    fail(error_code::invalid_argument,
         "pool '" + p.path.string() +
             "' is open twice in this process (or shares its tag with "
             "another open pool); persistent pointers resolve to the first handle only");
  }
  return std::uint64_t{p.header.pool_tag} << 48 | (a - b);
}

void check_pointer(pool_impl& p, std::uint64_t raw, const char* what) {
  if (raw == 0 || (raw >> 48) == p.header.pool_tag) return;
  fail(error_code::invalid_argument,
       std::string(what) + " points into another pool (tag " + std::to_string(raw >> 48) +
           ") than pool '" + p.path.string() + "' (tag " + std::to_string(p.header.pool_tag) +
           "), where it is stored; a pool may only point into itself");
}

void* resolve(pool_impl& p, std::uint64_t raw) {
  if (raw == 0) return nullptr;
  check_pointer(p, raw, "a persistent pointer");
  const std::uint64_t off = raw & ((1ull << 48) - 1);
  if (off >= p.store->size()) {
    fail(error_code::corrupted, "pool '" + p.path.string() + "': a pointer's offset " +
                                    std::to_string(off) + " lies beyond the pool");
  }
  return p.store->working() + off;
}

namespace {

void check_fields(pool_impl& p, const type_descriptor& d, const std::byte* obj,
                  const std::string& path) {
  if (d.kind == type_kind::pointer) {
    std::uint64_t raw;
    std::memcpy(&raw, obj, sizeof raw);
    check_pointer(p, raw, path.c_str());
    return;
  }
  if (d.kind != type_kind::structure) return;
  for (const field_descriptor& f : d.fields) {
    const type_descriptor& t = f.type();
    if (t.kind != type_kind::pointer && t.kind != type_kind::structure) continue;
    for (std::uint32_t i = 0; i < f.count; ++i) {
      check_fields(
          p, t, obj + f.offset + i * t.size,
          path + "." + std::string(f.name) + (f.count > 1 ? "[" + std::to_string(i) + "]" : ""));
    }
  }
}

}  // namespace

void check_pointers(pool_impl& p, const type_descriptor& d, const void* obj) {
  check_fields(p, d, static_cast<const std::byte*>(obj), "'" + d.name + "'");
}

bool in_transaction_on(pool_impl& p) noexcept {
  return running_tx(p) != nullptr;
}

namespace {
constexpr std::uint64_t offset_mask = (std::uint64_t{1} << 48) - 1;
}  // namespace

void pin_cell(pool_impl& p, const void* cell16, const void* payload) {
  const std::uint64_t off = pointer_bits(p, payload) & offset_mask;
  std::lock_guard lock(p.pins_mu);
  pool_impl::pin& pin = p.pins[off];
  if (pin.count++ == 0) std::memcpy(pin.cell.cell, cell16, sizeof pin.cell.cell);
}

bool unpin_cell(pool_impl& p, const void* payload) {
  const std::uint64_t off = pointer_bits(p, payload) & offset_mask;
  std::lock_guard lock(p.pins_mu);
  auto it = p.pins.find(off);
  if (it == p.pins.end()) return false;
  if (--it->second.count != 0) return false;
  p.pins.erase(it);
  return true;
}

bool is_pinned(pool_impl& p, std::uint64_t raw_or_offset) noexcept {
  std::lock_guard lock(p.pins_mu);
  return !p.pins.empty() && p.pins.count(raw_or_offset & offset_mask) != 0;
}

std::vector<pinned_cell> pinned_cells(pool_impl& p) {
  std::lock_guard lock(p.pins_mu);
  std::vector<pinned_cell> out;
  out.reserve(p.pins.size());
  for (const auto& [off, pin] : p.pins) out.push_back(pin.cell);
  return out;
}

bool is_allocated(pool_impl& p, const void* obj) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(obj);
  const auto b = reinterpret_cast<std::uintptr_t>(p.store->working());
  if (a < b || a - b >= p.store->size()) return false;
  std::uint64_t data = 0, next = 0;
  object_header h;
  return p.heap->object_containing(a - b, &data, &h, &next) && data == a - b;
}

std::string pool_path(const pool_impl& p) {
  return p.path.string();
}

std::string stored_type_name(pool_impl& p, const void* obj) {
  return p.types->name_of(stored_type_of(p, obj));
}

std::optional<stored_type_summary> summary_of_stored_type(pool_impl& p, const void* obj) {
  const stored_type* t = p.types->find(stored_type_of(p, obj));
  if (!t) return std::nullopt;
  stored_type_summary s{t->name, t->kind, t->size, {}};
  for (const stored_field& f : t->fields) s.fields.push_back(f.name);
  return s;
}

std::uint64_t max_record_bytes(pool_impl& p) noexcept {
  return p.log->max_record_length();
}

void* tx_allocate(pool_impl& p, std::size_t size, std::uint32_t type_id, std::size_t align) {
  tx_context* tx = running_tx(p);
  if (!tx) fail(error_code::tx_invalid, "allocation needs a running transaction on this pool");
  return p.store->working() + p.heap->allocate(*tx, size, type_id, align);
}

void tx_free(pool_impl& p, void* obj) {
  tx_context* tx = running_tx(p);
  if (!tx) fail(error_code::tx_invalid, "freeing needs a running transaction on this pool");
  p.heap->free(*tx, static_cast<std::uint64_t>(static_cast<std::byte*>(obj) - p.store->working()));
}

std::uint32_t stored_type_of(pool_impl& p, const void* obj) {
  return p.heap
      ->header_of(
          static_cast<std::uint64_t>(static_cast<const std::byte*>(obj) - p.store->working()))
      .type_id;
}

bool in_new_extent(pool_impl& p, const void* ptr) noexcept {
  const tx_context* tx = running_tx(p);
  if (!tx) return false;
  return tx->in_direct(
      static_cast<std::uint64_t>(static_cast<const std::byte*>(ptr) - p.store->working()));
}

namespace {
// The root as the running transaction sees it.
std::pair<std::uint64_t, std::uint64_t> current_root(pool_impl& p) {
  if (tx_context* tx = running_tx(p); tx && tx->root_changed) {
    return {tx->new_root_offset, tx->new_root_type};
  }
  return p.log->live_root();
}
}  // namespace

}  // namespace detail

using namespace detail;

std::uint32_t pool::type_id(const type_descriptor& d) {
  return type_id_of(impl(), d);
}

std::string pool::type_name(std::uint32_t id) const {
  return impl().types->name_of(id);
}

bool pool::has_root() const {
  return current_root(impl()).first != 0;
}

std::string pool::root_type_name() const {
  auto [off, type] = current_root(impl());
  return off == 0 ? std::string() : impl().types->name_of(static_cast<std::uint32_t>(type));
}

void* pool::root_object(const type_descriptor& d, void (*init)(void*)) {
  pool_impl& p = impl();
  auto existing = [&](std::uint64_t off, std::uint64_t type) -> void* {
    const stored_type* t = p.types->find(static_cast<std::uint32_t>(type));
    const std::string stored = t ? t->name : p.types->name_of(static_cast<std::uint32_t>(type));
    if (stored != d.name) {
      layout_mismatch(p.path.string(),
                      "the root object is a '" + stored + "', not a '" + d.name + "'");
    }
    if (off < p.header.heap_offset || off >= p.header.heap_offset + p.state.heap_size) {
      fail(error_code::corrupted, "pool '" + p.path.string() + "': the root offset " +
                                      std::to_string(off) + " lies outside the heap");
    }
    return p.store->working() + off;
  };
  if (auto [off, type] = current_root(p); off != 0) return existing(off, type);
  if (p.read_only) {
    fail(error_code::read_only, "pool '" + p.path.string() +
                                    "' has no root object yet and is "
                                    "open read-only, so it cannot create one");
  }
  // Created once however many threads ask: under root_mu, held to the
  // commit. The transaction (and with it the transaction gate) comes
  // first, as in set_root_object, which takes root_mu inside one: the
  // other order could deadlock with it behind a waiting collection.
  pool_transaction tx(p);
  std::lock_guard lk(p.root_mu);
  void* obj = nullptr;
  if (auto [off, type] = current_root(p); off != 0) {
    obj = existing(off, type);  // another thread made it meanwhile
  } else {
    const std::uint32_t id = type_id_of(p, d);
    obj = tx_allocate(p, d.size, id, d.align);
    init(obj);
    tx_set_root(*running_tx(p),
                static_cast<std::uint64_t>(static_cast<std::byte*>(obj) - p.store->working()), id);
  }
  tx.commit();  // nested in the caller's transaction: only ends this level
  return obj;
}

void pool::set_root_object(const type_descriptor* d, std::uint64_t raw) {
  pool_impl& p = impl();
  check_pointer(p, raw, "the new root");
  void* obj = resolve(p, raw);
  std::uint32_t id = 0;
  if (obj) {
    id = stored_type_of(p, obj);
    if (d && id != type_id_of(p, *d)) {
      fail(error_code::invalid_argument,
           "set_root: the object is a '" + p.types->name_of(id) + "', not a '" + d->name + "'");
    }
  }
  pool_transaction tx(p);  // the transaction gate before root_mu, as root_object
  std::lock_guard lk(p.root_mu);
  tx_set_root(*running_tx(p), obj ? raw & ((1ull << 48) - 1) : 0, id);
  tx.commit();  // nested in the caller's transaction: only ends this level
}

void pool::destroy_object(const type_descriptor& d, std::uint64_t raw) {
  pool_impl& p = impl();
  void* obj = resolve(p, raw);
  if (!obj) return;
  const std::uint32_t id = stored_type_of(p, obj);
  if (id != type_id_of(p, d)) {
    fail(error_code::invalid_argument,
         "destroy: the object is a '" + p.types->name_of(id) + "', not a '" + d.name + "'");
  }
  atomically(p, [&] {
    release_storage(p, d, obj);
    tx_free(p, obj);
  });
}

}  // namespace ferrite
