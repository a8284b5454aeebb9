// The slab heap: volatile allocator state over the on-media heap
// (base/format/heap_format.h).
//
// - The chunk table is read lazily: opening a pool reads no heap metadata;
//   an allocation that needs space walks the table one zone (zone_chunks
//   chunks) further. A run's bitmap is read only when the run is wanted
//   for an allocation or a free. A walked zone is never walked again.
// - Small objects come from runs of one size class; each thread allocates
//   from its own arena's current runs, so threads do not share a lock.
//   Chunks (for new runs and extents) come from one free-range map that
//   coalesces neighbours and answers best-fit queries by size, so a block
//   may span any number of zones.
// - Inside a transaction an allocation sets its bitmap bit / chunk entries
//   in the working view at once (undone by abort) and logs them as
//   set_bits; a free is logged as clear_bits at commit and applied to the
//   working view only once the commit is durable, so no other thread can
//   reuse the space before the free is durable (invariant 6).
// - New runs are created, and empty runs given back to the free chunks
//   (retired), by internal records committed on their own. Retiring is lazy:
//   it happens when an allocation needs chunks that the free map lacks, so
//   a run emptied and refilled by a busy size class costs no record.
// - An allocation fails only when nothing can hold it: after every zone is
//   walked, every empty run retired, every arena's current run released, a
//   free slot of a larger class tried and, for a small object, an extent of
//   just enough chunks.
// - The data of a new extent is written straight to the durable image
//   before the commit record (not logged), once no older record can still
//   write into those chunks (their free LSN is checkpointed).
//
// Lock order: an arena's mutex, then mu_, then a run's mutex; release()
// takes a run's mutex and mu_ one after the other, never nested.
//
// Thread-safety: all members may be called concurrently, except
// plan_table(), write_table() and grown(), which pool::grow calls with no transaction
// running.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ferrite/alloc/heap_tx.h"
#include "ferrite/base/format/heap_format.h"
#include "ferrite/base/format/pool_format.h"
#include "ferrite/base/media/media.h"

namespace ferrite::detail {

class change_log;
struct pool_state;

class heap {
 public:
  // The heap of the pool whose working view is `store`'s, laid out by
  // `header`, `state.heap_size` bytes long (read again after a grow). New
  // runs are committed through `log`; `pool_name` names the pool in errors.
  heap(media& store, const pool_header& header, const pool_state& state, change_log& log,
       std::string pool_name);
  ~heap();

  // Allocates `size` bytes aligned to `align` (a power of two up to the
  // chunk size) in the running transaction `tx`; returns the pool offset of
  // the data, zero-filled. Throws (and poisons tx) out_of_space.
  std::uint64_t allocate(heap_tx& tx, std::uint64_t size, std::uint32_t type_id,
                         std::uint64_t align);
  // Frees the object whose data starts at pool offset `data`; takes effect
  // at commit. Throws invalid_argument for a pointer that is not an object.
  void free(heap_tx& tx, std::uint64_t data);

  // Transaction end hooks (called by the transaction code).
  void on_abort(heap_tx& tx) noexcept;              // undo allocations
  void on_durable(heap_tx& tx, std::uint64_t lsn);  // apply frees

  // The object header for the data at pool offset `data`, validated.
  object_header header_of(std::uint64_t data) const;

  // The allocated object whose slot (or extent) contains pool offset `at`,
  // read from the chunk table without locks: true and its data offset and
  // header, or false (free space, metadata, outside the heap). `next` is
  // set to the first offset after that slot or chunk, for walking a range.
  // For ranges the calling transaction has snapshotted (stable metadata).
  bool object_containing(std::uint64_t at, std::uint64_t* data, object_header* header,
                         std::uint64_t* next) const noexcept;

  // Where the current chunk table is.
  heap_layout layout() const;

  // A chunk of the largest free range known now (or the hint this heap was
  // opened with), stored in the superblock at a clean close: the next open
  // walks that zone of the table first. Only a hint; 0 for none.
  std::uint64_t free_hint() const;

  // For pool::grow: the chunk table for a heap of `heap_size` bytes. When
  // the current table has room it is returned unchanged; otherwise the
  // place of a new one in free chunks at the end of the grown heap. Throws
  // invalid_argument when the grow leaves no room for it. Writes nothing.
  heap_layout plan_table(std::uint64_t heap_size) const;
  // After a checkpoint, with the file already grown: writes the table that
  // plan_table chose, if it moves (the old entries, the old table's chunks
  // free), in the working view and durably, for the superblock to switch to.
  void write_table(const heap_layout& plan);
  // The superblock now holds the grown heap laid out as `now`; `before`
  // was the layout before the grow.
  void grown(const heap_layout& before, const heap_layout& now);

 private:
  struct arena;
  struct free_range {
    std::uint64_t chunks;
    std::uint64_t free_lsn;  // LSN of the record that freed it (0: free since open)
  };

  std::byte* base() const;
  std::uint64_t* entry_ptr(std::uint64_t chunk) const;
  std::uint64_t entry_off(std::uint64_t chunk) const;
  std::uint64_t chunk_offset(std::uint64_t chunk) const;
  std::uint64_t total_chunks() const;
  // The head chunk of the block holding chunk g, or UINT64_MAX when g is
  // free (read from the table, no locks).
  std::uint64_t head_of(std::uint64_t g) const noexcept;

  // Everything below marked "mu_" requires mu_ held.
  // Walks one more zone of the table (the last first, then from the
  // start); false when every zone is walked.
  bool scan_more();                         // mu_
  void walk_zone(std::uint64_t z);          // mu_
  void ensure_walked(std::uint64_t chunk);  // the zone holding `chunk`; mu_
  bool walked(std::uint64_t chunk) const;   // mu_
  void load_run(run_state& r);              // mu_
  std::uint64_t take_chunks(std::uint64_t n, std::uint64_t& free_lsn);             // mu_
  void give_chunks(std::uint64_t first, std::uint64_t n, std::uint64_t free_lsn);  // mu_
  void unlink_range(std::map<std::uint64_t, free_range>::iterator it);             // mu_
  run_state* new_run_state();                                                      // mu_
  // The next run of class cls whose bitmap is unread, read now; or null.
  run_state* pop_unloaded(std::size_t cls);  // mu_
  void list_partial(run_state* r);           // mu_
  // The run whose head is `chunk` (made and read on first use), or null.
  run_state* run_of(std::uint64_t chunk);  // mu_
  // Chunks for a block of n: free ones, then the next zones, then the
  // chunks of retired runs. UINT64_MAX when there are none.
  std::uint64_t find_chunks(heap_tx& tx, std::uint64_t n, std::uint64_t& free_lsn);

  run_state* acquire_run(std::size_t cls);
  run_state* create_run(heap_tx& tx, std::size_t cls);
  // Gives every empty run without an owner back to the free chunks, in one
  // committed record. False when there was none.
  bool retire_empty_runs(heap_tx& tx);
  // Releases every arena's current runs to the shared lists (so that other
  // threads' half-used runs can serve a request before out_of_space).
  void release_arena_runs();
  // A free slot in a run of class `cls` or larger, taken; false if none.
  bool take_any_slot(std::size_t cls, run_state** run, std::uint64_t* idx);
  // An extent of n chunks for the running transaction: its pool offset, or
  // UINT64_MAX when no n chunks are free.
  std::uint64_t allocate_extent(heap_tx& tx, std::uint64_t n);
  arena& my_arena();
  // Gives an allocation back: a slot to its run, an extent's chunks to the
  // free map (freed by the record with `free_lsn`).
  void release(const heap_action& a, std::uint64_t free_lsn) noexcept;
  [[noreturn]] void out_of_space(heap_tx& tx, std::uint64_t size);
  std::uint64_t locate_slot(std::uint64_t data, run_state** run, std::uint64_t* index,
                            std::uint64_t* head_chunk, std::uint64_t* chunks) const;

  media& store_;
  const pool_header& header_;
  const pool_state& state_;
  change_log& log_;
  const std::string pool_name_;
  mutable std::mutex mu_;     // everything below but the arenas
  std::vector<bool> walked_;  // per zone of the table: walked
  // Per zone: where its walk starts at the earliest (the end of a block
  // that an earlier zone's walk covered and that reaches into this zone).
  std::vector<std::uint64_t> walk_from_;
  std::uint64_t next_zone_ = 0;                         // no zone below it is unwalked
  std::unordered_map<std::uint64_t, run_state*> runs_;  // head chunk -> run, those made so far
  std::vector<std::unique_ptr<run_state>> run_store_;   // owns every run_state
  std::vector<run_state*> spare_runs_;                  // retired, for reuse
  std::map<std::uint64_t, free_range> free_;            // first chunk -> range
  std::set<std::pair<std::uint64_t, std::uint64_t>> by_size_;  // (chunks, first)
  std::vector<std::vector<run_state*>>
      partial_;  // per class: loaded runs with free slots, no owner
  std::vector<std::vector<std::uint64_t>>
      unloaded_;  // per class: walked runs not yet made (head chunks)
  std::vector<std::unique_ptr<arena>> arenas_;
};

}  // namespace ferrite::detail
