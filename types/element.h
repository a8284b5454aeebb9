// How containers store, hash and compare their elements.
//
// A container element is any persistent type (type_info.h): a scalar, a
// pptr, a FERRITE_TYPE struct, or a ferrite container. Containers copy
// elements with memcpy, except for elements that own storage (strings,
// containers, structs holding them): those are built in place from an
// `input` (ferrite::string from a std::string_view) or default-constructed
// (a vector inside a map: `m[key].push_back(x)`), and their storage is
// released when the element is erased.
//
// Hashing is stable across runs, builds and machines (XXH3 of the key's
// bytes, or of a string's text): hash_map buckets are persistent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/type_info.h"

namespace ferrite {

namespace detail {
// XXH3-64 with ferrite's fixed seed.
std::uint64_t stable_hash(const void* data, std::size_t len) noexcept;

// True when T (or a field of it, recursively) owns storage.
bool owns_storage(const type_descriptor& d);
}  // namespace detail

// The default: a trivially copyable value stored by copy.
template <class T, class = void>
struct element_traits {
  static_assert(std::is_trivially_copyable_v<T>, "container elements must be persistent types");
  using input = const T&;
  // Builds the element at `dest` (new or snapshotted memory in pool `p`).
  static void construct(detail::pool_impl& p, T* dest, input v) {
    std::memcpy(static_cast<void*>(dest), &v, sizeof(T));
    const type_descriptor& d = detail::descriptor_of<T>();
    if (d.kind == type_kind::pointer || d.kind == type_kind::structure) {
      detail::check_pointers(p, d, dest);
    }
  }
  // Frees what the element owns (inside the running transaction).
  static void release(detail::pool_impl& p, T* v) {
    const type_descriptor& d = detail::descriptor_of<T>();
    if (d.kind == type_kind::structure || d.kind == type_kind::container) {
      detail::release_storage(p, d, v);
    }
  }
};

// Keys of hash_map, map and set. The default covers types whose bytes are
// their value (integers, enums, pptr, padding-free structs); ferrite::string
// specialises it (lookups by std::string_view).
template <class K, class = void>
struct key_traits {
  using lookup = K;  // what find/erase/contains take
  static std::uint64_t hash(const K& k) noexcept {
    static_assert(std::has_unique_object_representations_v<K>,
                  "hash_map keys must be integers, enums, pptr or structs without padding "
                  "(their bytes are their value), or ferrite::string");
    return detail::stable_hash(&k, sizeof k);
  }
  static bool equal(const K& stored, const K& probe) noexcept {
    return std::memcmp(&stored, &probe, sizeof(K)) == 0;
  }
  // Three-way order for map/set: std::less on the key.
  static int compare(const K& stored, const K& probe) noexcept {
    if (stored < probe) return -1;
    if (probe < stored) return 1;
    return 0;
  }
  static const K& stored_as_lookup(const K& k) noexcept { return k; }
};

}  // namespace ferrite
