#include "tools/crash/runner/process_kill.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "tools/crash/readers/structural_check.h"
#include "tools/crash/runner/image_check.h"
#include "tools/crash/runner/isolate.h"

namespace ferrite::crash {
namespace {

// Shared between the parent and a child (one anonymous shared page).
struct progress_page {
  std::atomic<std::uint64_t> started;    // operations begun
  std::atomic<std::uint64_t> committed;  // operations that returned
  std::atomic<int> child_error;          // 1: the child hit an unexpected error
  char message[1024];
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ferrite-crash-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a temporary directory");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The child runs with the engine's defaults (the background checkpointer
// on) and the workload's memory budget.
[[noreturn]] void child_main(const std::filesystem::path& file, const workload& model,
                             std::uint64_t from, bool cacheline, std::uint64_t budget,
                             progress_page* page) {
  if (cacheline) setenv("PMEM2_FORCE_GRANULARITY", "cacheline", 1);
  try {
    pool_options o;
    o.mode = open_mode::open_existing;
    if (budget) o.memory_budget = budget;
    pool p = pool::open(file, o);  // recovery: may be killed here
    std::unique_ptr<workload> m = model.clone();
    for (std::uint64_t op = from; op < from + 1'000'000; ++op) {
      page->started.store(op + 1);
      m->perform(p, op);
      m->apply(op);
      page->committed.store(op + 1);
    }
    p.close();
    _exit(0);
  } catch (const std::exception& e) {
    std::snprintf(page->message, sizeof page->message, "%s", describe(e).c_str());
    page->child_error.store(1);
    _exit(3);
  }
}

}  // namespace

kill_counts run_process_kills(const workload_info& w, std::uint64_t seed, std::uint64_t kills,
                              tally& t) {
  kill_counts done;
  auto fail = [&](const std::string& at, const std::string& what) {
    failure f;
    f.kind = "process-kill";
    f.workload = w.name;
    f.seed = seed;
    f.media = "file";
    f.pool_size = w.pool_sizes.front();
    f.at = at;
    f.what = what;
    f.repro = "ferrite-crash --workload " + w.name + " --seed " + std::to_string(seed) +
              " --only process   (kill timing is random: repeat it)";
    t.add_failure(std::move(f));
  };
  void* mem = mmap(nullptr, sizeof(progress_page), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    fail("setup", "cannot map a shared page");
    return done;
  }
  auto* page = new (mem) progress_page{};
  struct unmap {
    void* m;
    ~unmap() { munmap(m, sizeof(progress_page)); }
  } unmap_page{mem};

  try {
    temp_dir dir;
    const std::filesystem::path file = dir.path() / "crash.pool";
    pool_options create;
    create.mode = open_mode::create_exclusive;
    create.size = w.pool_sizes.front();
    create.log_size = w.log_size;
    pool::open(file, create).close();

    std::shared_ptr<const workload> model = w.make(seed);
    std::uint64_t ops = 0;  // the state the file holds now
    std::mt19937_64 rng(seed * 0x2545f4914f6cdd1dull + 7);
    for (std::uint64_t k = 0; k < kills && !t.stopping(); ++k) {
      const std::string at = "kill " + std::to_string(k) + " (from op " + std::to_string(ops) + ")";
      doing_scope doing(at);
      page->started.store(ops);
      page->committed.store(ops);
      page->child_error.store(0);
      const pid_t pid = fork();
      if (pid < 0) {
        fail(at, std::string("fork failed: ") + std::strerror(errno));
        break;
      }
      if (pid == 0) child_main(file, *model, ops, k % 2 == 1, w.memory_budget, page);
      // Early kills (inside recovery) one time in four; otherwise up to 30 ms.
      const auto delay = std::chrono::microseconds(k % 4 == 0 ? rng() % 2000 : rng() % 30000);
      std::this_thread::sleep_for(delay);
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      ++done.kills;
      if (page->child_error.load()) {
        fail(at, std::string("the child failed: ") + page->message);
        break;
      }
      const std::uint64_t committed = page->committed.load();
      const std::uint64_t started = page->started.load();
      done.operations += committed - ops;
      if (started == ops) ++done.before_first_op;
      acceptable_states acc;
      std::shared_ptr<const workload> m = model;
      for (std::uint64_t op = ops; op < started; ++op) {
        if (op == committed) acc.states.push_back({m, op});
        std::shared_ptr<workload> next = m->clone();
        next->apply(op);
        m = next;
      }
      acc.states.push_back({m, started});
      t.count_state();
      const std::string killed = at + ", " + std::to_string(committed) + " committed, " +
                                 std::to_string(started) + " started";
      pool_options ro;
      ro.mode = open_mode::read_only;
      try {
        pool p = pool::open(file, ro);
        if (auto problems = structural_check(p); !problems.empty()) {
          fail(killed, "structural check: " + problems.front());
          break;
        }
        std::string why;
        auto matched = match_state(p, acc, why);
        if (!matched) {
          fail(killed, "recovered state: " + why);
          break;
        }
        model = matched->model;
        ops = matched->ops;
      } catch (const std::exception& e) {
        fail(killed, "recovery (read-only) failed: " + describe(e));
        break;
      }
      if (k % 4 == 3) {  // a real recovery in this process, too
        pool_options rw;
        rw.mode = open_mode::open_existing;
        try {
          pool p = pool::open(file, rw);
          std::string d = model->check(p);
          if (!d.empty()) {
            fail(killed, "after a writable recovery: " + d);
            break;
          }
          p.close();
        } catch (const std::exception& e) {
          fail(killed, "recovery failed: " + describe(e));
          break;
        }
      }
    }
    // Last: recover for real, close cleanly, and look again.
    for (open_mode m : {open_mode::open_existing, open_mode::read_only}) {
      pool_options po;
      po.mode = m;
      pool p = pool::open(file, po);
      if (std::string d = model->check(p); !d.empty()) {
        fail("final reopen", "state after " + std::to_string(ops) + " ops: " + d);
        break;
      }
      p.close();
    }
  } catch (const std::exception& e) {
    fail("setup", describe(e));
  }
  return done;
}

}  // namespace ferrite::crash
