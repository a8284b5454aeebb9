// Crash-test workloads: the C++ interface through which ferrite-crash drives
// a program's use of a pool (docs/crash.md).
//
// A workload is a deterministic sequence of operations on a pool together
// with a reference model: an ordinary in-memory description of what the pool
// must hold after each operation. The runner executes it on a simulated
// device, cuts the power at every fence/sync (and inside recovery), and
// checks that every image it recovers holds the model's state after the last
// committed operation or after the one in flight; it also SIGKILLs processes
// running it on a real file, and injects faults.
//
//   class counter final : public ferrite::crash::workload {
//    public:
//     std::unique_ptr<workload> clone() const override {
//       return std::make_unique<counter>(*this);
//     }
//     void perform(ferrite::pool& p, std::uint64_t op) const override {
//       auto* v = reinterpret_cast<std::uint64_t*>(ferrite::crash::scratch_region(p));
//       p.transaction([&] {
//         ferrite::tx_snapshot(v);
//         *v += op;                         // the pool...
//       });
//     }
//     void apply(std::uint64_t op) override { value_ += op; }  // ...and the model
//     std::string check(const ferrite::pool& p) const override {
//       auto* v = reinterpret_cast<const std::uint64_t*>(ferrite::crash::scratch_region(p));
//       return *v == value_ ? "" : "value " + std::to_string(*v) + ", model " +
//                                      std::to_string(value_);
//     }
//    private:
//     std::uint64_t value_ = 0;             // a fresh heap is zero
//   };
//
//   int main(int argc, char** argv) {      // link with crash_runner
//     auto all = ferrite::crash::builtin_workloads();
//     all.push_back({.name = "counter", .description = "adds op to a counter",
//                    .make = [](std::uint64_t) { return std::make_unique<counter>(); }});
//     return ferrite::crash::run_cli(argc, argv, all);
//   }
//
// Contract (the runner's verdicts rely on it):
// - Operation `op` (0, 1, 2, ...) depends only on the seed given to
//   workload_info::make, on `op` and on the model's state: never on time,
//   addresses or the pool's own contents beyond what the model predicts.
//   op_rng(seed, op) gives each operation its own random numbers.
// - perform(p, op) commits at most once (one transaction, nested ones
//   included) or commits nothing (an abort, an expected error it catches):
//   the only acceptable states while it runs are the model before it and
//   the model after it. (An operation of several durable steps, such as a
//   growth then a transaction, must make every state in between check as
//   one of the two.) It throws only when the engine misbehaved (an expected
//   error did not come): the runner reports the message.
// - apply(op) changes the model exactly as perform(op) changes the pool when
//   it returns; an operation that aborts leaves the model as it was.
// - A new pool's heap is zero; a freshly made workload describes it.
// - check(p) compares what the model knows with the pool; invariants(p)
//   checks what must hold in every state whatever the model says (sums,
//   back-pointers, duplicated counters). Both return "" when all is well,
//   otherwise a one-line description of the first problem.
//
// Thread-safety: the runner calls the const members of one object from
// several threads at once, and perform() on different pools concurrently;
// keep them free of shared mutable state (or guard it). perform() may run
// threads of its own on its pool (workloads/early_release.cc): the simulated
// device takes concurrent writers, but barrier numbers then vary from run
// to run, so a printed --at path may not find the same image again
// (docs/crash.md, "Several threads").
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ferrite/base/media/media.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"  // what workloads use: tx_snapshot, transaction

namespace ferrite::crash {

class tally;         // runner/campaign.h
struct kill_counts;  // runner/process_kill.h

class workload {
 public:
  virtual ~workload() = default;

  // A copy of the model (the runner keeps the state before and after each
  // operation, and continues from recovered states).
  virtual std::unique_ptr<workload> clone() const = 0;

  // Carries out operation `op` on `p`, the model being the state before it.
  virtual void perform(pool& p, std::uint64_t op) const = 0;

  // Advances the model over operation `op`.
  virtual void apply(std::uint64_t op) = 0;

  // "" when `p` holds the model's state, else what differs.
  virtual std::string check(const pool& p) const = 0;

  // "" when the workload's invariants hold in `p`, else the broken one.
  virtual std::string invariants(const pool& p) const {
    (void)p;
    return {};
  }

  // Called once at the end of a complete simulated run, before the pool is
  // closed: "" when the run exercised what the workload exists for (log
  // wrap-around, a full log...), else what it missed. A run that misses it
  // is reported as a failure, so a workload cannot silently stop testing.
  virtual std::string end_of_run(const pool& p) const {
    (void)p;
    return {};
  }

 protected:
  workload() = default;
  workload(const workload&) = default;
  workload& operator=(const workload&) = default;
};

// A named workload and how to run it.
struct workload_info {
  std::string name;         // as given to --workload
  std::string description;  // one line, shown by --list
  // Builds the model of a new pool for `seed`.
  std::function<std::unique_ptr<workload>(std::uint64_t seed)> make;
  // Pool geometry: the simulated campaign runs once per size (bytes), each
  // with a change log of `log_size` bytes (0: the engine's default).
  std::vector<std::uint64_t> pool_sizes = {2ull << 20};
  std::uint64_t log_size = 256 * 1024;
  // Media the simulated campaign runs on.
  std::vector<granularity> media = {granularity::cache_line, granularity::page};
  // Operations per simulated run in --quick and in each --long round.
  std::uint64_t quick_ops = 24;
  std::uint64_t long_ops = 200;
  // The fewest operations with which a run does what the workload is for;
  // a smaller --ops is raised to it.
  std::uint64_t min_ops = 0;
  // Operations carried on from each recovered image before checking again.
  std::uint64_t continue_ops = 3;
  // Workloads that make persistent pointers (typed objects, containers):
  // once the run's pool is created and the crash images of its creation are
  // checked, the runner closes and reopens it (without crash points), so
  // that it is the first handle of its pool in the process and owns the
  // pool's tag: pool.make and every pptr need that (engine/pool_registry.h).
  // Checker threads open crash images of the same pool at the same time:
  // such workloads read pools through image_view (image_view.h) and keep
  // continue_ops at 0, as pointers cannot be made on a second handle.
  bool typed = false;
  // pool_options::background_checkpoint for the run's pools. Off by
  // default: with the checkpointer thread, barriers interleave differently
  // from run to run, so a seed and crash point no longer name one image.
  bool background_checkpoint = false;
  // pool_options::memory_budget for the run's pools (0: the engine's
  // default), in the simulated runs and the process kills.
  std::uint64_t memory_budget = 0;
  // Non-empty: the engine does not meet this workload yet, and why (the
  // issue that brings what it checks). The default campaigns (--quick,
  // --long) list it as pending and skip it; --workload NAME runs it.
  std::string pending;
  // Set for a workload that is not a sequence of operations on one pool
  // (`ferrite copy`, workloads/copy.cc): the campaign runs it in place of
  // its process kills, and runs no power failures or faults for it (`make`
  // may then be empty). It makes `kills` kill-and-check rounds, counts its
  // states and failures in `t`, and returns what it did.
  std::function<kill_counts(std::uint64_t seed, std::uint64_t kills, tally& t)> kill_run;
};

// The workloads shipped with ferrite-crash (docs/crash.md lists them).
std::vector<workload_info> builtin_workloads();

// Runs the ferrite-crash command line over `workloads` and returns the exit
// status (0 no failure, 1 failures, 2 bad arguments). See tools/crash/runner/cli.cc.
int run_cli(int argc, char** argv, const std::vector<workload_info>& workloads);

// Random numbers for operation `op` of a run seeded with `seed`: the same
// sequence every time, independent of other operations.
inline std::mt19937_64 op_rng(std::uint64_t seed, std::uint64_t op) {
  std::uint64_t z = seed * 0x9e3779b97f4a7c15ull + op + 0x632be59bd9b4e019ull;  // splitmix64
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return std::mt19937_64(z ^ (z >> 31));
}

// Where the built-in workloads keep their bytes: a raw object of
// `scratch_capacity` bytes, zero when made, changed only through
// transactions. It is the pool's first allocation, made by the first
// operation that writes it (scratch_for_write), so it lies right after the
// chunk table a new pool starts with, and it never moves. Until it exists a
// read (scratch_region) sees zeros, as the model of a new pool says.
// (Workloads on allocated objects are listed in docs/crash.md.)
inline constexpr std::uint64_t scratch_capacity = 240 * 1024;
// The scratch object, or null before it is made.
inline std::byte* find_scratch(const pool& p) noexcept {
  // A new pool's chunk table has at most 64 chunks below 128 MiB of heap.
  for (std::uint64_t k = 1; k <= 64 && (k + 1) * 4096 < p.heap_size(); ++k) {
    std::byte* at = p.base() + p.heap_offset() + k * 4096 + 16;
    try {
      if (p.object_size(at) == scratch_capacity) return at;
      return nullptr;                  // the first object is not the scratch object
    } catch (const std::exception&) {  // not an object: the table, or free
    }
  }
  return nullptr;
}
inline std::byte* scratch_region(const pool& p) {
  static const std::byte zeros[scratch_capacity] = {};
  std::byte* s = find_scratch(p);
  return s ? s : const_cast<std::byte*>(zeros);  // read only: see scratch_for_write
}
// The scratch object, made first (in the running transaction, or in one of
// its own) when the pool has none.
inline std::byte* scratch_for_write(pool& p) {
  if (std::byte* s = find_scratch(p)) return s;
  if (ferrite::in_transaction()) return static_cast<std::byte*>(p.allocate(scratch_capacity));
  std::byte* s = nullptr;
  p.transaction([&] { s = static_cast<std::byte*>(p.allocate(scratch_capacity)); });
  return s;
}
// 1 when the scratch object exists: the workloads that count heap objects
// leave it out.
inline std::uint64_t scratch_objects(const pool& p) noexcept {
  return find_scratch(p) ? 1 : 0;
}

}  // namespace ferrite::crash
