// The container workloads on ferrite (vector_push, map_insert, map_get):
// the container lives in the pool's typed root (one root type per
// container, FERRITE_TYPE in ferrite_containers.cc), and each op is one
// call (push_back, insert, find): atomic on its own, so one transaction per
// insert or push, as the issue asks.
//
// And the account store of transfer and transfer_held (ferrite_accounts,
// bench/transfer.h): in the typed root, a
// ferrite::hash_map<u64, pptr<account>> of the accounts (each an object
// of its own holding its pmutex and a p<int64_t> balance) and a pptr to the
// transfer log (a pmutex and a ferrite::vector of entries, which grows for
// the whole run: one entry per transfer, never trimmed, so the check can
// replay it).
//
// Thread-safety: ferrite_containers, one thread (the containers are
// single-writer). ferrite_accounts::run, any number of threads at once, each
// with its own index; open and check, one thread while no run() is running.
#pragma once

#include <cstdint>
#include <vector>

#include "bench/engine.h"
#include "bench/transfer.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/pptr.h"

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

struct bank_root;  // the typed root of the account store (ferrite_containers.cc)

class ferrite_accounts {
 public:
  // Builds the store in the root of the open pool `p`, untimed: the
  // accounts (one transaction for all), the map, the empty log; and one
  // transfer_picker per thread.
  void open(pool& p, int threads);

  // `ops` transfers on thread `t`. Each looks its two accounts up in the map
  // (reads, outside the transaction: the map does not change during a run),
  // then commits one transaction that debits, credits and appends to the
  // log, holding the locks of both accounts and of the log:
  //   held_locks false (transfer): pool.transaction(fn, locks...), which
  //     releases them once the commit is ordered in the log;
  //   held_locks true (transfer_held): std::scoped_lock around
  //     pool.transaction(fn), released after the commit returns.
  void run(pool& p, int t, std::uint64_t ops, bool held_locks);

  // After reopening: check_transfers (bench/transfer.h) on what the pool
  // holds, `ops` being every transfer committed (warm-up included), and
  // pool.check() must find nothing. Throws otherwise.
  void check(pool& p, std::uint64_t ops) const;

 private:
  pptr<bank_root> root_;
  std::vector<transfer_picker> pickers_;  // one per thread
};

}  // namespace ferrite::bench
