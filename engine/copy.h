// ferrite::copy_pool — a new pool holding only what another pool's root
// reaches, packed densely (`ferrite copy`; docs/gc.md, "Copying a pool").
//
//   ferrite::copy_options o;
//   o.size = 0;                                   // 0: live data plus slack
//   ferrite::copy_stats s = ferrite::copy_pool("big.pool", "small.pool", o);
//   std::cout << s.objects << " objects, " << s.dst_file_size << " bytes\n";
//
// What it guarantees:
//  1. SRC is checked first (check_pool) and opened read-only: a damaged
//     SRC is refused with the check's first problem; SRC's file is never
//     written.
//  2. DST is built under the name DST + ".copying" and appears under its
//     own name only when complete and durable (hard link, then the
//     temporary name is removed and the directory synced): at any crash,
//     DST is absent or complete. A leftover DST.copying is a copy that
//     did not finish; copy_pool refuses to start while it exists.
//  3. DST holds SRC's type table (same type ids), its root (same type),
//     and one copy of every object reachable from the root, allocated in
//     the order the walk reaches them, with every pointer rewritten:
//     pointer fields the type table lists, the storage pointers of every
//     container (string, vector, hash_map, map/set B+-tree and its leaf
//     chain) and value cells' payloads. Objects keep their size, type id
//     and bytes; a pointer into the inside of an object keeps its distance
//     from the object's start.
//  4. An untyped object (type id 0, raw pool::allocate) reachable from the
//     root is an error naming its offset, before DST is created: which of
//     its words are pool offsets cannot be known, so it cannot be moved,
//     and copying it verbatim could leave it pointing at the wrong objects.
//  5. Too small a `size` is an error before any object is written (DST
//     is not created); see copy_options::size for the default.
//
// Thread-safety: SRC open for writing (in this process or another) is
// pool_locked; read-only opens may share it with the copy. Two copies to
// the same DST at once: the second finds DST.copying and refuses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace ferrite {

struct copy_options {
  // Size of DST in bytes; 0 picks one: the reachable objects' bytes (each
  // rounded to 16 plus its 16-byte header) plus a quarter for the
  // allocator's size classes and growth, plus the change log (1/16 of the
  // pool) and fixed metadata, at least pool::min_size.
  std::uint64_t size = 0;
  // Called now and then while objects are written (done of total), and
  // once with done == total at the end.
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
  // Copy a SRC whose change log is damaged in the middle as of the last
  // record before the damage (pool_options::salvage): the only way to get a
  // writable pool back from it. What was left out is in copy_stats::damage.
  bool salvage = false;
};

struct copy_stats {
  std::uint64_t objects = 0;   // reachable objects copied
  std::uint64_t bytes = 0;     // their requested sizes, summed
  std::uint64_t pointers = 0;  // pointer fields rewritten
  std::uint64_t src_file_size = 0, dst_file_size = 0;
  // Heap bytes not free (heap_stats::heap_bytes - free_bytes): SRC's
  // garbage included, DST's allocator slack included.
  std::uint64_t src_heap_used = 0, dst_heap_used = 0;
  std::string damage;  // with salvage: what SRC's damaged log kept out ("" when whole)
};

// Copies the pool at `src` to a new pool at `dst` (see above). Throws
// file_exists (DST or DST.copying exists), corrupted (SRC damaged: its
// check's first problem, or a damaged object graph), invalid_argument (an
// untyped object, or a hash_map/map/set keyed by pointers, is reachable),
// out_of_space (`size` too small, or the default size after it was doubled
// five times), pool_locked (SRC is open for writing), and the errors of
// pool::open / pool::create. None of them leaves a DST or DST.copying
// that was not there before.
copy_stats copy_pool(const std::filesystem::path& src, const std::filesystem::path& dst,
                     const copy_options& options = {});

}  // namespace ferrite
