// The model of the `values` crash workload (workloads/values.cc): values
// held in volatile memory, their canonical text (the one value_walk.h reads
// from a pool) and random values of every kind.
//
//   std::vector<mcont> arena;                 // containers by index
//   mval v = random_value(rng);               // new containers: contents in items
//   ferrite::input in = to_input(v);          // what perform() stores
//   std::string text = canon(arena).of(v);    // stored ones: by arena index
//
// Thread-safety: plain values; canon is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ferrite/types/value.h"

namespace ferrite::crash::values_workload {

inline constexpr const char* thing_class = "crash.Thing";  // the objects' class
inline constexpr const char* codec = "crash.Pair";         // the encoded values' codec

// A value: immutable ones by contents; a container by its arena index
// (`ref`), or, not yet stored, by its initial contents in `items`.
struct mval {
  value_kind k = value_kind::none;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string s;            // str, bytes, encoded data
  std::vector<mval> items;  // tuple, frozenset; a new container's items (dict, object: k, v, k, v)
  std::int64_t ref = -1;    // a stored list/dict/set/object
};

struct mcont {
  value_kind k = value_kind::list;
  std::vector<mval> items;                     // list items, set members
  std::vector<std::pair<mval, mval>> entries;  // dict items, object attributes
};
// Canonical text of a model value (value_walk.h).
class canon {
 public:
  explicit canon(const std::vector<mcont>& arena) : arena_(arena) {}
  std::string of(const mval& x);

 private:
  std::string pairs(const mcont& c);
  const std::vector<mcont>& arena_;
  std::map<std::int64_t, std::uint64_t> ids_;
};

// Keys and members are immutable: equal when their texts are.
bool same(const mval& a, const mval& b);
mval int_of(std::int64_t i);
mval str_of(std::string s);
// None, bool, a small int, 2.5 or -1e100, a short str.
mval scalar(std::mt19937_64& rng);
// 0-3 distinct ints (set and frozenset members).
std::vector<mval> distinct_ints(std::mt19937_64& rng);
// A value of any kind; containers new (not yet in the arena).
mval random_value(std::mt19937_64& rng);
// The input storing a new value `x`.
input to_input(const mval& x);

}  // namespace ferrite::crash::values_workload
