// The keys of the container workloads (vector_push, map_insert, map_get),
// the same in every engine, so that every engine builds the same container.
//
//   insert_order(n)  n distinct u64 keys: the splitmix64 finalizer of
//                    1..n (a bijection on u64, so no two are equal), put in
//                    a shuffled order (std::mt19937_64 seeded with 42);
//   lookup_order(n)  the same keys in another shuffled order (seed 43), so
//                    that map_get does not walk the map in insertion order;
//   value_of(key)    the value stored with a key.
// vector_push pushes 0, 1, 2...: element i holds i.
//
// Thread-safety: pure functions.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace ferrite::bench {

inline std::uint64_t mix_key(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline std::vector<std::uint64_t> shuffled_keys(std::uint64_t n, std::uint64_t seed) {
  std::vector<std::uint64_t> keys(n);
  for (std::uint64_t i = 0; i < n; ++i) keys[i] = mix_key(i + 1);
  std::shuffle(keys.begin(), keys.end(), std::mt19937_64(seed));
  return keys;
}

inline std::vector<std::uint64_t> insert_order(std::uint64_t n) {
  return shuffled_keys(n, 42);
}
inline std::vector<std::uint64_t> lookup_order(std::uint64_t n) {
  return shuffled_keys(n, 43);
}

inline std::uint64_t value_of(std::uint64_t key) {
  return ~key;
}

// Keys per transaction when a map is filled untimed for map_get: few
// enough that a transaction's log record stays far below half the log.
inline constexpr std::uint64_t fill_keys_per_transaction = 1024;

}  // namespace ferrite::bench
