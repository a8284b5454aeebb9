// The one skeleton of the typed workloads (typed-objects, vector, map-set,
// hash-map): typed::skeleton holds what they share; an instantiation
// supplies only its root type, its model, its steps and its readers.
//
//   struct bag_root {                       // the commit counter comes first
//     std::uint64_t commits, complement;
//     ferrite::vector<std::int64_t> nums;
//   };
//   FERRITE_TYPE(bag_root, "bag.Root", commits, complement, nums)
//
//   struct bag_step { std::int64_t value; };  // one call on the pool
//   struct bag_state {                      // the model's contents
//     std::vector<std::int64_t> nums;
//     void apply(const bag_step& s) { nums.push_back(s.value); }
//   };
//
//   class bag final : public typed::skeleton<bag, bag_root, bag_state, bag_step> {
//    public:
//     using skeleton::skeleton;             // bag(seed)
//     typed::plan<bag_step> plan_of(std::uint64_t op) const {
//       std::mt19937_64 rng = op_rng(seed_, op);
//       typed::plan<bag_step> pl;
//       const std::size_t n = pl.pick(rng, has_root_);   // atomic only once the root exists
//       for (std::size_t i = 0; i < n; ++i) pl.steps.push_back({std::int64_t(rng() % 100)});
//       return pl;
//     }
//     static void perform_step(pool&, bag_root& r, const bag_step& s, typed::tx_mode) {
//       r.nums.push_back(s.value);
//     }
//     std::string compare(image_view& v, const bag_root& r) const;  // "" or what differs
//     std::string walk(image_view& v, const bag_root& r) const;     // reads all r reaches
//   };
//
//   workload_info w = typed::info<bag>("bag", "push_back in every mode");
//
// What every instantiation gets, unchanged:
// - perform(op): plan_of(op), then perform_step for each step on the root
//   (made by the first transaction), run as the plan's mode says (run_as:
//   atomic, transaction, nested, aborted); every transaction bumps the
//   root's commit counter after its steps.
// - apply(op): the same plan. An aborted one leaves the model as it was;
//   otherwise State::apply runs for each step, and a transaction makes the
//   root exist and counts one commit.
// - check(p), read through image_view: a root iff the model has one, its
//   commit count equals the model's, then compare(v, root) for the contents.
// - invariants(p) (reach_invariants): without a root the heap is empty; the
//   commit counter agrees with its complement; walk(v, root) reads all the
//   root reaches, checking every layout; then the heap holds exactly the
//   objects reached (no leak, nothing reached twice).
// - clone(); end_of_run() stays the workload's own (coverage it demands).
//
// The contract of workload.h holds as long as plan_of(op) depends only on
// seed_, op and the model (has_root_, state_), and State::apply changes the
// model as perform_step changes the pool. State may carry coverage counters
// for end_of_run (check() only reads what compare() reads).
//
// Thread-safety: as workload.h: const members keep no mutable state.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferrite/engine/pool.h"
#include "ferrite/engine/type_info.h"
#include "tools/crash/readers/image_view.h"
#include "tools/crash/workload.h"
#include "tools/crash/workloads/typed_common.h"

namespace ferrite::crash::typed {

// What one operation does: its mode and its steps, in order.
template <class Step>
struct plan {
  tx_mode how = tx_mode::transaction;
  std::vector<Step> steps;

  // Picks the mode (pick_mode; a transaction when `force_transaction`)
  // and returns how many steps to plan: 1 when atomic, else 1-4.
  std::size_t pick(std::mt19937_64& rng, bool atomic_ok, bool force_transaction = false) {
    how = pick_mode(rng, atomic_ok);
    if (force_transaction) how = tx_mode::transaction;
    return how == tx_mode::atomic ? 1 : 1 + rng() % 4;
  }
};

// The frame of the typed workloads' invariants(): without a root the heap
// is empty; the root's commit counter agrees with its complement;
// `walk(root)` reads (through `v`) everything the root reaches and returns
// "" or the first problem; then the heap holds exactly the objects reached
// (no leak, nothing shared).
template <class Root, class Walk>
std::string reach_invariants(const pool& p, image_view& v, Walk&& walk) {
  const Root* r = v.template root<Root>();
  const std::uint64_t heap_objects = p.heap_statistics().objects;
  if (!r) {
    return heap_objects == 0 ? ""
                             : "no root, yet the heap holds " + std::to_string(heap_objects) +
                                   " objects (a leak)";
  }
  if (std::string c = counter_invariant({r->commits, r->complement}); !c.empty()) return c;
  if (std::string w = walk(*r); !w.empty()) return w;
  if (v.objects() != heap_objects) {
    return "the heap holds " + std::to_string(heap_objects) + " objects, the root reaches " +
           std::to_string(v.objects()) + (heap_objects > v.objects() ? " (a leak)" : "");
  }
  return "";
}

template <class Derived, class Root, class State, class Step>
class skeleton : public workload {
 public:
  explicit skeleton(std::uint64_t seed) : seed_(seed) {}

  std::unique_ptr<workload> clone() const final { return std::make_unique<Derived>(self()); }

  void perform(pool& p, std::uint64_t op) const final {
    const plan<Step> pl = self().plan_of(op);
    run_as(
        p, pl.how,
        [&] {
          // root<>() makes the root in the running transaction on first use;
          // plan_of plans an atomic step only once the root exists.
          Root& r = *p.root<Root>();
          for (const Step& s : pl.steps) Derived::perform_step(p, r, s, pl.how);
        },
        [&] { bump_commits(*p.root<Root>()); });
  }

  void apply(std::uint64_t op) final {
    const plan<Step> pl = self().plan_of(op);
    if (pl.how == tx_mode::aborted) return;
    for (const Step& s : pl.steps) state_.apply(s);
    if (pl.how != tx_mode::atomic) {
      has_root_ = true;
      commits_ += 1;
    }
  }

  std::string check(const pool& p) const final {
    return checked_read([&]() -> std::string {
      image_view v(p);
      const Root* r = v.template root<Root>();
      if (!r) return has_root_ ? "the pool has no root, the model has one" : "";
      if (!has_root_) return "the pool has a root, the model none";
      if (r->commits != commits_) {
        return "the root counts " + std::to_string(r->commits) + " transactions, the model " +
               std::to_string(commits_);
      }
      return self().compare(v, *r);
    });
  }

  std::string invariants(const pool& p) const final {
    return checked_read([&]() -> std::string {
      image_view v(p);
      return reach_invariants<Root>(p, v, [&](const Root& r) { return self().walk(v, r); });
    });
  }

 protected:
  const Derived& self() const { return static_cast<const Derived&>(*this); }

  std::uint64_t seed_;
  bool has_root_ = false;      // a transaction committed: the root exists
  std::uint64_t commits_ = 0;  // transactions committed
  State state_;                // the contents
};

// The stored type name of T ("ferrite.vector<i64>"), as the readers want it.
template <class T>
std::string_view stored_name() {
  return detail::descriptor_of<T>().name;
}

inline std::string shown(std::int64_t x) {
  return std::to_string(x);
}
inline std::string shown(const std::string& s) {
  return "'" + s.substr(0, 40) + "'";
}
template <class K, class V>
std::string shown(const std::pair<K, V>& e) {
  return shown(e.first) + " -> " + shown(e.second);
}

// "" when the sequences (vectors, std::map, std::set) hold the same
// elements in the same order, else the first difference.
template <class C>
std::string first_difference(const C& pool_side, const C& model, const std::string& what) {
  if (pool_side.size() != model.size()) {
    return what + " holds " + std::to_string(pool_side.size()) + " elements, the model " +
           std::to_string(model.size());
  }
  auto a = pool_side.begin();
  auto b = model.begin();
  for (std::size_t i = 0; a != pool_side.end(); ++a, ++b, ++i) {
    if (!(*a == *b)) {
      return what + ": element " + std::to_string(i) + " is " + shown(*a) + ", the model's " +
             shown(*b);
    }
  }
  return "";
}

}  // namespace ferrite::crash::typed
