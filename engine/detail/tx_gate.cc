#include "ferrite/engine/detail/tx_gate.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <thread>
#include <vector>

namespace ferrite::detail {
namespace {

// Registers the process for expedited private membarrier once; false when
// the kernel (or a sandbox) does not offer it.
bool membarrier_ready() {
  static const bool ready = [] {
    const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  }();
  return ready;
}

// Slot numbers of live threads: a thread takes the lowest free one at its
// first transaction and gives it back when it ends.
class index_pool {
 public:
  std::size_t take() {
    std::lock_guard g(mu_);
    if (!free_.empty()) {
      const std::size_t i = free_.back();
      free_.pop_back();
      return i;
    }
    return next_++;
  }
  void give_back(std::size_t i) {
    std::lock_guard g(mu_);
    free_.push_back(i);
  }

 private:
  std::mutex mu_;
  std::vector<std::size_t> free_;
  std::size_t next_ = 0;
};

index_pool& indices() {
  static index_pool* p = new index_pool;  // never destroyed: threads may end after exit
  return *p;
}

// Gives the thread's slot number back when it ends.
struct thread_index_holder {
  std::size_t index;
  ~thread_index_holder() {
    tx_gate_slot_plus_one = 0;
    indices().give_back(index);
  }
};

}  // namespace

tx_gate::tx_gate() : asymmetric_(membarrier_ready()) {}

constinit thread_local std::size_t tx_gate_slot_plus_one = 0;

[[gnu::noinline]] std::size_t tx_gate::take_thread_index() noexcept {
  thread_local const thread_index_holder holder{indices().take()};
  tx_gate_slot_plus_one = holder.index + 1;
  return holder.index;
}

void tx_gate::writer_fence() const noexcept {
  if (!asymmetric_) {  // the writer's half of the readers' own fences
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return;
  }
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
  // Registered at the first gate of the process; a child of fork() that
  // lost the registration registers again. Readers of this gate do not
  // fence themselves, so a writer that cannot make them pass a barrier
  // cannot go on safely: that would take a kernel withdrawing a command
  // it offered.
  if (syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
  std::terminate();
}

bool tx_gate::others_inside(std::size_t self) const noexcept {
  for (std::size_t j = 0; j < slot_count; ++j) {
    if (j != self && slots_[j].inside.load(std::memory_order_acquire) != 0) return true;
  }
  const std::uint32_t own = self != no_entry && self >= slot_count ? 1 : 0;
  return shared_.load(std::memory_order_acquire) > own;
}

// Entered with this thread counted in its slot and a writer seen.
void tx_gate::lock_shared_slow(std::size_t i) {
  for (;;) {
    const std::uint32_t s = state_.load(std::memory_order_acquire);
    if (s == 0) return;
    // A writer that has not taken the gate yet: in beside the readers
    // inside (see the header); alone, the writer goes first.
    if (s == waiting && others_inside(i)) return;
    leave(i);
    state_.wait(s, std::memory_order_acquire);  // until the writer moves on
    enter(i);
  }
}

void tx_gate::set_state(std::uint32_t s) noexcept {
  state_.store(s, std::memory_order_seq_cst);
  state_.notify_all();  // readers that backed off re-check
}

void tx_gate::wait_until_empty() const {
  int rounds = 0;
  while (others_inside(no_entry)) {
    if (++rounds < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

void tx_gate::lock() {
  writers_.lock();
  for (;;) {
    set_state(waiting);
    writer_fence();
    wait_until_empty();
    set_state(held);
    writer_fence();
    if (!others_inside(no_entry)) return;
    // Readers that entered together while it waited, each admitted beside
    // the other: they may need more readers to get in, so it waits again.
  }
}

void tx_gate::unlock() noexcept {
  set_state(0);
  writers_.unlock();
}

}  // namespace ferrite::detail
