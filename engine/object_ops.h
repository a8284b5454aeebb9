// Operations on typed objects for the typed layer (internal).
//
// The public templates (pool::make, pool::root, the containers in types/)
// are thin; they call these. All of them validate their arguments and throw
// ferrite::error; none may be called on a closed pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ferrite/engine/transaction.h"
#include "ferrite/engine/type_info.h"

namespace ferrite::detail {

struct pool_impl;

// The open pool holding `obj`. Throws invalid_argument when `obj` is not in
// the working view of an open pool (volatile memory, a closed pool).
pool_impl& pool_holding(const void* obj);

// The pool's type id of `d` (registering it in the pool's table if needed).
std::uint32_t type_id_of(pool_impl& p, const type_descriptor& d);

// pptr bits (tag << 48 | offset) for an address in `p`'s working view.
std::uint64_t pointer_bits(pool_impl& p, const void* obj);
// Address of a pointer's target; the pointer must be into `p` (or null).
void* resolve(pool_impl& p, std::uint64_t raw);

// Throws invalid_argument unless `raw` is null or points into `p`:
// a pool never points into another pool. `what` names the pointer.
void check_pointer(pool_impl& p, std::uint64_t raw, const char* what);
// The same for every pointer field of `obj`, a `d` (recursively).
void check_pointers(pool_impl& p, const type_descriptor& d, const void* obj);

// REQUIRES: this thread runs a transaction on `p` (else tx_invalid).
void* tx_allocate(pool_impl& p, std::size_t size, std::uint32_t type_id, std::size_t align);
void tx_free(pool_impl& p, void* obj);
std::uint32_t stored_type_of(pool_impl& p, const void* obj);

// Deferred release (the value model's reference counts, docs/gc.md): a
// payload whose count dropped to zero is a candidate; it may be retained
// again before the transaction commits (a value moved from one slot to
// another). When the outermost level commits, before its record is
// gathered, `release` runs inside the transaction with every candidate
// (and those it adds while it runs) and decides which to free. It may stop
// when its work budget for one transaction is spent, leaving the rest in
// the vector: after the commit, follow-up transactions call it again with
// them until none is left (a crash in between leaves them unreferenced,
// for the collection at open). Abort discards the candidates. One release
// function per transaction (the last one given is used).
// REQUIRES: this thread runs a transaction on `p` (else tx_invalid).
struct unreferenced_payload {
  std::uint64_t cell[2];  // the 16-byte cell that held the last reference
};
using release_unreferenced_fn = void (*)(pool_impl& p,
                                         std::vector<unreferenced_payload>& candidates);
void tx_release_at_commit(pool_impl& p, const void* cell16, release_unreferenced_fn release);
// True when `ptr` lies in an extent the running transaction allocated: it is
// written whole at commit, so changing it needs no snapshot (tx_snapshot
// skips it) and costs no log space.
bool in_new_extent(pool_impl& p, const void* ptr) noexcept;

bool in_transaction_on(pool_impl& p) noexcept;

// Pins (value.h pin_payload): value payloads a volatile holder keeps
// alive, each with the 16-byte value cell that names it. The collector
// walks those cells as it walks reachable ones (without counting them as
// references), and the value model's release step leaves a pinned payload
// whose count reached zero. Keyed by the payload's pool offset; counted,
// so pins nest. Thread-safe.
// REQUIRES: `cell16` is a value cell naming `payload`, an allocation of `p`.
struct pinned_cell {
  std::uint64_t cell[2];
};
void pin_cell(pool_impl& p, const void* cell16, const void* payload);
// Returns whether that was the last pin of `payload`.
bool unpin_cell(pool_impl& p, const void* payload);
bool is_pinned(pool_impl& p, std::uint64_t raw_or_offset) noexcept;
std::vector<pinned_cell> pinned_cells(pool_impl& p);
// Whether an allocated object starts at `obj` now (after an abort: whether
// it existed before the transaction that may have made it).
bool is_allocated(pool_impl& p, const void* obj) noexcept;

// The path `p` was opened with, for messages.
std::string pool_path(const pool_impl& p);

// What the pool's type table records for the type of the object at `obj`
// (an allocation of `p`): its name, kind, size and field names.
struct stored_type_summary {
  std::string name;
  type_kind kind = type_kind::scalar;
  std::uint64_t size = 0;
  std::vector<std::string> fields;
};
// Nothing when the object's type id is not in the table.
std::optional<stored_type_summary> summary_of_stored_type(pool_impl& p, const void* obj);
// The stored type name of the object at `obj` ("untyped" for raw
// allocations, "unknown type N" for an id not in the table).
std::string stored_type_name(pool_impl& p, const void* obj);

// The largest log record the pool takes (half its log): what one
// transaction may log at most.
std::uint64_t max_record_bytes(pool_impl& p) noexcept;

// Runs `fn` in the transaction this thread runs on `p`, or, when there is
// none, in a transaction of its own (so a single operation is atomic).
template <class Fn>
decltype(auto) atomically(pool_impl& p, Fn&& fn) {
  if (in_transaction_on(p)) return fn();
  pool_transaction tx(p);
  if constexpr (std::is_void_v<decltype(fn())>) {
    fn();
    tx.commit();
  } else {
    decltype(auto) r = fn();
    tx.commit();
    return r;
  }
}

}  // namespace ferrite::detail
