#include "ferrite/base/media/media.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "ferrite/base/error.h"

namespace ferrite {

std::string_view to_string(granularity g) noexcept {
  switch (g) {
    case granularity::byte:
      return "byte";
    case granularity::cache_line:
      return "cache_line";
    case granularity::page:
      return "page";
  }
  return "unknown";
}

namespace detail {

std::atomic<std::uint64_t> media::process_forks{0};

namespace {
// Registered when the library is loaded, before any pool can be opened.
[[maybe_unused]] const int fork_handler_registered = pthread_atfork(nullptr, nullptr, [] {
  media::process_forks.store(media::process_forks.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
});
}  // namespace

void media::fail_forked() {
  fail(error_code::pool_locked,
       "this process (pid " + std::to_string(::getpid()) +
           ") is a fork() child of the process that opened the pool, which holds it for "
           "writing: only the opener may write it (the child's copy of the log and allocator "
           "state stopped at the fork). Reading is fine; to write, open the pool in the child "
           "after the parent closed it (docs/durability.md, \"Processes\")");
}

namespace {

// The handler's view of the media that hold pages now or did before:
// scanned without a lock. A media stays listed until it is destroyed.
constexpr std::size_t max_holders = 256;
std::atomic<media*> holders[max_holders];
std::mutex holders_mu;
// release_pages() calls so far, in every media.
std::atomic<std::uint64_t> releases{0};
std::atomic<bool (*)(void*) noexcept> watch_hook{nullptr};
struct sigaction previous_action;

void on_segv(int sig, siginfo_t* info, void* context);

}  // namespace

// A store to a held page: wait while the span is held, then return so the
// store runs again (it faults once more, and goes on, if the page is
// still not writable for another reason).
bool media::wait_if_held(const void* addr) noexcept {
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  bool waited = false;
  while (a >= held_begin_.load(std::memory_order_acquire) &&
         a < held_end_.load(std::memory_order_acquire)) {
    waited = true;
    sched_yield();
  }
  return waited;
}

namespace {

// A store can fault on a held page and reach the handler only after
// release_pages() made the page writable and cleared the span: no span
// then says the fault was ours. Such a store runs again once for every
// release since its last fault at the same address; a store that faults
// twice with no release in between is not ours.
[[gnu::tls_model("initial-exec")]] thread_local const void* retried_addr = nullptr;
[[gnu::tls_model("initial-exec")]] thread_local std::uint64_t retried_after = 0;

bool retry_after_release(const void* addr) noexcept {
  const std::uint64_t r = releases.load(std::memory_order_acquire);
  if (r == 0 || (addr == retried_addr && r == retried_after)) return false;
  retried_addr = addr;
  retried_after = r;
  return true;
}

void on_segv(int sig, siginfo_t* info, void* context) {
  if (info->si_code == SEGV_ACCERR) {
    bool in_pool = false;
    for (auto& h : holders) {
      media* m = h.load(std::memory_order_acquire);
      if (!m) continue;
      if (m->wait_if_held(info->si_addr)) return;
      in_pool = in_pool || m->in_working_range(info->si_addr);
    }
    auto hook = watch_hook.load(std::memory_order_acquire);
    if (hook && hook(info->si_addr)) return;
    if (in_pool && retry_after_release(info->si_addr)) return;
  }
  // Not ours: whoever handled SIGSEGV before us, or the default action.
  if (previous_action.sa_flags & SA_SIGINFO) {
    previous_action.sa_sigaction(sig, info, context);
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
  } else {
    // Restore the default: the faulting store runs again and kills the
    // process as if no handler had been installed.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGSEGV, &dfl, nullptr);
  }
}

}  // namespace

void install_fault_handler(bool (*watch_fault)(void* addr) noexcept) {
  static std::mutex mu;
  std::lock_guard g(mu);
  if (watch_fault) watch_hook.store(watch_fault, std::memory_order_release);
  struct sigaction current {};
  if (sigaction(SIGSEGV, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
      current.sa_sigaction == on_segv) {
    return;
  }
  struct sigaction sa {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &previous_action) != 0) {
    fail_errno(errno, "cannot install ferrite's SIGSEGV handler", "");
  }
}

media::~media() {
  if (!held_.empty()) release_pages();
  std::lock_guard g(holders_mu);
  for (auto& h : holders) {
    if (h.load() == this) h.store(nullptr, std::memory_order_release);
  }
}

void media::prefault(std::uint64_t, std::size_t) noexcept {}

void media::hold_pages(const page_runs& runs) {
  if (runs.empty()) return;
  install_fault_handler();
  {
    std::lock_guard g(holders_mu);
    std::size_t i = 0;
    for (; i < max_holders; ++i) {
      media* expected = nullptr;
      if (holders[i].load() == this) break;
      if (holders[i].compare_exchange_strong(expected, this)) break;
    }
    if (i == max_holders) {
      fail(error_code::io_error, "more than " + std::to_string(max_holders) +
                                     " open pools give memory back (memory_budget)");
    }
  }
  // The span is published before any page is protected: a fault on a held
  // page always finds it.
  std::uint64_t lo = runs.front().first, hi = 0;
  for (const auto& [off, len] : runs) {
    lo = std::min(lo, off);
    hi = std::max(hi, off + len);
  }
  held_end_.store(reinterpret_cast<std::uintptr_t>(working_ + hi), std::memory_order_release);
  held_begin_.store(reinterpret_cast<std::uintptr_t>(working_ + lo), std::memory_order_release);
  for (const auto& [off, len] : runs) {
    if (mprotect(working_ + off, len, PROT_READ) != 0) {
      const int e = errno;
      release_pages();
      fail_errno(e, "protecting working-view pages to give them back", "");
    }
    held_.emplace_back(off, len);
  }
}

void media::drop_pages(const std::vector<std::uint64_t>& offsets, std::size_t& dropped) {
  dropped = 0;
  for (std::uint64_t off : offsets) {
    drop_page(off);
    ++dropped;
  }
}

void media::release_pages() noexcept {
  for (const auto& [off, len] : held_) {
    if (mprotect(working_ + off, len, PROT_READ | PROT_WRITE) != 0) {
      std::fprintf(stderr, "ferrite: cannot make working-view pages writable again: %s\n",
                   std::strerror(errno));
      std::abort();
    }
  }
  held_.clear();
  // Counted before the span is cleared: a fault the handler no longer
  // finds in the span sees the new count (retry_after_release).
  releases.fetch_add(1, std::memory_order_release);
  held_begin_.store(0, std::memory_order_release);
  held_end_.store(0, std::memory_order_release);
}

namespace {
std::atomic<unsigned> next_shard{0};
// This thread's shard + 1 (0: not chosen yet). Constant-initialized and
// initial-exec: one load from the thread pointer, where a dynamically
// initialized thread_local cost a __tls_get_addr call and a guard on every
// counted write (~70 instructions a commit).
[[gnu::tls_model("initial-exec")]] thread_local unsigned shard_plus_one = 0;
}  // namespace

media::counter_shard& media::shard() noexcept {
  if (shard_plus_one == 0) [[unlikely]] {
    shard_plus_one = next_shard.fetch_add(1, std::memory_order_relaxed) % shard_count + 1;
  }
  return shards_[shard_plus_one - 1];
}

media_stats media::stats() const noexcept {
  media_stats s;
  for (const counter_shard& c : shards_) {
    s.writes += c.writes.load(std::memory_order_relaxed);
    s.bytes_written += c.bytes.load(std::memory_order_relaxed);
    s.flushed_lines += c.lines.load(std::memory_order_relaxed);
    s.fences += c.fences.load(std::memory_order_relaxed);
    s.syncs += c.syncs.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace detail
}  // namespace ferrite
