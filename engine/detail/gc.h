// Garbage collection of a pool (docs/gc.md): pool::gc() and the collection
// pool::open() makes after an unclean shutdown.
//
//   ferrite::gc_stats s = pool.gc();
//   std::cout << s.total.freed << " objects freed\n";
//
// collect_garbage() marks everything reachable from the root (gc_mark.h),
// then frees every other allocated object in transactions of at most
// gc_batch_objects objects (and a bounded log record each), so a crash at
// any point leaves a consistent pool that lost nothing reachable.
//
// Exclusion: outermost transactions hold the pool's transaction gate
// (pool_impl::tx_gate) shared; the collector holds it exclusive for mark and
// sweep, so it waits for running transactions and new ones wait for it. Its
// sweep commits its records itself (the allocator's free path, not a
// ferrite::transaction), so it neither takes the gate again nor touches the
// calling thread's transaction.
//
// Thread-safety: may be called from any thread not running a transaction
// on `p`.
#pragma once

#include <cstdint>

#include "ferrite/engine/pool.h"

namespace ferrite::detail {

struct pool_impl;

inline constexpr std::uint64_t gc_batch_objects = 1024;

// Collects `p`. Throws read_only, tx_invalid (this thread runs a
// transaction on `p`) and corrupted (nothing freed); see pool::gc. Without a root
// it frees nothing and returns zero counts.
gc_stats collect_garbage(pool_impl& p);

}  // namespace ferrite::detail
