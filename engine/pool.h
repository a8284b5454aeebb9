// ferrite::pool — a persistent heap in one file.
//
//   ferrite::pool p = ferrite::pool::open("game.pool");   // create or open
//   ferrite::pool_info info = p.info();
//   p.close();                                            // or let it go
//
// A pool is opened by one writer process at a time (an exclusive lock on
// the file); read-only opens share the file with each other. Opening
// validates the header and superblocks and recovers committed work from the
// change log; every problem is a ferrite::error with a code and a message
// that says what to do.
//
// Thread-safety: a pool object may be used from several threads at once;
// open/close/move are not concurrent with other calls.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferrite/base/error.h"
#include "ferrite/base/media/media.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/engine/type_info.h"

namespace ferrite {

class pool;
class sim_device;
class value;

namespace detail {
struct pool_impl;
// The state behind `p`, for the other ferrite modules (internal; the
// definition, engine/detail/pool_impl.h, is not installed).
pool_impl& impl_of(const pool& p);
}  // namespace detail

// How open() treats the path (the modes of Python's nvm.pmemobj, plus
// read-only).
enum class open_mode {
  create_or_open,    // open the pool, creating it when the file is missing
  create_exclusive,  // create a new pool; error(file_exists) if the path exists
  open_existing,     // open an existing pool; error(file_missing) otherwise
  read_only,         // open an existing pool without writing to it
};

struct pool_options {
  open_mode mode = open_mode::create_or_open;
  // Size of a new pool in bytes (rounded up to 4 KiB). Minimum 2 MiB.
  std::uint64_t size = 64ull * 1024 * 1024;
  // Size of the change log of a new pool; 0 picks size/16 within
  // [256 KiB, 64 MiB].
  std::uint64_t log_size = 0;
  // Permissions of a newly created file (before the umask).
  unsigned file_mode = 0666;
  // Checked transactions: a commit fails (error missing_snapshot, the
  // transaction aborted and the stores undone) when a heap byte changed
  // without a snapshot by any running transaction; the message names the
  // offset, the field and a thread. For debug builds, with any number of
  // threads: the heap is write-protected and tracked page by page (a
  // SIGSEGV handler; docs/durability.md "Checked mode" has costs and limits).
  bool checked_transactions = false;
  // Run on a simulated device instead of the file at `path` (crash
  // injection and fault tests). The path is then only a name in messages.
  std::shared_ptr<sim_device> device;
  // Collect garbage (pool::gc) when the pool opens after an unclean
  // shutdown and has a root: objects a crash left unreachable (made outside
  // a transaction and never linked, or dropped by a program that stopped
  // half-way) are freed. Turn off for pools whose objects are not all
  // reachable from the root.
  bool gc_after_crash = true;
  // Read-only opens only (invalid_argument otherwise). A change log damaged
  // in the middle — a record that was durable no longer passes its
  // checksum while records committed after it are intact — makes every
  // open fail with `corrupted`, naming the record: replaying only the
  // records before it would drop committed transactions silently. With
  // salvage, a read-only open shows the pool as of the last record before
  // the damage instead, and pool::info().damage says what it left out;
  // `ferrite copy --salvage` writes that state to a new pool.
  bool salvage = false;
  // Memory budget of the working view, in bytes (docs/durability.md
  // "Memory"). A page the program writes gets a private copy; once its
  // changes are checkpointed and no running transaction changed it since,
  // the background checkpointer gives it back to the kernel (its next
  // access reads the file again), so that private memory stays near the
  // budget however much of the pool is written. 0 picks a quarter of the
  // machine's RAM, at most 1 GiB; pool_options::unbounded keeps every
  // private page until close. Ignored for read-only opens and with
  // checked_transactions.
  std::uint64_t memory_budget = 0;
  static constexpr std::uint64_t unbounded = ~std::uint64_t{0};
  // The largest size pool::grow may reach in this open (rounded up to
  // 4 KiB). Its address range is reserved at open, once for the working
  // view and once for the durable one (address space only: no memory, no
  // swap), so the working view never moves: base(), raw pointers and
  // references stay valid across grow. 0 picks the larger of 64 GiB and
  // twice the file's size; it is never less than the file's size nor more
  // than the 64 TiB a pool may have. A grow past it fails with
  // invalid_argument; reopen with a larger max_size to go further. The
  // address space of a process is finite: 128 TiB on x86-64, of which the
  // 256 pools a process may open take 32 TiB at the default.
  std::uint64_t max_size = 0;
  // Checkpoints run on a thread of the pool's own (started at open,
  // stopped at close), woken by log fill and by the memory budget; a
  // committer then waits only when the log is full. false: committing
  // threads checkpoint themselves when the log is half full (one thread
  // fewer; deterministic crash tests). Unset: on for pool files, off for
  // simulated devices (pool_options::device), whose tests copy the device
  // while the pool is open.
  std::optional<bool> background_checkpoint;
};

struct pool_region {
  std::string name;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

// What `ferrite info` shows.
struct pool_info {
  std::string path;
  std::uint32_t format_version = 0;
  std::uint64_t compat_features = 0;
  std::uint64_t incompat_features = 0;
  std::uint64_t ro_compat_features = 0;
  std::array<std::uint8_t, 16> uuid{};
  std::uint16_t pool_tag = 0;
  std::uint64_t creation_time_ns = 0;
  std::uint64_t file_size = 0;
  granularity store_granularity = granularity::page;
  std::vector<pool_region> regions;  // header, superblocks, type table, log, heap
  std::uint64_t chunk_size = 0;
  bool read_only = false;
  // The clean-shutdown flag as found at open: false after a crash.
  bool was_clean_shutdown = false;
  std::uint64_t superblock_sequence = 0;
  std::uint64_t checkpoint_lsn = 0;
  std::uint64_t log_epoch = 0;
  std::uint64_t open_count = 0;
  std::uint64_t root_offset = 0;
  std::uint64_t recovered_records = 0;  // log records replayed at this open
  // A salvaging open (pool_options::salvage) of a pool whose log is damaged:
  // what it left out, and the file offset of the damaged record ("" and 0
  // otherwise).
  std::string damage;
  std::uint64_t damage_offset = 0;
};

struct pool_stats {
  media_stats media;
  std::uint64_t commits = 0;    // transactions that wrote a log record
  std::uint64_t log_bytes = 0;  // bytes of log records written
  std::uint64_t log_used = 0;   // log bytes not yet checkpointed
  std::uint64_t log_wraps = 0;
  std::uint64_t group_syncs = 0;  // syncs made by group-commit leaders (page media)
  // Of those, the syncs whose leader first waited for the other recent
  // committers to join (group commit's gathering), and the waits that ran
  // out.
  std::uint64_t gathered_syncs = 0;
  std::uint64_t gather_timeouts = 0;
  std::uint64_t space_waits = 0;  // commits that waited for log space
  std::uint64_t checkpoints = 0;
  std::uint64_t checkpointed_records = 0;
  std::uint64_t recovered_records = 0;  // replayed at open
  std::uint64_t recovered_bytes = 0;
  // The memory budget (pool_options::memory_budget): working-view pages
  // written and checkpointed that still hold private copies, pages given
  // back to the kernel, the rounds that did it, and pages a round found
  // changed again (kept).
  std::uint64_t private_pages = 0;
  std::uint64_t pages_given_back = 0;
  std::uint64_t give_back_rounds = 0;
  std::uint64_t pages_kept = 0;
  // Cache-line and byte media: bytes of the log whose pages the
  // checkpointer thread has mapped since open, ahead of the committers (or
  // reached by them first), so that no commit takes a page fault on the
  // log; the log's size once done (docs/durability.md, "Log space and
  // checkpoints"). 0 on page media and without the thread.
  std::uint64_t log_prefaulted = 0;
};

// What the heap holds (a walk of the whole heap; see `ferrite info`).
struct heap_stats {
  struct size_class_usage {
    std::uint32_t slot_size = 0;  // bytes per slot, object header included
    std::uint64_t runs = 0;
    std::uint64_t objects = 0;
    std::uint64_t bytes = 0;  // requested bytes of those objects
    std::uint64_t free_slots = 0;
  };
  std::vector<size_class_usage> classes;  // classes that have runs
  std::uint64_t objects = 0;
  std::uint64_t object_bytes = 0;
  std::uint64_t extents = 0;  // objects in whole chunks (larger than 64 KiB)
  std::uint64_t extent_bytes = 0;
  std::uint64_t heap_bytes = 0;
  std::uint64_t free_bytes = 0;
  std::uint64_t largest_free = 0;  // largest object allocatable now
  double fragmentation = 0;        // 1 - largest_free / free_bytes
};

// What a garbage collection found (pool::gc): objects (allocations: a
// container's storage counts as its own object) that are reachable from the
// root, and those it freed, in total and by stored type name
// ("ferrite.list", "guess.Guesser", "ferrite.string", "untyped", ...).
struct gc_stats {
  struct counts {
    std::uint64_t live = 0, freed = 0;
    std::uint64_t live_bytes = 0, freed_bytes = 0;  // requested bytes
  };
  counts total;
  std::map<std::string, counts> by_type;
  std::uint64_t transactions = 0;  // the sweep's transactions (each frees a batch)
  // Reachable value payloads whose reference count was not the number of
  // reachable cells naming them, set right (docs/gc.md): after freeing a
  // cycle that named kept payloads, or a typed object freed without
  // releasing its value_cell fields.
  std::uint64_t counts_repaired = 0;
};

// A problem found by pool::check(), at a pool offset.
struct pool_problem {
  std::uint64_t offset = 0;
  std::string what;
};

// The UUID as the usual 8-4-4-4-12 hex string.
std::string format_uuid(const std::array<std::uint8_t, 16>& uuid);

class pool {
 public:
  static constexpr std::uint64_t min_size = 2ull * 1024 * 1024;
  static constexpr std::uint64_t default_size = 64ull * 1024 * 1024;

  // Opens (or creates) the pool at `path` as `options.mode` says.
  static pool open(const std::filesystem::path& path, const pool_options& options = {});

  // Creates a new pool of `size` bytes; error(file_exists) if the path exists.
  static pool create(const std::filesystem::path& path, std::uint64_t size = default_size);

  pool();  // a closed pool
  pool(pool&&) noexcept;
  pool& operator=(pool&&) noexcept;
  ~pool();

  // Makes everything durable, marks the pool cleanly shut down and releases
  // the file. Harmless on a closed pool. Throws io_error (after releasing
  // the file) when a sync failed while the pool was open: the pool is then
  // not marked clean, and the next open recovers it.
  void close();

  bool is_open() const noexcept { return impl_ != nullptr; }
  bool read_only() const;
  const std::filesystem::path& path() const;
  pool_info info() const;
  pool_stats stats() const;

  // Runs `fn` in a transaction (see transaction.h): committed and durable
  // when it returns, aborted (and the exception rethrown) when it throws.
  void transaction(const std::function<void()>& fn);
  // The same, holding `locks` (pmutex, pshared_mutex, ferrite::shared(m))
  // for the transaction and releasing them early, as soon as the commit is
  // ordered in the log (transaction.h, "Transactions that take locks").
  void transaction(const std::function<void()>& fn, std::initializer_list<tx_lock> locks);
  template <class... Locks>
  requires(sizeof...(Locks) > 0 && (std::is_convertible_v<Locks&&, tx_lock> &&
                                    ...)) void transaction(const std::function<void()>& fn,
                                                           Locks&&... locks) {
    transaction(fn, {tx_lock(locks)...});
  }

  // Applies every committed transaction to the pool file now, so the log is
  // empty (it also happens by itself, and at close).
  void checkpoint();

  // --- Allocation (the slab heap, alloc/heap.h) ---

  // In the running transaction: `size` zero-filled bytes aligned to `align`
  // (a power of two up to 256 KiB), tagged with `type_id`; released again
  // if the transaction aborts. Throws out_of_space (the transaction is then
  // aborted) and tx_invalid outside a transaction (use allocate_into).
  void* allocate(std::size_t size, std::uint32_t type_id = 0, std::size_t align = 16);

  // Frees the object at `ptr`: inside a transaction when it commits,
  // outside one at once (a transaction of its own). Throws invalid_argument
  // for a pointer that is not the start of an allocated object.
  void deallocate(void* ptr);

  // Allocates an object, runs `init` on it, and stores its pool offset into
  // `*dest` (a u64 inside this pool) in one atomic commit, inside or outside
  // a transaction: the object is never reachable uninitialised, and never
  // allocated without being published (libpmemobj's pmemobj_alloc,
  // nvm.pmemobj's pool.new).
  void* allocate_into(std::uint64_t* dest, std::size_t size,
                      const std::function<void(void*)>& init = {}, std::uint32_t type_id = 0,
                      std::size_t align = 16);

  // Frees the object whose pool offset is in `*dest` and sets `*dest` to 0,
  // atomically. Does nothing when `*dest` is 0.
  void deallocate_from(std::uint64_t* dest);

  // The requested size / type id of the object at `ptr`.
  std::size_t object_size(const void* ptr) const;
  std::uint32_t object_type(const void* ptr) const;

  // Grows the pool file to `new_size` bytes (rounded down to whole chunks).
  // base() never changes: raw pointers, references and pptrs stay valid.
  // Other threads may run transactions meanwhile: the grow waits for the
  // running ones to end, and new ones wait for the grow (it holds the
  // pool's transaction gate, as gc does). Throws tx_invalid when called
  // inside a transaction, no_space when the file system is full (the pool
  // is left as it was), invalid_argument when new_size is not larger, or
  // is past pool_options::max_size (the pool stays usable; reopen it with
  // a larger max_size to grow further).
  void grow(std::uint64_t new_size);

  // Walks the whole heap: statistics / structural problems (empty if none).
  heap_stats heap_statistics() const;
  std::vector<pool_problem> check() const;

  // Pool offset of an address in the working view, and back.
  std::uint64_t offset_of(const void* ptr) const;
  void* at(std::uint64_t offset) const;

  // Address of pool offset 0 in this process (the working view), and the
  // heap's bounds as pool offsets. Raw access for the typed layer and tests.
  std::byte* base() const;
  std::uint64_t heap_offset() const;
  std::uint64_t heap_size() const;

  // --- Typed objects (type_info.h; ../docs/types.md) ---

  // The root object, a T: created (value-initialised) on first use, in the
  // running transaction or atomically on its own. Throws layout_mismatch
  // when the root is of another type, read_only when a read-only pool has
  // no root yet.
  template <class T>
  pptr<T> root();
  // Makes `p` (an object of this pool, or null) the root, in the running
  // transaction or atomically. The old root is not freed.
  template <class T>
  void set_root(pptr<T> p);
  bool has_root() const;
  // The stored type name of the root ("" when there is none).
  std::string root_type_name() const;

  // A new T built from `args` (T{args...}), in the running transaction
  // (freed again if it aborts) or atomically on its own. Outside a
  // transaction the object is durable but unreachable until the program
  // links it (prefer a transaction); throws out_of_space when the pool is
  // full, invalid_argument when a pointer in it points outside this pool.
  template <class T, class... Args>
  pptr<T> make(Args&&... args);
  // Frees `p` and the storage of the containers inside it (not what its
  // pointers point to), in the running transaction or atomically.
  template <class T>
  void destroy(pptr<T> p);

  // --- Dynamic values (../types/value.h; ../docs/values.md) ---

  // The root as a dynamic value: None until something is stored in it
  // (`if (p.root().is_none()) p.root() = ferrite::dict_of();`). The root
  // object is then a ferrite.value cell; asking for it as a value when it is
  // of a registered struct type throws layout_mismatch.
  value root();

  // --- Garbage collection (../docs/gc.md) ---

  // Frees every object not reachable from the root, cycles included:
  // marks from the root through the type table (pointer fields, container
  // storage, value cells; untyped objects are scanned conservatively), then
  // frees the rest in transactions of bounded size. Waits for running
  // transactions on this pool and keeps new ones waiting until it is done.
  // Frees nothing when the pool has no root. Throws tx_invalid inside a
  // transaction, read_only on a read-only pool, corrupted (having freed
  // nothing) when a pointer or container in the reachable graph is damaged.
  gc_stats gc();
  // The collection made by open() after an unclean shutdown, if any.
  std::optional<gc_stats> gc_at_open() const;

  // This pool's id for a registered type (adding it to the type table).
  // REQUIRES: `d` lives until the process ends (it joins the registry).
  std::uint32_t type_id(const type_descriptor& d);
  // The stored name of a type id ("untyped" for 0).
  std::string type_name(std::uint32_t type_id) const;

 private:
  friend detail::pool_impl& detail::impl_of(const pool& p);
  detail::pool_impl& impl() const;
  explicit pool(std::unique_ptr<detail::pool_impl> impl);
  void* root_object(const type_descriptor& d, void (*init)(void*));
  void set_root_object(const type_descriptor* d, std::uint64_t raw);
  void destroy_object(const type_descriptor& d, std::uint64_t raw);
  std::unique_ptr<detail::pool_impl> impl_;
};

template <class T>
pptr<T> pool::root() {
  void* obj = root_object(detail::descriptor_of<T>(), [](void* mem) { ::new (mem) T{}; });
  return pptr<T>::from_raw(detail::pointer_bits(impl(), obj));
}

template <class T>
void pool::set_root(pptr<T> p) {
  if constexpr (std::is_void_v<T>) {
    set_root_object(nullptr, p.raw());
  } else {
    set_root_object(&detail::descriptor_of<T>(), p.raw());
  }
}

template <class T, class... Args>
pptr<T> pool::make(Args&&... args) {
  const type_descriptor& d = detail::descriptor_of<T>();
  detail::pool_impl& p = impl();
  return detail::atomically(p, [&] {
    void* mem = detail::tx_allocate(p, sizeof(T), detail::type_id_of(p, d), alignof(T));
    T* obj = ::new (mem) T{std::forward<Args>(args)...};
    detail::check_pointers(p, d, obj);
    return pptr<T>::from_raw(detail::pointer_bits(p, obj));
  });
}

template <class T>
void pool::destroy(pptr<T> p) {
  destroy_object(detail::descriptor_of<T>(), p.raw());
}

}  // namespace ferrite
