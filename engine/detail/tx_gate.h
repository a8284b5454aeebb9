// The pool's transaction gate (internal): every outermost transaction holds
// it shared from begin to end; garbage collection, copy and grow hold it
// exclusive, so they wait for running transactions and new ones wait for
// them.
//
//   gate.lock_shared();  ... a transaction ...  gate.unlock_shared();
//   std::unique_lock g(gate);  // gc, copy, grow: no transaction inside
//
// Shared entry and exit make no locked instruction. Each thread has a slot
// of its own (a cache line, slot_count of them per gate) that it sets on
// entry and clears on exit; a writer announces itself in `state_`, then
// makes every running thread of the process pass a full barrier
// (membarrier(2), MEMBARRIER_CMD_PRIVATE_EXPEDITED) before it reads the
// slots, so that an entering reader either sees the writer or is seen in
// its slot. On cache-line media a locked instruction waits for the
// thread's pending non-temporal stores, the log record its commit has
// just fenced; the gate's exit and the next transaction's entry were the
// first ones after the fence (docs/bench.md, "Part 5, fourth session").
// Where membarrier is not available, readers fence (a locked instruction)
// instead. Threads beyond the slots share one counter, entered and left
// with a locked instruction each.
//
// As with pthread_rwlock's default, a writer waiting for the readers to
// leave does not stop new ones while any is inside: a transaction may wait
// for a lock another thread holds before that thread's transaction begins,
// and if that thread waited for the writer, which waits for the first
// transaction, none would go on. Once the readers are down to none, the
// gate is the writer's: transactions that keep overlapping on two threads
// would otherwise keep a grow waiting forever (they did, in
// pool_test's "grow while two threads commit"). A writer that finds
// readers inside after it took the gate (two that entered together, each
// admitted beside the other) gives it back to waiting and tries again.
//
// Costs: entry and exit are a few plain instructions; a writer makes two
// membarrier calls (~1 us each here) and polls the slots while readers
// are inside.
//
// Thread-safety: any thread; lock()/unlock() meet BasicLockable, for
// std::unique_lock. A thread holds the gate of one pool at a time shared
// (one transaction per thread), and never shared and exclusive at once.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace ferrite::detail {

// This thread's tx_gate slot number + 1 (0: none taken yet). initial-exec
// and constant-initialized: one load from the thread pointer, where a
// dynamically initialized thread_local in a shared library went through
// __tls_get_addr (~47 instructions a gate entry or exit, callgrind).
[[gnu::tls_model("initial-exec")]] extern constinit thread_local std::size_t tx_gate_slot_plus_one;

class tx_gate {
 public:
  tx_gate();
  tx_gate(const tx_gate&) = delete;
  tx_gate& operator=(const tx_gate&) = delete;

  void lock_shared() {
    const std::size_t i = thread_index();
    enter(i);
    if (state_.load(std::memory_order_acquire) != 0) [[unlikely]]
      lock_shared_slow(i);
  }

  void unlock_shared() noexcept { leave(thread_index()); }

  void lock();
  void unlock() noexcept;

 private:
  static constexpr std::size_t slot_count = 64;
  static constexpr std::uint32_t waiting = 1;  // a writer waits for the readers
  static constexpr std::uint32_t held = 2;     // a writer holds it

  struct alignas(64) slot {
    std::atomic<std::uint32_t> inside{0};
  };

  // This thread's slot number (a thread that ends gives its number back).
  static std::size_t thread_index() noexcept {
    const std::size_t s = tx_gate_slot_plus_one;
    return s != 0 ? s - 1 : take_thread_index();
  }
  static std::size_t take_thread_index() noexcept;

  // With membarrier, the writer's barrier orders this thread's slot store
  // before its read of state_; without, the reader's own fence does.
  void reader_fence() const noexcept {
    if (asymmetric_) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
  }
  void writer_fence() const noexcept;

  void enter(std::size_t i) noexcept {
    if (i >= slot_count) [[unlikely]] {
      shared_.fetch_add(1, std::memory_order_seq_cst);
    } else {
      slots_[i].inside.store(1, std::memory_order_relaxed);
      reader_fence();
    }
  }
  void leave(std::size_t i) noexcept {
    if (i >= slot_count) [[unlikely]] {
      shared_.fetch_sub(1, std::memory_order_release);
    } else {
      slots_[i].inside.store(0, std::memory_order_release);
    }
  }
  void lock_shared_slow(std::size_t i);
  // Readers inside other than `self`, this thread's slot number (no_entry
  // for a writer, which has no entry).
  static constexpr std::size_t no_entry = ~std::size_t{0};
  bool others_inside(std::size_t self) const noexcept;
  void wait_until_empty() const;
  void set_state(std::uint32_t s) noexcept;

  const bool asymmetric_;  // membarrier registered for this process
  std::array<slot, slot_count> slots_;
  alignas(64) std::atomic<std::uint32_t> shared_{0};  // threads beyond the slots
  alignas(64) std::atomic<std::uint32_t> state_{0};   // 0, waiting or held
  std::mutex writers_;                                // one writer at a time
};

}  // namespace ferrite::detail
