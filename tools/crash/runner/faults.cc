#include "tools/crash/runner/faults.h"

#include <algorithm>
#include <initializer_list>

#include "ferrite/base/media/detail/sim_device.h"
#include "ferrite/engine/transaction.h"
#include "tools/crash/readers/structural_check.h"
#include "tools/crash/runner/image_check.h"
#include "tools/crash/runner/isolate.h"

namespace ferrite::crash {
namespace {

using models_t = std::vector<std::shared_ptr<const workload>>;

class fault_cases {
 public:
  fault_cases(const run_target& tg, tally& t) : tg_(tg), t_(t) {
    // models_[k]: the model after k operations (one more for a probe).
    std::shared_ptr<workload> m = tg.info->make(tg.seed);
    models_.push_back(m);
    for (std::uint64_t op = 0; op <= tg.ops; ++op) {
      std::shared_ptr<workload> next = m->clone();
      next->apply(op);
      models_.push_back(next);
      m = next;
    }
  }

  std::uint64_t cases = 0;

  void sync_eio();
  void recovery_eio();
  void create_enospc();
  void grow_enospc();
  void map_fail();
  void tx_too_large();

 private:
  void fail(const std::string& at, const std::string& what) {
    failure f;
    f.kind = "fault";
    f.workload = tg_.info->name;
    f.seed = tg_.seed;
    f.media = std::string(to_string(tg_.media));
    f.pool_size = tg_.pool_size;
    f.at = at;
    f.what = what;
    f.repro = tg_.repro("faults", "");
    t_.add_failure(std::move(f));
  }

  std::shared_ptr<sim_device> device() const { return std::make_shared<sim_device>(tg_.media); }
  pool create(const std::shared_ptr<sim_device>& dev) const {
    return pool::open("fault", tg_.options(dev, open_mode::create_exclusive, false));
  }
  pool reopen(const std::shared_ptr<sim_device>& dev) const {
    return pool::open("fault", tg_.options(dev, open_mode::open_existing, false));
  }

  // True when `e` is one of `codes` with a message that says something.
  bool clear_error(const ferrite::error& e, std::initializer_list<error_code> codes,
                   const std::string& at, const std::string& expected) {
    const bool code_ok = std::find(codes.begin(), codes.end(), e.code()) != codes.end();
    if (!code_ok || std::string(e.what()).size() < 20) {
      fail(at, "expected " + expected + ", got: " + describe(e));
      return false;
    }
    return true;
  }

  // Recovers `image` (a power failure now) and checks it holds one of `acc`.
  void expect_recovers(std::vector<std::byte> image, const acceptable_states& acc,
                       const std::string& at) {
    t_.count_state();
    auto dev = sim_device::from_image(std::move(image), tg_.media);
    try {
      pool p = reopen(dev);
      if (auto problems = structural_check(p); !problems.empty()) {
        fail(at, "structural check after recovery: " + problems.front());
        return;
      }
      std::string why;
      if (!match_state(p, acc, why)) fail(at, "committed work lost: " + why);
    } catch (const std::exception& e) {
      fail(at, "recovery failed: " + describe(e));
    }
  }

  // After an operation was refused with `refused` (no_space, out_of_space):
  // the pool must still hold the state after `k` operations, go on with
  // operation k, and recover to its result before and after close.
  void expect_goes_on(pool& p, const std::shared_ptr<sim_device>& dev, std::uint64_t k,
                      const std::string& at, const std::string& unchanged_what,
                      const std::string& refused) {
    if (std::string d = models_[k]->check(p); !d.empty()) {
      fail(at, unchanged_what + ": " + d);
      return;
    }
    try {
      models_[k]->perform(p, k);
    } catch (const std::exception& e) {
      fail(at, "the pool did not go on after " + refused + ": " + describe(e));
      return;
    }
    acceptable_states acc;
    acc.states.push_back({models_[k + 1], k + 1});
    expect_recovers(dev->durable(), acc, at + ", durable image");
    p.close();
    expect_recovers(dev->durable(), acc, at + ", after close");
  }

  // The durable image after `n` operations, with their records still in
  // the log (no checkpoint since the last one the workload triggered).
  std::vector<std::byte> image_after(std::uint64_t n) {
    auto dev = device();
    pool p = create(dev);
    for (std::uint64_t op = 0; op < n; ++op) models_[op]->perform(p, op);
    return dev->durable();
  }

  const run_target& tg_;
  tally& t_;
  models_t models_;
};

void fault_cases::sync_eio() {
  const std::uint64_t n = tg_.ops + 1;  // the last operation probes a failed pool
  std::uint64_t first = 0, total = 0;
  {
    auto dev = device();
    pool p = create(dev);
    first = dev->barriers();
    for (std::uint64_t op = 0; op < n; ++op) models_[op]->perform(p, op);
    p.close();
    total = dev->barriers();
  }
  for (std::uint64_t b = first; b < total && !t_.stopping(); ++b) {
    ++cases;
    const std::string at = "sync-eio at barrier " + std::to_string(b);
    auto dev = device();
    pool p = create(dev);
    dev->fail_barrier_at = static_cast<std::int64_t>(b);
    std::uint64_t committed = 0;
    bool op_failed = false, closed = false;
    try {
      for (std::uint64_t op = 0; op < n; ++op) {
        try {
          models_[op]->perform(p, op);
        } catch (const ferrite::error& e) {
          if (!clear_error(e, {error_code::io_error, error_code::read_only}, at,
                           "io_error or read_only from operation " + std::to_string(op))) {
            return;
          }
          op_failed = true;
          break;
        }
        committed = op + 1;
      }
      if (!op_failed) {
        closed = true;
        bool reported = false;
        try {
          p.close();
        } catch (const ferrite::error& e) {
          if (!clear_error(e, {error_code::io_error}, at, "io_error from close")) return;
          reported = true;
        }
        if (!reported) {
          // A workload of several threads (early-release) may make fewer
          // barriers in this run than in the first: barrier b never came.
          if (dev->barriers() <= b) {
            --cases;
            continue;
          }
          fail(at, "the failed sync was never reported: every operation and close succeeded");
          return;
        }
      }
    } catch (const std::exception& e) {
      fail(at, "an operation failed with an unexpected error: " + describe(e));
      return;
    }
    acceptable_states acc;
    acc.states.push_back({models_[committed], committed});
    // The failed operation may have committed before a later step of it
    // failed (an explicit checkpoint, say).
    if (op_failed) acc.states.push_back({models_[committed + 1], committed + 1});
    if (!closed) {
      // The failed transaction was rolled back; the pool refuses new work.
      std::string why;
      if (!match_state(p, acc, why)) {
        fail(at, "in memory after the failure: " + why);
        return;
      }
      try {
        models_[committed]->perform(p, committed);
        fail(at, "a transaction after the failed sync succeeded (the pool must be read-only)");
        return;
      } catch (const ferrite::error& e) {
        if (!clear_error(e, {error_code::read_only, error_code::io_error}, at,
                         "read_only for work after a failed sync")) {
          return;
        }
      } catch (const std::exception& e) {
        fail(at, "work after the failed sync: " + describe(e));
        return;
      }
      try {
        p.close();
      } catch (const ferrite::error&) {
        // It may report the failure again.
      }
    }
    expect_recovers(dev->durable(), acc, at + ", durable image");
    expect_recovers(dev->visible(), acc, at + ", every write kept");
  }
}

void fault_cases::recovery_eio() {
  const std::vector<std::byte> image = image_after(tg_.ops);
  acceptable_states acc;
  acc.states.push_back({models_[tg_.ops], tg_.ops});
  for (std::int64_t r = 0; r < 8 && !t_.stopping(); ++r) {
    const std::string at = "recovery-eio at recovery barrier " + std::to_string(r);
    auto dev = sim_device::from_image(image, tg_.media);
    dev->fail_barrier_at = r;
    try {
      pool p = reopen(dev);
      dev->fail_barrier_at = -1;
      if (r == 0) fail(at, "open succeeded although its first barrier failed");
      return;  // r is past recovery's last barrier: every one was tried
    } catch (const ferrite::error& e) {
      ++cases;
      if (!clear_error(e, {error_code::io_error}, at, "io_error from open")) return;
    }
    dev->fail_barrier_at = -1;
    expect_recovers(dev->durable(), acc, at + ", durable image");
    expect_recovers(dev->visible(), acc, at + ", every write kept");
  }
}

void fault_cases::create_enospc() {
  ++cases;
  const std::string at = "create-enospc";
  auto dev = device();
  dev->capacity = tg_.pool_size / 2;
  try {
    create(dev);
    fail(at, "a pool larger than the device was created");
    return;
  } catch (const ferrite::error& e) {
    if (!clear_error(e, {error_code::no_space}, at, "no_space")) return;
  }
  if (dev->size() != 0) {
    fail(at, "the failed create left " + std::to_string(dev->size()) + " bytes behind");
    return;
  }
  dev->capacity = 0;
  t_.count_state();
  try {
    pool p = create(dev);
    if (std::string d = models_[0]->check(p); !d.empty()) fail(at, "create after ENOSPC: " + d);
  } catch (const std::exception& e) {
    fail(at, "create with room after ENOSPC failed: " + describe(e));
  }
}

void fault_cases::grow_enospc() {
  ++cases;
  const std::string at = "grow-enospc";
  auto dev = device();
  pool p = create(dev);
  const std::uint64_t k = std::min<std::uint64_t>(tg_.ops, 3);
  for (std::uint64_t op = 0; op < k; ++op) models_[op]->perform(p, op);
  const std::uint64_t size = p.info().file_size, heap = p.heap_size();
  dev->capacity = size + 128 * 1024;
  try {
    p.grow(size + (4 << 20));
    fail(at, "the pool grew beyond the device");
    return;
  } catch (const ferrite::error& e) {
    if (!clear_error(e, {error_code::no_space}, at, "no_space")) return;
  }
  dev->capacity = 0;
  if (p.info().file_size != size || p.heap_size() != heap) {
    fail(at, "the failed growth changed the pool (" + std::to_string(p.info().file_size) +
                 " bytes, heap " + std::to_string(p.heap_size()) + ")");
    return;
  }
  expect_goes_on(p, dev, k, at, "in memory after the failed growth", "no_space");
}

void fault_cases::map_fail() {
  ++cases;
  const std::string at = "map-fail";
  auto dev = sim_device::from_image(image_after(tg_.ops), tg_.media);
  dev->fail_map = true;
  try {
    reopen(dev);
    fail(at, "open succeeded although mapping the working view failed");
    return;
  } catch (const ferrite::error& e) {
    if (!clear_error(e, {error_code::io_error}, at, "io_error")) return;
  }
  dev->fail_map = false;
  acceptable_states acc;
  acc.states.push_back({models_[tg_.ops], tg_.ops});
  expect_recovers(dev->durable(), acc, at + ", the image after the failed open");
  t_.count_state();
  try {
    pool p = reopen(dev);  // the same device, opened again
    if (std::string d = models_[tg_.ops]->check(p); !d.empty()) fail(at, "open after: " + d);
  } catch (const std::exception& e) {
    fail(at, "open after the failed mapping: " + describe(e));
  }
}

void fault_cases::tx_too_large() {
  const std::string at = "tx-too-large";
  auto dev = device();
  pool p = create(dev);
  const std::uint64_t k = std::min<std::uint64_t>(tg_.ops, 3);
  for (std::uint64_t op = 0; op < k; ++op) models_[op]->perform(p, op);
  std::uint64_t log_size = 0;
  for (const pool_region& r : p.info().regions) {
    if (r.name == "log") log_size = r.size;
  }
  const std::uint64_t bytes = log_size / 2 + 4096;
  if (bytes > p.heap_size() / 2) return;  // the heap is too small for it
  ++cases;
  // The last bytes of the heap: whatever they hold, the transaction fails
  // and its snapshot puts them back.
  std::byte* region = p.base() + p.heap_offset() + p.heap_size() - bytes;
  try {
    p.transaction([&] {
      tx_snapshot(region, bytes);
      region[0] ^= std::byte{1};
      region[bytes - 1] ^= std::byte{1};
    });
    fail(at, "a transaction of " + std::to_string(bytes) + " bytes committed in a log of " +
                 std::to_string(log_size));
    return;
  } catch (const ferrite::error& e) {
    if (!clear_error(e, {error_code::out_of_space}, at, "out_of_space")) return;
  }
  expect_goes_on(p, dev, k, at, "the failed transaction was not rolled back", "out_of_space");
}

}  // namespace

std::uint64_t run_faults(const run_target& target, tally& t) {
  fault_cases f(target, t);
  auto guarded = [&](const char* name, void (fault_cases::*fn)()) {
    doing_scope doing(std::string("fault: ") + name);
    try {
      (f.*fn)();
    } catch (const std::exception& e) {
      failure x;
      x.kind = "fault";
      x.workload = target.info->name;
      x.seed = target.seed;
      x.media = std::string(to_string(target.media));
      x.pool_size = target.pool_size;
      x.at = name;
      x.what = "unexpected error: " + describe(e);
      x.repro = target.repro("faults", "");
      t.add_failure(std::move(x));
    }
  };
  guarded("sync-eio", &fault_cases::sync_eio);
  guarded("recovery-eio", &fault_cases::recovery_eio);
  guarded("create-enospc", &fault_cases::create_enospc);
  guarded("grow-enospc", &fault_cases::grow_enospc);
  guarded("map-fail", &fault_cases::map_fail);
  guarded("tx-too-large", &fault_cases::tx_too_large);
  return f.cases;
}

}  // namespace ferrite::crash
