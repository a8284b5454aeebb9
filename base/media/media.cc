#include "ferrite/base/media/media.h"

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
