// Transactions: groups of changes to a pool that are all-or-nothing.
//
//   pool.transaction([&] {
//     ferrite::tx_snapshot(&game->score);   // record the old bytes first
//     game->score += 10;
//   });                                     // durable when this returns
//
//   ferrite::transaction tx(pool);          // the same, as an object
//   tx.snapshot(game->moves);
//   ...;
//   tx.commit();                            // destroyed uncommitted: aborted
//
// Semantics:
// - Every byte a transaction changes must be snapshotted first (typed
//   containers and ferrite::p<T> fields, engine/p.h, do it for you).
//   Snapshotting costs no fence and no syscall; snapshotting the same
//   bytes again costs nothing.
// - Commit returns only when the transaction is durable: one log record,
//   one fence on persistent memory, one msync on an ordinary file.
// - An exception leaving pool.transaction() aborts it and is rethrown.
//   Abort restores every snapshotted byte and runs the on_abort callbacks.
// - Nested transactions on the same thread flatten into the outermost one;
//   an inner abort aborts the whole transaction (the outer commit then
//   throws tx_aborted).
// - After an error inside a transaction (a bad snapshot, a failed
//   allocation) the transaction is poisoned: every later call in it throws
//   tx_aborted until it ends, and it cannot commit.
// - Threads: each thread runs its own transactions. Isolation between
//   threads is the program's business (use ferrite::pmutex or your own
//   locks); the engine's state is thread-safe.
#pragma once

#include <cstddef>
#include <functional>

namespace ferrite {

class pool;

namespace detail {
struct pool_impl;
}

class transaction {
 public:
  // Begins a transaction on `p`, or joins the one this thread is running.
  // Throws read_only on a read-only or failed pool, tx_invalid when this
  // thread runs a transaction on another pool.
  explicit transaction(pool& p);
  ~transaction();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  // Outermost: makes the transaction durable (throws on failure, after
  // aborting). Nested: hands over to the enclosing transaction.
  void commit();
  // Rolls the whole transaction back.
  void abort();

  void snapshot(const void* ptr, std::size_t len);
  template <class T>
  void snapshot(const T& obj) {
    snapshot(&obj, sizeof(T));
  }

  // Called after the outermost commit is durable / after an abort.
  void on_commit(std::function<void()> fn);
  void on_abort(std::function<void()> fn);

 protected:
  explicit transaction(detail::pool_impl& p);  // detail::pool_transaction

 private:
  bool ended_ = false;
};

namespace detail {
// A transaction on the state behind a pool, for the typed layer's single
// operations (object_ops.h's atomically); the same as ferrite::transaction.
class pool_transaction : public transaction {
 public:
  explicit pool_transaction(pool_impl& p) : transaction(p) {}
};
}  // namespace detail

// Snapshot in the transaction this thread is running; throws tx_invalid
// outside a transaction (never silently does nothing).
void tx_snapshot(const void* ptr, std::size_t len);
template <class T>
void tx_snapshot(const T* obj) {
  tx_snapshot(obj, sizeof(T));
}

// True while this thread runs a transaction.
bool in_transaction() noexcept;

}  // namespace ferrite
