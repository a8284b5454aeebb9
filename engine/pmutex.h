// ferrite::pmutex — a mutex that lives inside a pool object.
//
//   struct account { ferrite::pmutex lock; std::int64_t balance; };
//   std::lock_guard guard(acct->lock);
//   pool.transaction([&] { tx_snapshot(&acct->balance); acct->balance -= 10; });
//
// It is 8 bytes, trivially copyable and needs no initialisation: zero bytes
// are an unlocked mutex. Its state carries the generation of the pool open
// that locked it, so a lock held when a program crashed (or captured in a
// snapshot) reads as free after the pool is opened again: the mutex is
// reset at open without a pass over the heap.
//
// Never snapshot a pmutex (snapshot the fields it guards): an abort would
// restore an old lock state.
//
// REQUIRES: the pmutex lies inside an open pool's working view (a pmutex
// elsewhere works as a plain mutex of generation 0).
#pragma once

#include <atomic>
#include <cstdint>

namespace ferrite {

class pmutex {
 public:
  void lock();
  bool try_lock();
  void unlock();

 private:
  // high 56 bits: generation of the open that locked it; low 8 bits:
  // 0 free, 1 locked, 2 locked with waiters.
  std::atomic<std::uint64_t> word_{0};
};

static_assert(sizeof(pmutex) == 8);

}  // namespace ferrite
