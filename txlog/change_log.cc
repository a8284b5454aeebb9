#include "ferrite/txlog/change_log.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "ferrite/base/error.h"
#include "ferrite/txlog/mutation.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ferrite::detail {

namespace {
constexpr std::uint64_t page_bytes = 4096;  // working-view pages (the memory budget)

#if defined(__x86_64__)
[[gnu::target("clflushopt")]] void flush_lines_opt(std::uintptr_t b, std::uintptr_t e) noexcept {
  for (; b < e; b += 64) _mm_clflushopt(reinterpret_cast<void*>(b));
}

bool has_clflushopt() noexcept {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 23)) != 0;
}
#endif

// Drops [p, p + len) from this CPU's caches. No durability meaning: it is
// process memory, or log records that are durable already (a line still
// dirty is written back with the bytes it holds). The checkpointer thread
// reads the log's slots that committers wrote; left in its caches, each
// line's next write by a committer (the ring comes round) has, as we read
// the measurements, to take it back from the other CPU, once a commit and
// not only during checkpoints: one-word commits took ~300 ns with the
// thread against ~258 without, and ~270 with the lines dropped
// (docs/bench.md, "The checkpointer thread's price, found"). The records it
// applies are dropped likewise (checkpoint_locked).
void drop_from_cache(const void* p, std::size_t len) noexcept {
#if defined(__x86_64__)
  static const bool opt = has_clflushopt();
  std::uintptr_t b = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
  const std::uintptr_t e = reinterpret_cast<std::uintptr_t>(p) + len;
  if (opt) {
    flush_lines_opt(b, e);
    return;
  }
  for (; b < e; b += 64) _mm_clflush(reinterpret_cast<void*>(b));
#else
  (void)p;
  (void)len;
#endif
}

// A small number per thread, for change_log::committed_in_.
std::size_t thread_slot() noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}
}  // namespace

change_log::change_log(media& m, const pool_header& header, superblock_store& superblocks,
                       pool_state& state, bool writable)
    : media_(m),
      header_(header),
      superblocks_(superblocks),
      state_(state),
      writable_(writable),
      seed_(pool_seed(header)) {}

change_log::~change_log() {
  stop_background();
}

void change_log::start_background(bool thread, std::uint64_t budget_bytes) {
  std::unique_lock lk(mu_);
  if (!writable_ || bg_running_) return;
  if (budget_bytes != ~std::uint64_t{0}) {
    const std::uint64_t budget_pages = std::max<std::uint64_t>(budget_bytes / page_bytes, 16);
    if (media_.store_granularity() == granularity::page) {
      // A checkpoint costs a sync of the file (footprint: 1.69x unbounded's
      // time with the small checkpoints below, 1.37x without), and
      // commits, a sync each, do not outrun the checkpointer.
      high_pages_ = budget_pages * 3 / 4;
      low_pages_ = budget_pages / 2;
    } else {
      // Small checkpoints keep the pages of records not checkpointed few,
      // so the marks sit higher: more of the budget holds private pages.
      high_pages_ = budget_pages * 7 / 8;
      low_pages_ = budget_pages * 5 / 8;
      pending_high_ = std::max<std::uint64_t>(budget_pages / 8, 16);
    }
  }
  if (!thread) return;
  // The log's slots, sized and their pages touched now, for the records of
  // half the log if they are small (128 bytes: a one-word transaction; the
  // thread checkpoints at a quarter), within 1/64 of the memory budget:
  // this memory is not counted in it. Grown on the commit path, the ring
  // doubled and faulted its new pages in on a committing thread, 0.06-2.3
  // ms once per doubling over the first 8,192 commits (docs/bench.md, "The
  // checkpointer thread's price"). Without the thread the committer's
  // own checkpoints pause it anyway (measured there, this sizing made its
  // second one slower, 6.0-6.9 ms against 4.2-4.7, not understood).
  std::uint64_t slots = std::clamp<std::uint64_t>(header_.log_size / 256, 64, 16384);
  if (budget_bytes != ~std::uint64_t{0})
    slots = std::min<std::uint64_t>(slots, budget_bytes / 64 / sizeof(slot));
  if (slots >= 64) {
    slots = std::bit_floor(slots);
    pending_.reserve(static_cast<std::size_t>(slots));
  }
  bg_running_ = true;
  bg_stop_ = false;
  bg_ = std::make_unique<background>();
  lk.unlock();
  bg_->thread = std::thread([this] { background_loop(); });
}

void change_log::stop_background() noexcept {
  if (media_.forked()) {
    // A fork() child has no checkpointer thread (only the forking thread
    // is copied), and the parent owns the pool: nothing to stop or join.
    if (bg_) {
      if (bg_->thread.joinable()) bg_->thread.detach();
      (void)bg_.release();  // leaked on purpose: see change_log.h
    }
    return;
  }
  {
    std::lock_guard lk(mu_);
    if (!bg_running_) return;
    bg_stop_ = true;
  }
  bg_->cv.notify_all();
  cv_.notify_all();  // a give-back waiting for a commit in flight
  if (bg_->thread.joinable()) bg_->thread.join();
  std::lock_guard lk(mu_);
  bg_running_ = false;
}

// The background checkpointer: sleeps until reserve() wakes it, then
// checkpoints what is durable and gives pages back while over budget.
// Nothing it does fails a committer: a failed checkpoint fails the log
// (fail_locked), as on a committing thread. Before its first sleep it maps
// the log's pages ahead of the committers (prefault_step), a step at a
// time between the checkpoints it is woken for.
void change_log::background_loop() {
  std::unique_lock lk(mu_);
  const std::uint64_t prefault_from = tail_;
  const bool prefault = media_.store_granularity() != granularity::page;
  for (;;) {
    if (prefault && stats_.log_prefaulted < header_.log_size && !bg_woken_ && !bg_stop_) {
      prefault_step(lk, prefault_from);
      continue;
    }
    bg_->cv.wait(lk, [&] { return bg_stop_ || bg_woken_; });
    if (bg_stop_) return;
    bg_woken_ = false;
    if (failed_) continue;
    if (checkpointing_) {  // a committer or pool::checkpoint runs one
      wait_log(lk, [&] { return !checkpointing_ || bg_stop_; });
      continue;
    }
    if (fast_lsn_ != 0) advance_durable_locked();  // a first-in-line record, if published
    if (durable_lsn_ > state_.checkpoint_lsn) checkpoint_locked(lk, true);
    give_back_pages(lk);
  }
}

// One step of the log's prefault (media::prefault), mu_ released meanwhile:
// the next 64 KiB of the ring ahead of the committers, stats_.log_prefaulted
// bytes of it counted from `from` (where they were when the thread started)
// being mapped already. The pages they reached first are skipped. On the first
// lap after an open, each 4 KiB of records otherwise cost the committer a
// page fault: ~10 us on our VM, 23 ns a one-word commit over the tx_set8
// cell's timed ops (docs/bench.md, "The log's first lap").
void change_log::prefault_step(std::unique_lock<std::mutex>& lk, std::uint64_t from) {
  constexpr std::uint64_t step_bytes = 64 << 10;
  const std::uint64_t size = header_.log_size;
  // Once they have come round to `from`, every page is mapped, and the
  // steps left cost little.
  const std::uint64_t done = std::max(stats_.log_prefaulted, (tail_ + size - from) % size);
  const std::uint64_t pos = (from + done) % size;
  const std::uint64_t len = std::min({step_bytes, size - pos, size - done});  // 0: done
  if (len != 0) {
    lk.unlock();
    media_.prefault(header_.log_offset + pos, len);
    lk.lock();
  }
  stats_.log_prefaulted = done + len;
}

// reserve(), under mu_: the log is a quarter full or the budget asks.
void change_log::want_checkpoint_locked() {
  if (bg_running_) {
    if (!bg_woken_) {
      bg_woken_ = true;
      bg_->cv.notify_one();
    }
    return;
  }
  if (used_ * 2 >= header_.log_size || budget_wants_checkpoint_locked())
    checkpoint_wanted_.store(true, std::memory_order_relaxed);
}

// A checkpoint's stored ranges: the working-view pages holding them were
// written by transactions (private copies), and are checkpointed now.
// REQUIRES: checkpointing_ held by the caller.
std::uint64_t change_log::note_private_pages(
    const std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored) {
  std::uint64_t added = 0;
  const std::uint64_t pages = media_.size() / page_bytes;
  if (page_private_.size() < pages) page_private_.resize(pages, 0);
  for (const auto& [b, e] : stored) {
    for (std::uint64_t pg = b / page_bytes; pg < (e + page_bytes - 1) / page_bytes; ++pg) {
      if (page_private_[pg] != page_untracked) {
        page_private_[pg] = page_referenced;  // written again: a second chance
        continue;
      }
      page_private_[pg] = page_tracked;
      ++added;
    }
  }
  return added;
}

// Over budget: gives working-view pages back to the kernel, from the
// clock hand on, until low_pages_ are left (docs/durability.md "Memory").
// REQUIRES: mu_ held, checkpointing_ clear; takes checkpointing_
// meanwhile (no checkpoint may change the durable view under a
// comparison).
void change_log::give_back_pages(std::unique_lock<std::mutex>& lk) {
  if (!giving_back_ || failed_ || checkpointing_ || !over_budget_locked()) return;
  ++stats_.give_back_rounds;
  checkpointing_ = true;
  bool more = true;
  // A batch that met a record reserved while it held its pages gives up
  // (give_back_batch); it is tried again a few times, each after the
  // commits in flight are written.
  int retries = 0;
  while (more && private_pages_ > low_pages_ && !bg_stop_ && !failed_) {
    bool raced = false;
    more = give_back_batch(lk, raced) || (raced && ++retries <= 4);
  }
  checkpointing_ = false;
  cv_.notify_all();
}

// The next `want` tracked pages after the clock hand, in address order:
// a page noted again since the hand last passed it (page_referenced) is
// passed over once more. A batch ends where the pool does, so that its
// pages lie close together (few mprotect calls, a short held span).
// REQUIRES: checkpointing_ held.
std::vector<std::uint32_t> change_log::pick_batch(std::size_t want) {
  std::vector<std::uint32_t> pages;
  const std::uint64_t n = page_private_.size();
  // Twice round at most: the first pass may only clear referenced bits.
  for (std::uint64_t seen = 0; pages.size() < want && seen < 2 * n; ++seen) {
    if (clock_hand_ >= n) {
      clock_hand_ = 0;
      if (!pages.empty()) break;
    }
    if (clock_hand_ % 8 == 0 && clock_hand_ + 8 <= n) {  // skip 8 untracked pages at once
      std::uint64_t word;
      std::memcpy(&word, page_private_.data() + clock_hand_, 8);
      if (word == 0) {
        clock_hand_ += 8;
        seen += 7;
        continue;
      }
    }
    std::uint8_t& state = page_private_[clock_hand_];
    if (state == page_referenced) {
      state = page_tracked;
    } else if (state == page_tracked) {
      pages.push_back(static_cast<std::uint32_t>(clock_hand_));
    }
    ++clock_hand_;
  }
  return pages;
}

// One batch, mu_ held on entry and exit (released in between). A page is
// dropped when (1) no record after the checkpoint touches it, and (2) its
// working bytes equal its durable bytes while it is held read-only: then
// it holds nothing a running transaction wrote, and a later checkpoint can
// only write it the bytes the working view already shows. A store racing
// with the drop waits for release_pages() and then lands on the page read
// back from the file (media.h). The held runs may take in pages between
// the batch's (hold_gap_pages): they are not compared nor dropped, and a
// store to one waits for the batch like a store to a batch page, at most
// the batch's compares (batch_pages pages) and its one drop call. Returns
// false when no progress is possible now; `raced` is set when that is
// because a record reserved meanwhile is not written yet.
bool change_log::give_back_batch(std::unique_lock<std::mutex>& lk, bool& raced) {
  // A record with an LSN that is not written yet (its committer between
  // reserve() and mark_written()) makes the batch give up below. Its
  // committer is copying it into the log: wait for that first, while no
  // page is held, so that nothing it does can wait for this batch (it
  // needs only mu_, and wakes cv_ once written; a failed write fails the
  // log, which ends the wait too). Without this wait a round ended with
  // nothing given back whenever a commit was in flight: the crash runner's
  // `budget` workload, whose few rounds met one each under load (its
  // committer stops at every barrier), saw none given back in about one
  // run in twenty (a 2 ms wait still missed one in twenty).
  const auto all_written = [this] {
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      if (!pending_[i].written) return false;
    }
    return true;
  };
  wait_log(lk, [&] { return failed_ || bg_stop_ || all_written(); });
  if (failed_ || bg_stop_) return false;
  std::vector<std::uint32_t> pages = pick_batch(
      static_cast<std::size_t>(std::min<std::uint64_t>(batch_pages, private_pages_ - low_pages_)));
  if (pages.empty()) return false;
  lk.unlock();
  // Few mprotect calls: runs closer than hold_gap_pages are held as one
  // (the pages between wait for the batch too, and are not dropped).
  media::page_runs runs;
  for (std::uint32_t pg : pages) {
    const std::uint64_t off = std::uint64_t{pg} * page_bytes;
    if (!runs.empty() &&
        runs.back().first + runs.back().second + hold_gap_pages * page_bytes >= off)
      runs.back().second = off + page_bytes - runs.back().first;
    else
      runs.emplace_back(off, page_bytes);
  }
  std::string error;
  try {
    media_.hold_pages(runs);
  } catch (const std::exception& e) {
    error = e.what();
  }
  lk.lock();
  if (!error.empty()) {
    clock_hand_ = pages.front();
    giving_back_ = false;
    std::fprintf(stderr, "ferrite: the memory budget is off for this open: %s\n", error.c_str());
    return false;
  }
  // Every record with an LSN must be written, so that its pages are known;
  // a committer between reserve() and mark_written() may be waiting on a
  // held page (a lock word it releases): then try again later.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> records;  // (pos, length)
  const bool written = all_written();
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (!pending_[i].wrap) records.emplace_back(pending_[i].pos, pending_[i].length);
  }
  lk.unlock();
  std::uint64_t kept = 0;
  std::vector<std::uint32_t> dropped;
  if (written) {
    // (1) Pages of records after the checkpoint: their images are not in
    // the durable view yet.
    std::vector<std::uint32_t> busy;
    apply_target t;
    t.write = [&busy](std::uint64_t off, const void*, std::uint64_t len) {
      for (std::uint64_t pg = off / page_bytes; pg < (off + len + page_bytes - 1) / page_bytes;
           ++pg)
        busy.push_back(static_cast<std::uint32_t>(pg));
    };
    t.read_word = [](std::uint64_t) { return std::uint64_t{0}; };
    t.set_root = [](std::uint64_t, std::uint64_t) {};
    const std::byte* log = media_.durable() + header_.log_offset;
    for (const auto& [pos, len] : records) apply_record(log + pos, t);
    std::sort(busy.begin(), busy.end());
    // (2) Compare, then drop the equal pages together (one system call).
    std::vector<std::uint64_t> equal;
    for (std::uint32_t pg : pages) {
      const std::uint64_t off = std::uint64_t{pg} * page_bytes;
      const bool unchecked = active_mutation() == mutation::give_back_changed;  // self-test
      if (!unchecked &&
          (std::binary_search(busy.begin(), busy.end(), pg) ||
           std::memcmp(media_.working() + off, media_.durable() + off, page_bytes) != 0)) {
        ++kept;
        continue;
      }
      equal.push_back(off);
    }
    std::size_t done = 0;
    try {
      media_.drop_pages(equal, done);
    } catch (const std::exception& e) {
      error = e.what();
    }
    for (std::size_t i = 0; i < done; ++i)
      dropped.push_back(static_cast<std::uint32_t>(equal[i] / page_bytes));
  }
  media_.release_pages();
  lk.lock();
  if (!written) {
    raced = true;
    clock_hand_ = pages.front();  // the same pages first, next time
    return false;
  }
  // The others stay tracked: changed since, or a record's, or not reached
  // after a failure.
  for (std::uint32_t pg : dropped) page_private_[pg] = page_untracked;
  if (!error.empty()) {
    giving_back_ = false;
    std::fprintf(stderr, "ferrite: the memory budget is off for this open: %s\n", error.c_str());
  }
  private_pages_ -= dropped.size();
  stats_.pages_given_back += dropped.size();
  stats_.pages_kept += kept;
  return !dropped.empty();
}

pool_bounds change_log::bounds() const noexcept {
  return {header_.type_table_offset, header_.type_table_offset + header_.type_table_size,
          header_.heap_offset, header_.heap_offset + state_.heap_size};
}

std::uint64_t change_log::max_record_length() const noexcept {
  return (header_.log_size / 2) / record_align * record_align - record_align;
}

apply_target change_log::durable_target(
    std::uint64_t& root_off, std::uint64_t& root_type,
    std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored) {
  apply_target t;
  // Records often rewrite the same lines: store every image, then flush
  // each line once (flush_stored) instead of once per record.
  t.write = [this, &stored](std::uint64_t off, const void* src, std::uint64_t len) {
    media_.store(off, src, len);
    stored.emplace_back(off, off + len);
  };
  t.read_word = [this](std::uint64_t off) {
    std::uint64_t v;
    std::memcpy(&v, media_.durable() + off, 8);
    return v;
  };
  t.set_root = [&root_off, &root_type](std::uint64_t off, std::uint64_t type) {
    root_off = off;
    root_type = type;
  };
  return t;
}

void change_log::flush_stored(std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored) {
  if (media_.store_granularity() == granularity::page) {  // the sync writes pages back
    stored.clear();
    return;
  }
  // Each line once: a hot line written by thousands of records is flushed
  // one time. A flat hash set of line numbers (open addressing, 0 = empty)
  // costs less than sorting the ranges; flush order does not matter before
  // the fence that follows.
  std::size_t lines = 0;
  for (const auto& [b, e] : stored) lines += (e + 63) / 64 - b / 64;
  std::size_t cap = 64;
  while (cap < lines * 2) cap *= 2;
  flush_set_.assign(cap, 0);
  const std::size_t mask = cap - 1;
  for (const auto& [b, e] : stored) {
    for (std::uint64_t line = b / 64; line < (e + 63) / 64; ++line) {
      std::size_t i = static_cast<std::size_t>((line + 1) * 0x9e3779b97f4a7c15ull >> 20) & mask;
      while (flush_set_[i] != 0 && flush_set_[i] != line + 1) i = (i + 1) & mask;
      if (flush_set_[i] == 0) {
        flush_set_[i] = line + 1;
        media_.flush(line * 64, 64);
      }
    }
  }
  stored.clear();
}

// The log ends at the first position that does not hold the record
// expected there. After a crash that is a torn tail: records written by the
// last group that were not all durable. It is damage when a later record
// proves the expected one was durable (find_later_record): replaying only
// the prefix would drop committed transactions silently.
void change_log::refuse_damage(const std::byte* log, std::uint64_t pos, std::uint64_t lsn,
                               bool salvage) {
  // After a clean close the log holds nothing past the checkpoint.
  if (state_.clean_shutdown) return;
  const std::int64_t later = find_later_record(log, header_.log_size, lsn, state_.log_epoch, seed_);
  if (later < 0) return;
  record_header h;
  std::memcpy(&h, log + later, sizeof h);
  damage_ = "log record " + std::to_string(lsn) + " at log offset " + std::to_string(pos) +
            " (file offset " + std::to_string(header_.log_offset + pos) + ") is damaged: record " +
            std::to_string(h.lsn) + " at log offset " + std::to_string(later) +
            ", written after it was durable, is intact, so records " + std::to_string(lsn) + ".." +
            std::to_string(h.lsn) + " were committed and cannot be replayed";
  damage_offset_ = header_.log_offset + pos;
  if (salvage && !writable_) return;
  fail(error_code::corrupted,
       damage_ +
           "; the pool cannot be recovered. Open it read-only with "
           "pool_options::salvage (`ferrite copy --salvage`) to keep what precedes the "
           "damage");
}

void change_log::recover(bool salvage) {
  const std::byte* log = media_.durable() + header_.log_offset;
  const pool_bounds b = bounds();
  std::uint64_t pos = state_.log_head;
  std::uint64_t lsn = state_.checkpoint_lsn + 1;
  std::vector<std::uint64_t> found;
  // Each record advances pos by >= 64 bytes within one lap plus one wrap, so
  // this bound is never reached by a valid log; it guards against a loop.
  const std::uint64_t max_records = 2 * header_.log_size / record_align + 2;
  for (std::uint64_t n = 0; n < max_records; ++n, ++lsn) {
    std::uint64_t len =
        validate_record(log + pos, header_.log_size - pos, lsn, state_.log_epoch, seed_);
    if (len == 0) {
      refuse_damage(log, pos, lsn, salvage);
      break;
    }
    record_header h;
    std::memcpy(&h, log + pos, sizeof h);
    if (h.flags & record_flag_wrap) {
      pos = 0;
      continue;
    }
    std::string problem = check_entries(log + pos, len, b);
    if (!problem.empty()) {
      fail(error_code::corrupted, "log record " + std::to_string(lsn) + " at log offset " +
                                      std::to_string(pos) + " is invalid (" + problem +
                                      "); the pool cannot be recovered");
    }
    found.push_back(pos);
    pos += len;
    if (pos == header_.log_size) pos = 0;
  }
  const std::uint64_t last_lsn = lsn - 1;
  root_offset_ = state_.root_offset;
  root_type_ = state_.root_type;
  stats_.recovered_records = found.size();

  if (!writable_) {
    recovered_ = std::move(found);
    // Roots are known without touching any image.
    for (std::uint64_t p : recovered_) {
      apply_target t;
      t.write = [](std::uint64_t, const void*, std::uint64_t) {};
      t.read_word = [](std::uint64_t) { return std::uint64_t{0}; };
      t.set_root = [this](std::uint64_t off, std::uint64_t type) {
        root_offset_ = off;
        root_type_ = type;
      };
      apply_record(log + p, t);
    }
    next_lsn_ = last_lsn + 1;
    return;
  }

  if (!found.empty() && active_mutation() != mutation::apply_before_log_durable) {
    // A record may have reached the page cache (or the CPU cache) but not
    // the media when the writer died: make the log durable before any of
    // its images reach the heap (invariant 2), or a power cut during
    // recovery could tear a transaction.
    media_.flush(header_.log_offset, header_.log_size);
    media_.barrier(header_.log_offset, header_.log_size);
  }
  std::vector<std::pair<std::uint64_t, std::uint64_t>> stored;
  apply_target t = durable_target(root_offset_, root_type_, stored);
  for (std::uint64_t p : found) stats_.recovered_bytes += apply_record(log + p, t);
  flush_stored(stored);
  if (!found.empty()) media_.sync_all();  // invariant 5: images before the checkpoint
  state_.checkpoint_lsn = last_lsn;
  state_.log_head = pos;
  state_.root_offset = root_offset_;
  state_.root_type = root_type_;
  state_.log_epoch += 1;  // records of the old epoch are stale from now on
  state_.clean_shutdown = false;
  state_.open_count += 1;
  superblocks_.make_current_durable(state_);  // before the other slot is overwritten
  superblocks_.store(state_);
  next_lsn_ = last_lsn + 1;
  written_lsn_ = durable_lsn_ = last_lsn;
  tail_ = pos;
  used_ = 0;
}

void change_log::apply_to_working(std::byte* working) {
  const std::byte* log = media_.durable() + header_.log_offset;
  apply_target t;
  t.write = [working](std::uint64_t off, const void* src, std::uint64_t len) {
    std::memcpy(working + off, src, len);
  };
  t.read_word = [working](std::uint64_t off) {
    std::uint64_t v;
    std::memcpy(&v, working + off, 8);
    return v;
  };
  t.set_root = [](std::uint64_t, std::uint64_t) {};
  for (std::uint64_t p : recovered_) stats_.recovered_bytes += apply_record(log + p, t);
}

void change_log::fail_locked(const std::string& why) {
  if (!failed_) {
    failed_ = true;
    failed_flag_.store(true, std::memory_order_relaxed);
    failure_ = why;
  }
  cv_.notify_all();
  gather_cv_.notify_all();
}

pool_state change_log::state_snapshot() const {
  std::lock_guard lk(mu_);
  return state_;
}

std::uint64_t change_log::checkpoint_lsn() const {
  std::lock_guard lk(mu_);
  return state_.checkpoint_lsn;
}

void change_log::update_superblock(const std::function<void(pool_state&)>& update,
                                   const std::function<void()>& before_store) {
  std::unique_lock lk(mu_);
  wait_log(lk, [&] { return !checkpointing_; });
  if (failed_) fail(error_code::io_error, "the pool is read-only after a failed sync: " + failure_);
  pool_state next = state_;
  update(next);
  checkpointing_ = true;  // keeps checkpoints out while the superblock is written
  lk.unlock();
  std::string error;
  try {
    if (before_store) before_store();
    superblocks_.store(next);
  } catch (const std::exception& e) {
    error = e.what();
  }
  lk.lock();
  checkpointing_ = false;
  cv_.notify_all();
  if (!error.empty()) {
    fail_locked(error);
    fail(error_code::io_error, "writing the superblock failed: " + error);
  }
  state_ = next;
}

void change_log::without_checkpoints(const std::function<void()>& fn) {
  std::unique_lock lk(mu_);
  wait_log(lk, [&] { return !checkpointing_; });
  checkpointing_ = true;
  lk.unlock();
  struct done {
    change_log& log;
    ~done() {
      std::lock_guard g(log.mu_);
      log.checkpointing_ = false;
      log.cv_.notify_all();
    }
  } d{*this};
  fn();
}

bool change_log::failed() const {
  return failed_flag_.load(std::memory_order_relaxed);
}

std::string change_log::failure() const {
  std::lock_guard lk(mu_);
  return failure_;
}

log_stats change_log::stats() const {
  std::lock_guard lk(mu_);
  log_stats s = stats_;
  if (fast_lsn_ != 0 && fast_fenced_.load(std::memory_order_acquire) >= fast_lsn_) {
    ++s.commits;  // published, not absorbed yet (absorb_first_locked counts it)
    s.log_bytes += pending_[fast_lsn_ - pending_.front().lsn].length;
  }
  s.private_pages = private_pages_;
  return s;
}

std::uint64_t change_log::used_bytes() const {
  std::lock_guard lk(mu_);
  return used_;
}

void change_log::advance_durable_locked() {
  // Only used on media where each committer fences its own writes: a record
  // is durable once it and every record before it are written and fenced.
  absorb_first_locked();
  if (failed_) return;
  while (durable_lsn_ < next_lsn_ - 1) {
    const slot& s = pending_[durable_lsn_ + 1 - pending_.front().lsn];
    if (!s.written) break;
    ++durable_lsn_;
  }
  written_lsn_ = durable_lsn_;
}

bool change_log::absorb_first_locked() {
  if (fast_lsn_ == 0 || fast_fenced_.load(std::memory_order_acquire) < fast_lsn_) return false;
  // Its slots are those after durable_lsn_: its wrap marker, if any, and
  // it. Every record before them was durable when it was reserved.
  const std::uint64_t front = pending_.front().lsn;
  slot* s = nullptr;
  for (std::uint64_t l = durable_lsn_ + 1; l <= fast_lsn_; ++l) {
    s = &pending_[l - front];
    s->written = true;
  }
  ++stats_.commits;
  stats_.log_bytes += s->length;
  if (!failed_) durable_lsn_ = written_lsn_ = fast_lsn_;
  fast_lsn_ = 0;
  return true;
}

void change_log::wait_once(std::unique_lock<std::mutex>& lk) {
  if (fast_lsn_ == 0) {
    cv_.wait(lk);
    return;
  }
  // A first-in-line record is in flight: its committer wakes no one. It
  // publishes within the time of a fence unless it is descheduled, or it
  // takes mu_ after a failure (and then wakes cv_).
  const std::uint64_t first = fast_lsn_;
  lk.unlock();
  for (int i = 0; i < 512 && fast_fenced_.load(std::memory_order_acquire) < first; ++i) {
#if defined(__x86_64__)
    _mm_pause();
#endif
  }
  lk.lock();
  if (fast_lsn_ == first && fast_fenced_.load(std::memory_order_acquire) < first) {
    cv_.wait_for(lk, std::chrono::microseconds(50));
  }
  // fast_lsn_ was set, so the media fences per thread (reserve).
  const std::uint64_t before = durable_lsn_;
  advance_durable_locked();
  if (durable_lsn_ != before && cv_waiters_ > 1) cv_.notify_all();
}

void change_log::sync_as_leader(std::unique_lock<std::mutex>& lk) {
  // Page media: sync the log range of every written, not yet durable record.
  std::uint64_t target = written_lsn_;
  std::uint64_t lo = header_.log_size, hi = 0;
  for (std::uint64_t l = durable_lsn_ + 1; l <= target; ++l) {
    const slot& s = pending_[l - pending_.front().lsn];
    lo = std::min(lo, s.pos);
    hi = std::max(hi, s.pos + s.length);
  }
  syncing_ = true;
  lk.unlock();
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  try {
    if (active_mutation() != mutation::drop_commit_fence) {  // self-test mutation
      media_.barrier(header_.log_offset + lo, hi - lo);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start)
          .count();
  lk.lock();
  syncing_ = false;
  sync_ns_ = sync_ns_ == 0 ? static_cast<std::uint64_t>(took)
                           : (sync_ns_ * 7 + static_cast<std::uint64_t>(took)) / 8;
  ++stats_.group_syncs;
  if (!error.empty()) {
    fail_locked(error);
    return;
  }
  durable_lsn_ = std::max(durable_lsn_, target);
  ++sync_epoch_;
  recent_ = 0;
  for (std::uint64_t e : committed_in_) recent_ += e != 0 && e + 1 >= sync_epoch_;
  cv_.notify_all();
}

// Step 1, under mu_: the next LSN (and one before it for a wrap marker)
// and `len` bytes of log space. A record that does not fit before the end
// of the region wraps: a marker fills the end and the record starts at 0.
change_log::reservation change_log::reserve(std::unique_lock<std::mutex>& lk, std::uint64_t len,
                                            std::uint64_t pages) {
  const std::uint64_t log_size = header_.log_size;
  std::uint64_t pos = 0, waste = 0;
  bool waited = false;
  if (fast_lsn_ != 0) advance_durable_locked();  // the last first-in-line record, if published
  for (;;) {
    if (failed_)
      fail(error_code::io_error, "the pool is read-only after a failed sync: " + failure_);
    waste = tail_ + len <= log_size ? 0 : log_size - tail_;
    pos = waste ? 0 : tail_;
    if (used_ + waste + len <= log_size) break;
    if (!waited) ++stats_.space_waits;
    waited = true;
    if (fast_lsn_ != 0) advance_durable_locked();
    if (!checkpointing_ && durable_lsn_ > state_.checkpoint_lsn) {
      checkpoint_locked(lk);
    } else {
      wait_log(lk);
    }
  }
  std::uint64_t marker_lsn = 0;
  if (waste) {
    marker_lsn = next_lsn_++;
    pending_.push_back({marker_lsn, tail_, record_align, waste, true, false});
    ++stats_.wraps;
  }
  const std::uint64_t lsn = next_lsn_++;
  pending_.push_back({lsn, pos, len, len, false, false, pages});
  pending_pages_ += pages;
  if (!media_.per_thread_fence())
    committed_in_[thread_slot() % committed_in_.size()] = sync_epoch_ + 1;
  tail_ = pos + len == log_size ? 0 : pos + len;
  if (tail_ == 0) ++stats_.wraps;
  used_ += waste + len;
  if (used_ * 4 >= log_size || budget_wants_checkpoint_locked()) want_checkpoint_locked();
  const bool first =
      media_.per_thread_fence() && fast_lsn_ == 0 && durable_lsn_ + 1 == (waste ? marker_lsn : lsn);
  if (first) fast_lsn_ = lsn;
  return {lsn, pos, len, waste, marker_lsn, state_.log_epoch, durable_lsn_, first};
}

// Step 2, mu_ released: the wrap marker at the end of the region, then the
// record at its reserved place. A failure leaves its message in `error`.
// (always_inline: g++ 12 keeps it out of line otherwise, ~40 instructions a
// commit on the tx_set8 bench cell.)
[[gnu::always_inline]] void change_log::write_record(const reservation& r, record_builder& rb,
                                                     std::string& error) {
  try {
    if (r.waste) {
      std::byte marker[sizeof(record_header)];
      encode_wrap_marker(marker, r.marker_lsn, r.epoch, r.durable, seed_);
      media_.write(header_.log_offset + (header_.log_size - r.waste), marker, sizeof marker);
    }
    const std::byte* rec = rb.finish(r.lsn, r.epoch, r.durable, seed_);
    std::uint64_t at = 0;
    if (active_mutation() == mutation::marker_before_data) {  // self-test: header first
      media_.write(header_.log_offset + r.pos, rec, sizeof(record_header));
      media_.barrier(header_.log_offset + r.pos, sizeof(record_header));
      at = sizeof(record_header);
    }
    media_.write(header_.log_offset + r.pos + at, rec + at, r.length - at);
  } catch (const std::exception& e) {
    error = e.what();
  }
}

// Step 3a, mu_ released, byte and cache-line media: this thread's fence
// over its own record (a fence orders only its own CPU's flushes). The
// marker needs none of its own: the same fence covers this thread's
// flushes of it. A failure leaves its message in `error`.
void change_log::fence_record(const reservation& r, std::string& error) {
  try {
    if (active_mutation() != mutation::drop_commit_fence) {  // self-test mutation
      media_.barrier(header_.log_offset + r.pos, r.length);
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
}

// Step 3b, under mu_: the record (and its marker) is in the log.
void change_log::mark_written(const reservation& r, const std::string& error) {
  if (!error.empty()) {
    // The record may or may not be durable. It stays unwritten, so nothing
    // after it counts as durable; every waiting committer fails too.
    fail_locked(error);
    fail(error_code::io_error,
         "commit failed, the pool is now read-only (reopen it; work committed before is safe): " +
             error);
  }
  pending_[r.lsn - pending_.front().lsn].written = true;
  if (r.waste) pending_[r.marker_lsn - pending_.front().lsn].written = true;
}

// Page media: moves written_lsn_ over the prefix of written slots.
void change_log::advance_written_locked() {
  while (written_lsn_ < next_lsn_ - 1 &&
         pending_[written_lsn_ + 1 - pending_.front().lsn].written) {
    ++written_lsn_;
  }
}

// Step 3c, under mu_: returns once durable_lsn_ >= lsn, or the log failed.
// (always_inline: with the page path below in it, g++ 12 kept it out of
// line, ~30 instructions a commit on the tx_set8 cache-line bench cell.)
[[gnu::always_inline]] void change_log::await_durable(std::unique_lock<std::mutex>& lk,
                                                      std::uint64_t lsn) {
  if (media_.per_thread_fence()) {
    advance_durable_locked();
    if (cv_waiters_ != 0) cv_.notify_all();
    wait_log(lk, [&] { return durable_lsn_ >= lsn || failed_; });
    return;
  }
  await_synced(lk, lsn);
}

// Page media: the written prefix is made durable by a leader's sync.
void change_log::await_synced(std::unique_lock<std::mutex>& lk, std::uint64_t lsn) {
  advance_written_locked();
  // The leader may wait for this record. Only it is woken: each arrival
  // used to wake every committer waiting for the sync too (cv_), which went
  // back to sleep (4 threads on page media: 6.1 futex calls per commit
  // before, 4.6 after; strace).
  if (gathering_) gather_cv_.notify_one();
  while (durable_lsn_ < lsn && !failed_) {
    if (!syncing_ && written_lsn_ >= lsn) {
      gather_locked(lk);
      sync_as_leader(lk);
    } else {
      wait_log(lk);
      advance_written_locked();
    }
  }
}

// Page media, the leader before its sync. Committers that finish while a
// sync runs arrive one by one, and the first to find no sync running would
// sync alone while the threads the last sync released are still building
// their next transaction: with N threads, groups of 1 and N-1 alternate (2
// syncs per N commits). So the leader waits while records with an LSN are
// not yet written, or while fewer records wait than threads committed in
// the last two syncs (they are likely on their way), at most half a sync's
// average time: a thread that stopped committing costs the next two groups
// that much at most. syncing_ is set meanwhile, so that no second leader
// starts.
void change_log::gather_locked(std::unique_lock<std::mutex>& lk) {
  auto others_coming = [&] {
    if (written_lsn_ < next_lsn_ - 1) return true;
    std::uint64_t waiting = 0;
    for (std::uint64_t l = durable_lsn_ + 1; l < next_lsn_; ++l) {
      if (!pending_[l - pending_.front().lsn].wrap) ++waiting;
    }
    return waiting < recent_;
  };
  if (sync_ns_ == 0 || !others_coming()) return;
  ++stats_.gathers;
  syncing_ = true;
  gathering_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(sync_ns_ / 2);
  while (!failed_) {
    const bool timed_out = gather_cv_.wait_until(lk, deadline) == std::cv_status::timeout;
    advance_written_locked();
    if (!others_coming()) break;
    if (timed_out) {
      ++stats_.gather_timeouts;
      break;
    }
  }
  gathering_ = false;
  syncing_ = false;
}

void change_log::await_ordered() {
  std::unique_lock lk(mu_);
  const std::uint64_t target = next_lsn_ - 1;
  if (durable_lsn_ >= target) return;
  await_durable(lk, target);
  if (failed_ && durable_lsn_ < target) {
    fail(error_code::io_error,
         "the pool failed before what this transaction read was durable (reopen it): " + failure_);
  }
}

std::uint64_t change_log::commit(record_builder& rb, const commit_hooks* hooks) {
  const std::uint64_t len = rb.length();
  if (len > max_record_length()) {
    fail(error_code::out_of_space, "the transaction needs " + std::to_string(len) +
                                       " bytes of log but one transaction may "
                                       "use at most " +
                                       std::to_string(max_record_length()) +
                                       " (half the log); split it or create the pool with a larger "
                                       "log (pool_options::log_size)");
  }
  std::unique_lock lk(mu_);
  const reservation r = reserve(lk, len, rb.pages_estimate());
  lk.unlock();
  if (hooks) hooks->on_ordered(hooks->arg, r.lsn);

  std::string error;
  write_record(r, rb, error);
  if (error.empty() && media_.per_thread_fence()) fence_record(r, error);
  if (r.first && error.empty() && !failed_flag_.load(std::memory_order_relaxed)) {
    // Every record before it was durable when it was reserved, and it is
    // fenced: durable. Published without mu_ (see fast_lsn_).
    fast_fenced_.store(r.lsn, std::memory_order_release);
    return r.lsn;
  }

  lk.lock();
  if (r.first) fast_lsn_ = 0;  // not published: marked below, under mu_
  mark_written(r, error);
  await_durable(lk, r.lsn);
  if (failed_ && durable_lsn_ < r.lsn) {
    fail(error_code::io_error,
         "commit failed, the pool is now read-only (reopen it; work committed before is safe): " +
             failure_);
  }
  ++stats_.commits;
  stats_.log_bytes += len;
  return r.lsn;
}

void change_log::persist_direct(
    const std::byte* src_base, const std::vector<std::pair<std::uint64_t, std::uint64_t>>& ranges) {
  if (failed())
    fail(error_code::io_error, "the pool is read-only after a failed sync: " + failure());
  try {
    for (const auto& [off, len] : ranges) {
      if (len >= prefault_direct_bytes) prefault_direct(off, len);
      media_.write(off, src_base + off, len);
    }
    // Durable before the record is even written: a record must never be
    // durable without the bytes it allocates (one fence on cache-line media).
    if (media_.per_thread_fence()) {
      media_.barrier(0, 0);
    } else {
      for (const auto& [off, len] : ranges) media_.barrier(off, len);
    }
  } catch (const std::exception& e) {
    std::lock_guard lk(mu_);
    fail_locked(e.what());
    fail(error_code::io_error, std::string("writing a new object failed, the pool is now "
                                           "read-only: ") +
                                   e.what());
  }
}

// A new extent's durable pages, above the highest such range mapped so
// far: there they were most likely never mapped in this process (a pool
// is used from its start), and one media::prefault maps them for less
// than a page fault each (the write then takes none). vector_push's
// committing thread took ~4,300 faults a run writing its new arrays, ~10
// us each on our VM (docs/bench.md, "New extents"). Below the mark
// nothing is done: there a prefault of pages mapped already cost more
// than the write (256 KiB freed and allocated again: 24 us a pair against
// 12 without).
void change_log::prefault_direct(std::uint64_t offset, std::uint64_t len) {
  const std::uint64_t end = offset + len;
  std::uint64_t mark = direct_mapped_.load(std::memory_order_relaxed);
  if (end <= mark) return;
  media_.prefault(std::max(offset, mark), end - std::max(offset, mark));
  while (mark < end &&
         !direct_mapped_.compare_exchange_weak(mark, end, std::memory_order_relaxed)) {
  }
}

void change_log::maybe_checkpoint() {
  if (!checkpoint_wanted_.load(std::memory_order_relaxed)) return;  // the common case: no lock
  std::unique_lock lk(mu_);
  checkpoint_wanted_.store(false, std::memory_order_relaxed);
  if (failed_ || checkpointing_ ||
      (used_ * 2 < header_.log_size && !budget_wants_checkpoint_locked()))
    return;
  checkpoint_locked(lk);
  give_back_pages(lk);
}

void change_log::checkpoint() {
  std::unique_lock lk(mu_);
  if (!writable_) return;
  wait_log(lk, [&] { return !checkpointing_; });
  if (failed_) fail(error_code::io_error, "the pool is read-only after a failed sync: " + failure_);
  checkpoint_locked(lk);
  if (failed_) fail(error_code::io_error, "checkpoint failed: " + failure_);
  give_back_pages(lk);
}

void change_log::checkpoint_locked(std::unique_lock<std::mutex>& lk, bool on_checkpointer_thread) {
  if (fast_lsn_ != 0) advance_durable_locked();
  const std::uint64_t target = durable_lsn_;
  if (target <= state_.checkpoint_lsn || pending_.empty()) return;
  checkpointing_ = true;
  // The slots up to target, read with mu_ released (slot_ring::pin).
  const std::size_t count = static_cast<std::size_t>(target - pending_.front().lsn + 1);
  const slot_ring::view todo = pending_.pin();
  lk.unlock();

  std::string error;
  std::uint64_t noted = 0, freed = 0, pages = 0;
  pool_state next = state_;
  std::uint64_t root_off = state_.root_offset, root_type = state_.root_type;
  try {
    const std::byte* log = media_.durable() + header_.log_offset;
    std::vector<std::pair<std::uint64_t, std::uint64_t>>& stored = checkpoint_stored_;
    stored.clear();
    apply_target t = durable_target(root_off, root_type, stored);
    // Cache-line media: each record's lines leave this CPU's caches once
    // applied. The ring comes round to them, and a committer's non-temporal
    // stores to a line some cache still holds waited on it (docs/bench.md,
    // "Part 5, fifth session"). Not on byte media: its records are written
    // with cached stores (libpmem2's choice), for which a line in another
    // CPU's cache is nearer than one in the media.
    const bool drop_records = media_.store_granularity() == granularity::cache_line;
    for (std::size_t i = 0; i < count; ++i) {
      const slot& s = todo[i];
      freed += s.consumed;
      pages += s.pages;
      if (s.wrap) continue;
      apply_record(log + s.pos, t);  // invariant 2: the record is durable
      if (drop_records) drop_from_cache(log + s.pos, s.length);
    }
    if (on_checkpointer_thread) {
      todo.runs(count,
                [](const slot* first, std::size_t n) { drop_from_cache(first, n * sizeof(slot)); });
    }
    if (high_pages_ != ~std::uint64_t{0}) noted = note_private_pages(stored);
    flush_stored(stored);
    const bool early = active_mutation() == mutation::early_checkpoint_lsn;  // self-test
    if (!early) media_.sync_all();  // invariant 5: images durable before the checkpoint LSN moves
    next.checkpoint_lsn = target;
    const slot& last = todo[count - 1];
    next.log_head = last.pos + last.length;
    if (last.wrap || next.log_head == header_.log_size) next.log_head = 0;
    next.root_offset = root_off;
    next.root_type = root_type;
    superblocks_.store(next);
    if (early) media_.sync_all();
  } catch (const std::exception& e) {
    error = e.what();
  }

  lk.lock();
  checkpointing_ = false;
  pending_.unpin();
  if (!error.empty()) {
    fail_locked(error);
    return;
  }
  // Only the fields a checkpoint changes: heap_size is read without mu_ by
  // transactions and the allocator (it changes only in grow, which runs
  // alone).
  state_.sequence = next.sequence;
  state_.checkpoint_lsn = next.checkpoint_lsn;
  state_.log_head = next.log_head;
  state_.root_offset = next.root_offset;
  state_.root_type = next.root_type;
  pending_.pop_front(count);
  used_ -= freed;
  pending_pages_ -= pages;
  private_pages_ += noted;
  ++stats_.checkpoints;
  stats_.checkpointed_records += count;
  cv_.notify_all();
}

}  // namespace ferrite::detail
