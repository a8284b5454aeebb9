// The `copy` workload: `ferrite copy` (copy_pool, engine/copy.h) killed at
// random moments. A copy is not an operation on one pool, so it has no
// power-failure or fault runs; it replaces the process kills
// (workload_info::kill_run):
//
//   1. SRC is built once: a ring of typed items in a vector, a map of
//      names, and garbage (two items in three made and freed again).
//   2. One copy runs to the end in the runner: DST must pass check_pool,
//      hold exactly the reachable objects and read back as the model.
//   3. Then, `kills` times: a child process copies SRC to DST and is
//      SIGKILLed after a random delay (up to a little past the time a whole
//      copy took). Afterwards SRC's bytes are unchanged; DST is absent or
//      complete (checked as in 2); a leftover DST.copying makes the next
//      copy fail with file_exists (it is never taken for a pool), and is
//      removed as a user would.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "ferrite/engine/check.h"
#include "ferrite/engine/copy.h"
#include "ferrite/types/map.h"
#include "ferrite/types/string.h"
#include "ferrite/types/vector.h"
#include "tools/crash/runner/process_kill.h"
#include "tools/crash/workloads/builtin.h"

namespace ferrite::crash {
namespace copy_workload {

struct item {
  std::int64_t id;
  std::int64_t payload[5];
  pptr<item> next;  // the next kept item: a ring
};
FERRITE_TYPE(item, "crash.CopyItem", id, payload, next)

struct shelf {
  ferrite::vector<pptr<item>> items;
  ferrite::map<std::int64_t, ferrite::string> names;
};
FERRITE_TYPE(shelf, "crash.CopyShelf", items, names)

constexpr std::uint64_t pool_bytes = 8ull << 20;
constexpr std::int64_t made = 3000;  // items made; every third kept

std::int64_t payload_of(std::int64_t id, int k) {
  return id * 31 + k;
}
std::string name_of(std::int64_t id) {
  return "item number " + std::to_string(id);
}
bool named(std::int64_t id) {
  return id % 5 == 0;
}

void build_source(const std::filesystem::path& path) {
  pool_options o;
  o.mode = open_mode::create_exclusive;
  o.size = pool_bytes;
  pool p = pool::open(path, o);
  pptr<shelf> s = p.root<shelf>();
  constexpr std::int64_t batch = 256;
  for (std::int64_t first = 0; first < made; first += batch) {
    p.transaction([&] {
      for (std::int64_t id = first; id < first + batch && id < made; ++id) {
        item it{id, {}, nullptr};
        for (int k = 0; k < 5; ++k) it.payload[k] = payload_of(id, k);
        pptr<item> x = p.make<item>(it);
        if (id % 3 != 0) {
          p.destroy(x);  // garbage: freed, its space left behind
          continue;
        }
        if (!s->items.empty()) {
          tx_snapshot(&s->items.back()->next);
          s->items.back()->next = x;
        }
        s->items.push_back(x);
        if (named(id)) s->names.insert(id, name_of(id));
      }
    });
  }
  p.transaction([&] {
    tx_snapshot(&s->items.back()->next);
    s->items.back()->next = s->items.front();
  });
  p.close();
}

// "" when `path` is a complete copy of the source holding `objects`
// objects, else what is wrong.
std::string check_copy(const std::filesystem::path& path, std::uint64_t objects) {
  const check_report r = check_pool(path);
  if (!r.problems.empty()) return "check_pool: " + r.problems.front().what;
  pool_options o;
  o.mode = open_mode::read_only;
  pool p = pool::open(path, o);
  if (objects && p.heap_statistics().objects != objects) {
    return std::to_string(p.heap_statistics().objects) + " objects, the first copy had " +
           std::to_string(objects);
  }
  pptr<shelf> s = p.root<shelf>();
  const std::size_t kept = (made + 2) / 3;
  if (s->items.size() != kept) return "items: " + std::to_string(s->items.size());
  for (std::size_t i = 0; i < kept; ++i) {
    const item& it = *s->items[i];
    const std::int64_t id = static_cast<std::int64_t>(i) * 3;
    if (it.id != id) return "item " + std::to_string(i) + " has id " + std::to_string(it.id);
    for (int k = 0; k < 5; ++k) {
      if (it.payload[k] != payload_of(id, k)) return "item " + std::to_string(id) + " payload";
    }
    if (it.next != s->items[(i + 1) % kept]) return "item " + std::to_string(id) + " next";
  }
  std::size_t names = 0;
  for (const auto& [id, name] : s->names) {
    if (!named(id) || id % 3 != 0 || std::string(name.c_str()) != name_of(id)) {
      return "name of " + std::to_string(id);
    }
    ++names;
  }
  if (names != (kept + 4) / 5) return "names: " + std::to_string(names);
  return {};
}

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

kill_counts run(std::uint64_t seed, std::uint64_t kills, tally& t) {
  kill_counts done;
  auto fail = [&](const std::string& at, const std::string& what) {
    failure f;
    f.kind = "process-kill";
    f.workload = "copy";
    f.seed = seed;
    f.media = "file";
    f.pool_size = pool_bytes;
    f.at = at;
    f.what = what;
    f.repro = "ferrite-crash --workload copy --seed " + std::to_string(seed) +
              " --only process   (kill timing is random: repeat it)";
    t.add_failure(std::move(f));
  };
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ferrite-copy-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    fail("setup", "cannot create a temporary directory");
    return done;
  }
  const std::filesystem::path dir = tmpl, src = dir / "src.pool", dst = dir / "dst.pool",
                              temp = dir / "dst.pool.copying";
  struct cleanup {
    std::filesystem::path d;
    ~cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } clean{dir};
  try {
    build_source(src);
    const std::string source_bytes = read_all(src);
    // The whole copy once: its duration bounds the kill delays.
    const auto t0 = std::chrono::steady_clock::now();
    const copy_stats whole = copy_pool(src, dst);
    const auto took =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    t.count_state();
    if (std::string why = check_copy(dst, whole.objects); !why.empty()) {
      fail("the uninterrupted copy", why);
      return done;
    }
    std::filesystem::remove(dst);
    std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + 11);
    for (std::uint64_t k = 0; k < kills && !t.stopping(); ++k) {
      const std::string at = "kill " + std::to_string(k);
      const pid_t pid = fork();
      if (pid < 0) {
        fail(at, "fork failed");
        break;
      }
      if (pid == 0) {
        try {
          copy_pool(src, dst);
          _exit(0);
        } catch (...) {
          _exit(3);
        }
      }
      const auto delay =
          std::chrono::microseconds(rng() % static_cast<std::uint64_t>(took + took / 4 + 1000));
      std::this_thread::sleep_for(delay);
      kill(pid, SIGKILL);
      int status = 0;
      waitpid(pid, &status, 0);
      ++done.kills;
      t.count_state();
      if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        fail(at, "the copy failed with exit status " + std::to_string(WEXITSTATUS(status)));
        break;
      }
      if (read_all(src) != source_bytes) {
        fail(at, "the copy changed its source");
        break;
      }
      if (std::filesystem::exists(dst)) {
        t.add_count("copy_complete", 1);
        if (std::string why = check_copy(dst, whole.objects); !why.empty()) {
          fail(at, "DST exists but is not a complete copy: " + why);
          break;
        }
        std::filesystem::remove(dst);
      } else {
        t.add_count("copy_absent", 1);
      }
      if (std::filesystem::exists(temp)) {
        bool refused = false;
        try {
          copy_pool(src, dst);
        } catch (const ferrite::error& e) {
          refused = e.code() == error_code::file_exists;
        }
        if (!refused || std::filesystem::exists(dst)) {
          fail(at, "a copy started over a leftover DST.copying instead of refusing");
          break;
        }
        std::filesystem::remove(temp);
        t.add_count("copy_temporary_left", 1);
      }
    }
  } catch (const std::exception& e) {
    fail("setup", e.what());
  }
  return done;
}

}  // namespace copy_workload

namespace builtin {

workload_info copy() {
  workload_info w;
  w.name = "copy";
  w.description = "ferrite copy killed at random moments: SRC unchanged, DST absent or complete";
  w.pool_sizes = {copy_workload::pool_bytes};
  w.typed = true;
  w.kill_run = copy_workload::run;
  return w;
}

}  // namespace builtin
}  // namespace ferrite::crash
