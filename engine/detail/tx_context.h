// The per-thread state of a running transaction (internal).
//
// Invariants while depth > 0:
// - In checked mode (`watched`) the pool's write_watch lists the context,
//   and `covered`, `bit_ops` and `direct` change only under coverage_mu.
// - `covered` holds sorted, disjoint, non-adjacent [begin, end) pool offsets
//   whose old bytes are in `undo_bytes` (the first snapshot of each byte).
// - The working view holds the transaction's new bytes; the durable image
//   knows nothing of them until commit writes the record.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ferrite/alloc/heap_tx.h"
#include "ferrite/base/detail/byte_buffer.h"
#include "ferrite/engine/detail/tx_gate.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/txlog/record.h"

namespace ferrite::detail {

struct pool_impl;

// The allocator's part (heap_tx) is filled by alloc/heap; the hooks it
// calls are implemented in engine/transaction.cc.
struct tx_context final : heap_tx {
  struct undo_entry {
    std::uint64_t offset, len, at;  // at: position in undo_bytes
  };
  struct bit_op {
    entry_kind kind;
    std::uint64_t offset, mask;
  };

  pool_impl* pool = nullptr;
  int depth = 0;
  bool aborted = false;  // rolled back by an inner abort
  bool poisoned = false;
  std::string poison_reason;
  std::vector<interval> covered;
  std::vector<undo_entry> undo;
  byte_buffer undo_bytes;
  std::vector<bit_op> bit_ops;
  bool root_changed = false;
  std::uint64_t new_root_offset = 0, new_root_type = 0;
  std::vector<std::function<void()>> on_commit, on_abort;
  // Payloads whose reference count reached zero in this transaction
  // (tx_release_at_commit): released by `release_unreferenced` when the
  // outermost level commits, before the record is gathered.
  std::vector<unreferenced_payload> unreferenced;
  release_unreferenced_fn release_unreferenced = nullptr;
  record_builder record;
  tx_gate* gate = nullptr;  // the pool's tx_gate, held shared (released by reset)
  // Locks handed to the transaction (transaction(pool&, locks)), in the
  // order taken; released when the commit is ordered, or by reset.
  std::vector<tx_lock> locks;
  // The commit's record has its LSN and the locks were released early
  // (change_log::commit's on_ordered hook).
  bool ordered = false;

  void take_locks(std::initializer_list<tx_lock> more);
  void release_locks() noexcept;

  // Records [offset, offset+len) as snapshotted, saving old bytes not yet saved.
  void cover(const std::byte* base, std::uint64_t offset, std::uint64_t len);
  // heap_tx's hooks.
  void log_bits(entry_kind kind, std::uint64_t offset, std::uint64_t mask) override {
    auto guard = lock_coverage();
    bit_ops.push_back({kind, offset, mask});
  }
  void cover_new(std::uint64_t offset, std::uint64_t len) override { cover(nullptr, offset, len); }
  void mark_poisoned(const std::string& reason) override {
    poisoned = true;
    poison_reason = reason;
  }
  // Ends the transaction's state: releases the gate and clears everything.
  void reset();
};

// The context of the calling thread.
tx_context& this_thread_tx() noexcept;

// Internal API for engine modules (allocator, containers): the running
// transaction on `p`, or null.
tx_context* running_tx(pool_impl& p) noexcept;
void tx_set_root(tx_context& tx, std::uint64_t offset, std::uint64_t type);

}  // namespace ferrite::detail
