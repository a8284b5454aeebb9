// The slab heap: volatile allocator state over the on-media heap
// (base/format/heap_format.h).
//
// - Zones are scanned lazily: opening a pool reads no heap metadata; the
//   first allocation that needs space scans the next zone (its chunk table
//   and the bitmaps of its runs).
// - Small objects come from runs of one size class; each thread allocates
//   from its own arena's current runs, so threads do not share a lock.
//   Chunks (for new runs and extents) come from a global free-range map.
// - Inside a transaction an allocation sets its bitmap bit / chunk entries
//   in the working view at once (undone by abort) and logs them as
//   set_bits; a free is logged as clear_bits at commit and applied to the
//   working view only once the commit is durable, so no other thread can
//   reuse the space before the free is durable (invariant 6).
// - New runs are created by an internal record committed on its own.
// - The data of a new extent is written straight to the durable image
//   before the commit record (not logged), once no older record can still
//   write into those chunks (their free LSN is checkpointed).
//
// Thread-safety: all members may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
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

  // The heap grew (pool state already holds the new size) from
  // `old_heap_size` bytes.
  void grown(std::uint64_t old_heap_size);

 private:
  struct arena;
  struct zone_state;
  struct free_range {
    std::uint64_t chunks;
    std::uint64_t free_lsn;  // LSN of the record that freed it (0: free since open)
  };

  std::byte* base() const;
  std::uint64_t* entry_ptr(std::uint64_t chunk) const;
  std::uint64_t chunk_offset(std::uint64_t chunk) const;
  std::uint64_t total_chunks() const;
  bool scan_next_zone();                                                // REQUIRES: mu_ held
  std::uint64_t take_chunks(std::uint64_t n, std::uint64_t& free_lsn);  // REQUIRES: mu_
  void give_chunks(std::uint64_t first, std::uint64_t n, std::uint64_t free_lsn);  // REQUIRES: mu_
  run_state* acquire_run(std::size_t cls);
  run_state* create_run(heap_tx& tx, std::size_t cls);
  run_state* run_of(std::uint64_t chunk) const;  // REQUIRES: mu_
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
  mutable std::mutex mu_;  // chunks, zones, partial runs
  std::vector<std::unique_ptr<zone_state>> zones_;
  std::uint64_t zones_scanned_ = 0;
  std::map<std::uint64_t, free_range> free_;      // first chunk -> range
  std::vector<std::vector<run_state*>> partial_;  // per class: runs with free slots, no owner
  std::vector<std::unique_ptr<arena>> arenas_;
};

}  // namespace ferrite::detail
