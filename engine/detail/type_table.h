// A pool's type table in memory (internal; format in type_table_format.h).
//
// Loaded and validated at open; afterwards the only writer is id_of(), which
// adds missing types in a log record of their own, committed at once (so a
// type stays registered even if the transaction that first used it aborts:
// a type table entry is schema, not data).
//
// Thread-safety: all members may be called concurrently. Stored entries
// never move or change once published.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ferrite/engine/type_info.h"

namespace ferrite::detail {

struct pool_impl;

struct stored_field {
  std::string name;
  std::uint32_t offset = 0, size = 0, count = 1, type = 0;
};

struct stored_type {
  std::uint32_t id = 0;
  std::string name;
  type_kind kind = type_kind::scalar;
  std::uint8_t subkind = 0;
  std::uint32_t size = 0, align = 0, version = 0;
  std::vector<stored_field> fields;
  std::uint32_t key = 0, value = 0;
  // Offsets of the pointers in one value (pointer fields, also inside
  // nested structs and arrays); {0} for a pointer type. Derived, not stored.
  std::vector<std::uint32_t> pointers;
  // Offsets of the lock words (pmutex, pshared_mutex; lock_word_size bytes
  // each) in one value, the same way, ascending; {0} for a lock type.
  // Container elements are not included (they live in the container's
  // storage objects). Derived, not stored.
  std::vector<std::uint32_t> locks;
};

// The size of a type_kind::lock value (checked at open).
inline constexpr std::uint32_t lock_word_size = 8;

// Parses a type table image of type_table_bytes bytes. Throws corrupted,
// naming `path`, for any inconsistency (invariant 7: every id and offset is
// checked before use). An all-zero image is an empty table.
std::vector<stored_type> parse_type_table(const std::byte* image, std::uint64_t seed,
                                          const std::string& path);

// The built-in scalar types (ids 1..12), as stored_type values.
const stored_type* builtin_type(std::uint32_t id) noexcept;

class type_table {
 public:
  explicit type_table(pool_impl& pool);  // loads from the working view

  // The stored type with this id / name, or null (built-ins included).
  const stored_type* find(std::uint32_t id) const noexcept;
  const stored_type* find(std::string_view name) const;
  std::string name_of(std::uint32_t id) const;
  std::vector<stored_type> types() const;

  // The pool's id of `d`, adding it (and the types it refers to) when
  // missing. Throws read_only on a read-only pool, out_of_space when the
  // table is full, layout_mismatch when the stored type differs.
  std::uint32_t id_of(const type_descriptor& d);

  // Makes this table, still empty, hold exactly `source`'s stored types
  // under the same ids (`ferrite copy`: the copied objects keep their type
  // ids), in one log record committed at once. Throws read_only, and
  // invalid_argument when this table already holds a type.
  void adopt(const type_table& source);

  // True when some stored struct or pointer type holds pointers (then
  // commits check where they point: transaction.cc).
  bool has_pointers() const noexcept { return has_pointers_.load(std::memory_order_acquire); }
  // True when some stored type holds a lock (then transactions keep lock
  // words out of what an abort restores: lock_fields.h).
  bool has_locks() const noexcept { return has_locks_.load(std::memory_order_acquire); }

  // Compares every type registered in this process with the stored type of
  // the same name; throws layout_mismatch naming the type and field.
  void check_registered() const;

 private:
  std::uint32_t add_missing(const type_descriptor& d);  // REQUIRES: mu_ held
  std::string difference(const type_descriptor& d, const stored_type& s) const;
  // Fills stored_type::pointers and ::locks of types [from, end) (and
  // has_pointers_, has_locks_).
  void derive_offsets(std::vector<stored_type>& types, std::size_t from);

  pool_impl& pool_;
  mutable std::mutex mu_;
  std::vector<stored_type> types_;  // reserved to max_types: never reallocates
  std::atomic<std::uint32_t> count_{0};
  std::unordered_map<std::string, std::uint32_t> by_name_;  // under mu_
  std::uint32_t field_count_ = 0;                           // under mu_
  std::atomic<bool> has_pointers_{false};
  std::atomic<bool> has_locks_{false};
  static constexpr std::uint32_t cache_size = 4096;
  std::unique_ptr<std::atomic<std::uint32_t>[]> cache_;  // by descriptor index
};

// Throws layout_mismatch: `what` in pool `path`.
[[noreturn]] void layout_mismatch(const std::string& path, const std::string& what);

}  // namespace ferrite::detail
