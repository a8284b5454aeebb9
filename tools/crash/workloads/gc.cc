// Built-in workload on garbage collection (docs/gc.md): gc.
//
// The root holds a doubly linked list of crash.GcNode objects (next and
// prev pointers: every adjacent pair is a cycle). Operations, by op % 3:
//   0  build: one transaction inserts 1-3 nodes into the list and makes 1-2
//      unreachable cycles of 2-3 nodes (garbage); operation 1 also makes
//      gc_flood unreachable nodes, so that the first collection needs more
//      than one sweep transaction;
//   1  unlink: one transaction unlinks 1-2 nodes from the list without
//      freeing them (garbage that still points into the list);
//   2  collect: pool.gc(), several transactions when there is much garbage.
// Builds and unlinks sometimes run nested or aborted (nothing changes).
//
// Model: the list's keys, the count of committed transactions (in the root
// with its complement) and the number of garbage objects.
//
// check(): the list holds the model's keys with consistent prev pointers
// (nothing reachable lost, whatever crash interrupted a collection), and
// the heap holds the reachable objects plus at most the model's garbage;
// after a collection at open (the recovery of a crash) exactly the
// reachable ones. So a collected state, model garbage 0, is exactly the
// reachable set. Opened read-only, an image taken in the middle of a sweep
// holds part of the garbage: accepted against the model before the
// collection.
#include <string>
#include <vector>

#include "ferrite/engine/detail/gc.h"
#include "ferrite/engine/transaction.h"
#include "tools/crash/readers/image_view.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_common.h"

namespace ferrite::crash::gc_workload {

struct node {
  std::int64_t key;
  pptr<node> next;
  pptr<node> prev;
};
FERRITE_TYPE(node, "crash.GcNode", key, next, prev)

struct root {
  std::uint64_t commits;
  std::uint64_t complement;
  std::uint64_t count;
  pptr<node> head;
};
FERRITE_TYPE(root, "crash.GcRoot", commits, complement, count, head)

namespace {

using typed::tx_mode;
constexpr std::uint64_t gc_flood = detail::gc_batch_objects + 100;

struct plan {
  tx_mode how = tx_mode::transaction;
  bool collect = false;
  std::vector<std::pair<std::size_t, std::int64_t>> inserts;  // position, key
  std::vector<std::size_t> cycles;                            // sizes of garbage cycles
  std::uint64_t flood = 0;
  std::vector<std::size_t> unlinks;  // positions
};

class gc_model final : public workload {
 public:
  explicit gc_model(std::uint64_t seed) : seed_(seed) {}
  std::unique_ptr<workload> clone() const override { return std::make_unique<gc_model>(*this); }
  void perform(pool& p, std::uint64_t op) const override;
  void apply(std::uint64_t op) override;
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;
  std::string end_of_run(const pool&) const override {
    if (!big_collection_) return "no collection needed more than one sweep transaction";
    return {};
  }

 private:
  plan plan_of(std::uint64_t op) const;
  std::uint64_t seed_;
  bool has_root_ = false;
  std::uint64_t commits_ = 0;
  std::vector<std::int64_t> keys_;
  std::uint64_t garbage_ = 0;
  bool big_collection_ = false;
};

plan gc_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  plan pl;
  if (op % 3 == 2) {
    pl.collect = true;
    return pl;
  }
  pl.how = op <= 1 ? tx_mode::transaction : typed::pick_mode(rng, false);  // op 1 floods
  std::size_t size = keys_.size();
  if (op % 3 == 1 && op != 1 && size > 2) {
    const std::size_t n = 1 + rng() % 2;
    for (std::size_t i = 0; i < n; ++i) pl.unlinks.push_back(rng() % size--);
    return pl;
  }
  const std::size_t n = 1 + rng() % 3;
  for (std::size_t i = 0; i < n; ++i) {
    pl.inserts.emplace_back(rng() % (size++ + 1), static_cast<std::int64_t>(rng() % 1000));
  }
  for (std::size_t i = 0, c = 1 + rng() % 2; i < c; ++i) pl.cycles.push_back(2 + rng() % 2);
  if (op == 1) pl.flood = gc_flood;
  return pl;
}

// The link pointing at position `pos` of the list.
pptr<node>* link_at(pptr<root> r, std::size_t pos) {
  pptr<node>* link = &r->head;
  for (std::size_t i = 0; i < pos && *link; ++i) link = &(*link)->next;
  return link;
}

void gc_model::perform(pool& p, std::uint64_t op) const {
  const plan pl = plan_of(op);
  if (pl.collect) {
    if (has_root_) p.gc();
    return;
  }
  typed::run_as(
      p, pl.how,
      [&] {
        const pptr<root> r = p.root<root>();
        for (const auto& [pos, key] : pl.inserts) {
          pptr<node>* link = link_at(r, pos);
          const pptr<node> prev = pos == 0 ? pptr<node>() : *link_at(r, pos - 1);
          const pptr<node> n = p.make<node>(key, *link, prev);
          if (*link) {
            tx_snapshot(&(*link)->prev);
            (*link)->prev = n;
          }
          tx_snapshot(link);
          *link = n;
        }
        for (std::size_t size : pl.cycles) {
          const pptr<node> first = p.make<node>(-1, nullptr, nullptr);
          pptr<node> last = first;
          for (std::size_t i = 1; i < size; ++i) {
            const pptr<node> n = p.make<node>(-1, nullptr, last);
            last->next = n;  // new objects: no snapshot
            last = n;
          }
          last->next = first;
          first->prev = last;
        }
        for (std::uint64_t i = 0; i < pl.flood; ++i) p.make<node>(-2, nullptr, nullptr);
        for (std::size_t pos : pl.unlinks) {
          pptr<node>* link = link_at(r, pos);
          const pptr<node> gone = *link;
          tx_snapshot(link);
          *link = gone->next;
          if (gone->next) {
            tx_snapshot(&gone->next->prev);
            gone->next->prev = gone->prev;
          }
        }
        tx_snapshot(&r->count);
        r->count = r->count + pl.inserts.size() - pl.unlinks.size();
      },
      [&] { typed::bump_commits(*p.root<root>()); });
}

void gc_model::apply(std::uint64_t op) {
  const plan pl = plan_of(op);
  if (pl.collect) {
    big_collection_ |= garbage_ > detail::gc_batch_objects;
    garbage_ = 0;
    return;
  }
  if (pl.how == tx_mode::aborted) return;
  has_root_ = true;
  commits_ += 1;
  for (const auto& [pos, key] : pl.inserts)
    keys_.insert(keys_.begin() + static_cast<std::ptrdiff_t>(pos), key);
  for (std::size_t size : pl.cycles) garbage_ += size;
  garbage_ += pl.flood;
  for (std::size_t pos : pl.unlinks) {
    keys_.erase(keys_.begin() + static_cast<std::ptrdiff_t>(pos));
    garbage_ += 1;
  }
}

// Walks the list through `v`: "" or the first problem; `keys` the keys.
std::string walk(image_view& v, const root& r, std::vector<std::int64_t>& keys) {
  std::uint64_t prev_bits = 0;
  for (pptr<node> n = r.head; n;) {
    const node* it = v.get(n);  // throws on a second visit
    if (it->prev.raw() != prev_bits)
      return "node " + std::to_string(keys.size()) + ": a wrong prev pointer";
    keys.push_back(it->key);
    prev_bits = n.raw();
    n = it->next;
  }
  if (keys.size() != r.count) {
    return "the list holds " + std::to_string(keys.size()) + " nodes, the root counts " +
           std::to_string(r.count);
  }
  return "";
}

std::string gc_model::check(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    const std::uint64_t heap = p.heap_statistics().objects;
    const root* r = v.root<root>();
    if (!r) {
      if (has_root_) return "the pool has no root, the model has one";
      return heap == 0 ? "" : "no root, yet the heap holds " + std::to_string(heap) + " objects";
    }
    if (!has_root_) return "the pool has a root, the model none";
    if (r->commits != commits_) {
      return "the root counts " + std::to_string(r->commits) + " transactions, the model " +
             std::to_string(commits_);
    }
    std::vector<std::int64_t> keys;
    if (std::string w = walk(v, *r, keys); !w.empty()) return w;
    if (keys != keys_) return "the list's keys differ from the model's (a reachable object lost?)";
    const std::uint64_t extra = heap - v.objects();
    if (heap < v.objects() || extra > garbage_) {
      return "the heap holds " + std::to_string(heap) + " objects, the root reaches " +
             std::to_string(v.objects()) + " and the model knows " + std::to_string(garbage_) +
             " garbage objects (a leak)";
    }
    if (p.gc_at_open() && extra != 0) {
      return "after the collection at open " + std::to_string(extra) +
             " unreachable objects remain";
    }
    return "";
  });
}

std::string gc_model::invariants(const pool& p) const {
  return checked_read([&]() -> std::string {
    image_view v(p);
    const root* r = v.root<root>();
    if (!r) return "";
    if (std::string c = typed::counter_invariant({r->commits, r->complement}); !c.empty()) return c;
    std::vector<std::int64_t> keys;
    return walk(v, *r, keys);
  });
}

}  // namespace
}  // namespace ferrite::crash::gc_workload

namespace ferrite::crash::builtin {

workload_info gc() {
  workload_info w = typed::info<gc_workload::gc_model>(
      "gc",
      "pool.gc() over a doubly linked list with unlinked nodes and garbage cycles: a crash at "
      "any point of a collection loses nothing reachable");
  w.quick_ops = 9;
  w.long_ops = 45;
  return w;
}

}  // namespace ferrite::crash::builtin
