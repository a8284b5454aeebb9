// Where the lock fields of a pool's typed objects are (internal).
//
// A lock field (ferrite::pmutex, ferrite::pshared_mutex: engine/pmutex.h)
// holds run-time state, not data. The transaction engine uses these
// functions so that an abort never restores a lock word that a snapshot of
// a whole struct happened to cover, and so that checked mode does not
// report lock words changed by lock()/unlock(); field_name_at names a field
// in checked-mode reports.
//
//   std::vector<std::pair<std::uint64_t, std::uint64_t>> locks;
//   if (has_lock_fields(p)) lock_fields_in(p, begin, end, locks);
//   for (auto [b, e] : locks) { /* bytes [b, e) are lock state */ }
//
// Objects are found through heap::object_containing and decoded through
// the pool's type table (stored_type::locks), as find_foreign_pointer in
// transaction.cc does: a typed object holds one value of its type, or an
// array of them (object size / type size values). Container storage
// objects (they carry their container's type id) are not walked, so locks
// inside container elements are not found (pmutex.h: locks belong in
// objects of their own).
//
// Thread-safety: read-only on the pool; like heap::object_containing,
// meant for ranges the calling transaction has snapshotted (stable
// allocator metadata). Never throws but for std::bad_alloc.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ferrite::detail {

struct pool_impl;

// True when the pool's type table holds a lock type (a cached flag, like
// type_table::has_pointers): false means lock_fields_in finds nothing.
bool has_lock_fields(const pool_impl& p) noexcept;

// Appends to `out` the pool-offset byte ranges [b, e) of every lock field
// of the typed objects that overlap [begin, end), clipped to [begin, end):
// lock fields of nested structs and of arrays of structs included, in
// ascending order, not overlapping. Appends nothing when begin >= end.
void lock_fields_in(const pool_impl& p, std::uint64_t begin, std::uint64_t end,
                    std::vector<std::pair<std::uint64_t, std::uint64_t>>& out);

// The listed field at pool offset `offset` of a typed object: "Type.field",
// nested "Outer.inner.field", array elements "Type.name[3]" (and
// "Type[2].field" when the object holds an array of its type). Offsets in
// padding inside a nested struct name the deepest listed field that holds
// them; an object of a non-struct type (a lock or pointer made on its own)
// is named by its type. "" when the offset is not inside a typed object's
// value (free space, metadata, an object header, untyped or container
// storage) or not inside any listed field of its struct.
std::string field_name_at(const pool_impl& p, std::uint64_t offset);

}  // namespace ferrite::detail
