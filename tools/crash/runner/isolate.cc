#include "tools/crash/runner/isolate.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>

namespace ferrite::crash {
namespace {

// The page shared with an isolated child.
struct live_page {
  std::atomic<std::uint64_t> states, crash_points, barriers, failures;
  std::atomic<int> next_slot;
  static constexpr int slots = 32;
  struct slot {
    std::atomic<bool> busy;
    char what[488];
  } slot[slots];
};

live_page* child_page = nullptr;  // set in the child only
thread_local int my_slot = -1;

// Copies the child's live counts that the parent has not seen yet.
struct counts_seen {
  std::uint64_t states = 0, crash_points = 0, barriers = 0, failures = 0;
  void fold(const live_page& page, tally& t) {
    auto delta = [](const std::atomic<std::uint64_t>& now, std::uint64_t& seen) {
      const std::uint64_t v = now.load();
      const std::uint64_t d = v - seen;
      seen = v;
      return d;
    };
    t.count_state(delta(page.states, states));
    for (std::uint64_t n = delta(page.crash_points, crash_points); n > 0; --n)
      t.count_crash_point();
    for (std::uint64_t n = delta(page.barriers, barriers); n > 0; --n) t.count_barrier();
    t.count_failures(delta(page.failures, failures));
  }
};

std::string to_json(const failure& f) {
  return nlohmann::json{{"kind", f.kind},   {"workload", f.workload},   {"seed", f.seed},
                        {"media", f.media}, {"pool_size", f.pool_size}, {"at", f.at},
                        {"what", f.what},   {"repro", f.repro}}
      .dump();
}

failure from_json(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line);
  failure f;
  f.kind = j.at("kind");
  f.workload = j.at("workload");
  f.seed = j.at("seed");
  f.media = j.at("media");
  f.pool_size = j.at("pool_size");
  f.at = j.at("at");
  f.what = j.at("what");
  f.repro = j.at("repro");
  return f;
}

void write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

doing_scope::doing_scope(const std::string& what) {
  live_page* page = child_page;
  if (!page) return;
  if (my_slot < 0) my_slot = page->next_slot.fetch_add(1);
  if (my_slot >= live_page::slots) return;
  auto& s = page->slot[my_slot];
  if (s.busy.load()) previous_ = s.what;
  std::snprintf(s.what, sizeof s.what, "%s", what.c_str());
  s.busy.store(true);
  active_ = true;
}

doing_scope::~doing_scope() {
  if (!active_) return;
  auto& s = child_page->slot[my_slot];
  if (previous_.empty()) {
    s.busy.store(false);
  } else {
    std::snprintf(s.what, sizeof s.what, "%s", previous_.c_str());
  }
}

void run_isolated(tally& t, const std::function<void(tally&)>& body,
                  const std::function<failure(const std::vector<std::string>& doing,
                                              const std::string& signal)>& on_crash) {
  void* mem =
      mmap(nullptr, sizeof(live_page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int fds[2];
  if (mem == MAP_FAILED || pipe2(fds, O_CLOEXEC) != 0) {
    if (mem != MAP_FAILED) munmap(mem, sizeof(live_page));
    body(t);  // no isolation to be had: run here
    return;
  }
  auto* page = new (mem) live_page{};
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    child_page = page;
    my_slot = page->next_slot.fetch_add(1);  // slot 0: the run's own thread
    tally mine;
    mine.stop_on_failure = t.stop_on_failure;
    mine.copy_deadline(t);
    mine.mirror = [page](tally::event e) {
      switch (e) {
        case tally::event::state:
          page->states.fetch_add(1);
          break;
        case tally::event::crash_point:
          page->crash_points.fetch_add(1);
          break;
        case tally::event::barrier:
          page->barriers.fetch_add(1);
          break;
        case tally::event::failure:
          page->failures.fetch_add(1);
          break;
      }
    };
    body(mine);
    std::string out = nlohmann::json{{"counts", mine.counts()}}.dump() + "\n";
    for (const failure& f : mine.kept_failures()) out += to_json(f) + "\n";
    write_all(fds[1], out);
    _exit(0);
  }
  close(fds[1]);
  counts_seen seen;
  std::string data;
  if (pid > 0) {
    for (;;) {
      pollfd p{fds[0], POLLIN, 0};
      const int r = poll(&p, 1, 200);
      seen.fold(*page, t);
      if (r <= 0) continue;
      char buf[65536];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // the child is gone
      data.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fds[0]);
  int status = 0;
  if (pid > 0) waitpid(pid, &status, 0);
  seen.fold(*page, t);
  std::size_t at = 0;
  while (at < data.size()) {
    const std::size_t end = data.find('\n', at);
    if (end == std::string::npos) break;
    try {
      const std::string line = data.substr(at, end - at);
      if (line.rfind("{\"counts\"", 0) == 0) {
        const nlohmann::json j = nlohmann::json::parse(line);
        for (const auto& [name, n] : j.at("counts").items())
          t.add_count(name, n.get<std::uint64_t>());
      } else {
        t.keep_failure(from_json(line));
      }
    } catch (const std::exception&) {
      // A line cut short: the count is still right.
    }
    at = end + 1;
  }
  if (pid < 0 || WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
    std::vector<std::string> doing;
    for (int i = 0; i < std::min(page->next_slot.load(), live_page::slots); ++i) {
      if (page->slot[i].busy.load()) doing.emplace_back(page->slot[i].what);
    }
    std::string why = pid < 0               ? "fork failed"
                      : WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
                                            : "exit status " + std::to_string(WEXITSTATUS(status));
    t.add_failure(on_crash(doing, why));
  }
  munmap(mem, sizeof(live_page));
}

}  // namespace ferrite::crash
