#include "engine/media/media.h"

namespace ferrite {

std::string_view to_string(granularity g) noexcept {
  switch (g) {
    case granularity::byte: return "byte";
    case granularity::cache_line: return "cache_line";
    case granularity::page: return "page";
  }
  return "unknown";
}

namespace detail {

media_stats media::stats() const noexcept {
  media_stats s;
  s.writes = writes_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  s.flushed_lines = flushed_lines_.load(std::memory_order_relaxed);
  s.fences = fences_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace detail
}  // namespace ferrite
