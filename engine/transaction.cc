// Transactions: the per-thread state machine behind ferrite::transaction
// (engine/transaction.h). The state is the calling thread's tx_context
// (engine/detail/tx_context.h); the record it commits goes through the
// change log (txlog/change_log.h).
//
// States:
//   idle        depth == 0. Nothing held.
//   running     depth >= 1, neither aborted nor poisoned. depth > 1 is
//               nested: inner transactions flatten into the outermost one.
//               Holds the pool's transaction gate (pool_impl::tx_gate)
//               shared from begin to end; garbage collection holds it
//               exclusive (engine/detail/gc.h), so the two never overlap.
//               The working view holds the new bytes; nothing of them is
//               in the durable image.
//   poisoned    depth >= 1, an error was thrown inside the transaction and
//               its bytes are not restored yet.
//   aborted     depth >= 1, rolled back (an inner abort); the enclosing
//               levels must still end.
//   committing  the outermost commit, inside commit_outermost().
//   durable     change_log::commit returned: the record and every earlier
//               one are durable (invariant 3, docs/design.md).
//
// clang-format off
//                           transaction::transaction (same pool): ++depth
//                           transaction::commit (inner):          --depth
//                                      +-----+
//                                      |     |
//            transaction::transaction  v     |  transaction::commit (outermost)
//   idle ----------------------------> running -------------------------------> committing
//    ^ ^ ^                             |     |                                  |       |
//    | | |       heap_tx::poison()     |     | roll_back()                      |       | commit
//    | | |       +---------------------+     | (transaction::abort)             |       | returned
//    | | |       v                           v                                  |       v
//    | | |    poisoned --roll_back()---> aborted                                |    durable
//    | | |       |                           |                                  |       |
//    | | +-------+---------------------------+  tx_context::reset               |       |
//    | |        when the outermost level ends                                   |       |
//    | +------------------------------------------------------------------------+       |
//    |              a check or the log refused: roll_back(), tx_context::reset, throw   |
//    +----------------------------------------------------------------------------------+
//                   tx_context::reset, then maybe_checkpoint and the on_commit callbacks
// clang-format on
//
// Transitions:
//   idle -> running         transaction::transaction: refuses a read-only or
//                           failed pool (read_only) and a thread already in a
//                           transaction on another pool (tx_invalid); takes
//                           the gate shared, depth = 1 (the context is clean:
//                           every way back to idle ends in tx_context::reset,
//                           an abort callback that throws included);
//                           checked mode lists the context in the pool's
//                           write_watch (if that throws: tx_context::reset,
//                           still idle).
//   running -> running      transaction::transaction on the same pool, ++depth;
//                           transaction::commit of an inner level, --depth.
//   running -> poisoned     heap_tx::poison() (tx_context::mark_poisoned): a
//                           snapshot outside the heap
//                           (tx_snapshot), or an allocation or free the heap
//                           refuses (alloc/heap.cc). It throws; every later
//                           call in the transaction throws tx_aborted
//                           (check_usable), and it cannot commit.
//   running, poisoned
//     -> aborted            roll_back(): restores the snapshotted bytes (the
//                           undo entries newest first), undoes the allocations
//                           (heap::on_abort) and runs the on_abort
//                           callbacks. Called by transaction::abort (and so
//                           by ~transaction, which is how an exception out of
//                           pool::transaction aborts) at any level; the
//                           commit of an enclosing level then throws
//                           tx_aborted.
//   aborted, poisoned
//     -> idle               when the outermost level ends: transaction::abort
//                           (roll_back first if still poisoned) or
//                           transaction::commit, which rolls back a poisoned
//                           transaction and throws tx_aborted. Both end in
//                           tx_context::reset, which releases the gate.
//   running -> committing   transaction::commit of the outermost level calls
//                           commit_outermost(): first the deferred releases
//                           (tx_release_at_commit: payloads whose reference
//                           count reached zero are freed inside the
//                           transaction; if that throws it rolls back and
//                           rethrows); then a typed object holding a
//                           pointer into another pool (find_foreign_pointer)
//                           or, in checked mode, a changed byte that was not
//                           snapshotted (find_unsnapshotted) rolls back and
//                           throws; else it gathers the record (the new
//                           bytes of the covered ranges, the bit operations,
//                           the root), writes new extents in place
//                           (change_log::persist_direct) and commits the
//                           record (change_log::commit). An empty record
//                           writes nothing. Locks handed to the transaction
//                           (take_locks, at begin) are released by
//                           on_ordered once the record has its LSN; with an
//                           empty record they are released and the commit
//                           waits for everything ordered (await_ordered).
//   committing -> idle      a check or the log refused (out_of_space,
//                           io_error): roll_back() (after on_ordered: the
//                           callbacks only, the bytes stay), then transaction::commit
//                           calls tx_context::reset and rethrows. Nothing of the
//                           transaction is in the pool, except on io_error,
//                           where the pool is read-only from then on and the
//                           record may or may not be durable
//                           (docs/durability.md).
//   committing -> durable   change_log::commit returned. The live root is
//                           updated and the frees take effect
//                           (heap::on_durable).
//   durable -> idle         tx_context::reset (the gate is released), then
//                           change_log::maybe_checkpoint and the on_commit
//                           callbacks, which run outside the transaction.
#include "ferrite/engine/transaction.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

#include "ferrite/base/format/type_table_format.h"
#include "ferrite/engine/detail/lock_fields.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/detail/write_watch.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/txlog/mutation.h"

namespace ferrite {
namespace detail {

namespace {
// This thread's context, made by its first transaction. A pointer that is
// constant-initialized and initial-exec costs one load from the thread
// pointer; a thread_local tx_context itself needs a dynamic-initialization
// guard, which g++ reaches through __tls_get_addr on every use (~11
// instructions, three times a transaction). The library is linked, not
// dlopen'ed late: glibc keeps static TLS room for it.
[[gnu::tls_model("initial-exec")]] thread_local tx_context* tls_tx_ptr = nullptr;

// Owns the context and destroys it when the thread exits.
struct tx_owner {
  std::unique_ptr<tx_context> tx;
  ~tx_owner() { tls_tx_ptr = nullptr; }  // before `tx` goes
};

[[gnu::noinline]] tx_context& make_thread_tx() {
  thread_local tx_owner owner;
  owner.tx = std::make_unique<tx_context>();
  tls_tx_ptr = owner.tx.get();
  return *tls_tx_ptr;
}

tx_context& thread_tx() {
  tx_context* t = tls_tx_ptr;
  return t ? *t : make_thread_tx();
}
}  // namespace

tx_context& this_thread_tx() noexcept {
  return thread_tx();
}

tx_context* running_tx(pool_impl& p) noexcept {
  tx_context* t = tls_tx_ptr;
  return t && t->depth > 0 && t->pool == &p ? t : nullptr;
}

void tx_context::take_locks(std::initializer_list<tx_lock> more) {
  // In address order, each address once; picked by selection, which for the
  // few locks of a transaction costs less than a sorted copy (and `locks`
  // keeps its capacity between transactions: no allocation).
  auto at = [](const tx_lock& l) { return reinterpret_cast<std::uintptr_t>(l.address()); };
  auto reader = [](const tx_lock& l) { return l.how() == tx_lock::mode::shared_reader; };
  std::uintptr_t last = 0;
  for (;;) {
    const tx_lock* next = nullptr;
    for (const tx_lock& l : more) {
      if (at(l) > last && (!next || at(l) < at(*next))) next = &l;
    }
    if (!next) return;
    last = at(*next);
    bool conflict = false;
    for (const tx_lock& l : more) conflict |= at(l) == last && reader(l) != reader(*next);
    auto held =
        std::find_if(locks.begin(), locks.end(), [&](const tx_lock& h) { return at(h) == last; });
    conflict |= held != locks.end() && reader(*held) != reader(*next);
    if (conflict) {
      fail(error_code::invalid_argument,
           "a transaction names the same lock shared and exclusive; it would wait for itself");
    }
    if (held != locks.end()) continue;  // held already (a nested level): not taken again
    switch (next->how()) {
      case tx_lock::mode::exclusive:
        static_cast<pmutex*>(next->address())->lock();
        break;
      case tx_lock::mode::shared_writer:
        static_cast<pshared_mutex*>(next->address())->lock();
        break;
      case tx_lock::mode::shared_reader:
        static_cast<pshared_mutex*>(next->address())->lock_shared();
        break;
    }
    locks.push_back(*next);
  }
}

void tx_context::release_locks() noexcept {
  for (auto it = locks.rbegin(); it != locks.rend(); ++it) {
    switch (it->how()) {
      case tx_lock::mode::exclusive:
        static_cast<pmutex*>(it->address())->unlock();
        break;
      case tx_lock::mode::shared_writer:
        static_cast<pshared_mutex*>(it->address())->unlock();
        break;
      case tx_lock::mode::shared_reader:
        static_cast<pshared_mutex*>(it->address())->unlock_shared();
        break;
    }
  }
  locks.clear();
}

void tx_context::reset() {
  if (watched) {  // before the ranges are cleared: they become the pre-image
    pool->watch->leave(*this);
    watched = false;
  }
  // An abort or a refused commit: every byte is restored by now.
  if (!locks.empty()) release_locks();

  if (gate) {
    gate->unlock_shared();
    gate = nullptr;
  }
  ordered = false;
  pool = nullptr;
  depth = 0;
  aborted = false;
  poisoned = false;
  poison_reason.clear();
  covered.clear();
  undo.clear();
  undo_bytes.clear();
  bit_ops.clear();
  root_changed = false;
  on_commit.clear();
  on_abort.clear();
  unreferenced.clear();
  release_unreferenced = nullptr;
  record.clear();
  heap_allocs.clear();
  heap_frees.clear();
  direct.clear();
  aside.clear();
}

void tx_context::cover(const std::byte* base, std::uint64_t offset, std::uint64_t len) {
  auto guard = lock_coverage();
  const std::uint64_t b = offset, e = offset + len;
  auto save = [&](std::uint64_t from, std::uint64_t to) {
    if (!base) return;  // new memory: nothing to restore
    undo.push_back({from, to - from, undo_bytes.size()});
    undo_bytes.append(base + from, to - from);
  };
  // Fast path: beyond every interval so far (the common, append-like case).
  if (covered.empty() || covered.back().end < b) {
    save(b, e);
    covered.push_back({b, e});
    return;
  }
  auto it = std::lower_bound(covered.begin(), covered.end(), b,
                             [](const interval& iv, std::uint64_t v) { return iv.end < v; });
  auto first = it;
  std::uint64_t cur = b, nb = b, ne = e;
  while (it != covered.end() && it->begin <= e) {
    if (cur < it->begin) save(cur, it->begin);
    cur = std::max(cur, it->end);
    nb = std::min(nb, it->begin);
    ne = std::max(ne, it->end);
    ++it;
  }
  if (cur < e) save(cur, e);
  if (first == it) {
    covered.insert(it, {nb, ne});
  } else {
    *first = {nb, ne};
    covered.erase(first + 1, it);
  }
}

void tx_set_root(tx_context& tx, std::uint64_t offset, std::uint64_t type) {
  tx.root_changed = true;
  tx.new_root_offset = offset;
  tx.new_root_type = type;
}

namespace {

void check_usable(tx_context& tx) {
  if (tx.depth == 0) {
    fail(error_code::tx_invalid, "no transaction is running on this thread");
  }
  if (tx.aborted || tx.poisoned) {
    fail(error_code::tx_aborted,
         "the transaction was aborted" +
             (tx.poison_reason.empty() ? std::string() : " (" + tx.poison_reason + ")") +
             "; it must end before anything else is done in it");
  }
}

// Puts back every snapshotted byte and undoes the allocations, then runs
// the on_abort callbacks; leaves depth alone. `restore` false: only the
// callbacks (a commit that failed in the log after its locks were
// released, see commit_outermost).
void roll_back(tx_context& tx, bool restore = true) {
  if (!restore) {
    tx.heap_allocs.clear();
    tx.heap_frees.clear();
    auto callbacks = std::move(tx.on_abort);
    tx.aborted = true;
    for (auto& fn : callbacks) fn();
    return;
  }
  std::byte* base = tx.pool->store->working();
  // Lock fields (pmutex, pshared_mutex) hold run-time state, not data: a
  // snapshot of a whole struct covers them, but an abort must not put back
  // the state they had then (the lock may have been released or taken since).
  const bool locks = has_lock_fields(*tx.pool);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> lock_ranges;
  for (auto it = tx.undo.rbegin(); it != tx.undo.rend(); ++it) {
    const std::byte* old_bytes = tx.undo_bytes.data() + it->at;
    if (locks) {
      lock_ranges.clear();
      lock_fields_in(*tx.pool, it->offset, it->offset + it->len, lock_ranges);
    }
    std::uint64_t at = it->offset;
    for (const auto& [b, e] : lock_ranges) {
      std::memcpy(base + at, old_bytes + (at - it->offset), b - at);
      at = e;
    }
    std::memcpy(base + at, old_bytes + (at - it->offset), it->offset + it->len - at);
  }
  tx.pool->heap->on_abort(tx);
  tx.heap_allocs.clear();
  tx.heap_frees.clear();
  auto callbacks = std::move(tx.on_abort);
  tx.aborted = true;
  for (auto& fn : callbacks) fn();
}

// A pool never points into another pool: every pointer field of a typed
// object in the changed ranges must be null or carry this pool's tag. Only
// pools whose type table has pointer-bearing structs pay for the walk.
// Returns a description of the first offending pointer, or "".
std::string find_foreign_pointer(const tx_context& tx) {
  const pool_impl& p = *tx.pool;
  const std::byte* base = p.store->working();
  const std::uint64_t tag = p.header.pool_tag;
  for (const auto& iv : tx.covered) {
    std::uint64_t at = iv.begin;
    while (at < iv.end) {
      std::uint64_t data = 0, next = 0;
      object_header h;
      const bool found = p.heap->object_containing(at, &data, &h, &next);
      if (found && h.type_id >= first_stored_type_id) {
        const stored_type* t = p.types->find(h.type_id);
        if (t && !t->pointers.empty() && t->kind != type_kind::container) {
          for (std::uint32_t o : t->pointers) {
            const std::uint64_t where = data + o;
            if (where + 8 <= iv.begin || where >= iv.end) continue;
            std::uint64_t raw;
            std::memcpy(&raw, base + where, sizeof raw);
            if (raw != 0 && (raw >> 48) != tag) {
              return "a pointer in a '" + t->name + "' at pool offset " + std::to_string(where) +
                     " points into another pool (tag " + std::to_string(raw >> 48) +
                     ", this pool's is " + std::to_string(tag) +
                     "); a pool may only point into itself";
            }
          }
        }
      }
      at = std::max(next, at + 1);
    }
  }
  return {};
}

// Set while this thread runs the follow-up transactions of a release too
// large for one (release_leftovers); their own leftovers go to `leftovers`.
thread_local bool draining = false;
thread_local std::vector<unreferenced_payload> leftovers;

// Frees, in transactions of their own, the candidates a committed
// transaction's release left for later (its budget spent). They are
// unreferenced (count zero, named by no cell), so nothing else can reach
// them meanwhile; a crash in between leaves them to the collection at open.
// An error here is not the committed transaction's: the rest is left to
// pool::gc().
void release_leftovers(pool_impl& p, release_unreferenced_fn fn,
                       std::vector<unreferenced_payload> rest) {
  draining = true;
  try {
    while (!rest.empty()) {
      pool_transaction t(p);
      tx_context& tx = thread_tx();
      tx.unreferenced = std::move(rest);
      tx.release_unreferenced = fn;
      rest.clear();
      t.commit();
      rest = std::move(leftovers);
      leftovers.clear();
    }
  } catch (...) {
    leftovers.clear();
  }
  draining = false;
}

// change_log::commit's on_ordered hook: the record has its LSN, so the
// transaction's locks go (after the new root is visible: the next holder may
// read it).
void on_ordered(void* arg, std::uint64_t lsn) noexcept {
  tx_context& tx = *static_cast<tx_context*>(arg);
  if (tx.root_changed) tx.pool->log->set_live_root(lsn, tx.new_root_offset, tx.new_root_type);
  tx.release_locks();
  tx.ordered = true;
}

void commit_outermost(tx_context& tx) {
  pool_impl& p = *tx.pool;
  // Deferred releases first: they snapshot, free and may find more
  // candidates, all inside the transaction. One that throws aborts it.
  // What a release leaves (its budget spent) is freed after the commit.
  std::vector<unreferenced_payload> rest;
  const release_unreferenced_fn release = tx.release_unreferenced;
  if (!tx.unreferenced.empty() && release) {
    try {
      release(p, tx.unreferenced);
      check_usable(tx);
    } catch (...) {
      if (!tx.aborted) roll_back(tx);
      throw;
    }
    rest = std::move(tx.unreferenced);
    tx.unreferenced.clear();
  }
  if (p.types->has_pointers()) {
    std::string foreign = find_foreign_pointer(tx);
    if (!foreign.empty()) {
      roll_back(tx);
      fail(error_code::invalid_argument, foreign + "; the transaction was aborted");
    }
  }
  if (tx.watched) {
    std::string missing = p.watch->check(tx);
    if (!missing.empty()) {
      roll_back(tx);
      fail(error_code::missing_snapshot,
           "checked transactions: heap bytes changed without a snapshot: " + missing +
               "; this transaction (thread " + std::to_string(current_thread_id()) +
               ") was aborted. The store was made by it, by a transaction running on another "
               "thread meanwhile, or outside any transaction; snapshot before writing "
               "(tx_snapshot, or a ferrite::p<T> field)");
    }
  }
  const std::byte* base = p.store->working();
  record_builder& rb = tx.record;
  for (const auto& iv : tx.covered) rb.add_range(iv.begin, base + iv.begin, iv.end - iv.begin);
  for (const auto& op : tx.bit_ops) rb.add_bits(op.kind, op.offset, op.mask);
  if (tx.root_changed) rb.add_root(tx.new_root_offset, tx.new_root_type);
  if (!tx.locks.empty() && active_mutation() == mutation::release_before_lsn) {
    tx.release_locks();  // self-test mutation: before the LSN, then let a waiter get ahead
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!rb.empty()) {
    std::uint64_t lsn = 0;
    try {
      // New extents are not logged: their bytes go to free space of the
      // durable image, durable before the record that allocates them.
      if (!tx.direct.empty()) {
        std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
        for (const auto& d : tx.direct) ranges.emplace_back(d.begin, d.end - d.begin);
        p.log->persist_direct(base, ranges);
      }
      if (tx.locks.empty()) {
        lsn = p.log->commit(rb);
      } else {
        const commit_hooks hooks{&on_ordered, &tx};
        lsn = p.log->commit(rb, &hooks);
      }
    } catch (...) {
      // Refused before its LSN: roll back. Failed after it (io_error, the
      // pool is now read-only): its locks are gone and the next holder may
      // have built on its bytes, so putting them back would tear that
      // transaction in memory; they stay, as the record may be durable.
      roll_back(tx, !tx.ordered);
      throw;
    }
    if (tx.root_changed) p.log->set_live_root(lsn, tx.new_root_offset, tx.new_root_type);
    p.heap->on_durable(tx, lsn);
  } else if (!tx.locks.empty()) {
    // Nothing to write, but what it read under its locks may be a commit
    // that is ordered and not yet durable: wait for it before returning.
    tx.release_locks();
    try {
      p.log->await_ordered();
    } catch (...) {
      tx.reset();
      throw;
    }
  }
  auto callbacks = std::move(tx.on_commit);
  tx.reset();
  p.log->maybe_checkpoint();
  for (auto& fn : callbacks) fn();
  if (rest.empty()) return;
  if (draining) {
    leftovers = std::move(rest);
  } else {
    release_leftovers(p, release, std::move(rest));
  }
}

}  // namespace
}  // namespace detail

using namespace detail;

transaction::transaction(pool& p) : transaction(detail::impl_of(p)) {}

transaction::transaction(pool_impl& impl) {
  tx_context& tx = thread_tx();
  if (tx.depth > 0) {
    if (tx.pool != &impl) {
      fail(error_code::tx_invalid, "this thread is already running a transaction on pool '" +
                                       tx.pool->path.string() + "'; finish it first");
    }
    ++tx.depth;
    return;
  }
  if (impl.read_only) {
    fail(error_code::read_only, "pool '" + impl.path.string() + "' is open read-only");
  }
  if (impl.log->failed()) {
    fail(error_code::read_only, "pool '" + impl.path.string() +
                                    "' is read-only after a failed sync (" + impl.log->failure() +
                                    "); reopen it");
  }
  impl.store->refuse_forked();  // a fork() child's transaction would corrupt the pool
  // The context is clean: every way out of a transaction ends in reset().
  // Garbage collection excludes transactions (engine/detail/gc.h).
  impl.tx_gate.lock_shared();
  tx.gate = &impl.tx_gate;
  tx.pool = &impl;
  tx.depth = 1;
  if (impl.watch) {
    try {
      impl.watch->enter(tx);
    } catch (...) {
      tx.reset();  // no transaction began: release the gate
      throw;
    }
    tx.watched = true;
  }
}

transaction::transaction(pool& p, std::initializer_list<tx_lock> locks) : transaction(p) {
  // The destructor aborts (and releases what was taken) if this throws.
  thread_tx().take_locks(locks);
}

transaction::~transaction() {
  if (ended_) return;
  try {
    abort();
  } catch (...) {
    // An abort callback threw while unwinding: nothing more can be done.
  }
}

void transaction::commit() {
  if (ended_) fail(error_code::tx_invalid, "the transaction has already ended");
  ended_ = true;
  tx_context& tx = thread_tx();
  if (tx.depth > 1) {
    --tx.depth;
    if (tx.aborted) {
      fail(error_code::tx_aborted, "an inner transaction was aborted, so this one cannot commit");
    }
    return;
  }
  if (tx.aborted || tx.poisoned) {
    std::string why = tx.poison_reason;
    if (!tx.aborted) {
      try {
        roll_back(tx);
      } catch (...) {  // an on_abort callback threw: the transaction still ends
        tx.reset();
        throw;
      }
    }
    tx.reset();
    fail(error_code::tx_aborted, "the transaction was aborted" +
                                     (why.empty() ? std::string() : " (" + why + ")") +
                                     "; nothing of it was committed");
  }
  try {
    commit_outermost(tx);
  } catch (...) {
    tx.reset();
    throw;
  }
}

void transaction::abort() {
  if (ended_) return;
  ended_ = true;
  tx_context& tx = thread_tx();
  if (tx.depth == 0) return;
  if (!tx.aborted) {
    try {
      roll_back(tx);
    } catch (...) {  // an on_abort callback threw: this level still ends
      if (--tx.depth == 0) tx.reset();
      throw;
    }
  }
  if (--tx.depth == 0) tx.reset();
}

void transaction::snapshot(const void* ptr, std::size_t len) {
  tx_snapshot(ptr, len);
}

void transaction::on_commit(std::function<void()> fn) {
  tx_context& tx = thread_tx();
  check_usable(tx);
  tx.on_commit.push_back(std::move(fn));
}

void transaction::on_abort(std::function<void()> fn) {
  tx_context& tx = thread_tx();
  check_usable(tx);
  tx.on_abort.push_back(std::move(fn));
}

void detail::tx_release_at_commit(pool_impl& p, const void* cell16,
                                  release_unreferenced_fn release) {
  tx_context* tx = running_tx(p);
  if (!tx) fail(error_code::tx_invalid, "tx_release_at_commit outside a transaction on the pool");
  check_usable(*tx);
  unreferenced_payload u;
  std::memcpy(u.cell, cell16, sizeof u.cell);
  tx->unreferenced.push_back(u);
  tx->release_unreferenced = release;
}

void tx_snapshot(const void* ptr, std::size_t len) {
  tx_context& tx = thread_tx();
  check_usable(tx);
  const std::byte* base = tx.pool->store->working();
  const auto* p = static_cast<const std::byte*>(ptr);
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  const auto base_addr = reinterpret_cast<std::uintptr_t>(base);
  const std::uint64_t offset = addr - base_addr;
  const pool_impl& impl = *tx.pool;
  const std::uint64_t heap_end = impl.header.heap_offset + impl.state.heap_size;
  if (addr < base_addr || offset < impl.header.heap_offset || offset > heap_end ||
      len > heap_end - offset) {
    tx.poison(error_code::invalid_argument, "tx_snapshot of " + std::to_string(len) +
                                                " bytes that are not inside the pool's heap");
  }
  if (len == 0) return;
  // A new extent of this transaction is written whole at commit and freed
  // on abort: its bytes need no snapshot (and would only fill the log).
  if (tx.in_direct(offset, len)) return;
  tx.cover(base, offset, len);
}

bool in_transaction() noexcept {
  const tx_context* t = tls_tx_ptr;
  return t && t->depth > 0;
}

}  // namespace ferrite
