// The pool's transaction gate (internal): every outermost transaction holds
// it shared from begin to end; garbage collection, copy and grow hold it
// exclusive, so they wait for running transactions and new ones wait for
// them.
//
// Shared entry and exit are one atomic read-modify-write each: the
// std::shared_mutex it replaces (pthread_rwlock) cost ~65 instructions a
// transaction (callgrind, tx_set8 on cache-line media).
//
// As with pthread_rwlock's default, a writer waiting for the readers to
// leave does not stop new ones while any is inside: a transaction may wait
// for a lock another thread holds before that thread's transaction begins,
// and if that thread waited for the writer, which waits for the first
// transaction, none would go on. Once the readers are down to none, the
// gate is the writer's: transactions that keep overlapping on two threads
// would otherwise keep a grow waiting forever (they did, in
// pool_test's "grow while two threads commit").
//
// Thread-safety: any thread; lock()/unlock() meet BasicLockable, for
// std::unique_lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace ferrite::detail {

class tx_gate {
 public:
  void lock_shared() {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if (s < waiting && state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                                    std::memory_order_relaxed)) {
      return;
    }
    lock_shared_slow();
  }

  void unlock_shared() noexcept {
    const std::uint32_t before = state_.fetch_sub(1, std::memory_order_release);
    if (before == (waiting | 1)) state_.notify_all();  // the last reader: a writer waits
  }

  void lock() {
    writers_.lock();  // one writer at a time; it alone sets and clears `waiting`
    state_.fetch_or(waiting, std::memory_order_relaxed);
    for (;;) {
      std::uint32_t s = state_.load(std::memory_order_relaxed);
      if ((s & readers) == 0) {
        if (state_.compare_exchange_weak(s, held, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          return;
        }
        continue;
      }
      state_.wait(s, std::memory_order_relaxed);
    }
  }

  void unlock() noexcept {
    state_.store(0, std::memory_order_release);
    state_.notify_all();  // readers waiting while it was held
    writers_.unlock();
  }

 private:
  void lock_shared_slow() {
    for (;;) {
      std::uint32_t s = state_.load(std::memory_order_relaxed);
      if ((s & held) != 0 || s == waiting) {  // a writer holds it, or is next
        state_.wait(s, std::memory_order_relaxed);
        continue;
      }
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return;
      }
    }
  }

  static constexpr std::uint32_t held = 1u << 31;     // a writer holds it
  static constexpr std::uint32_t waiting = 1u << 30;  // a writer waits for the readers
  static constexpr std::uint32_t readers = waiting - 1;
  std::atomic<std::uint32_t> state_{0};
  std::mutex writers_;
};

}  // namespace ferrite::detail
