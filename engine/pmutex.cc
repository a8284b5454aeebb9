#include "ferrite/engine/pmutex.h"

#include <thread>

#include "ferrite/engine/pool_registry.h"

namespace ferrite {
namespace {

constexpr std::uint64_t state_mask = 0xff;

std::uint64_t make(std::uint64_t gen, std::uint64_t state) {
  return gen << 8 | state;
}

// The lock state as seen by the current open: stale generations are free.
std::uint64_t state_of(std::uint64_t word, std::uint64_t gen) {
  return (word >> 8) == (gen & (~0ull >> 8)) ? (word & state_mask) : 0;
}

}  // namespace

bool pmutex::try_lock() {
  const std::uint64_t gen = detail::generation_of(this);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if (state_of(w, gen) != 0) return false;
  return word_.compare_exchange_strong(w, make(gen, 1), std::memory_order_acquire);
}

void pmutex::lock() {
  const std::uint64_t gen = detail::generation_of(this);
  for (int spin = 0;; ++spin) {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    const std::uint64_t st = state_of(w, gen);
    if (st == 0) {
      if (word_.compare_exchange_weak(w, make(gen, 1), std::memory_order_acquire)) return;
      continue;
    }
    if (spin < 64) {
      std::this_thread::yield();
      continue;
    }
    // Announce a waiter, then sleep until the word changes.
    if (st == 1 && !word_.compare_exchange_weak(w, make(gen, 2), std::memory_order_relaxed)) {
      continue;
    }
    word_.wait(make(gen, 2), std::memory_order_relaxed);
    // Re-acquire as "locked with waiters" so that unlock wakes the others.
    std::uint64_t expected = word_.load(std::memory_order_relaxed);
    while (state_of(expected, gen) == 0) {
      if (word_.compare_exchange_weak(expected, make(gen, 2), std::memory_order_acquire)) return;
    }
  }
}

void pmutex::unlock() {
  word_.store(0, std::memory_order_release);
  // Always wake: the waiter flag is lost if a transaction that snapshotted
  // the word is aborted. notify_all is cheap when nobody waits.
  word_.notify_all();
}

}  // namespace ferrite
