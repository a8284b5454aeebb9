#include "ferrite/base/media/media.h"

#include <pthread.h>
#include <unistd.h>

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

media::counter_shard& media::shard() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local const unsigned slot = next.fetch_add(1, std::memory_order_relaxed);
  return shards_[slot % shard_count];
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
