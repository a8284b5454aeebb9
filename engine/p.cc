// ferrite::p<T>'s store (engine/p.h): where the field lies decides how it
// is stored.
//
//   this thread runs a transaction, field in that pool's heap
//       -> tx_snapshot, store                       (the common case: first)
//   no transaction, field in an open pool
//       -> a transaction of its own: begin, tx_snapshot, store, commit
//   field in no open pool (ordinary memory)
//       -> plain store
//   a transaction runs on another pool than the field's
//       -> tx_invalid, nothing stored
//
// The address is checked before tx_snapshot: a snapshot outside the running
// pool's heap would poison the transaction, and a field in ordinary memory
// is no error.
#include "ferrite/engine/p.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "ferrite/base/error.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/pool_registry.h"
#include "ferrite/engine/transaction.h"

namespace ferrite::detail {

namespace {

// The field sizes p<T> has, as fixed-size copies (no call to memcpy).
void copy_field(void* at, const void* src, std::size_t n) {
  switch (n) {
    case 1:
      std::memcpy(at, src, 1);
      return;
    case 2:
      std::memcpy(at, src, 2);
      return;
    case 4:
      std::memcpy(at, src, 4);
      return;
    case 8:
      std::memcpy(at, src, 8);
      return;
    default:
      std::memcpy(at, src, n);
  }
}

// Everything but a field of the running transaction's heap; out of line,
// so that the common case keeps a small frame.
[[gnu::noinline]] void store_elsewhere(tx_context& tx, void* at, const void* src, std::size_t n) {
  pool_impl* owner = pool_of(at);
  if (owner == nullptr) {  // ordinary memory
    copy_field(at, src, n);
    return;
  }
  if (tx.depth == 0) {  // a transaction of its own, durable on return
    pool_transaction own(*owner);
    tx_snapshot(at, n);
    copy_field(at, src, n);
    own.commit();
    return;
  }
  if (owner != tx.pool) {
    // Worded as transaction::transaction words a second pool's transaction.
    fail(error_code::tx_invalid,
         "a ferrite::p field of pool '" + owner->path.string() +
             "' was assigned while this thread is running a transaction on pool '" +
             tx.pool->path.string() +
             "'; a transaction changes one pool: finish it first (nothing was stored)");
  }
  // In the running pool's view but outside its heap: tx_snapshot refuses it
  // (and poisons the transaction), as it does a hand-written snapshot.
  tx_snapshot(at, n);
  copy_field(at, src, n);
}

}  // namespace

void p_store(void* at, const void* src, std::size_t n) {
  tx_context& tx = this_thread_tx();
  if (tx.depth > 0) [[likely]] {
    const pool_impl& running = *tx.pool;
    const auto addr = reinterpret_cast<std::uintptr_t>(at);
    const auto heap =
        reinterpret_cast<std::uintptr_t>(running.store->working()) + running.header.heap_offset;
    const std::uint64_t heap_size = running.state.heap_size;
    if (addr >= heap && addr - heap < heap_size && n <= heap_size - (addr - heap)) [[likely]] {
      tx_snapshot(at, n);
      copy_field(at, src, n);
      return;
    }
  }
  store_elsewhere(tx, at, src, n);
}

}  // namespace ferrite::detail
