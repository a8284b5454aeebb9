#include "bench/footprint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace ferrite::bench {
namespace {

using clock_type = std::chrono::steady_clock;

// The largest anonymous RSS seen by a thread that samples it every
// `period`, and by the calls to sample().
//
// Thread-safety: every member may be called from any thread.
class anon_rss_sampler {
 public:
  explicit anon_rss_sampler(std::chrono::milliseconds period) : period_(period) {
    thread_ = std::thread([this] { loop(); });
  }
  ~anon_rss_sampler() { stop(); }
  anon_rss_sampler(const anon_rss_sampler&) = delete;
  anon_rss_sampler& operator=(const anon_rss_sampler&) = delete;

  // Takes a sample now and returns it; throws when the kernel does not say.
  std::uint64_t sample() {
    const std::optional<std::uint64_t> v = anon_rss_bytes();
    if (!v) throw std::runtime_error("footprint: /proc/self/status has no RssAnon line");
    std::lock_guard lock(mu_);
    record(*v);
    return *v;
  }

  // Forgets the samples so far: the peak is now `from`.
  void restart(std::uint64_t from) {
    std::lock_guard lock(mu_);
    peak_ = from;
    samples_ = 0;
  }

  // Stops the sampling thread (idempotent).
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::uint64_t peak() const {
    std::lock_guard lock(mu_);
    return peak_;
  }
  std::uint64_t samples() const {
    std::lock_guard lock(mu_);
    return samples_;
  }

 private:
  void record(std::uint64_t v) {  // REQUIRES: mu_ held
    peak_ = std::max(peak_, v);
    samples_ += 1;
  }

  void loop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      const std::optional<std::uint64_t> v = anon_rss_bytes();
      lock.lock();
      if (v) record(*v);
      wake_.wait_for(lock, period_, [this] { return stopping_; });
    }
  }

  const std::chrono::milliseconds period_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;      // mu_
  std::uint64_t peak_ = 0;     // mu_
  std::uint64_t samples_ = 0;  // mu_
  std::thread thread_;
};

double share(std::uint64_t part, std::uint64_t whole) {
  return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0;
}

}  // namespace

std::optional<std::uint64_t> anon_rss_bytes() noexcept {
  // A stack buffer and raw reads: the sampler must not allocate what it
  // measures. /proc/self/status is about 1.5 KiB.
  char buf[8192];
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::size_t size = 0;
  while (size < sizeof buf - 1) {
    const ssize_t n = ::read(fd, buf + size, sizeof buf - 1 - size);
    if (n <= 0) break;
    size += static_cast<std::size_t>(n);
  }
  ::close(fd);
  buf[size] = '\0';
  static constexpr char key[] = "\nRssAnon:";
  const char* line = std::strstr(buf, key);
  if (line == nullptr) return std::nullopt;
  const char* p = line + sizeof key - 1;
  while (*p == ' ' || *p == '\t') ++p;
  if (*p < '0' || *p > '9') return std::nullopt;
  std::uint64_t kib = 0;
  for (; *p >= '0' && *p <= '9'; ++p) kib = kib * 10 + static_cast<std::uint64_t>(*p - '0');
  return kib * 1024;  // the kernel says "kB": KiB
}

footprint_outcome run_footprint(bench_engine& e, std::uint64_t budget, std::uint64_t ops) {
  const std::uint64_t pages = e.footprint_pages();
  if (pages == 0 || budget == 0) throw std::invalid_argument("footprint: an empty region");
  // (e)'s table, allocated and touched before the baseline: the stamp of
  // the last op that wrote each page.
  std::vector<std::uint64_t> last(pages, 0);
  std::mt19937_64 rng(footprint_seed);

  // (b) the baseline, with the sampler's thread (and its stack) running.
  anon_rss_sampler sampler(footprint_sample_period);
  const std::uint64_t baseline = sampler.sample();
  sampler.restart(baseline);
  e.footprint_open();
  const std::uint64_t after_open = sampler.sample();

  // (c) the timed ops, and the checkpoint that ends every ferrite run.
  const counters before = sample_counters(e);
  const auto start = clock_type::now();
  for (std::uint64_t i = 0; i < ops; ++i) {
    const std::uint64_t page = rng() % pages;
    e.footprint_update(page, i + 1);
    last[page] = i + 1;
  }
  e.finish_run();
  const double ns = std::chrono::duration<double, std::nano>(clock_type::now() - start).count();
  footprint_outcome out;
  out.timed = difference(sample_counters(e), before);

  // (d) the peak, with one sample at the end.
  const std::uint64_t at_end = sampler.sample();
  sampler.stop();
  const std::uint64_t peak = sampler.peak() - baseline;  // the peak is at least the baseline
  const std::uint64_t samples = sampler.samples();
  out.ns_per_op = ns / static_cast<double>(std::max<std::uint64_t>(ops, 1));

  // (e) what survived a close and reopen.
  e.reopen();
  std::uint64_t written = 0;
  for (std::uint64_t page = 0; page < pages; ++page) {
    written += last[page] != 0;
    const std::size_t words = footprint_update_bytes / sizeof(std::uint64_t);
    for (std::size_t w : {std::size_t{0}, words - 1}) {
      const std::uint64_t v = e.footprint_word(page, w);
      if (v != last[page]) {
        throw std::runtime_error("after reopening, word " + std::to_string(w) + " of page " +
                                 std::to_string(page) + " holds " + std::to_string(v) +
                                 ", expected " + std::to_string(last[page]) +
                                 ": an update was lost");
      }
    }
  }

  auto& f = out.figures;
  const auto bytes = [](std::uint64_t b) { return static_cast<double>(b); };
  f.emplace_back("budget_bytes", bytes(budget));
  f.emplace_back("baseline_anon_bytes", bytes(baseline));
  f.emplace_back("peak_anon_bytes", bytes(peak));
  f.emplace_back("peak_per_budget", share(peak, budget));
  f.emplace_back("open_anon_bytes", bytes(after_open > baseline ? after_open - baseline : 0));
  f.emplace_back("end_anon_bytes", bytes(at_end > baseline ? at_end - baseline : 0));
  f.emplace_back("end_per_budget", share(at_end > baseline ? at_end - baseline : 0, budget));
  f.emplace_back("region_pages", bytes(pages));
  f.emplace_back("pages_written", bytes(written));
  f.emplace_back("written_per_budget", share(written * footprint_page_bytes, budget));
  f.emplace_back("rss_samples", bytes(samples));
  return out;
}

}  // namespace ferrite::bench
