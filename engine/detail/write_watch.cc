#include "ferrite/engine/detail/write_watch.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "ferrite/base/error.h"
#include "ferrite/base/media/media.h"
#include "ferrite/engine/detail/lock_fields.h"
#include "ferrite/engine/detail/pool_impl.h"
#include "ferrite/engine/detail/tx_context.h"
#include "ferrite/engine/pool_registry.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FERRITE_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define FERRITE_TSAN 1
#endif

namespace ferrite::detail {

namespace {

constexpr std::uint64_t page_size = 4096;

// Besides the pages its own ranges touch, each commit compares this many
// other open pages, in turn: a store far from every snapshot is found within
// (open pages / rotation_quota) commits. Pages stay open once written: on
// the machines measured (docs/durability.md) a write fault costs 100 us or
// more, a page compare about 0.1 us.
constexpr std::size_t rotation_quota = 2;

// Other threads store to open pages while they are compared and copied:
// by design (a store nobody covers is what is looked for). Under TSan the
// bytes are read through volatile words in uninstrumented functions, which
// the compiler cannot turn into (intercepted) memcmp or memcpy calls.
#ifdef FERRITE_TSAN
__attribute__((no_sanitize("thread"))) bool same_bytes(const std::byte* a, const std::byte* b,
                                                       std::size_t n) {
  auto* x = reinterpret_cast<const volatile std::uint64_t*>(a);
  auto* y = reinterpret_cast<const volatile std::uint64_t*>(b);
  for (std::size_t i = 0; i < n / 8; ++i) {
    if (x[i] != y[i]) return false;
  }
  return true;
}
__attribute__((no_sanitize("thread"))) void copy_bytes(std::byte* to, const std::byte* from,
                                                       std::size_t n) {
  auto* t = reinterpret_cast<volatile unsigned char*>(to);
  auto* f = reinterpret_cast<const volatile unsigned char*>(from);
  for (std::size_t i = 0; i < n; ++i) t[i] = f[i];
}
__attribute__((no_sanitize("thread"))) std::byte load_byte(const std::byte* p) {
  return *reinterpret_cast<const volatile std::byte*>(p);
}
#else
bool same_bytes(const std::byte* a, const std::byte* b, std::size_t n) {
  return std::memcmp(a, b, n) == 0;
}
void copy_bytes(std::byte* to, const std::byte* from, std::size_t n) {
  std::memcpy(to, from, n);
}
std::byte load_byte(const std::byte* p) {
  return *p;
}
#endif

// The handler's table: the armed watches, scanned without a lock.
std::atomic<write_watch*> watches[max_open_pools];
std::mutex watches_mu;  // adding and removing entries

void write_stderr(const char* s) noexcept {
  ssize_t r = ::write(2, s, std::strlen(s));
  (void)r;
}

// The SIGSEGV handler's hook (media.h install_fault_handler): true when
// `addr` is on a protected page of an armed watch, now open.
bool watch_fault(void* addr) noexcept {
  for (auto& w : watches) {
    write_watch* watch = w.load(std::memory_order_acquire);
    if (watch && watch->on_fault(addr)) return true;
  }
  return false;
}

// Calls fn(begin, end) for the ranges `t` accounts for besides its covered
// ones: logged bit operations (8-byte words), new extents, and heap
// metadata committed aside.
template <class Fn>
void for_each_other_range(const tx_context& t, Fn&& fn) {
  for (const auto& op : t.bit_ops) fn(op.offset, op.offset + 8);
  for (const auto& d : t.direct) fn(d.begin, d.end);
  for (const auto& d : t.aside) fn(d.begin, d.end);
}

// And for every range: the covered ones (snapshots, new memory) first.
template <class Fn>
void for_each_range(const tx_context& t, Fn&& fn) {
  for (const auto& iv : t.covered) fn(iv.begin, iv.end);
  for_each_other_range(t, fn);
}

}  // namespace

std::int32_t current_thread_id() noexcept {
  return static_cast<std::int32_t>(::syscall(SYS_gettid));
}

void write_watch::spin_lock::lock() noexcept {
  while (held_.exchange(true, std::memory_order_acquire)) {
    while (held_.load(std::memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#else
      std::this_thread::yield();
#endif
    }
  }
}

write_watch::write_watch(pool_impl& p) : pool_(p) {
  if (::sysconf(_SC_PAGESIZE) != static_cast<long>(page_size)) {
    fail(error_code::invalid_argument, "checked transactions need 4 KiB pages");
  }
  arm();
}

write_watch::~write_watch() {
  disarm();
}

void write_watch::arm() {
  base_ = pool_.store->working();
  heap_ = pool_.header.heap_offset;
  pages_ = pool_.state.heap_size / page_size;
  // Installed whenever a watch is armed: code that swaps handlers (test
  // frameworks do, per test) may have removed it meanwhile.
  install_fault_handler(watch_fault);
  if (reinterpret_cast<std::uintptr_t>(base_ + heap_) % page_size != 0) {
    fail(error_code::invalid_argument,
         "checked transactions: the heap of the working view is not page-aligned");
  }
  void* pre = ::mmap(nullptr, pages_ * page_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (pre == MAP_FAILED) fail_errno(errno, "checked transactions: cannot map the pre-images", "");
  pre_ = static_cast<std::byte*>(pre);
  open_.assign(pages_, 0);
  opener_.assign(pages_, 0);
  open_list_.clear();
  open_list_.reserve(pages_);
  {
    // In the handler's table before the heap is protected: no fault of
    // this pool may find the table without it.
    std::lock_guard g(watches_mu);
    slot_ = max_open_pools;
    for (std::size_t i = 0; i < max_open_pools && slot_ == max_open_pools; ++i) {
      if (!watches[i].load()) {
        slot_ = i;
        watches[i].store(this, std::memory_order_release);
      }
    }
  }
  int err = 0;
  if (slot_ == max_open_pools) {
    err = EMFILE;
  } else if (::mprotect(base_ + heap_, pages_ * page_size, PROT_READ) != 0) {
    err = errno;
  }
  if (err != 0) {
    disarm();
    fail_errno(err, "checked transactions: cannot protect the heap", "");
  }
}

void write_watch::disarm() noexcept {
  {
    std::lock_guard g(watches_mu);
    if (slot_ < max_open_pools && watches[slot_].load() == this) {
      watches[slot_].store(nullptr, std::memory_order_release);
    }
  }
  if (pre_) {
    ::mprotect(base_ + heap_, pages_ * page_size, PROT_READ | PROT_WRITE);
    ::munmap(pre_, pages_ * page_size);
    pre_ = nullptr;
  }
}

bool write_watch::on_fault(const void* addr) noexcept {
  const auto* a = static_cast<const std::byte*>(addr);
  std::byte* heap = base_ + heap_;
  if (a < heap || a >= heap + pages_ * page_size) return false;
  const auto page = static_cast<std::uint32_t>((a - heap) / page_size);
  std::lock_guard g(mu_);
  if (!open_[page]) {  // else another thread opened it meanwhile
    // The page is read-only until the mprotect below, so no store races
    // with this copy; TSan cannot see that (it knows nothing of mprotect),
    // hence the uninstrumented copy.
    copy_bytes(pre_ + std::uint64_t(page) * page_size, heap + std::uint64_t(page) * page_size,
               page_size);
    if (::mprotect(heap + std::uint64_t(page) * page_size, page_size, PROT_READ | PROT_WRITE) !=
        0) {
      write_stderr("ferrite: checked transactions could not unprotect a heap page; aborting\n");
      ::abort();
    }
    open_[page] = 1;
    opener_[page] = current_thread_id();
    open_list_.push_back(page);
  }
  return true;
}

void write_watch::enter(tx_context& tx) {
  std::lock_guard g(mu_);
  running_.push_back(&tx);
}

void write_watch::fold(std::uint64_t begin, std::uint64_t end) {
  begin = std::max(begin, heap_);
  end = std::min(end, heap_ + pages_ * page_size);
  while (begin < end) {
    const std::uint64_t page = (begin - heap_) / page_size;
    const std::uint64_t stop = std::min(end, heap_ + (page + 1) * page_size);
    if (open_[page]) copy_bytes(pre_ + (begin - heap_), base_ + begin, stop - begin);
    begin = stop;
  }
}

void write_watch::gather(std::uint64_t begin, std::uint64_t end, std::vector<range>& out) const {
  for (const tx_context* t : running_) {
    std::lock_guard g(t->coverage_mu);
    // covered is sorted and disjoint: only the ranges that reach the page.
    auto it = std::lower_bound(
        t->covered.begin(), t->covered.end(), begin,
        [](const tx_context::interval& iv, std::uint64_t v) { return iv.end <= v; });
    for (; it != t->covered.end() && it->begin < end; ++it) out.push_back({it->begin, it->end});
    for_each_other_range(*t, [&](std::uint64_t b, std::uint64_t e) {
      if (e > begin && b < end) out.push_back({b, e});
    });
  }
  if (has_lock_fields(pool_)) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> locks;
    lock_fields_in(pool_, begin, end, locks);
    for (const auto& [b, e] : locks) out.push_back({b, e});
  }
  std::sort(out.begin(), out.end(),
            [](const range& a, const range& b) { return a.begin < b.begin; });
}

std::string write_watch::describe(std::uint64_t begin, std::uint64_t end,
                                  std::uint32_t page) const {
  std::string s = "offset " + std::to_string(begin) + " (" + std::to_string(end - begin) +
                  (end - begin == 1 ? " byte" : " bytes");
  const std::string field = field_name_at(pool_, begin);
  if (!field.empty()) s += ", " + field;
  return s + ", page first written by thread " + std::to_string(opener_[page]) + ")";
}

// Compares one open page with its pre-image. A changed byte that no
// running transaction covers (and no lock field holds) is described into
// `report` and restored from the pre-image.
void write_watch::scan_page(std::uint32_t page, std::string& report, std::size_t& found) {
  const std::uint64_t off = heap_ + std::uint64_t(page) * page_size;
  std::byte* cur = base_ + off;
  std::byte* pre = pre_ + std::uint64_t(page) * page_size;
  if (same_bytes(cur, pre, page_size)) return;
  // The changed bytes first, the covered ranges after: a transaction
  // records a range before it stores to it, so a store seen here has its
  // range in what gather() reads next. (The other order would miss a range
  // recorded between the two and undo a correct store.)
  changed_.clear();
  for (std::uint64_t block = 0; block < page_size; block += 64) {
    if (same_bytes(cur + block, pre + block, 64)) continue;  // most of a page
    for (std::uint64_t i = block; i < block + 64; ++i) {
      if (load_byte(cur + i) == pre[i]) continue;
      if (!changed_.empty() && changed_.back().end == off + i) {
        ++changed_.back().end;  // a run across a block boundary
      } else {
        changed_.push_back({off + i, off + i + 1});
      }
    }
  }
  cover_.clear();
  gather(off, off + page_size, cover_);
  std::size_t c = 0;
  std::uint64_t covered_to = 0;  // bytes below this lie in some covered range
  auto is_covered = [&](std::uint64_t at) {
    while (c < cover_.size() && cover_[c].begin <= at) {
      covered_to = std::max(covered_to, cover_[c++].end);
    }
    return at < covered_to;
  };
  for (const range& r : changed_) {
    for (std::uint64_t i = r.begin; i < r.end; ++i) {
      if (is_covered(i)) continue;
      std::uint64_t j = i + 1;
      while (j < r.end && !is_covered(j)) ++j;
      if (++found <= 16) report += (report.empty() ? "" : ", ") + describe(i, j, page);
      // Undone: the working view again holds what is committed (no record
      // carries these bytes), and the change is reported once.
      copy_bytes(base_ + i, pre_ + (i - heap_), j - i);
      i = j;
    }
  }
}

std::string write_watch::finish(std::string report, std::size_t found) {
  if (found > 16) report += ", and " + std::to_string(found - 16) + " more ranges";
  return report;
}

std::string write_watch::check(const tx_context& tx) {
  std::lock_guard g(mu_);
  std::string report;
  std::size_t found = 0;
  // Every open page the transaction's ranges touch: a store next to a
  // snapshot (the usual mistake) is found at this commit.
  pages_seen_.clear();
  auto add = [&](std::uint64_t b, std::uint64_t e) {
    b = std::max(b, heap_);
    e = std::min(e, heap_ + pages_ * page_size);
    for (std::uint64_t at = b; at < e; at = (at / page_size + 1) * page_size) {
      const auto page = static_cast<std::uint32_t>((at - heap_) / page_size);
      if (open_[page]) pages_seen_.push_back(page);
    }
  };
  {
    std::lock_guard c(tx.coverage_mu);
    for_each_range(tx, add);
  }
  std::sort(pages_seen_.begin(), pages_seen_.end());
  pages_seen_.erase(std::unique(pages_seen_.begin(), pages_seen_.end()), pages_seen_.end());
  for (std::uint32_t page : pages_seen_) scan_page(page, report, found);
  // And a few others in turn.
  for (std::size_t k = 0; k < rotation_quota && k < open_list_.size(); ++k) {
    if (next_ >= open_list_.size()) next_ = 0;
    scan_page(open_list_[next_++], report, found);
  }
  return finish(std::move(report), found);
}

void write_watch::leave(tx_context& tx) {
  std::lock_guard g(mu_);
  running_.erase(std::remove(running_.begin(), running_.end(), &tx), running_.end());
  for_each_range(tx, [&](std::uint64_t b, std::uint64_t e) { fold(b, e); });
}

std::string write_watch::check_all() {
  std::lock_guard g(mu_);
  std::string report;
  std::size_t found = 0;
  for (std::uint32_t page : open_list_) scan_page(page, report, found);
  return finish(std::move(report), found);
}

void write_watch::accept_all() {
  std::lock_guard g(mu_);
  for (std::uint32_t page : open_list_) {
    const std::uint64_t at = std::uint64_t(page) * page_size;
    copy_bytes(pre_ + at, base_ + heap_ + at, page_size);
  }
}

}  // namespace ferrite::detail
