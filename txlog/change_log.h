// The change log: commit with group commit, checkpoint, recovery.
//
// Durability invariants 2-5 (docs/design.md, "Durability invariants") are
// kept here; docs/durability.md says what they mean for a program.
//
// The life of a record (its slot in `pending_`), each step named by the
// function that takes it; commit() runs them in this order:
//
//   reserve()              under mu_
//      |
//      v
//   reserved               slot in pending_, written == false; the LSN is
//      |                   final: commit_hooks::on_ordered runs (mu_ released)
//      |  write_record()   mu_ released: the wrap marker, then the record
//      |  fence_record()   mu_ released; byte and cache-line media only
//      |  mark_written()   under mu_: slot written, or the log fails; a
//      |                   first-in-line record (below) is published
//      |                   instead, mu_ released, and absorbed later
//      v
//   written                lsn > durable_lsn_
//      |  await_durable()  under mu_. byte/cache_line: advance_durable_locked();
//      |                   page: sync_as_leader() (group commit), or wait
//      v
//   durable                lsn <= durable_lsn_: commit() returns (invariant 3)
//      |  checkpoint_locked()
//      v
//   freed                  popped from pending_, its log space given back
//
//   reserve():        takes the next LSN (two when the record needs a wrap
//                     marker) and log space; when the log is full, runs a
//                     checkpoint itself or waits for the running one.
//   write_record():   copies the wrap marker and the record into the log.
//   fence_record():   byte/cache-line media: fences this thread's flushes
//                     of the record (each committer fences its own).
//   mark_written():   marks the record (and its marker) written; a write or
//                     fence that failed fails the log instead.
//                     First in line (byte/cache_line: every earlier record
//                     was durable at reserve()): the record is durable once
//                     fenced, so commit() stores its LSN in fast_fenced_
//                     and returns, taking no lock after the fence;
//                     absorb_first_locked() marks it written under mu_ at
//                     the next reserve(), advance or checkpoint.
//   await_durable():  returns once every record up to this one is durable
//                     (invariant 3). byte/cache_line: advance_durable_locked()
//                     moves durable_lsn_ over the written prefix, then waits
//                     for earlier committers. page: the first committer to
//                     find its record in the written prefix while no sync
//                     runs becomes the leader (sync_as_leader()) and syncs
//                     the log range of every written record for everyone
//                     waiting (group commit); the others wait.
//   commit():         checks the record's size, runs the steps in this
//                     order, counts the commit and returns its LSN.
//   checkpoint_locked() applies durable records, read back from the log, to
//                     the durable heap, makes them durable, then advances
//                     the checkpoint LSN in the superblock (invariants 2 and
//                     5) and frees their log space.
//   recover():        at open, replays the valid records after the
//                     checkpoint (invariant 4) after making the log itself
//                     durable (invariant 2), and starts a new log epoch.
//
// Failure: a write, fence or sync that fails (in a commit, a checkpoint,
// persist_direct or update_superblock) puts the log in the failed state
// (fail_locked): every later commit, and every waiting commit whose
// record was not durable yet, fails with io_error; what was durable stays
// durable. A failed log is never un-failed.
//
// Lock rules (mu_):
// - mu_ guards the log's volatile state (pending_, next_lsn_, tail_, used_,
//   written_lsn_, durable_lsn_, syncing_, checkpointing_, failed_,
//   failure_, stats_) and the writes to state_. Functions named *_locked,
//   mark_written(), and those taking the lock as an argument REQUIRE mu_
//   held and return with it held (they may release it in between).
// - No media call is made while mu_ is held. A committer reserves under
//   mu_, writes and fences with mu_ released (its slot is its own), then
//   takes mu_ again to publish (a first-in-line one publishes through
//   fast_fenced_ instead, an atomic). sync_as_leader() and checkpoint_locked()
//   release mu_ around their media calls; `syncing_` and `checkpointing_`
//   keep a second sync or checkpoint out meanwhile. update_superblock()
//   does the same with `checkpointing_`.
// - Outside recover(), `state_` is written under mu_ only: by checkpoints (the fields a
//   checkpoint changes, never heap_size) and update_superblock() (which runs
//   while no checkpoint does); its heap_size is read without mu_ by
//   transactions and the allocator, and changes only in pool::grow, which
//   runs alone.
// - Not guarded by mu_: `failed_flag_` (an atomic mirror of failed_ for
//   failed()), `fast_fenced_` (an atomic a first-in-line committer stores
//   after its fence, read under mu_), `checkpoint_wanted_` (an atomic hint that lets
//   maybe_checkpoint() skip the lock), `flush_set_` and
//   `checkpoint_stored_` (scratch of the one running checkpoint or
//   recovery), the slots a running checkpoint applies (durable, so
//   unchanging; read through a pinned view, slot_ring::pin), and the live
//   root, under its own root_mu_ (set by committing threads once their
//   record has its LSN or is durable, read by any thread).
// - recover() and apply_to_working() run at open, before any other call,
//   and take no lock.
//
// Thread-safety: commit(), persist_direct(), checkpoint() and the
// accessors may be called from any thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/media.h"
#include "ferrite/txlog/record.h"
#include "ferrite/txlog/superblock.h"

namespace ferrite::detail {

struct log_stats {
  std::uint64_t commits = 0;          // records committed
  std::uint64_t log_bytes = 0;        // bytes of records written
  std::uint64_t wraps = 0;            // times the log wrapped to its start
  std::uint64_t group_syncs = 0;      // syncs made by a group-commit leader
  std::uint64_t gathers = 0;          // syncs a leader delayed for committers on their way
  std::uint64_t gather_timeouts = 0;  // ... of which the wait ran out
  std::uint64_t space_waits = 0;      // commits that waited for log space
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpointed_records = 0;
  std::uint64_t recovered_records = 0;  // replayed at open
  std::uint64_t recovered_bytes = 0;    // data bytes replayed at open
  // The memory budget (give_back_pages).
  std::uint64_t private_pages = 0;  // working-view pages written and checkpointed, not given back
  std::uint64_t pages_given_back = 0;
  std::uint64_t give_back_rounds = 0;
  std::uint64_t pages_kept = 0;  // compared but changed since (a running transaction's)
  // Log bytes the checkpointer thread mapped ahead of the committers
  // (prefault_step), or found they had reached first; the log's size once
  // it is done (0 on page media and without the thread).
  std::uint64_t log_prefaulted = 0;
};

// What a committing transaction asks of commit() besides the record.
struct commit_hooks {
  // Called once the record has its LSN (its place in the log order),
  // before it is written or durable, with mu_ released: a transaction
  // releases its locks there. Must not throw.
  void (*on_ordered)(void*, std::uint64_t lsn) noexcept = nullptr;
  void* arg = nullptr;
};

class change_log {
 public:
  change_log(media& m, const pool_header& header, superblock_store& superblocks, pool_state& state,
             bool writable);

  // Finds the valid records after the checkpoint. Writable: applies them
  // to the durable image, makes it durable and stores a superblock that
  // starts a new epoch with the clean-shutdown flag cleared. Read-only:
  // remembers them for apply_to_working(). Throws corrupted when a valid
  // record holds an entry outside the pool, and when a record is damaged
  // in the middle of the log (a later valid record proves it was durable:
  // refuse_damage) — except for a read-only open with `salvage`, which
  // keeps the records before the damage and says what it left out in
  // damage().
  void recover(bool salvage = false);

  // What a salvaging open left out ("" when the log is whole), and the file
  // offset of the damaged record.
  const std::string& damage() const noexcept { return damage_; }
  std::uint64_t damage_offset() const noexcept { return damage_offset_; }

  // Read-only pools: applies the recovered records to the working view.
  void apply_to_working(std::byte* working);

  // The root (offset, type id) as of the last committed record that set
  // it (volatile, for pool::root): read and set by any thread, under
  // root_mu_, so that the pair is never torn. Committers that share a sync
  // return in any order: set_live_root keeps the root of the highest LSN.
  std::pair<std::uint64_t, std::uint64_t> live_root() const {
    std::lock_guard g(root_mu_);
    return {root_offset_, root_type_};
  }
  void set_live_root(std::uint64_t lsn, std::uint64_t offset, std::uint64_t type) noexcept {
    std::lock_guard g(root_mu_);
    if (lsn < root_lsn_) return;
    root_lsn_ = lsn;
    root_offset_ = offset;
    root_type_ = type;
  }

  // Largest record accepted (half the log, so that one always fits once
  // the log is checkpointed).
  std::uint64_t max_record_length() const noexcept;

  // Writes `rb` as the next record and returns once it is durable. Throws
  // out_of_space when the record exceeds max_record_length(), io_error when
  // the media fails (then and afterwards).
  std::uint64_t commit(record_builder& rb, const commit_hooks* hooks = nullptr);

  // Returns once every record that has an LSN now is durable (a
  // transaction that took locks and wrote nothing: what it read is durable
  // when it returns). Throws io_error when the log failed first.
  void await_ordered();

  // Makes [offset, offset+len) of `src_base` durable in place, before the
  // record that refers to it is written (new objects that are not logged).
  // A failure puts the log in the failed state. Throws io_error.
  void persist_direct(const std::byte* src_base,
                      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

  // After open (REQUIRES: recovery done, the working view mapped, no other
  // call running): `thread` starts the background checkpointer, which
  // checkpoints when a quarter of the log is used or the memory budget
  // asks, so committers wait only when the log is full. `budget_bytes`
  // (pool_options::unbounded: never) bounds the working view's private
  // pages: after each checkpoint, pages beyond it are given back
  // (give_back_pages). Without the thread both run on committing threads,
  // from maybe_checkpoint().
  void start_background(bool thread, std::uint64_t budget_bytes);
  // Stops the background thread; a checkpoint it runs ends first.
  // Idempotent; the destructor calls it.
  void stop_background() noexcept;
  ~change_log();

  // Applies every durable record to the heap and advances the checkpoint.
  void checkpoint();
  // Checkpoints when more than half of the log is used.
  void maybe_checkpoint();

  // A consistent copy of the superblock state.
  pool_state state_snapshot() const;

  // The checkpoint LSN (records up to it are applied to the durable heap).
  std::uint64_t checkpoint_lsn() const;

  // Runs `update` on the superblock state under the checkpoint lock and
  // stores the result (used to grow the heap). Throws io_error.
  // `before_store`, when given, runs just before the superblock is written
  // (a grow writes and syncs the moved chunk table there); its failure, like
  // the superblock's, leaves the log failed.
  void update_superblock(const std::function<void(pool_state&)>& update,
                         const std::function<void()>& before_store = {});

  // Runs `fn` while no checkpoint and no give-back runs (they wait), with
  // mu_ released; what it throws propagates and fails nothing (pool::grow
  // maps more of the file: the simulated device's bytes move, and held
  // pages must not meet a grow).
  void without_checkpoints(const std::function<void()>& fn);

  bool failed() const;
  std::string failure() const;
  log_stats stats() const;
  std::uint64_t used_bytes() const;

 private:
  struct slot {
    std::uint64_t lsn;
    std::uint64_t pos;       // offset in the log region
    std::uint64_t length;    // record bytes
    std::uint64_t consumed;  // log bytes it holds (wrap markers: to the end)
    bool wrap;
    bool written;
    std::uint64_t pages = 0;  // record_builder::pages_estimate
  };

  // pending_'s container: the slots in LSN order in a ring whose capacity
  // (a power of two) grows when full and never shrinks, so a commit
  // allocates nothing (a std::deque of these slots allocated a block every
  // nine commits) and indexing is a mask.
  //
  // A checkpoint reads its slots with mu_ released, through a view taken
  // under mu_ (pin()): the slots up to the durable LSN no longer change,
  // and while the ring is pinned a growth keeps the buffer the view reads
  // (retired until unpin()). So a checkpoint holds mu_ for O(1) at its
  // start and end, where it copied thousands of slots and popped them one
  // by one, while committers that needed mu_ waited.
  class slot_ring {
   public:
    struct view {
      const slot* buf;
      std::size_t mask, head;
      const slot& operator[](std::size_t i) const noexcept { return buf[(head + i) & mask]; }
      template <class F>
      void runs(std::size_t n, F f) const {
        const std::size_t first = std::min(n, mask + 1 - head);
        f(buf + head, first);
        if (n > first) f(buf, n - first);
      }
    };
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    slot& operator[](std::size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    const slot& operator[](std::size_t i) const noexcept {
      return buf_[(head_ + i) & (buf_.size() - 1)];
    }
    const slot& front() const noexcept { return buf_[head_]; }
    void push_back(const slot& s) {
      if (count_ == buf_.size()) grow();
      buf_[(head_ + count_) & (buf_.size() - 1)] = s;
      ++count_;
    }
    // Capacity for at least n slots (a power of two), its pages touched.
    void reserve(std::size_t n) {
      std::size_t cap = 64;
      while (cap < n) cap *= 2;
      if (cap > buf_.size()) resize_to(cap);
    }
    void pop_front(std::size_t n) noexcept {
      head_ = (head_ + n) & (buf_.size() - 1);
      count_ -= n;
    }
    // The slots as they are now, readable until unpin() whatever is pushed.
    // A view's first n slots are at most two runs of the buffer
    // (runs(n, f): f(first slot, count) for each).
    view pin() noexcept {
      pinned_ = true;
      return {buf_.data(), buf_.size() - 1, head_};
    }
    void unpin() noexcept {
      pinned_ = false;
      retired_.clear();
    }

   private:
    void grow() { resize_to(std::max<std::size_t>(64, 2 * buf_.size())); }
    void resize_to(std::size_t cap) {
      std::vector<slot> bigger(cap);  // value-initialized: every page touched
      for (std::size_t i = 0; i < count_; ++i) bigger[i] = (*this)[i];
      buf_.swap(bigger);
      if (pinned_) retired_.push_back(std::move(bigger));
      head_ = 0;
    }
    std::vector<slot> buf_;
    std::size_t head_ = 0, count_ = 0;
    bool pinned_ = false;
    std::vector<std::vector<slot>> retired_;  // buffers a pinned view may read
  };

  // A record's place in the log, chosen by reserve().
  struct reservation {
    std::uint64_t lsn;
    std::uint64_t pos;         // offset of the record in the log region
    std::uint64_t length;      // record bytes
    std::uint64_t waste;       // bytes skipped at the end of the region (0: no wrap marker)
    std::uint64_t marker_lsn;  // the wrap marker's LSN, when waste != 0
    std::uint64_t epoch;       // the log epoch the record is written in
    std::uint64_t durable;     // durable_lsn_ when reserved (record_header::durable_lsn)
    bool first;                // first in line: publishes without mu_ (fast_lsn_)
  };

  // The steps of commit(), in order (see the diagram above). Declared
  // inline and defined in change_log.cc, their only user, so that the
  // compiler folds them back into commit(): naming the steps costs no
  // instructions on the commit path.
  inline reservation reserve(std::unique_lock<std::mutex>& lk, std::uint64_t len,
                             std::uint64_t pages);
  inline void write_record(const reservation& r, record_builder& rb,
                           std::string& error);                              // mu_ NOT held
  inline void fence_record(const reservation& r, std::string& error);        // mu_ NOT held
  inline void mark_written(const reservation& r, const std::string& error);  // REQUIRES: mu_
  inline void await_durable(std::unique_lock<std::mutex>& lk, std::uint64_t lsn);
  void await_synced(std::unique_lock<std::mutex>& lk, std::uint64_t lsn);
  inline void advance_written_locked();

  pool_bounds bounds() const noexcept;
  void refuse_damage(const std::byte* log, std::uint64_t pos, std::uint64_t lsn, bool salvage);
  apply_target durable_target(std::uint64_t& root_off, std::uint64_t& root_type,
                              std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored);
  void flush_stored(std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored);
  void fail_locked(const std::string& why);
  void advance_durable_locked();
  void gather_locked(std::unique_lock<std::mutex>& lk);
  void sync_as_leader(std::unique_lock<std::mutex>& lk);
  // on_checkpointer_thread: run by background_loop(), which then drops
  // the slots it read from its CPU's caches (see drop_from_cache).
  void checkpoint_locked(std::unique_lock<std::mutex>& lk, bool on_checkpointer_thread = false);
  void want_checkpoint_locked();
  // cv_.wait(lk, pred), counted in cv_waiters_. REQUIRES: mu_ (lk).
  // While a first-in-line record is in flight (fast_lsn_), no one will
  // wake the waiter for it: wait_once polls for its publication instead.
  template <class Pred>
  void wait_log(std::unique_lock<std::mutex>& lk, Pred pred) {
    ++cv_waiters_;
    while (!pred()) wait_once(lk);
    --cv_waiters_;
  }
  void wait_log(std::unique_lock<std::mutex>& lk) {
    ++cv_waiters_;
    wait_once(lk);
    --cv_waiters_;
  }
  void wait_once(std::unique_lock<std::mutex>& lk);
  // Byte and cache-line media: the first-in-line record, once its
  // committer published it (fast_fenced_), is written. True if it was.
  bool absorb_first_locked();
  void background_loop();
  void prefault_step(std::unique_lock<std::mutex>& lk, std::uint64_t from);
  void prefault_direct(std::uint64_t offset, std::uint64_t len);
  // The pages reach high_pages_: a give-back round starts (after a
  // checkpoint).
  bool over_budget_locked() const noexcept {
    return private_pages_ + pending_pages_ >= high_pages_;
  }
  // The budget asks for a checkpoint: over budget, or the records not
  // checkpointed touch pending_high_ pages (small checkpoints: a give-back
  // waits for the checkpoint before it, while commits add pages).
  bool budget_wants_checkpoint_locked() const noexcept {
    return over_budget_locked() || pending_pages_ >= pending_high_;
  }
  std::uint64_t note_private_pages(
      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored);
  void give_back_pages(std::unique_lock<std::mutex>& lk);
  bool give_back_batch(std::unique_lock<std::mutex>& lk, bool& raced);
  std::vector<std::uint32_t> pick_batch(std::size_t want);

  media& media_;
  const pool_header& header_;
  superblock_store& superblocks_;
  pool_state& state_;  // superblock contents (lock rules above)
  const bool writable_;
  const std::uint64_t seed_;

  mutable std::mutex mu_;
  // Scratch of the one running checkpoint (or recovery), kept between
  // checkpoints so that none allocates (a fresh vector of thousands of
  // entries faulted its pages in on every checkpoint): flush_stored's line
  // set and the ranges stored.
  std::vector<std::uint64_t> flush_set_;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> checkpoint_stored_;
  std::condition_variable cv_;
  // Threads in cv_.wait (wait_log): a commit wakes no one when it is 0,
  // ~20 instructions a commit (pthread_cond_broadcast) on cache-line media.
  std::size_t cv_waiters_ = 0;
  // Byte and cache-line media: a record reserved while every record before
  // it was durable ("first in line") is durable as soon as its committer's
  // fence returns (invariant 3), so that committer takes no lock after its
  // fence: a locked instruction there waits for the record's non-temporal
  // stores (docs/bench.md, "Part 5, fourth session"). It stores the LSN in
  // fast_fenced_ (release, after the fence) and returns; whoever holds mu_
  // next marks the record written (absorb_first_locked, from
  // advance_durable_locked, reserve and checkpoint_locked). fast_lsn_
  // (under mu_): that record's LSN while it is not absorbed, else 0; at
  // most one at a time, since a later reservation is not first in line.
  std::uint64_t fast_lsn_ = 0;
  std::atomic<std::uint64_t> fast_fenced_{0};
  // persist_direct: new extents of at least prefault_direct_bytes are
  // prefaulted above direct_mapped_, the end of the highest one so far
  // (prefault_direct).
  static constexpr std::uint64_t prefault_direct_bytes = 256 << 10;
  std::atomic<std::uint64_t> direct_mapped_{0};
  // Page media: the leader waiting in gather_locked, alone; committers that
  // arrive meanwhile wake it and no one else.
  std::condition_variable gather_cv_;
  slot_ring pending_;  // reserved, not yet checkpointed, LSN order
  std::uint64_t next_lsn_ = 1;
  std::uint64_t tail_ = 0;
  std::uint64_t used_ = 0;
  std::uint64_t written_lsn_ = 0;  // every record <= is written
  std::uint64_t durable_lsn_ = 0;  // every record <= is durable
  bool syncing_ = false;
  bool checkpointing_ = false;
  // Group commit (page media), under mu_. A thread's slot in
  // `committed_in_` (thread_slot() modulo its size) holds 1 + the sync epoch
  // in which it last took an LSN; `recent_` counts the slots of this epoch
  // and the one before, as of the last sync: the committers a leader
  // expects in its group. sync_ns_: moving average of a log sync's
  // duration, which bounds the wait.
  bool gathering_ = false;        // a leader waits in gather_locked
  std::uint64_t sync_epoch_ = 0;  // log syncs completed
  std::array<std::uint64_t, 64> committed_in_{};
  std::uint64_t recent_ = 0;
  std::uint64_t sync_ns_ = 0;
  bool failed_ = false;
  std::atomic<bool> failed_flag_{false};        // failed_, readable without mu_
  std::atomic<bool> checkpoint_wanted_{false};  // more than half the log is used
  std::string failure_;
  log_stats stats_;

  mutable std::mutex root_mu_;  // the live root below (recover() alone at open)
  std::uint64_t root_lsn_ = 0;  // the record that set it (0: recovered)
  std::uint64_t root_offset_ = 0;
  std::uint64_t root_type_ = 0;
  std::vector<std::uint64_t> recovered_;  // read-only: record positions to apply
  std::string damage_;                    // set by refuse_damage (salvage)
  std::uint64_t damage_offset_ = 0;

  // The background checkpointer: woken (bg_->cv, under mu_) by reserve()
  // when a quarter of the log is used or the budget asks; bg_woken_ keeps
  // committers from notifying it again before it runs.
  // On the heap: a fork() child leaks it (stop_background), since its
  // condition variable may count the parent's thread as a waiter, and
  // destroying it would wait for that thread forever.
  struct background {
    std::thread thread;
    std::condition_variable cv;
  };
  std::unique_ptr<background> bg_;
  bool bg_running_ = false;
  bool bg_stop_ = false;
  bool bg_woken_ = false;

  // The memory budget, in pages (give_back_pages). high_pages_ (7/8 of
  // the budget; 3/4 on page media): a checkpoint and a give-back start
  // when private_pages_ + pending_pages_ reach it (~0 when unbounded);
  // low_pages_ (5/8; 1/2): a give-back ends there; pending_high_ (1/8;
  // ~0 on page media): a checkpoint (alone) starts when pending_pages_
  // reach it, so that the checkpoint before a give-back is short (pages
  // accumulate while it runs).
  // private_pages_ and pending_pages_ are under mu_; the page table and
  // its clock hand belong to whoever holds `checkpointing_`.
  std::uint64_t high_pages_ = ~std::uint64_t{0};
  std::uint64_t low_pages_ = ~std::uint64_t{0};
  std::uint64_t pending_high_ = ~std::uint64_t{0};
  std::uint64_t private_pages_ = 0;
  std::uint64_t pending_pages_ = 0;  // estimated pages of records not checkpointed
  // Per pool page: untracked, or tracked (private, checkpointed, counted
  // in private_pages_), referenced when a checkpoint wrote it again since
  // the clock hand last passed (pick_batch). The hand sweeps the pages in
  // address order.
  static constexpr std::uint8_t page_untracked = 0, page_tracked = 1, page_referenced = 2;
  std::vector<std::uint8_t> page_private_;
  std::uint64_t clock_hand_ = 0;
  // A give-back batch: at most batch_pages pages; runs of them closer than
  // hold_gap_pages are held with one mprotect (change_log.cc).
  static constexpr std::size_t batch_pages = 512;
  static constexpr std::uint64_t hold_gap_pages = 256;
  bool giving_back_ = true;  // false after a failure to protect or drop (budget off)
};

}  // namespace ferrite::detail
