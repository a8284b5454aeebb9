// ferrite::pmutex and ferrite::pshared_mutex — locks that live inside pool
// objects, as fields of registered types.
//
//   struct account {
//     ferrite::pmutex lock;
//     std::int64_t balance;
//   };
//   FERRITE_TYPE(account, "bank.Account", lock, balance)
//
//   pool.transaction([&] { tx_snapshot(&acct->balance); acct->balance -= 10; },
//                    acct->lock);          // held by the transaction, released early
//
//   struct directory {
//     ferrite::pshared_mutex lock;         // many readers or one writer
//     ferrite::pptr<entry> first;
//   };
//   FERRITE_TYPE(directory, "fs.Directory", lock, first)
//   { std::shared_lock r(dir->lock); ... }  // readers share it
//   { std::unique_lock w(dir->lock); ... }  // a writer excludes everyone
//
// Both are 8 bytes, trivially copyable and need no initialisation: zero
// bytes are a free lock (a new object, or a T{} root, starts unlocked).
// They are listed fields like any other (FERRITE_TYPE refuses a struct
// that leaves one out); the pool's type table records them as locks (kind
// 5, docs/format.md "Type table"), and opening a pool checks them against
// the program's definition like every other field.
//
// Reset at open. A lock's word carries the generation of the pool open that
// took it (pool_registry.h), and every open has a new generation. So a lock
// that was held when the program crashed, or when it closed the pool, or
// whose held state a transaction committed, reads as free after the pool is
// opened again: nothing walks the heap to reset it. Locks therefore
// coordinate the threads of one open, never processes or opens.
//
// Lock state is not data. The garbage collector ignores lock fields (they
// hold no pointers), `ferrite dump` prints them as `<lock>` / `<shared
// lock>` (never their bytes) and `ferrite check` does not look at them.
// Never snapshot a lock on purpose: snapshot the fields it guards. When a
// snapshot covers one anyway (a whole struct), an abort does not restore the
// lock's bytes (engine/detail/lock_fields.h names them for the transaction
// engine), so the lock stays in the state its holders left it in.
//
// Hold a lock from before the first snapshot of what it guards until the
// commit is ordered in the log: name it in the transaction
// (pool.transaction(fn, locks...), transaction.h), which releases it as
// soon as the commit has its LSN, or take it outside the transaction and
// hold it until the commit returns (docs/durability.md, "Two threads").
//
// pmutex: lock / try_lock / unlock (std::lock_guard, std::unique_lock).
// Not recursive, not fair (a waiter spins briefly, then sleeps on the word;
// unlock wakes all waiters and they race).
//
// pshared_mutex: also lock_shared / try_lock_shared / unlock_shared
// (std::shared_lock). Writer-preferring: a writer that finds readers inside
// sets a "writer waiting" bit, which makes new readers wait, so a stream of
// readers cannot starve writers; when the writer unlocks, waiting readers
// and writers race again, so readers get in between writers, but a
// continuous stream of writers can delay them (no FIFO order). Not
// recursive: a thread that holds it shared and asks again while a writer
// waits deadlocks. At most 16383 readers at once (more wait). Its
// generation is 48 bits (pmutex keeps 56): a lock left held by an open
// 2^28 writable opens earlier, and untouched since, would read as held.
//
// Thread-safety: every member may be called concurrently; unlock and
// unlock_shared only by a holder.
//
// REQUIRES: the lock lies inside an open pool's working view (a lock
// elsewhere works as a plain lock of generation 0). It belongs in an object
// allocated on its own (make, root, a struct field of one), not in a
// container's elements, which move when the container changes.
#pragma once

#include <atomic>
#include <cstdint>

namespace ferrite {

struct type_descriptor;

class pmutex {
 public:
  void lock();
  bool try_lock();
  void unlock();

 private:
  // high 56 bits: generation of the open that locked it; low 8 bits:
  // 0 free, 1 locked, 2 locked with waiters.
  std::atomic<std::uint64_t> word_{0};
};

class pshared_mutex {
 public:
  // Exclusive (writer).
  void lock();
  bool try_lock();
  void unlock();

  // Shared (reader).
  void lock_shared();
  bool try_lock_shared();
  void unlock_shared();

 private:
  // high 48 bits: generation of the open that holds it; low 16 bits: bit 15
  // a writer holds it, bit 14 a writer waits for the readers to leave (new
  // readers wait), bits 0-13 the number of readers. Zero is free.
  std::atomic<std::uint64_t> word_{0};
};

static_assert(sizeof(pmutex) == 8 && alignof(pmutex) == 8);
static_assert(sizeof(pshared_mutex) == 8 && alignof(pshared_mutex) == 8);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// The descriptors that let a lock be a FERRITE_TYPE field (found by
// argument-dependent lookup from detail::describe, type_info.h):
// "ferrite.pmutex" and "ferrite.pshared_mutex", kind type_kind::lock.
const type_descriptor& ferrite_describe(pmutex*);
const type_descriptor& ferrite_describe(pshared_mutex*);

}  // namespace ferrite
