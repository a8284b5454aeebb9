#include "ferrite/engine/pool.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "ferrite/alloc/heap_check.h"
#include "ferrite/base/detail/checksum.h"
#include "ferrite/base/media/detail/file_media.h"
#include "ferrite/base/media/detail/sim_media.h"
#include "ferrite/engine/detail/gc.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/pool_registry.h"
#include "ferrite/engine/transaction.h"

namespace ferrite {
namespace detail {
namespace {

std::uint64_t round_up(std::uint64_t v, std::uint64_t a) {
  return (v + a - 1) / a * a;
}

std::string bytes(std::uint64_t n) {
  return std::to_string(n) + " bytes";
}

// The layout of a new pool of (at least) `size` bytes.
pool_header plan_layout(std::uint64_t size, std::uint64_t log_size, const std::string& path) {
  size = round_up(size, block_size);
  if (size < min_pool_size) {
    fail(error_code::too_small, "cannot create pool '" + path + "' of " + bytes(size) +
                                    ": the minimum pool size is " + bytes(min_pool_size) +
                                    " (2 MiB)");
  }
  if (size > max_pool_size) {
    fail(error_code::invalid_argument, "cannot create pool '" + path + "' of " + bytes(size) +
                                           ": the maximum pool size is 64 TiB");
  }
  if (log_size == 0) {
    log_size = std::clamp(round_up(size / 16, block_size), min_log_size, max_default_log_size);
  }
  log_size = round_up(log_size, block_size);
  if (log_size < min_log_size) {
    fail(error_code::invalid_argument,
         "log size " + bytes(log_size) + " is below the minimum of " + bytes(min_log_size));
  }
  pool_header h;
  std::memset(&h, 0, sizeof h);
  std::memcpy(h.magic, header_magic, sizeof h.magic);
  h.format_version = format_version;
  h.header_size = sizeof(pool_header);
  if (getrandom(h.uuid, sizeof h.uuid, 0) != static_cast<ssize_t>(sizeof h.uuid)) {
    fail(error_code::io_error, "cannot read random bytes for the pool UUID");
  }
  h.uuid[6] = static_cast<std::uint8_t>((h.uuid[6] & 0x0f) | 0x40);  // version 4
  h.uuid[8] = static_cast<std::uint8_t>((h.uuid[8] & 0x3f) | 0x80);  // variant
  h.pool_tag = static_cast<std::uint16_t>(checksum64(h.uuid, sizeof h.uuid, 1) | 1);
  h.creation_time_ns =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  h.superblock_offset[0] = superblock_offsets[0];
  h.superblock_offset[1] = superblock_offsets[1];
  h.superblock_size = block_size;
  h.type_table_offset = type_table_offset;
  h.type_table_size = type_table_size;
  // The heap starts chunk-aligned in the file; the log takes the gap.
  h.log_offset = log_offset;
  h.heap_offset = round_up(log_offset + log_size, chunk_size);
  h.log_size = h.heap_offset - log_offset;
  h.chunk_size = chunk_size;
  if (size < h.heap_offset + min_heap_size) {
    fail(error_code::too_small, "cannot create pool '" + path + "' of " + bytes(size) +
                                    " with a log of " + bytes(log_size) +
                                    ": the heap would be smaller than " + bytes(min_heap_size));
  }
  h.checksum = checksum64(&h, offsetof(pool_header, checksum), 0);
  return h;
}

std::uint64_t heap_size_for(const pool_header& h, std::uint64_t size) {
  return (round_up(size, block_size) - h.heap_offset) / h.chunk_size * h.chunk_size;
}

// Writes the header and the first superblock of a new pool and makes them
// durable. The rest of the file is zero.
void format_pool(media& m, const pool_header& h, std::uint64_t heap_size) {
  m.write(header_offset, &h, sizeof h);
  superblock_store sbs(m, h);
  pool_state s;
  s.log_epoch = 1;
  s.heap_size = heap_size;
  s.clean_shutdown = true;
  // The chunk table is the heap's first block, with an entry per chunk.
  s.heap_table_chunk = 0;
  s.heap_table_chunks = table_chunks_for(heap_size / chunk_size);
  const heap_layout layout = heap_layout_of(h, s);
  const std::uint64_t head = make_entry(chunk_kind::table, 0, s.heap_table_chunks);
  for (std::uint64_t k = 0; k < s.heap_table_chunks; k += mark_interval) {
    const std::uint64_t e = block_entry(head, k);
    m.write(layout.entry_offset(k), &e, sizeof e);
  }
  // The superblock makes the pool valid: it goes last, after everything it
  // describes is durable.
  m.sync_all();
  sbs.store(s);  // sequence 1, slot 1
  m.sync_all();
}

std::unique_ptr<media> make_sim_media(const std::shared_ptr<sim_device>& dev,
                                      std::uint64_t max_size) {
  return std::make_unique<sim_media>(dev, max_size);
}

// pool_options::max_size for a pool file of `file_size` bytes: 0 is the
// larger of 64 GiB and twice the file; never less than the file, never more
// than a pool can be.
std::uint64_t max_size_of(std::uint64_t requested, std::uint64_t file_size) {
  const std::uint64_t m =
      requested != 0 ? requested
                     : std::max<std::uint64_t>(64ull << 30, std::min(2 * file_size, max_pool_size));
  return std::max(std::min(m, max_pool_size), file_size);
}

}  // namespace

pool_header validate_header(const std::byte* data, std::size_t len, std::uint64_t file_size,
                            const std::string& path, bool writable) {
  const std::string where = "'" + path + "'";
  if (file_size == 0) {
    fail(error_code::not_a_pool, where + " is empty, so it is not a ferrite pool");
  }
  if (len < sizeof header_magic || std::memcmp(data, header_magic, sizeof header_magic) != 0) {
    fail(error_code::not_a_pool, where + " is not a ferrite pool (no ferrite magic at its start)");
  }
  if (len < sizeof(pool_header) || file_size < block_size) {
    fail(error_code::truncated, where + " is a truncated ferrite pool (" + bytes(file_size) +
                                    ", shorter than its header block)");
  }
  pool_header h;
  std::memcpy(&h, data, sizeof h);
  if (h.format_version != format_version) {
    fail(error_code::bad_version,
         where + " has pool format version " + std::to_string(h.format_version) +
             "; this build of ferrite reads version " + std::to_string(format_version) +
             " (use a ferrite release that supports it)");
  }
  if (checksum64(&h, offsetof(pool_header, checksum), 0) != h.checksum) {
    fail(error_code::corrupted, where +
                                    ": the pool header checksum does not match; the header "
                                    "is corrupted (restore the pool from a copy)");
  }
  if ((h.incompat_features & ~known_incompat_features) != 0) {
    fail(error_code::bad_version, where + " uses format features this build does not support");
  }
  if (writable && (h.ro_compat_features & ~known_ro_compat_features) != 0) {
    fail(error_code::read_only,
         where + " uses format features this build can only read; open it read-only");
  }
  auto bad = [&](const std::string& what) {
    fail(error_code::corrupted, where + ": invalid pool header: " + what);
  };
  if (h.header_size != sizeof(pool_header)) bad("header size " + std::to_string(h.header_size));
  if (h.pool_tag == 0) bad("pool tag is zero");
  if (h.superblock_offset[0] != superblock_offsets[0] ||
      h.superblock_offset[1] != superblock_offsets[1] || h.superblock_size != block_size) {
    bad("superblock slots are not at 4096 and 8192");
  }
  if (h.type_table_offset != type_table_offset || h.type_table_size != type_table_size) {
    bad("type table region is not at its fixed place");
  }
  if (h.log_offset != log_offset || h.log_size < min_log_size || h.log_size % block_size != 0 ||
      h.log_size > max_pool_size) {
    bad("log region (offset " + std::to_string(h.log_offset) + ", size " +
        std::to_string(h.log_size) + ") is invalid");
  }
  if (h.heap_offset != h.log_offset + h.log_size) bad("heap does not follow the log");
  if (h.heap_offset % chunk_size != 0) bad("heap is not chunk-aligned");
  if (h.chunk_size != chunk_size) bad("chunk size " + std::to_string(h.chunk_size));
  if (file_size < h.heap_offset + min_heap_size) {
    fail(error_code::truncated, where + " is truncated: " + bytes(file_size) +
                                    " but its heap starts at " + std::to_string(h.heap_offset));
  }
  if (file_size % block_size != 0) {
    // Pools are whole 4 KiB blocks: a file cut anywhere else lost its end.
    fail(error_code::truncated, where + " is truncated: " + bytes(file_size) +
                                    " is not a whole number of 4096-byte blocks");
  }
  return h;
}

pool_impl::~pool_impl() {
  try {
    close();
  } catch (...) {
    // A close that fails leaves the pool marked as not cleanly shut down;
    // everything committed is in the log and recovered at the next open.
  }
}

void pool_impl::close() {
  const bool was_opened = opened;
  opened = false;
  watch.reset();
  auto release = [this] {
    unregister_pool(generation);
    if (holds_device_lock) {
      holds_device_lock = false;
      if (read_only)
        device->readers_open--;
      else
        device->writer_open = false;
    }
    heap.reset();
    log.reset();
    superblocks.reset();
    store.reset();
    file = locked_file();
  };
  try {
    // A fork() child writes nothing: the parent owns the pool (media::forked).
    if (log) log->stop_background();
    if (was_opened && !read_only && !log->failed() && !store->forked()) {
      log->checkpoint();  // the log is empty after a clean close
      state.clean_shutdown = true;
      state.heap_free_hint = heap->free_hint();  // where the next open looks first
      superblocks->store(state);
    }
  } catch (...) {
    release();
    throw;
  }
  release();
}

}  // namespace detail

using namespace detail;

std::string format_uuid(const std::array<std::uint8_t, 16>& u) {
  char buf[37];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

pool::pool(std::unique_ptr<detail::pool_impl> impl) : impl_(std::move(impl)) {}
pool::pool() = default;
pool::pool(pool&&) noexcept = default;
pool& pool::operator=(pool&& other) noexcept {
  if (this != &other) {
    impl_.reset();
    impl_ = std::move(other.impl_);
  }
  return *this;
}
pool::~pool() = default;

pool pool::create(const std::filesystem::path& path, std::uint64_t size) {
  pool_options o;
  o.mode = open_mode::create_exclusive;
  o.size = size;
  return open(path, o);
}

namespace {

// Creates a new simulated or file pool; error(file_exists) if one is there.
void create_new(const std::filesystem::path& path, const pool_options& o) {
  const std::string name = path.string();
  pool_header h = plan_layout(o.size, o.log_size, name);
  std::uint64_t size = h.heap_offset + heap_size_for(h, o.size);
  if (o.device) {
    if (o.device->size() != 0) fail_errno(EEXIST, "cannot create pool", name);
    o.device->resize(size);
    sim_media m(o.device, size);
    format_pool(m, h, size - h.heap_offset);
    return;
  }
  create_pool_file(path, size, o.file_mode, [&](int fd) {
    file_media m(fd, size, true, name, size);
    format_pool(m, h, size - h.heap_offset);
  });
}

// pool_options::memory_budget: 0 is a quarter of RAM, at most 1 GiB.
std::uint64_t memory_budget_of(std::uint64_t requested) {
  if (requested != 0) return requested;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const std::uint64_t ram =
      pages > 0 && page > 0 ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
                            : 0;
  constexpr std::uint64_t cap = 1ull << 30;
  return ram == 0 ? cap : std::min(ram / 4, cap);
}

// Makes the media with the address range pool_options::max_size asks for.
// The default range can be more than this process may reserve (under
// valgrind, or with `ulimit -v`): then a quarter of it, down to the file's
// own size, and grow stops there. A max_size the program gave is reserved
// or the open fails.
template <class Make>
auto with_reserved_range(std::uint64_t requested, std::uint64_t file_size, Make make) {
  std::uint64_t max = max_size_of(requested, file_size);
  for (;;) {
    try {
      return make(max);
    } catch (const error& e) {
      if (requested != 0 || e.code() != error_code::io_error || max <= file_size) throw;
      max = std::max<std::uint64_t>(file_size, max / 4 / 4096 * 4096);
    }
  }
}

bool pool_exists(const std::filesystem::path& path, const pool_options& o) {
  if (o.device) return o.device->size() != 0;
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

}  // namespace

pool pool::open(const std::filesystem::path& path, const pool_options& o) {
  const std::string name = path.string();
  switch (o.mode) {
    case open_mode::create_exclusive:
      create_new(path, o);
      break;
    case open_mode::create_or_open:
      if (!pool_exists(path, o)) {
        try {
          create_new(path, o);
        } catch (const error& e) {
          if (e.code() != error_code::file_exists) throw;  // lost a race: open it
        }
      }
      break;
    case open_mode::open_existing:
    case open_mode::read_only:
      break;
  }

  auto impl = std::make_unique<pool_impl>();
  impl->path = path;
  impl->read_only = o.mode == open_mode::read_only;
  const bool writable = !impl->read_only;
  if (o.salvage && writable) {
    fail(error_code::invalid_argument,
         "pool_options::salvage needs open_mode::read_only: a salvaging open leaves out "
         "committed work and must not write the pool (copy what it shows with `ferrite copy "
         "--salvage`)");
  }
  std::uint64_t file_size = 0;
  if (o.device) {
    impl->device = o.device;
    if (o.device->size() == 0) fail_errno(ENOENT, "cannot open pool", name);
    if (o.device->writer_open || (writable && o.device->readers_open > 0)) {
      fail(error_code::pool_locked, "pool '" + name + "' is already open for writing");
    }
    file_size = o.device->size();
    validate_header(o.device->visible().data(),
                    std::min<std::size_t>(file_size, sizeof(pool_header)), file_size, name,
                    writable);
    impl->store = with_reserved_range(
        o.max_size, file_size, [&](std::uint64_t max) { return make_sim_media(o.device, max); });
    if (writable)
      o.device->writer_open = true;
    else
      o.device->readers_open++;
    impl->holds_device_lock = true;
  } else {
    impl->file = locked_file::open(path, writable);
    file_size = impl->file.size();
    std::byte buf[sizeof(pool_header)] = {};
    ssize_t got = pread(impl->file.fd(), buf, sizeof buf, 0);
    if (got < 0) fail_errno(errno, "cannot read pool", name);
    validate_header(buf, static_cast<std::size_t>(got), file_size, name, writable);
    reserve_pool_space(impl->file.fd(), file_size, writable, name);
    impl->store = with_reserved_range(o.max_size, file_size, [&](std::uint64_t max) {
      return std::make_unique<file_media>(impl->file.fd(), file_size, writable, name, max);
    });
  }
  std::memcpy(&impl->header, impl->store->durable(), sizeof impl->header);
  impl->superblocks = std::make_unique<superblock_store>(*impl->store, impl->header);
  impl->state = impl->superblocks->load();
  impl->was_clean_shutdown = impl->state.clean_shutdown;
  impl->checked = o.checked_transactions;
  impl->log = std::make_unique<change_log>(*impl->store, impl->header, *impl->superblocks,
                                           impl->state, writable);
  impl->log->recover(o.salvage);  // writable: replays, then clears the clean-shutdown flag
  impl->store->map_working_view();
  impl->heap = std::make_unique<heap>(*impl->store, impl->header, impl->state, *impl->log,
                                      impl->path.string());
  if (!writable) impl->log->apply_to_working(impl->store->working());
  impl->types = std::make_unique<type_table>(*impl);
  impl->types->check_registered();
  // A read-only open does not bump open_count: it takes the next one, so
  // that its generation differs from the last writable open's even in
  // another process with the same per-process counter (that open's locks,
  // committed while held, must read as free here: pmutex.h). A read-only
  // open never writes, so its generation never reaches the pool.
  impl->generation =
      register_pool(impl.get(), impl->header.pool_tag, impl->store->working(), impl->store->size(),
                    impl->state.open_count + (writable ? 0 : 1));
  impl->opened = true;
  if (writable && !impl->was_clean_shutdown && o.gc_after_crash &&
      impl->log->live_root().first != 0) {
    try {
      impl->gc_at_open = collect_garbage(*impl);
      impl->log->checkpoint();  // recovery leaves an empty log, the collection too
    } catch (const error& e) {
      // Not marked cleanly shut down: the next open collects again.
      impl->opened = false;
      fail(e.code(), std::string(e.what()) +
                         " (garbage collection after an unclean shutdown; open with "
                         "pool_options::gc_after_crash = false to skip it)");
    }
  }
  if (writable && impl->checked) impl->watch = std::make_unique<write_watch>(*impl);
  if (writable) {
    // Checked mode protects the heap itself: no page is given back there.
    impl->log->start_background(
        o.background_checkpoint.value_or(!o.device),
        impl->checked ? pool_options::unbounded : memory_budget_of(o.memory_budget));
  }
  return pool(std::move(impl));
}

void pool::close() {
  if (!impl_) return;
  std::unique_ptr<pool_impl> impl = std::move(impl_);
  const bool failed = !impl->read_only && impl->log && impl->log->failed();
  const bool forked = !impl->read_only && impl->store && impl->store->forked();
  // Checked mode: stores made outside transactions are never committed;
  // the close reports them (after closing: the pool is closed either way).
  const std::string missing = impl->watch ? impl->watch->check_all() : std::string();
  impl->close();
  if (!missing.empty()) {
    fail(error_code::missing_snapshot,
         "checked transactions: pool '" + impl->path.string() +
             "' was closed with heap bytes changed outside any transaction, which were never "
             "committed: " +
             missing);
  }
  if (forked) {
    fail(error_code::pool_locked,
         "pool '" + impl->path.string() +
             "' was closed in a fork() child of the process that opened it: the child wrote "
             "nothing to it, and the parent's work is unaffected (only the opener may write a "
             "pool; docs/durability.md, \"Processes\")");
  }
  // A sync failed while the pool was open (perhaps in a checkpoint that no
  // caller waited for): the close could not make the pool clean, and says so.
  if (failed) {
    fail(error_code::io_error, "pool '" + impl->path.string() +
                                   "' was closed after a failed sync; work committed before the "
                                   "failure is safe and recovery runs at the next open");
  }
}

detail::pool_impl& pool::impl() const {
  if (!impl_) fail(error_code::closed, "the pool is closed");
  return *impl_;
}

namespace detail {
pool_impl& impl_of(const pool& p) {
  return p.impl();
}
}  // namespace detail

bool pool::read_only() const {
  return impl().read_only;
}
const std::filesystem::path& pool::path() const {
  return impl().path;
}

pool_info pool::info() const {
  const pool_impl& p = impl();
  const pool_header& h = p.header;
  const pool_state st = p.log->state_snapshot();
  pool_info i;
  i.path = p.path.string();
  i.format_version = h.format_version;
  i.compat_features = h.compat_features;
  i.incompat_features = h.incompat_features;
  i.ro_compat_features = h.ro_compat_features;
  std::memcpy(i.uuid.data(), h.uuid, 16);
  i.pool_tag = h.pool_tag;
  i.creation_time_ns = h.creation_time_ns;
  i.file_size = p.store->size();
  i.store_granularity = p.store->store_granularity();
  i.regions = {
      {"header", header_offset, block_size},
      {"superblocks", h.superblock_offset[0], 2 * h.superblock_size},
      {"type_table", h.type_table_offset, h.type_table_size},
      {"log", h.log_offset, h.log_size},
      {"heap", h.heap_offset, st.heap_size},
  };
  i.chunk_size = h.chunk_size;
  i.read_only = p.read_only;
  i.was_clean_shutdown = p.was_clean_shutdown;
  i.superblock_sequence = st.sequence;
  i.checkpoint_lsn = st.checkpoint_lsn;
  i.log_epoch = st.log_epoch;
  i.open_count = st.open_count;
  i.root_offset = p.log->live_root().first;
  i.recovered_records = p.log->stats().recovered_records;
  i.damage = p.log->damage();
  i.damage_offset = p.log->damage_offset();
  return i;
}

pool_stats pool::stats() const {
  const pool_impl& p = impl();
  pool_stats s;
  s.media = p.store->stats();
  log_stats l = p.log->stats();
  s.commits = l.commits;
  s.log_bytes = l.log_bytes;
  s.log_used = p.log->used_bytes();
  s.log_wraps = l.wraps;
  s.group_syncs = l.group_syncs;
  s.gathered_syncs = l.gathers;
  s.gather_timeouts = l.gather_timeouts;
  s.space_waits = l.space_waits;
  s.checkpoints = l.checkpoints;
  s.checkpointed_records = l.checkpointed_records;
  s.recovered_records = l.recovered_records;
  s.recovered_bytes = l.recovered_bytes;
  s.private_pages = l.private_pages;
  s.pages_given_back = l.pages_given_back;
  s.give_back_rounds = l.give_back_rounds;
  s.pages_kept = l.pages_kept;
  s.log_prefaulted = l.log_prefaulted;
  return s;
}

void pool::transaction(const std::function<void()>& fn) {
  ferrite::transaction tx(*this);
  fn();  // an exception unwinds through tx, which aborts
  tx.commit();
}

void pool::transaction(const std::function<void()>& fn, std::initializer_list<tx_lock> locks) {
  ferrite::transaction tx(*this, locks);
  fn();
  tx.commit();
}

void pool::checkpoint() {
  pool_impl& p = impl();
  if (!p.read_only) p.log->checkpoint();
}

namespace {

tx_context& require_tx(pool_impl& p, const char* what) {
  tx_context* tx = running_tx(p);
  if (!tx) {
    fail(error_code::tx_invalid, std::string(what) +
                                     " needs a running transaction on this pool (or use the "
                                     "atomic allocate_into / deallocate_from)");
  }
  if (tx->aborted || tx->poisoned) {
    fail(error_code::tx_aborted, "the transaction was aborted; it must end first");
  }
  return *tx;
}

}  // namespace

void* pool::allocate(std::size_t size, std::uint32_t type_id, std::size_t align) {
  pool_impl& p = impl();
  tx_context& tx = require_tx(p, "pool::allocate");
  return p.store->working() + p.heap->allocate(tx, size, type_id, align);
}

void pool::deallocate(void* ptr) {
  pool_impl& p = impl();
  if (!running_tx(p)) {
    transaction([&] { deallocate(ptr); });
    return;
  }
  tx_context& tx = require_tx(p, "pool::deallocate");
  p.heap->free(tx, offset_of(ptr));
}

void* pool::allocate_into(std::uint64_t* dest, std::size_t size,
                          const std::function<void(void*)>& init, std::uint32_t type_id,
                          std::size_t align) {
  void* obj = nullptr;
  transaction([&] {
    obj = allocate(size, type_id, align);
    if (init) init(obj);
    tx_snapshot(dest);
    *dest = offset_of(obj);
  });
  return obj;
}

void pool::deallocate_from(std::uint64_t* dest) {
  if (*dest == 0) return;
  transaction([&] {
    deallocate(at(*dest));
    tx_snapshot(dest);
    *dest = 0;
  });
}

std::size_t pool::object_size(const void* ptr) const {
  return detail::object_size_of(impl().heap->header_of(offset_of(ptr)));
}

std::uint32_t pool::object_type(const void* ptr) const {
  return impl().heap->header_of(offset_of(ptr)).type_id;
}

std::uint64_t pool::offset_of(const void* ptr) const {
  const pool_impl& p = impl();
  const auto a = reinterpret_cast<std::uintptr_t>(ptr);
  const auto b = reinterpret_cast<std::uintptr_t>(p.store->working());
  if (a < b || a - b >= p.store->size()) {
    fail(error_code::invalid_argument, "address is not inside pool '" + p.path.string() + "'");
  }
  return a - b;
}

void* pool::at(std::uint64_t offset) const {
  const pool_impl& p = impl();
  if (offset >= p.store->size()) {
    fail(error_code::invalid_argument,
         "offset " + std::to_string(offset) + " is beyond pool '" + p.path.string() + "'");
  }
  return p.store->working() + offset;
}

void pool::grow(std::uint64_t new_size) {
  pool_impl& p = impl();
  if (p.read_only) fail(error_code::read_only, "pool '" + p.path.string() + "' is open read-only");
  if (in_transaction()) {
    fail(error_code::tx_invalid,
         "pool::grow inside a transaction: it waits for every transaction to end, so call it "
         "outside one");
  }
  // Running transactions end first and new ones wait (as for pool::gc):
  // nothing allocates, commits or snapshots while the heap grows. Every
  // allocation runs in a transaction (allocate_into and make outside one
  // start their own), so this excludes them all. The working view does not
  // move, so their raw pointers stay valid.
  std::unique_lock gate(p.tx_gate);
  const std::uint64_t old_heap = p.state.heap_size;
  const std::uint64_t heap_size = new_size > p.header.heap_offset
                                      ? (new_size - p.header.heap_offset) / chunk_size * chunk_size
                                      : 0;
  if (heap_size <= old_heap) {
    fail(error_code::invalid_argument,
         "pool '" + p.path.string() + "' is already " + std::to_string(p.store->size()) +
             " bytes; grow needs a larger size (by at least one 4 KiB chunk)");
  }
  const std::uint64_t file_size = p.header.heap_offset + heap_size;
  if (file_size > max_pool_size) {
    fail(error_code::invalid_argument, "the maximum pool size is 64 TiB");
  }
  if (file_size > p.store->max_size()) {
    fail(error_code::invalid_argument,
         "cannot grow pool '" + p.path.string() + "' to " + std::to_string(file_size) +
             " bytes: its address range was reserved at open for at most " +
             std::to_string(p.store->max_size()) +
             " bytes (pool_options::max_size; the heap never leaves it, so base() and raw "
             "pointers stay valid); close the pool and reopen it with a larger "
             "pool_options::max_size");
  }
  // Checked mode: with every transaction ended, a change not accounted for
  // was made outside transactions (as pool::gc reports). The watch sizes
  // its tables when armed, so it ends here and starts again over the grown
  // heap, however the grow ends (before the gate opens: `gate` outlives it).
  struct rewatch {
    pool_impl& p;
    bool watched = static_cast<bool>(p.watch);
    ~rewatch() {
      if (!watched || !p.store || !p.store->working()) return;
      try {
        p.watch = std::make_unique<write_watch>(p);
      } catch (const std::exception& e) {  // a destructor must not throw
        std::fprintf(stderr,
                     "ferrite: pool '%s': checked transactions are off after the grow: %s\n",
                     p.path.c_str(), e.what());
      }
    }
  } rewatch{p};
  if (p.watch) {
    const std::string missing = p.watch->check_all();
    if (!missing.empty()) {
      fail(error_code::missing_snapshot,
           "checked transactions: heap bytes changed outside any transaction: " + missing +
               "; found by pool::grow, which grew nothing");
    }
  }
  p.watch.reset();
  // 1. The file grows (zeros: free chunks); the views map the new part
  // after the old one. 2. If the chunk table has no room for the new
  // chunks, a larger copy is written to free chunks. 3. The superblock
  // records the larger heap (and the new table). A crash before 3 leaves
  // the old heap in a longer file, which opens fine.
  const heap_layout before = p.heap->layout();
  const heap_layout after = p.heap->plan_table(heap_size);
  if (after.table_chunk != before.table_chunk || after.table_chunks != before.table_chunks) {
    // The moved table is copied from the working view, and from step 3 on
    // recovery reads it instead of the old one: no log record may still
    // name the old table's entries, so everything committed is applied
    // first (the gate keeps new commits out until the grow ends).
    p.log->checkpoint();
  }
  // Not beside a checkpoint or a give-back of the background thread: a
  // simulated device's bytes move, and held pages must not meet a grow.
  p.log->without_checkpoints([&] { p.store->grow(file_size); });
  p.log->update_superblock(
      [&](pool_state& s) {
        s.heap_size = heap_size;
        s.heap_table_chunk = after.table_chunk;
        s.heap_table_chunks = after.table_chunks;
      },
      [&] { p.heap->write_table(after); });  // a failed sync here leaves the pool read-only
  p.heap->grown(before, after);
  reregister_pool(p.generation, p.store->size());
}

namespace {

heap_report walk(const pool_impl& p) {
  return walk_heap(p.store->working(), p.store->size(), heap_layout_of(p.header, p.state));
}

}  // namespace

heap_stats pool::heap_statistics() const {
  heap_report r = walk(impl());
  heap_stats s;
  for (const auto& c : r.classes) {
    if (c.runs) s.classes.push_back({c.slot_size, c.runs, c.objects, c.bytes, c.free_slots});
  }
  s.objects = r.objects;
  s.object_bytes = r.object_bytes;
  s.extents = r.extents;
  s.extent_bytes = r.extent_bytes;
  s.heap_bytes = r.heap_bytes;
  s.free_bytes = r.free_bytes;
  s.largest_free = r.largest_free;
  s.fragmentation = r.fragmentation;
  return s;
}

std::vector<pool_problem> pool::check() const {
  std::vector<pool_problem> out;
  for (auto& pr : walk(impl()).problems) out.push_back({pr.offset, std::move(pr.what)});
  return out;
}

std::byte* pool::base() const {
  return impl().store->working();
}
std::uint64_t pool::heap_offset() const {
  return impl().header.heap_offset;
}
std::uint64_t pool::heap_size() const {
  return impl().state.heap_size;
}

}  // namespace ferrite
