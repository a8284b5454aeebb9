// copy_pool (../copy.h): the reachable graph of one pool written into a new
// one. The steps, in order (each named below):
//
//   refuse_unusable   DST and DST.copying absent; SRC passes check_pool
//   walk_source       mark from SRC's root (gc_marker with an observer):
//                     objects in reachability order, every pointer field
//   refuse_unmovable  untyped objects (during the walk), keyed containers
//                     whose keys hold pointers (their order is by offset)
//   create_target     DST.copying of the chosen size, its heap checked
//                     against what the objects need; SRC's type table
//   allocate_all      one DST object per SRC object, in walk order
//   write_all         bytes copied, every pointer rewritten
//   (copy_pool)       the root set; DST.copying closed (durable)
//   publish           linked to DST; the temporary name removed; the
//                     directory synced
//
// Any failure before publish removes DST.copying (out_of_space with the
// default size starts over from create_target at twice the size); a crash
// leaves it behind (it was never DST). SRC is open read-only throughout.
#include "ferrite/engine/copy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "ferrite/base/error.h"
#include "ferrite/base/format/container_format.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/detail/gc_mark.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"

namespace ferrite {
namespace detail {
namespace {

constexpr std::uint64_t offset_mask = (1ull << 48) - 1;
constexpr std::uint64_t mib = 1024 * 1024;
// Objects per allocation / write transaction (record_budget bounds its bytes).
constexpr std::size_t batch_objects = 2048;
constexpr int default_attempts = 6;

struct reached_object {
  std::uint64_t data = 0, size = 0;
  std::uint32_t type = 0;
};

// The reachable graph of SRC as the walk reports it.
class graph_recorder : public mark_observer {
 public:
  explicit graph_recorder(std::string path) : path_(std::move(path)) {}

  void reached(std::uint64_t data, std::uint64_t size, std::uint32_t type) override {
    objects.push_back({data, size, type});
  }
  void pointer(std::uint64_t at) override { pointers.push_back(at); }
  void untyped(std::uint64_t data, std::uint64_t size) override {
    fail(error_code::invalid_argument,
         "pool '" + path_ + "': the untyped object at pool offset " + std::to_string(data) + " (" +
             std::to_string(size) +
             " bytes, made by raw pool::allocate) is reachable from the root; which of its "
             "words are pool offsets is unknown, so it cannot be moved and nothing was copied "
             "(give it a registered type, or unlink it and run `ferrite gc`)");
  }

  std::vector<reached_object> objects;  // walk order
  std::vector<std::uint64_t> pointers;  // field offsets, any order, may repeat

 private:
  std::string path_;
};

// SRC's objects sorted by data offset, for "which object holds offset x".
class object_index {
 public:
  explicit object_index(const std::vector<reached_object>& objects) : objects_(objects) {
    order_.resize(objects.size());
    for (std::uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::sort(order_.begin(), order_.end(),
              [&](std::uint32_t a, std::uint32_t b) { return objects[a].data < objects[b].data; });
  }
  // The walk-order index of the object whose bytes hold offset `at`.
  // REQUIRES: there is one (the walk located every pointer's target).
  std::uint32_t holding(std::uint64_t at) const {
    auto it =
        std::upper_bound(order_.begin(), order_.end(), at,
                         [&](std::uint64_t v, std::uint32_t i) { return v < objects_[i].data; });
    --it;
    return *it;
  }

 private:
  const std::vector<reached_object>& objects_;
  std::vector<std::uint32_t> order_;
};

std::string num(std::uint64_t v) {
  return std::to_string(v);
}

std::uint64_t round_up(std::uint64_t v, std::uint64_t to) {
  return (v + to - 1) / to * to;
}

void refuse_unusable(const std::filesystem::path& src, const std::filesystem::path& dst,
                     const std::filesystem::path& temp, const pool_options& src_options) {
  std::error_code ec;
  if (std::filesystem::exists(dst, ec)) {
    fail(error_code::file_exists, "'" + dst.string() +
                                      "' already exists; `ferrite copy` writes a new pool "
                                      "(remove it or choose another name)");
  }
  if (std::filesystem::exists(temp, ec)) {
    fail(error_code::file_exists,
         "'" + temp.string() + "' exists: an earlier copy to '" + dst.string() +
             "' did not finish (or one is running); it is not a usable pool, remove it and "
             "copy again");
  }
  const check_report r = check_pool(src, src_options);
  if (!r.problems.empty()) {
    const pool_problem& first = r.problems.front();
    fail(error_code::corrupted,
         "pool '" + src.string() + "' is damaged (`ferrite check` finds " + num(r.problems.size()) +
             " problem" + (r.problems.size() == 1 ? "" : "s") + "; the first, at pool offset " +
             num(first.offset) + ": " + first.what + "); nothing was copied");
  }
}

graph_recorder walk_source(pool_impl& s) {
  graph_recorder g(s.path.string());
  std::unique_lock gate(s.tx_gate);
  gc_marker marker(s, &g);
  marker.mark_root();
  std::sort(g.pointers.begin(), g.pointers.end());
  g.pointers.erase(std::unique(g.pointers.begin(), g.pointers.end()), g.pointers.end());
  return g;
}

// True when a struct of type `id` holds bytes the copy rewrites: a pointer,
// or a container or value cell (their storage pointers), at any depth.
bool holds_pointers(pool_impl& s, std::uint32_t id, int depth = 0) {
  const stored_type* t = s.types->find(id);
  if (!t || depth > 64) return false;
  if (t->kind == type_kind::pointer || t->kind == type_kind::container) return true;
  for (const stored_field& f : t->fields) {
    if (holds_pointers(s, f.type, depth + 1)) return true;
  }
  return false;
}

// A hash_map keeps each key's hash, a map/set its keys in order: for keys
// that hold pointers both may be functions of pool offsets, which the copy
// changes. (A key that is itself a string or a value cell is hashed and
// ordered by its contents.) Such a container with entries (its storage
// objects carry its type id) stops the copy.
void refuse_unmovable(pool_impl& s, const graph_recorder& g) {
  for (const reached_object& o : g.objects) {
    const stored_type* t = s.types->find(o.type);
    if (!t || t->kind != type_kind::container) continue;
    const auto kind = static_cast<container_kind>(t->subkind);
    if (kind != container_kind::hash_map && kind != container_kind::map &&
        kind != container_kind::set) {
      continue;
    }
    const stored_type* key = s.types->find(t->key);
    if (key && key->kind != type_kind::container && holds_pointers(s, t->key)) {
      fail(error_code::invalid_argument,
           "pool '" + s.path.string() + "': the container storage at pool offset " + num(o.data) +
               " belongs to a '" + t->name +
               "' whose keys hold pointers: its hashes / order depend on pool offsets, which a "
               "copy changes, so nothing was copied");
    }
  }
}

// Bytes DST's heap must offer: each object rounded to 16 plus its header.
std::uint64_t bytes_needed(const graph_recorder& g) {
  std::uint64_t n = 0;
  for (const reached_object& o : g.objects) n += round_up(o.size, 16) + sizeof(object_header);
  return n;
}

// The default size: what the objects need plus a quarter, plus the log
// (a sixteenth of the pool) and a MiB of fixed metadata, in whole MiB.
std::uint64_t default_size(std::uint64_t needed) {
  const std::uint64_t heap = needed + needed / 4 + mib;
  return std::max(pool::min_size, round_up(heap + heap / 15, mib));
}

void remove_file(const std::filesystem::path& p) {
  std::error_code ec;
  std::filesystem::remove(p, ec);
}

// DST.copying of `size` bytes holding SRC's type table. Throws out_of_space
// (nothing left behind) when its heap is short of `needed`.
pool create_target(const std::filesystem::path& temp, std::uint64_t size, std::uint64_t needed,
                   const pool& src) {
  pool p = pool::create(temp, size);
  try {
    if (p.heap_size() < needed) {
      fail(error_code::out_of_space, "a pool of " + num(size) + " bytes has a heap of " +
                                         num(p.heap_size()) + " bytes; the reachable objects of '" +
                                         src.path().string() + "' need at least " + num(needed));
    }
    impl_of(p).types->adopt(*impl_of(src).types);
  } catch (...) {
    p.close();
    remove_file(temp);
    throw;
  }
  return p;
}

void report(const copy_options& o, std::uint64_t done, std::uint64_t total) {
  if (o.progress) o.progress(done, total);
}

// A transaction's share of the log: a quarter of the largest record (a
// record also carries each range's header and the allocator's bit
// operations), and at most batch_objects objects.
std::uint64_t record_budget(pool& d) {
  return max_record_bytes(impl_of(d)) / 4;
}
constexpr std::uint64_t range_overhead = 32;

// New data offsets in DST, by walk order. A new object's bytes are logged
// by the transaction that allocates it, so allocation batches are bounded
// by bytes too.
std::vector<std::uint64_t> allocate_all(pool& d, pool_impl& s, const graph_recorder& g) {
  std::vector<std::uint64_t> placed(g.objects.size());
  const std::uint64_t budget = record_budget(d);
  std::size_t next = 0;
  while (next < g.objects.size()) {
    d.transaction([&] {
      std::uint64_t logged = 0;
      std::size_t i = next;
      for (; i < g.objects.size() && i - next < batch_objects; ++i) {
        const reached_object& o = g.objects[i];
        if (i > next && logged + o.size + range_overhead > budget) break;
        logged += o.size + range_overhead;
        // Alignment: what the object's type (and a container's key and
        // value types, for its nodes) asks for, at least 16.
        std::uint64_t align = 16;
        if (const stored_type* t = s.types->find(o.type)) {
          align = std::max<std::uint64_t>(align, t->align);
          for (std::uint32_t inner : {t->key, t->value}) {
            if (const stored_type* it = inner ? s.types->find(inner) : nullptr) {
              align = std::max<std::uint64_t>(align, it->align);
            }
          }
        }
        placed[i] = d.offset_of(d.allocate(o.size, o.type, align));
      }
      next = i;
    });
  }
  return placed;
}

// Writes every object's bytes with its pointers rewritten, in transactions
// of at most record_budget() logged bytes: an object larger than that is
// written in slices over several transactions (DST is not yet a pool
// anyone sees, so only the end state matters). A slice never ends inside a
// pointer field.
std::uint64_t write_all(pool& d, pool_impl& s, const graph_recorder& g,
                        const std::vector<std::uint64_t>& placed, const copy_options& options) {
  const object_index index(g.objects);
  const std::uint16_t tag = impl_of(d).header.pool_tag;
  const std::byte* from = s.store->working();
  const std::uint64_t budget = std::max<std::uint64_t>(record_budget(d), 4096);
  std::uint64_t rewritten = 0;
  std::size_t next = 0;       // the object being written
  std::uint64_t done_in = 0;  // its bytes written so far
  // Copies [begin, end) of object i (bytes past its start) into DST.
  auto write_slice = [&](std::size_t i, std::uint64_t begin, std::uint64_t end) {
    const reached_object& o = g.objects[i];
    std::byte* to = static_cast<std::byte*>(d.at(placed[i]));
    tx_snapshot(to + begin, end - begin);
    std::memcpy(to + begin, from + o.data + begin, end - begin);
    auto p = std::lower_bound(g.pointers.begin(), g.pointers.end(), o.data + begin);
    for (; p != g.pointers.end() && *p < o.data + end; ++p) {
      std::uint64_t raw;
      std::memcpy(&raw, from + *p, 8);
      const std::uint64_t target = raw & offset_mask;
      const std::uint32_t j = index.holding(target);
      const std::uint64_t moved =
          std::uint64_t{tag} << 48 | (placed[j] + (target - g.objects[j].data));
      std::memcpy(to + (*p - o.data), &moved, 8);
      ++rewritten;
    }
  };
  while (next < g.objects.size()) {
    d.transaction([&] {
      std::uint64_t logged = 0;
      for (std::size_t n = 0; next < g.objects.size() && n < batch_objects; ++n) {
        const reached_object& o = g.objects[next];
        const std::uint64_t room = budget - std::min(budget, logged + range_overhead);
        std::uint64_t end = o.size;
        if (end - done_in > room) {
          if (logged > 0 && room < 4096) break;  // the next transaction
          end = std::min(o.size, done_in + std::max<std::uint64_t>(room, 4096) / 8 * 8);
          // Not inside a pointer field: end before the one that straddles.
          auto p = std::lower_bound(g.pointers.begin(), g.pointers.end(), o.data + end);
          if (p != g.pointers.begin() && *(p - 1) + 8 > o.data + end &&
              *(p - 1) > o.data + done_in) {
            end = *(p - 1) - o.data;
          }
        }
        write_slice(next, done_in, end);
        logged += end - done_in + range_overhead;
        if (end < o.size) {
          done_in = end;
          break;
        }
        done_in = 0;
        ++next;
      }
    });
    report(options, next, g.objects.size());
  }
  return rewritten;
}

void sync_path(const std::filesystem::path& p, int flags) {
  const int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    fail(error_code::io_error, "cannot sync '" + p.string() + "': " + std::strerror(e));
  }
  ::close(fd);
}

// DST appears complete or not at all: the temporary file is durable (close
// made the pool durable; fsync covers its size and metadata), link() gives
// it DST's name without replacing anything, and the directory is synced
// before and after the temporary name goes.
void publish(const std::filesystem::path& temp, const std::filesystem::path& dst) {
  sync_path(temp, O_RDONLY);
  if (::link(temp.c_str(), dst.c_str()) != 0) {
    const int e = errno;
    fail(e == EEXIST ? error_code::file_exists : error_code::io_error,
         "cannot name the copy '" + dst.string() + "': " + std::strerror(e) +
             " (the complete copy is '" + temp.string() + "')");
  }
  std::filesystem::path dir = dst.parent_path();
  if (dir.empty()) dir = ".";
  sync_path(dir, O_RDONLY | O_DIRECTORY);
  remove_file(temp);
  sync_path(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace
}  // namespace detail

copy_stats copy_pool(const std::filesystem::path& src, const std::filesystem::path& dst,
                     const copy_options& options) {
  using namespace detail;
  const std::filesystem::path temp = dst.string() + ".copying";
  pool_options ro;
  ro.mode = open_mode::read_only;
  ro.salvage = options.salvage;
  refuse_unusable(src, dst, temp, ro);

  pool s = pool::open(src, ro);
  pool_impl& si = impl_of(s);
  const graph_recorder g = walk_source(si);
  refuse_unmovable(si, g);

  copy_stats stats;
  stats.objects = g.objects.size();
  for (const reached_object& o : g.objects) stats.bytes += o.size;
  stats.src_file_size = s.info().file_size;
  stats.damage = s.info().damage;
  {
    const heap_stats h = s.heap_statistics();
    stats.src_heap_used = h.heap_bytes - h.free_bytes;
  }

  // The default size is tried, then doubled (at most default_attempts
  // times) while the objects do not fit: the allocator's per-size-class
  // runs make small pools need more than the bytes. An explicit size is
  // tried once; too small is out_of_space before an object is written
  // when the heap is short, or when an allocation fails.
  const std::uint64_t needed = bytes_needed(g);
  std::uint64_t size = options.size ? options.size : default_size(needed);
  for (int attempt = 1;; ++attempt) {
    pool d;
    try {
      d = create_target(temp, size, needed, s);
      const std::vector<std::uint64_t> placed = allocate_all(d, si, g);
      stats.pointers = write_all(d, si, g, placed, options);
      const std::pair<std::uint64_t, std::uint64_t> live = si.log->live_root();
      const std::uint64_t root = live.first, root_type = live.second;
      if (root != 0) {
        const std::uint32_t j = object_index(g.objects).holding(root);
        pool_impl& di = impl_of(d);
        const std::uint64_t at = placed[j] + (root - g.objects[j].data);
        d.transaction([&] { tx_set_root(*running_tx(di), at, root_type); });
        // Value payloads were copied with SRC's reference counts, which also
        // count references from SRC's garbage; a collection of DST (where
        // everything is reachable) sets each count to DST's own references.
        d.gc();
      }
      const heap_stats h = d.heap_statistics();
      stats.dst_heap_used = h.heap_bytes - h.free_bytes;
      stats.dst_file_size = d.info().file_size;
      d.close();
      s.close();
      publish(temp, dst);
      break;
    } catch (const error& e) {
      if (d.is_open()) {
        d.close();
        remove_file(temp);
      }
      if (e.code() != error_code::out_of_space) throw;
      if (options.size || attempt == default_attempts) {
        fail(error_code::out_of_space, "the reachable objects of '" + src.string() + "' (" +
                                           num(g.objects.size()) + " objects, " + num(stats.bytes) +
                                           " bytes) do not fit a pool of " + num(size) +
                                           " bytes (" + e.what() + "); give a larger --size; '" +
                                           dst.string() + "' was not written");
      }
      size *= 2;
    } catch (...) {
      if (d.is_open()) {
        d.close();
        remove_file(temp);
      }
      throw;
    }
  }
  report(options, stats.objects, stats.objects);
  return stats;
}

}  // namespace ferrite
