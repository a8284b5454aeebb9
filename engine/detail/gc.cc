// The collector's entry points and its sweep (see gc.h).
#include "ferrite/engine/detail/gc.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "ferrite/base/format/value_format.h"

#include "ferrite/alloc/heap_check.h"
#include "ferrite/engine/detail/gc_mark.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/object_ops.h"

namespace ferrite {
namespace detail {
namespace {

struct garbage {
  std::uint64_t data;
  std::uint32_t type;
  std::uint64_t size;
  std::uint64_t log_entries;  // at least the clear_bits entries freeing it takes
};

// Lists every allocated object, counting the marked ones as live; throws
// corrupted (before anything is freed) when the heap walk finds problems.
std::vector<garbage> survey(pool_impl& p, const gc_marker& m, gc_stats& s,
                            std::unordered_map<std::uint32_t, std::string>& names) {
  std::vector<garbage> out;
  auto name = [&](std::uint32_t id) -> const std::string& {
    auto it = names.find(id);
    if (it == names.end()) it = names.emplace(id, p.types->name_of(id)).first;
    return it->second;
  };
  heap_report r =
      walk_heap(p.store->working(), p.store->size(), heap_layout_of(p.header, p.state),
                [&](std::uint64_t data, const object_header& h) {
                  const std::uint64_t size = object_size_of(h);
                  if (m.marked(data)) {
                    gc_stats::counts& c = s.by_type[name(h.type_id)];
                    ++c.live;
                    c.live_bytes += size;
                    ++s.total.live;
                    s.total.live_bytes += size;
                    return;
                  }
                  // An extent's free clears its head and marks;
                  // this bounds it (a slot's takes one).
                  out.push_back({data, h.type_id, size,
                                 block_entry_words(1 + (h.data_offset + size) / chunk_size)});
                });
  if (!r.problems.empty()) {
    fail(error_code::corrupted,
         "pool '" + p.path.string() + "': garbage collection found a damaged heap at pool offset " +
             std::to_string(r.problems.front().offset) + " (" + r.problems.front().what +
             "); nothing was freed (run `ferrite check` on the pool)");
  }
  return out;
}

// Frees g[from, to) in one committed record: the allocator's free path
// (heap::free logs clear_bits, applied once the record is durable) without
// the calling thread's transaction, so that the collector holds the gate
// and may run while this thread runs a transaction on another pool (a pool
// opened inside one).
void commit_frees(pool_impl& p, const std::vector<garbage>& g, std::size_t from, std::size_t to) {
  tx_context tx;
  tx.pool = &p;
  tx.depth = 1;
  for (std::size_t k = from; k < to; ++k) p.heap->free(tx, g[k].data);
  for (const auto& op : tx.bit_ops) tx.record.add_bits(op.kind, op.offset, op.mask);
  const std::uint64_t lsn = p.log->commit(tx.record);
  p.heap->on_durable(tx, lsn);
  p.log->maybe_checkpoint();
}

// Sets the reference count of every reachable value payload to the number
// of reachable cells naming it (gc_marker::value_references), in committed
// records of bounded size. Cells in garbage no longer count: the sweep
// frees them without dropping their references. Returns the number fixed.
std::uint64_t repair_counts(pool_impl& p, const gc_marker& m) {
  struct fix {
    std::uint64_t at, old_count, count;  // pool offset of the count
  };
  std::vector<fix> wrong;
  std::byte* working = p.store->working();
  for (const auto& [data, refs] : m.value_references()) {
    std::uint64_t stored;
    std::memcpy(&stored, working + data + value_refs_offset, sizeof stored);
    if (stored != refs) wrong.push_back({data + value_refs_offset, stored, refs});
  }
  const std::size_t batch = std::max<std::uint64_t>(1, max_record_bytes(p) / 4 / 64);
  for (std::size_t i = 0; i < wrong.size(); i += batch) {
    const std::size_t end = std::min(wrong.size(), i + batch);
    record_builder record;
    for (std::size_t k = i; k < end; ++k) {
      std::memcpy(working + wrong[k].at, &wrong[k].count, sizeof(std::uint64_t));
      record.add_range(wrong[k].at, working + wrong[k].at, sizeof(std::uint64_t));
    }
    try {
      p.log->commit(record);
    } catch (...) {  // the working view keeps only committed bytes
      for (std::size_t k = i; k < end; ++k) {
        std::memcpy(working + wrong[k].at, &wrong[k].old_count, sizeof(std::uint64_t));
      }
      throw;
    }
    p.log->maybe_checkpoint();
  }
  return wrong.size();
}

// Frees `g` in transactions of bounded size, counting what each frees once
// it has committed.
void sweep(pool_impl& p, const std::vector<garbage>& g, gc_stats& s,
           std::unordered_map<std::uint32_t, std::string>& names) {
  // A clear_bits entry costs well under 64 bytes; keep a batch to a quarter
  // of the largest record.
  const std::uint64_t entry_budget = std::max<std::uint64_t>(1, max_record_bytes(p) / 4 / 64);
  for (std::size_t i = 0; i < g.size();) {
    std::size_t end = i;
    std::uint64_t entries = 0;
    while (end < g.size() && end - i < gc_batch_objects &&
           (end == i || entries + g[end].log_entries <= entry_budget)) {
      entries += g[end++].log_entries;
    }
    commit_frees(p, g, i, end);
    ++s.transactions;
    for (std::size_t k = i; k < end; ++k) {
      const std::string& n = names.at(g[k].type);
      gc_stats::counts& c = s.by_type[n];
      ++c.freed;
      c.freed_bytes += g[k].size;
      ++s.total.freed;
      s.total.freed_bytes += g[k].size;
    }
    i = end;
  }
}

}  // namespace

gc_stats collect_garbage(pool_impl& p) {
  if (p.read_only) {
    fail(error_code::read_only, "pool '" + p.path.string() +
                                    "' is open read-only; garbage "
                                    "collection needs a writable pool");
  }
  if (in_transaction_on(p)) {
    fail(error_code::tx_invalid,
         "pool::gc inside a transaction: it waits for every transaction "
         "to end, so call it outside one");
  }
  if (p.log->failed()) {
    fail(error_code::read_only, "pool '" + p.path.string() +
                                    "' is read-only after a failed sync (" + p.log->failure() +
                                    "); reopen it");
  }
  std::unique_lock gate(p.tx_gate);
  if (p.watch) {
    // Checked mode: with no transaction running, any change not yet
    // accounted for was made outside transactions. The collection's own
    // records are accepted after it (below).
    std::string missing = p.watch->check_all();
    if (!missing.empty()) {
      fail(error_code::missing_snapshot,
           "checked transactions: heap bytes changed outside any transaction: " + missing +
               "; found by pool::gc, which collected nothing");
    }
  }
  struct accept_at_end {
    pool_impl& p;
    ~accept_at_end() {
      if (p.watch) p.watch->accept_all();
    }
  } accept{p};
  gc_stats s;
  if (p.log->live_root().first == 0) return s;
  gc_marker m(p);
  m.mark_root();
  m.mark_pinned(pinned_cells(p));
  std::unordered_map<std::uint32_t, std::string> names;
  const std::vector<garbage> g = survey(p, m, s, names);
  for (const garbage& x : g) {
    if (!names.count(x.type)) names.emplace(x.type, p.types->name_of(x.type));
  }
  s.counts_repaired = repair_counts(p, m);
  sweep(p, g, s, names);
  return s;
}

}  // namespace detail

gc_stats pool::gc() {
  detail::pool_impl& p = impl();
  if (in_transaction()) {
    fail(error_code::tx_invalid,
         "pool::gc inside a transaction: it waits for every transaction "
         "to end, so call it outside one");
  }
  return detail::collect_garbage(p);
}

std::optional<gc_stats> pool::gc_at_open() const {
  return impl().gc_at_open;
}

}  // namespace ferrite
