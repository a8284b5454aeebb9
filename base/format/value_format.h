// On-media layout of the dynamic value model (docs/format.md, "Dynamic
// values"). Constants and structs only; the value model (value.h), the
// garbage collector and `ferrite dump` decode values from these.
//
// A value lives in a 16-byte cell: the root of a value pool, the items of
// a list, tuple or frozenset, the keys and values of a dict, the members of
// a set, the attributes of an object, or a `ferrite::value_cell` field of a
// registered struct. Zero bytes are None, so value-initialised memory holds
// Nones.
//
//   byte 0      kind (value_kind)
//   byte 1      inline length + 1 for str/bytes stored in the cell (0: not inline)
//   bytes 2..7  str, bytes, tuple, frozenset, encoded stored out of line:
//               the length (bytes / items), u48 little-endian
//   bytes 8..15 payload (u64): bool 0/1, i64, f64 bits, or pptr bits
//   str/bytes inline: the text is in bytes 2..15 (at most 14 bytes)
//
// Out-of-line payloads (pptr bits in `payload`, the start of the
// allocation). Every one begins with its reference count, a u64 at offset
// 0 (value_refs_offset): the number of cells in the pool that hold its
// pointer (docs/gc.md, "Reference counts").
//   str, bytes   { u64 refs; char text[length + 1] } (str ends in NUL), type
//                ferrite.string. Immutable.
//   tuple        { u64 refs; value_cell items[length] }, type
//                ferrite.vector<ferrite.value>. Immutable.
//   frozenset    the same, items sorted by (value hash, then position), no
//                two equal members. Immutable.
//   encoded      { u64 refs; u8 codec_name_len; char codec_name[codec_name_len];
//                  u8 data[length - 1 - codec_name_len] }, type ferrite.string.
//                Immutable.
//   list         a `ferrite.list` struct: { u64 refs; vector<ferrite.value> items }
//   dict         a `ferrite.dict` struct: { u64 refs; hash_map<ferrite.value,ferrite.value> items }
//   set          a `ferrite.set` struct:  { u64 refs; hash_map<ferrite.value,u8> items }
//   object       a struct named by the object's class (a registered class
//                name): { u64 refs; hash_map<ferrite.value,ferrite.value> attributes }
//                (attribute names are str keys)
// Any payload may be shared: two cells may point at the same list, or the
// same str buffer. Every cell holding a pointer is one reference; a
// transaction that stores a cell retains its payload (refs + 1), one that
// overwrites or erases a cell drops it (refs - 1), and a payload whose
// count is zero when the transaction commits is freed in it, dropping the
// references its own cells hold. Cycles keep their counts above zero: the
// garbage collector (pool::gc) frees them and recomputes every count.
//
// Hashes (dict keys, set members, frozensets) are stable across runs, builds
// and machines: value_hash in value_hash.cc, documented in docs/format.md.
#pragma once

#include <cstdint>
#include <cstring>

namespace ferrite {

enum class value_kind : std::uint8_t {
  none = 0,
  boolean = 1,
  integer = 2,   // i64
  floating = 3,  // f64
  string = 4,    // UTF-8 text (not checked), immutable
  bytes = 5,     // immutable
  list = 6,
  dict = 7,
  set = 8,
  frozenset = 9,  // immutable
  tuple = 10,     // immutable
  object = 11,    // class name + attributes
  encoded = 12,   // a user type stored by its codec (value_codec<T>)
};
inline constexpr std::uint8_t value_kind_count = 13;

namespace detail {

struct value_cell_rep {
  std::uint8_t kind;
  std::uint8_t inline_size;  // inline str/bytes: length + 1; else 0
  std::uint8_t length[6];    // out-of-line length (u48 LE), or inline text
  std::uint64_t payload;
};
static_assert(sizeof(value_cell_rep) == 16);

inline constexpr std::uint32_t value_inline_max = 14;  // bytes 2..15

// Every out-of-line payload starts with its reference count (u64 LE); the
// text of a str/bytes/encoded buffer and the cells of a tuple/frozenset
// follow it.
inline constexpr std::uint64_t value_refs_offset = 0;
inline constexpr std::uint64_t value_payload_header = 8;

// The out-of-line length (bytes 2..7, u48 little-endian).
inline std::uint64_t value_length(const value_cell_rep& r) noexcept {
  std::uint64_t n = 0;
  std::memcpy(&n, r.length, 6);
  return n;
}
inline constexpr std::uint64_t value_length_max = (std::uint64_t{1} << 48) - 1;

// True when the cell names an out-of-line payload: one reference to it,
// counted in the payload's `refs` (text shorter than the cell is inline).
inline constexpr bool has_payload(const value_cell_rep& r) noexcept {
  if (r.payload == 0) return false;
  switch (static_cast<value_kind>(r.kind)) {
    case value_kind::string:
    case value_kind::bytes:
    case value_kind::encoded:
      return r.inline_size == 0;
    case value_kind::tuple:
    case value_kind::frozenset:
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::object:
      return true;
    default:
      return false;
  }
}

// Names of the payload structs in the type table.
inline constexpr const char* list_type_name = "ferrite.list";
inline constexpr const char* dict_type_name = "ferrite.dict";
inline constexpr const char* set_type_name = "ferrite.set";
inline constexpr const char* value_type_name = "ferrite.value";

}  // namespace detail
}  // namespace ferrite
