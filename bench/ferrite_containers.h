// The container workloads on ferrite (vector_push, map_insert, map_get):
// the container lives in the pool's typed root (one root type per
// container, FERRITE_TYPE in ferrite_containers.cc), and each op is one
// call (push_back, insert, find): atomic on its own, so one transaction per
// insert or push, as the issue asks.
//
// Thread-safety: one thread (the containers are single-writer).
#pragma once

#include <cstdint>
#include <vector>

#include "bench/engine.h"
#include "ferrite/engine/pool.h"

namespace ferrite::bench {

class ferrite_containers {
 public:
  // Prepares `setup.work` on the open pool `p`: the keys (bench/keys.h), the
  // empty container in the root, and for map_get the container filled with
  // the N keys (untimed, fill_keys_per_transaction inserts per transaction).
  void open(pool& p, const engine_setup& setup);

  // `ops` ops of the workload: pushes, inserts of the next keys, or
  // lookups (wrapping around the lookup order). Throws if a lookup misses.
  void run(pool& p, std::uint64_t ops);

  // See bench_engine::check_container (on the reopened pool).
  void check(pool& p, std::uint64_t count) const;

 private:
  template <class Map>
  void fill(pool& p, Map& m);
  template <class Map>
  void insert(Map& m, std::uint64_t ops);
  template <class Map>
  void lookup(const Map& m, std::uint64_t ops);
  template <class Map>
  void check_map(const Map& m, std::uint64_t count) const;

  workload work_ = workload::vector_push;
  structure shape_ = structure::none;
  std::vector<std::uint64_t> keys_;     // insert order
  std::vector<std::uint64_t> lookups_;  // map_get: lookup order
  std::uint64_t cursor_ = 0;            // next key of keys_ (insert) or lookups_ (get)
  std::uint64_t sink_ = 0;
};

}  // namespace ferrite::bench
