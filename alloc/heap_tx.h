// The allocator's share of a running transaction.
//
// The heap (alloc/heap.h) records here what a transaction allocated and
// freed, and reaches the rest of the transaction only through the virtual
// hooks below. The engine's transaction context
// (engine/detail/tx_context.h) derives from it and implements them, so the
// allocator depends on nothing above it.
//
// Thread-safety: one heap_tx belongs to one thread's transaction.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "ferrite/base/error.h"
#include "ferrite/base/format/log_format.h"

namespace ferrite::detail {

struct run_state;

// What a transaction allocated or freed.
struct heap_action {
  enum kind_t : std::uint8_t { slot, extent } kind;
  run_state* run;             // slot: its run
  std::uint64_t slot_index;   // slot: index in the run
  std::uint64_t first_chunk;  // extent: global chunk index of its head
  std::uint64_t chunks;       // extent: length
  std::uint64_t free_lsn;     // extent allocation: free LSN of its chunks
};

class heap_tx {
 public:
  struct interval {
    std::uint64_t begin, end;  // [begin, end) pool offsets
  };

  std::vector<heap_action> heap_allocs;  // undone by abort
  std::vector<heap_action> heap_frees;   // applied once the commit is durable
  std::vector<interval> direct;          // new extents: written to the durable image at commit

  // Checked mode (engine/detail/write_watch.h) reads the ranges of every
  // running transaction from other threads: while `watched`, the owner
  // changes `direct` (and the engine its covered ranges and bit operations)
  // only under coverage_mu.
  bool watched = false;
  mutable std::mutex coverage_mu;
  std::unique_lock<std::mutex> lock_coverage() {
    return watched ? std::unique_lock<std::mutex>(coverage_mu) : std::unique_lock<std::mutex>();
  }
  void add_direct(std::uint64_t begin, std::uint64_t end) {
    auto guard = lock_coverage();
    direct.push_back({begin, end});
  }
  // Heap metadata the heap is about to commit in a record of its own (a
  // new run, a retired one): announced before the stores, so that checked
  // mode never takes them for a change nobody covers. Always, the hooks
  // that record a range are called before the bytes are stored.
  std::vector<interval> aside;
  void add_aside(std::uint64_t begin, std::uint64_t end) {
    auto guard = lock_coverage();
    aside.push_back({begin, end});
  }

  // True when [offset, offset+len) lies inside one new extent of this
  // transaction (written whole at commit: no snapshot needed).
  bool in_direct(std::uint64_t offset, std::uint64_t len = 1) const noexcept {
    for (const interval& d : direct) {
      if (offset >= d.begin && offset < d.end && len <= d.end - offset) return true;
    }
    return false;
  }

  // Logs a bit operation on the allocator metadata word at `offset`; the
  // heap has applied it to the working view already, the commit record
  // carries it to the durable image.
  virtual void log_bits(entry_kind kind, std::uint64_t offset, std::uint64_t mask) = 0;
  // The new bytes [offset, offset+len) of a slot go into the commit record;
  // an abort has nothing to restore there.
  virtual void cover_new(std::uint64_t offset, std::uint64_t len) = 0;
  // Marks the transaction failed (it can no longer commit) and throws
  // ferrite::error(code, message).
  [[noreturn]] void poison(error_code code, const std::string& message) {
    mark_poisoned(message);
    fail(code, message);
  }

 protected:
  // Records that the transaction failed because of `reason`.
  virtual void mark_poisoned(const std::string& reason) = 0;

  heap_tx() = default;
  ~heap_tx() = default;
  heap_tx(const heap_tx&) = delete;
  heap_tx& operator=(const heap_tx&) = delete;
};

}  // namespace ferrite::detail
