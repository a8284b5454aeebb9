// Reading the dynamic values of a pool (base/format/value_format.h) in the checks
// of the `values` workload, read-only through an image_view (right on every
// handle ferrite-crash opens, see image_view.h), as a canonical text that
// the workload's model renders too.
//
//   image_view v(p);
//   value_walk w(v);
//   std::string state = w.root();     // "" when the pool has no root
//
// The canonical text is Python's repr with a fixed order and explicit
// sharing: dict entries, set and frozenset members sorted by their text,
// floats as %.17g, bytes in hex, and every list/dict/set/object numbered
// by its first visit: a later visit (a shared container, a cycle) prints
// "&N". Two graphs print the same text exactly when they hold equal values
// with the same sharing.
//
// On the way it checks the layouts: every payload is an allocated object of
// its stored type large enough for its length; str buffers end in NUL;
// lists hold the vector invariants (size <= capacity...); dicts, sets and
// objects the hash_map ones (walk_hash_map: level/split, every node in the
// bucket its stored hash selects, size equals the nodes); no duplicated
// key; with `hashes` (the handle owns the pool's pointers, so the value
// model's hash reads the right pool) every node's stored hash equals its
// key's value_hash. A problem is a broken_image exception.
//
// Thread-safety: as image_view.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "ferrite/base/format/value_format.h"
#include "tools/crash/readers/image_view.h"

namespace ferrite::crash {

// Canonical texts of the scalars (shared with the model).
std::string canonical_float(double d);
std::string canonical_text(bool bytes, const std::string& raw);  // 's' or b'hex'

class value_walk {
 public:
  value_walk(image_view& v, bool hashes) : v_(v), hashes_(hashes) {}

  // The root cell's canonical text, "" when the pool has no root.
  std::string root();
  // Dicts, sets and objects walked (for coverage).
  std::uint64_t maps() const noexcept { return maps_; }
  // After root(): "" when every payload reached has a reference count equal
  // to the number of reached cells naming it (docs/gc.md), else the first
  // that does not. Meaningful when nothing unreachable names a reached
  // payload (no garbage cycle holding one).
  std::string wrong_counts() const;

 private:
  std::string cell(const std::byte* c, int depth);
  std::string text(const std::byte* c, std::uint8_t kind);
  std::string map(const std::byte* handle, bool is_set, int depth);
  const std::byte* payload(std::uint64_t bits, std::string_view type, std::size_t size,
                           const std::string& what);

  image_view& v_;
  bool hashes_;
  std::map<std::uint64_t, std::uint64_t> ids_;  // mutable payload offset -> visit number
  std::uint64_t next_id_ = 0;                   // visit numbers of mutable payloads
  std::uint64_t maps_ = 0;
  std::map<std::uint64_t, const std::byte*> payloads_;  // payload bits -> its start
  std::map<std::uint64_t, std::uint64_t> references_;   // payload bits -> cells naming it
  std::set<const std::byte*> cells_seen_;
};

}  // namespace ferrite::crash
