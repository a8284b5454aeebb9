// The change log: commit with group commit, checkpoint, recovery.
//
// State diagram of a record (its slot in `pending_`):
//
//   reserved --write()--> written --fence/sync--> durable --checkpoint()--> freed
//
//   reserve():   under mu_: takes the next LSN and log space (waiting for a
//                checkpoint when the log is full).
//   commit():    copies the record into the log; on byte/cache-line media it
//                fences its own flushes; on page media one committer (the
//                leader) syncs the log range of every written record for all
//                waiting committers (group commit). Returns only when every
//                record up to its own is durable (invariant 3).
//   checkpoint() applies durable records, read back from the log, to the
//                durable heap, makes them durable, then advances the
//                checkpoint LSN in the superblock (invariants 2 and 5) and
//                frees their log space.
//   recover():   at open, replays the valid records after the checkpoint
//                (invariant 4) and starts a new log epoch.
//
// A failed sync puts the log in the failed state: every later commit fails
// with io_error; what was durable stays durable.
//
// Thread-safety: commit() and checkpoint() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "ferrite/base/media/media.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/txlog/record.h"
#include "ferrite/txlog/superblock.h"

namespace ferrite::detail {

struct log_stats {
  std::uint64_t commits = 0;             // records committed
  std::uint64_t log_bytes = 0;           // bytes of records written
  std::uint64_t wraps = 0;               // times the log wrapped to its start
  std::uint64_t group_syncs = 0;         // syncs made by a group-commit leader
  std::uint64_t space_waits = 0;         // commits that waited for log space
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpointed_records = 0;
  std::uint64_t recovered_records = 0;   // replayed at open
  std::uint64_t recovered_bytes = 0;     // data bytes replayed at open
};

class change_log {
 public:
  change_log(media& m, const pool_header& header, superblock_store& superblocks,
             pool_state& state, bool writable);

  // Finds the valid records after the checkpoint. Writable: applies them
  // to the durable image, makes it durable and stores a superblock that
  // starts a new epoch with the clean-shutdown flag cleared. Read-only:
  // remembers them for apply_to_working(). Throws corrupted when a valid
  // record holds an entry outside the pool.
  void recover();

  // Read-only pools: applies the recovered records to the working view.
  void apply_to_working(std::byte* working);

  // Root as of the last committed record (volatile, for pool::root).
  std::uint64_t root_offset() const noexcept { return root_offset_; }
  std::uint64_t root_type() const noexcept { return root_type_; }
  void set_live_root(std::uint64_t offset, std::uint64_t type) noexcept {
    root_offset_ = offset;
    root_type_ = type;
  }

  // Largest record accepted (half the log, so that one always fits once
  // the log is checkpointed).
  std::uint64_t max_record_length() const noexcept;

  // Writes `rb` as the next record and returns once it is durable. Throws
  // out_of_space when the record exceeds max_record_length(), io_error when
  // the media fails (then and afterwards).
  std::uint64_t commit(record_builder& rb);

  // Makes [offset, offset+len) of `src_base` durable in place, before the
  // record that refers to it is written (new objects that are not logged).
  // A failure puts the log in the failed state. Throws io_error.
  void persist_direct(const std::byte* src_base,
                      const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges);

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
  void update_superblock(const std::function<void(pool_state&)>& update);

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
  };

  pool_bounds bounds() const noexcept;
  apply_target durable_target(std::uint64_t& root_off, std::uint64_t& root_type,
                              std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored);
  void flush_stored(std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored);
  void fail_locked(const std::string& why);
  void advance_durable_locked();
  void sync_as_leader(std::unique_lock<std::mutex>& lk);
  void checkpoint_locked(std::unique_lock<std::mutex>& lk);

  media& media_;
  const pool_header& header_;
  superblock_store& superblocks_;
  pool_state& state_;  // superblock contents; changed only by checkpoints
  const bool writable_;
  const std::uint64_t seed_;

  mutable std::mutex mu_;
  std::vector<std::uint64_t> flush_set_;  // flush_stored's scratch: one checkpoint (or recovery) at a time
  std::condition_variable cv_;
  std::deque<slot> pending_;  // reserved, not yet checkpointed, LSN order
  std::uint64_t next_lsn_ = 1;
  std::uint64_t tail_ = 0;
  std::uint64_t used_ = 0;
  std::uint64_t written_lsn_ = 0;  // every record <= is written
  std::uint64_t durable_lsn_ = 0;  // every record <= is durable
  bool syncing_ = false;
  bool checkpointing_ = false;
  bool failed_ = false;
  std::atomic<bool> failed_flag_{false};        // failed_, readable without mu_
  std::atomic<bool> checkpoint_wanted_{false};  // more than half the log is used
  std::string failure_;
  log_stats stats_;

  std::uint64_t root_offset_ = 0;
  std::uint64_t root_type_ = 0;
  std::vector<std::uint64_t> recovered_;  // read-only: record positions to apply
};

}  // namespace ferrite::detail
