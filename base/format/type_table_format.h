// On-media layout of the type table (docs/format.md, "Type table").
// Constants and structs only.
//
// The table lives in its own region (pool header field type_table_offset,
// 64 KiB) and changes only through log records, so it is always the table
// of some committed state. All zeros means "no types yet".
//
//   [table_header 64 B][type_entry x max_types][field_entry x max_fields]
//
// Type ids: 1..31 are the built-in scalars (scalar_kind values, never
// stored); stored type i (0-based) has id first_stored_type_id + i. An
// object header's type id 0 means "untyped" (raw pool::allocate).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

inline constexpr std::uint64_t type_table_magic = 0x4c42545045595446ull;  // "FTYPETBL"
inline constexpr std::uint32_t type_table_version = 1;
inline constexpr std::uint32_t first_stored_type_id = 64;
inline constexpr std::uint32_t max_builtin_type_id = 31;

struct type_table_header {
  std::uint64_t magic;        //  0 type_table_magic
  std::uint32_t version;      //  8
  std::uint32_t type_count;   // 12 entries in use, <= max_types
  std::uint32_t field_count;  // 16 entries in use, <= max_fields
  std::uint32_t reserved0;    // 20
  std::uint64_t checksum;     // 24 XXH3-64 (seed: pool seed) of this header with checksum 0,
                              //    then the used type and field entries
  std::uint8_t reserved[32];  // 32
};
static_assert(sizeof(type_table_header) == 64);
static_assert(offsetof(type_table_header, checksum) == 24);

inline constexpr std::size_t type_name_max = 88;  // bytes, NUL included
inline constexpr std::size_t field_name_max = 48;

// One type. Invariants (checked at open): the name is NUL-terminated and
// non-empty and unique; kind/subkind are known values (a lock: 8 bytes,
// 8-aligned, key and value 0); the fields
// [first_field, first_field + field_count) are in use; key and value are 0,
// a built-in id or the id of a stored type.
struct type_entry {
  char name[type_name_max];   //  0
  std::uint8_t kind;          // 88 type_kind: 2 pointer, 3 struct, 4 container, 5 lock
  std::uint8_t subkind;       // 89 container_kind / lock_kind (1 pmutex, 2 pshared_mutex)
  std::uint16_t reserved0;    // 90
  std::uint32_t size;         // 92
  std::uint32_t align;        // 96
  std::uint32_t version;      // 100
  std::uint32_t first_field;  // 104
  std::uint32_t field_count;  // 108
  std::uint32_t key;          // 112 containers: key type id
  std::uint32_t value;        // 116 pointers: target (0 = untyped); containers: element/value
  std::uint64_t reserved1;    // 120
};
static_assert(sizeof(type_entry) == 128);
static_assert(offsetof(type_entry, kind) == 88);
static_assert(offsetof(type_entry, key) == 112);

// One field of a structure. Invariant: offset + size <= the type's size,
// size == count * (size of the field's type).
struct field_entry {
  char name[field_name_max];  //  0
  std::uint32_t offset;       // 48
  std::uint32_t size;         // 52
  std::uint32_t count;        // 56 array elements, >= 1
  std::uint32_t type;         // 60 type id of one element
};
static_assert(sizeof(field_entry) == 64);

inline constexpr std::size_t max_types = 160;
inline constexpr std::size_t type_entries_offset = sizeof(type_table_header);
inline constexpr std::size_t field_entries_offset =
    type_entries_offset + max_types * sizeof(type_entry);
inline constexpr std::size_t type_table_bytes = 64 * 1024;
inline constexpr std::size_t max_fields =
    (type_table_bytes - field_entries_offset) / sizeof(field_entry);
static_assert(max_fields >= 600);

}  // namespace ferrite::detail
