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
//
// Transactions that take locks:
//
//   pool.transaction([&] { ... }, from->lock, to->lock, ferrite::shared(dir->lock));
//   ferrite::transaction tx(pool, from->lock, to->lock);
//
// - The locks (pmutex, pshared_mutex) are taken when the transaction begins,
//   in address order, so two transactions that name the same locks in any
//   order cannot deadlock on them. A lock this thread's transaction already
//   holds (a nested level named it) is not taken again. Never name a lock
//   the thread already holds by other means: the locks are not recursive.
// - They are released early: as soon as the commit's record has its place
//   in the log order (its LSN), before it is durable, so the next holder
//   runs while the disk still syncs and its commit shares that sync (group
//   commit). This is safe: a transaction that saw the data gets a later
//   LSN, and recovery replays a prefix of the log, so no crash can show the
//   later transaction without the earlier one. A commit still returns only
//   once durable; a transaction that took locks and wrote nothing returns
//   once everything ordered before its end is durable, so it never reports
//   what a crash could undo.
// - An abort (or a commit that fails its checks) restores every byte first,
//   then releases the locks. A commit that fails in the log (io_error) has
//   released them already, so it leaves its bytes in memory (the next
//   holder may have built on them, and the record may be durable); the
//   pool is then read-only and must be reopened.
#pragma once

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <type_traits>

namespace ferrite {

class pool;
class pmutex;
class pshared_mutex;

// A persistent lock handed to a transaction (pool.transaction(fn, locks...),
// transaction tx(pool, locks...)): a pmutex or a pshared_mutex, taken
// exclusively, or ferrite::shared(m) for a pshared_mutex taken shared.
class tx_lock {
 public:
  enum class mode : unsigned char { exclusive, shared_writer, shared_reader };
  tx_lock(pmutex& m) noexcept : lock_(&m), mode_(mode::exclusive) {}             // NOLINT: implicit
  tx_lock(pshared_mutex& m) noexcept : lock_(&m), mode_(mode::shared_writer) {}  // NOLINT
  tx_lock(pshared_mutex& m, mode how) noexcept : lock_(&m), mode_(how) {}
  void* address() const noexcept { return lock_; }
  mode how() const noexcept { return mode_; }

 private:
  void* lock_;
  mode mode_;
};

// `m` taken shared (a reader) by a transaction.
inline tx_lock shared(pshared_mutex& m) noexcept {
  return {m, tx_lock::mode::shared_reader};
}

namespace detail {
struct pool_impl;
}

class transaction {
 public:
  // Begins a transaction on `p`, or joins the one this thread is running.
  // Throws read_only on a read-only or failed pool, tx_invalid when this
  // thread runs a transaction on another pool.
  explicit transaction(pool& p);
  // Also takes `locks` (after joining or beginning) and holds them until
  // the outermost commit has its place in the log order, or until the
  // abort has restored every byte. See "Transactions that take locks" above.
  transaction(pool& p, std::initializer_list<tx_lock> locks);
  template <class... Locks>
  requires(sizeof...(Locks) > 0 && (std::is_convertible_v<Locks&&, tx_lock> && ...))
      transaction(pool& p, Locks&&... locks)
      : transaction(p, {tx_lock(locks)...}) {}
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
