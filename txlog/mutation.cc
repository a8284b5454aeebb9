#include "ferrite/txlog/mutation.h"

#include <atomic>

namespace ferrite::detail {
namespace {
std::atomic<mutation> active{mutation::none};
}

mutation active_mutation() noexcept {
  return active.load(std::memory_order_relaxed);
}

void set_mutation(mutation m) noexcept {
  active.store(m, std::memory_order_relaxed);
}

}  // namespace ferrite::detail
