#include "ferrite/engine/pmutex.h"

#include <thread>

#include "ferrite/engine/pool_registry.h"
#include "ferrite/engine/type_info.h"

namespace ferrite {
namespace {

// Spins (yielding) this many times before sleeping on the word.
constexpr int spins_before_wait = 64;

// --- pmutex: generation << 8 | state -------------------------------------

constexpr std::uint64_t state_mask = 0xff;

std::uint64_t make(std::uint64_t gen, std::uint64_t state) {
  return gen << 8 | state;
}

// The lock state as seen by the current open: stale generations are free.
std::uint64_t state_of(std::uint64_t word, std::uint64_t gen) {
  return (word >> 8) == (gen & (~0ull >> 8)) ? (word & state_mask) : 0;
}

// --- pshared_mutex: generation << 16 | state -----------------------------

constexpr std::uint64_t shared_state_mask = 0xffff;
constexpr std::uint64_t writer_bit = 1u << 15;
constexpr std::uint64_t writer_waiting_bit = 1u << 14;
constexpr std::uint64_t reader_mask = writer_waiting_bit - 1;  // the reader count
constexpr std::uint64_t max_readers = reader_mask;

std::uint64_t make_shared(std::uint64_t gen, std::uint64_t state) {
  return state == 0 ? 0 : gen << 16 | state;
}

std::uint64_t shared_state_of(std::uint64_t word, std::uint64_t gen) {
  return (word >> 16) == (gen & (~0ull >> 16)) ? (word & shared_state_mask) : 0;
}

type_descriptor lock_descriptor(const char* name, lock_kind k) {
  type_descriptor d;
  d.name = name;
  d.kind = type_kind::lock;
  d.subkind = static_cast<std::uint8_t>(k);
  d.size = 8;
  d.align = 8;
  return d;
}

}  // namespace

const type_descriptor& ferrite_describe(pmutex*) {
  static const type_descriptor d = lock_descriptor("ferrite.pmutex", lock_kind::exclusive);
  return d;
}

const type_descriptor& ferrite_describe(pshared_mutex*) {
  static const type_descriptor d = lock_descriptor("ferrite.pshared_mutex", lock_kind::shared);
  return d;
}

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
    if (spin < spins_before_wait) {
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

// pshared_mutex. Every change that can let a waiter in (a writer leaving,
// the last reader leaving, a reader leaving a full count) notifies; a
// waiter sleeps on the exact word it saw, so a change before it sleeps
// makes the wait return at once.

bool pshared_mutex::try_lock() {
  const std::uint64_t gen = detail::generation_of(this);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  if ((shared_state_of(w, gen) & (writer_bit | reader_mask)) != 0) return false;
  return word_.compare_exchange_strong(w, make_shared(gen, writer_bit), std::memory_order_acquire);
}

void pshared_mutex::lock() {
  const std::uint64_t gen = detail::generation_of(this);
  for (int spin = 0;; ++spin) {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    const std::uint64_t st = shared_state_of(w, gen);
    if ((st & (writer_bit | reader_mask)) == 0) {
      // Free (perhaps with a writer waiting: this one, or another that
      // will set the bit again if readers get in first).
      if (word_.compare_exchange_weak(w, make_shared(gen, writer_bit), std::memory_order_acquire))
        return;
      continue;
    }
    if ((st & reader_mask) != 0 && (st & writer_waiting_bit) == 0) {
      // Readers inside: keep new ones out until a writer has had its turn.
      word_.compare_exchange_weak(w, make_shared(gen, st | writer_waiting_bit),
                                  std::memory_order_relaxed);
      continue;
    }
    if (spin < spins_before_wait) {
      std::this_thread::yield();
      continue;
    }
    word_.wait(w, std::memory_order_relaxed);
  }
}

void pshared_mutex::unlock() {
  word_.store(0, std::memory_order_release);
  word_.notify_all();
}

bool pshared_mutex::try_lock_shared() {
  const std::uint64_t gen = detail::generation_of(this);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t st = shared_state_of(w, gen);
    if ((st & (writer_bit | writer_waiting_bit)) != 0 || (st & reader_mask) == max_readers)
      return false;
    // A failed exchange (another reader came or left) reloads w: retry.
    if (word_.compare_exchange_weak(w, make_shared(gen, st + 1), std::memory_order_acquire))
      return true;
  }
}

void pshared_mutex::lock_shared() {
  const std::uint64_t gen = detail::generation_of(this);
  for (int spin = 0;; ++spin) {
    std::uint64_t w = word_.load(std::memory_order_relaxed);
    const std::uint64_t st = shared_state_of(w, gen);
    if ((st & (writer_bit | writer_waiting_bit)) == 0 && (st & reader_mask) < max_readers) {
      if (word_.compare_exchange_weak(w, make_shared(gen, st + 1), std::memory_order_acquire))
        return;
      continue;
    }
    if (spin < spins_before_wait) {
      std::this_thread::yield();
      continue;
    }
    word_.wait(w, std::memory_order_relaxed);
  }
}

void pshared_mutex::unlock_shared() {
  const std::uint64_t gen = detail::generation_of(this);
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t st = shared_state_of(w, gen);
    // No reader of this open: nothing to release (never expected; a lock
    // word is not restored by an abort).
    if ((st & reader_mask) == 0) return;
    const std::uint64_t next = st - 1;  // keeps the writer-waiting bit
    if (word_.compare_exchange_weak(w, make_shared(gen, next), std::memory_order_release)) {
      if ((next & reader_mask) == 0 || (st & reader_mask) == max_readers) word_.notify_all();
      return;
    }
  }
}

}  // namespace ferrite
