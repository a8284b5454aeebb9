#include "tools/crash/runner/power_failure.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <set>

#include "ferrite/base/media/detail/sim_device.h"
#include "tools/crash/runner/image_check.h"
#include "tools/crash/runner/isolate.h"

namespace ferrite::crash {

namespace {

// `want` distinct phases out of [0, phases), drawn with `rng`.
std::set<std::uint64_t> choose_phases(std::uint64_t phases, std::size_t want,
                                      std::mt19937_64& rng) {
  std::set<std::uint64_t> out;
  if (want >= phases) {
    for (std::uint64_t p = 0; p < phases; ++p) out.insert(p);
    return out;
  }
  while (out.size() < want) out.insert(rng() % phases);
  return out;
}

// A process crash held until the end of its phase: the device at one of
// the phase's barriers, and the states it may show.
struct process_crash {
  std::string point;
  std::vector<std::byte> visible, durable;
  std::vector<std::uint64_t> in_flight;
  std::shared_ptr<const acceptable_states> acc;
};

}  // namespace

run_reach run_power_failures(const run_target& tg, const exploration& ex,
                             const std::optional<crash_path>& only_path, tally& t,
                             job_queue& checkers, const run_window& window) {
  image_checker checker(tg, ex, only_path, t);
  auto fail = [&](const std::string& at, const std::string& what) {
    failure f;
    f.kind = "power-failure";
    f.workload = tg.info->name;
    f.seed = tg.seed;
    f.media = std::string(to_string(tg.media));
    f.pool_size = tg.pool_size;
    f.at = at;
    f.what = what;
    f.repro = tg.repro("sim", "");  // the whole run: these are not crash images
    t.add_failure(std::move(f));
  };

  // The barrier hook runs on the thread that reaches a barrier: with a
  // background checkpointer (workload_info::background_checkpoint) that
  // is also the pool's own thread, between and during the workload's
  // operations. `hook_mu` guards what the hook shares with the workload's
  // thread: `acc`, the process-crash phase (`phase`, `phase_barriers`,
  // `held`) and a deferred `opK` image. Lock order: the device's mutex
  // (the hook runs under it), then hook_mu; the workload's thread never
  // calls the device while holding hook_mu.
  std::mutex hook_mu;
  // The states a crash may show in the current phase. Replaced, never
  // changed: queued images hold the one of their moment.
  std::shared_ptr<const acceptable_states> acc;
  auto accept = [&](std::vector<model_state> states, bool may_be_no_pool = false) {
    auto a = std::make_shared<acceptable_states>();
    a->states = std::move(states);
    a->may_be_no_pool = may_be_no_pool;
    std::lock_guard lk(hook_mu);
    acc = std::move(a);
  };

  // Queues the check of a process crash (image_checker::check_process_crash).
  auto submit_process_crash = [&](process_crash c) {
    t.add_count("process_crash_points", 1);
    checkers.submit([&checker, c = std::move(c)]() mutable {
      checker.check_process_crash(std::move(c.visible), std::move(c.durable),
                                  std::move(c.in_flight), *c.acc,
                                  crash_path{{{c.point, process_crash_subset}}});
    });
  };

  // Queues the images of the crash point `point`: subsets of the units in
  // flight, or (durable_only) the durable image alone, checked against
  // `states`. False when it took none.
  auto take_images = [&](const sim_device& d, const std::string& point, bool durable_only,
                         const std::shared_ptr<const acceptable_states>& states) {
    if (t.stopping()) return false;
    if (only_path && only_path->steps.front().point != point) return false;
    if (only_path && only_path->steps.front().subset == process_crash_subset) {
      if (durable_only) return false;  // a process crash is a barrier's
      submit_process_crash({point, d.visible(), d.durable(), in_flight_units(d), states});
      return true;
    }
    if (!durable_only) t.count_crash_point();
    std::vector<crash_subset> subsets;
    if (durable_only) {
      subsets.push_back({"none", {}});
    } else {
      const std::vector<std::uint64_t> units = in_flight_units(d);
      const std::uint64_t seed = checker.subset_seed(point);
      if (only_path) {
        auto s = subset_named(only_path->steps.front().subset, units, seed);
        if (!s) {
          fail(point, "subset " + only_path->steps.front().subset + " does not fit the " +
                          std::to_string(units.size()) + " units in flight");
          return false;
        }
        subsets.push_back(std::move(*s));
      } else {
        subsets = crash_subsets(units, ex.top, seed);
      }
    }
    std::size_t taken = 0;
    for (const crash_subset& s : subsets) {
      const bool nested = ex.nested_per_point == 0 || taken++ < ex.nested_per_point;
      checkers.submit([&checker, states, path = crash_path{{{point, s.name}}}, nested,
                       image = d.crash_image(s.units)]() mutable {
        checker.check(std::move(image), *states, path, nested);
      });
    }
    return true;
  };

  // Process crashes: in each phase chosen (operation K, or tg.ops for the
  // close), one barrier, drawn by reservoir sampling, is also a
  // process-crash point; its check is queued when the phase ends.
  std::mt19937_64 kill_rng(checker.subset_seed("process-crashes"));
  const std::set<std::uint64_t> kill_phases =
      only_path ? std::set<std::uint64_t>{}
                : choose_phases(tg.ops + 1, ex.process_crashes, kill_rng);
  std::optional<std::uint64_t> phase;  // none while the pool is created
  std::uint64_t phase_barriers = 0;
  std::optional<process_crash> held;
  auto end_phase = [&] {
    std::optional<process_crash> c;
    {
      std::lock_guard lk(hook_mu);
      c.swap(held);
      phase_barriers = 0;
    }
    if (c && !t.stopping()) submit_process_crash(std::move(*c));
  };
  auto set_phase = [&](std::uint64_t ph) {
    std::lock_guard lk(hook_mu);
    phase = ph;
  };

  std::shared_ptr<const workload> current = tg.info->make(tg.seed);
  auto dev = std::make_shared<sim_device>(tg.media);
  std::uint64_t barriers = 0, explored = 0;
  // Barriers before window.first_barrier are fast-forwarded (no images);
  // once window.until has passed (and at least one barrier was explored:
  // every turn makes progress), no barrier is explored any more (`cut`),
  // and the run stops before its next operation.
  std::atomic<bool> exploring = window.first_barrier == 0;
  std::atomic<bool> cut = false;
  std::uint64_t next_barrier = 0;  // the first barrier not explored because of the cut
  // The `opK` image of a run with a background checkpointer: the durable
  // image changes only at barriers, and the pool's thread may be in one
  // when operation K returns, so the image is taken at the next barrier
  // (in its hook, before it takes effect: operation K+1 cannot be durable
  // yet), or after the close when none came.
  struct pending_image {
    std::string point;
    std::shared_ptr<const acceptable_states> states;
  };
  std::optional<pending_image> pending_op;
  const bool defer_op_images = tg.info->background_checkpoint;
  dev->on_barrier = [&](const sim_device& d) {
    std::lock_guard lk(hook_mu);
    if (cut) return;
    if (d.barriers() < window.first_barrier) return;
    if (pending_op) {
      take_images(d, pending_op->point, true, pending_op->states);
      pending_op.reset();
    }
    if (barriers > 0 && window.until && std::chrono::steady_clock::now() >= *window.until) {
      cut = true;
      next_barrier = d.barriers();
      return;
    }
    exploring = true;
    t.count_barrier();
    ++barriers;
    const std::string point = std::to_string(d.barriers());
    if (take_images(d, point, false, acc)) ++explored;
    if (phase && kill_phases.count(*phase) && !t.stopping() && kill_rng() % ++phase_barriers == 0) {
      held = process_crash{point, d.visible(), d.durable(), in_flight_units(d), acc};
    }
  };

  std::optional<doing_scope> doing;  // what this thread does, should the engine crash
  run_reach reach;
  auto run = [&] {
    doing.emplace("run: creating the pool");
    accept({{current, 0}}, true);
    pool p;
    try {
      p = pool::open(tg.label(), tg.options(dev, open_mode::create_exclusive));
    } catch (const std::exception& e) {
      fail("create", "creating the pool failed: " + describe(e));
      return;
    }
    accept({{current, 0}});
    if (tg.info->typed) {  // see workload_info::typed
      doing.emplace("run: reopening the new pool, so that it owns its tag");
      checkers.drain();  // no crash image of this pool is open now
      auto hook = std::move(dev->on_barrier);
      dev->on_barrier = nullptr;
      try {
        p.close();
        p = pool::open(tg.label(), tg.options(dev, open_mode::open_existing));
      } catch (const std::exception& e) {
        fail("create", "reopening the new pool failed: " + describe(e));
        return;
      }
      dev->on_barrier = std::move(hook);
    }
    if (std::string d = current->check(p); !d.empty()) {
      fail("create", "a new pool is not the model's initial state: " + d);
      return;
    }
    for (std::uint64_t op = 0; op < tg.ops; ++op) {
      if (t.stopping()) return;
      if (cut) return;  // the turn is over: a later one goes on from here
      std::shared_ptr<workload> next = current->clone();
      next->apply(op);
      accept({{current, op}, {next, op + 1}});
      doing.emplace("run: operation " + std::to_string(op));
      set_phase(op);
      try {
        current->perform(p, op);
        end_phase();
      } catch (const std::exception& e) {
        fail("op" + std::to_string(op),
             "operation " + std::to_string(op) + " failed: " + describe(e) + " " + heap_summary(p));
        return;
      }
      current = next;
      std::string d = current->check(p);
      if (d.empty()) d = current->invariants(p);
      if (!d.empty()) {
        fail("op" + std::to_string(op),
             "in memory, after operation " + std::to_string(op) + ": " + d);
        return;
      }
      accept({{current, op + 1}});
      reach.ops = op + 1;
      // invariant 3; an operation that ended before the window was checked
      // by an earlier turn, one the cut interrupts is by a later one
      if (exploring && !cut) {
        const std::string point = "op" + std::to_string(op);
        if (defer_op_images) {
          std::lock_guard lk(hook_mu);
          pending_op = pending_image{point, acc};
        } else {  // no other thread runs now (acc: written by this thread only)
          take_images(*dev, point, true, acc);
        }
      }
    }
    if (!only_path) {
      if (std::string d = current->end_of_run(p); !d.empty()) {
        fail("end", "the run did not do what the workload is for: " + d);
      }
    }
    doing.emplace("run: close");
    set_phase(tg.ops);
    try {
      p.close();
      end_phase();
    } catch (const std::exception& e) {
      fail("end", "close failed: " + describe(e));
      return;
    }
    if (cut) return;
    // The pool's threads have ended: nothing else reaches the device.
    if (pending_op) take_images(*dev, pending_op->point, true, pending_op->states);
    pending_op.reset();
    take_images(*dev, "end", true, acc);
    reach.complete = true;
  };
  run();
  doing.reset();
  const std::uint64_t barriers_total = dev->barriers();
  dev->on_barrier = nullptr;
  checkers.drain();  // the queued checks refer to `checker`
  if (only_path && explored == 0 && only_path->steps.front().point != "end" &&
      only_path->steps.front().point.rfind("op", 0) != 0) {
    fail(only_path->steps.front().point,
         "the run never reached barrier " + only_path->steps.front().point);
  }
  // A run must have taken images at every one of the barriers it explored.
  if (!only_path && !t.stopping() && explored < barriers) {
    fail("end", "images were taken at " + std::to_string(explored) + " of " +
                    std::to_string(barriers) + " barriers");
  }
  reach.next_barrier = reach.complete ? barriers_total : next_barrier;
  return reach;
}

}  // namespace ferrite::crash
