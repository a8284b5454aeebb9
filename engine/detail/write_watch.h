// Checked mode's write tracking (internal): which heap bytes changed, and
// whether a running transaction accounted for them.
//
// The heap of the working view is write-protected. The first store to a
// protected page faults; the process-wide SIGSEGV handler copies the page
// (its pre-image: the bytes every ended transaction agrees on) and makes it
// writable. The page then stays open: any thread writes it without a fault
// (a fault costs 100 us or more on the machines measured; a compare of a
// page about 0.1 us), and its differences from the pre-image are changes
// nobody has accounted for yet.
//
// Accounting, under one lock:
//   - check(tx), at a commit before its record is written, compares every
//     open page that the transaction's ranges touch, and rotation_quota
//     other open pages in turn. A changed byte must lie in a range some
//     running transaction covers (snapshot, new memory, logged bit
//     operation, new extent, heap metadata committed aside) or in a lock
//     field (engine/detail/lock_fields.h). Any other is reported and undone
//     (restored from the pre-image: no record carries it, so the working
//     view again matches what is committed).
//   - leave(tx), when a transaction ends (durable, or rolled back): its
//     covered bytes become the pre-image.
//   - check_all() / accept_all(), with no transaction running (garbage
//     collection, grow, close): every open page.
//
// What it cannot tell: which thread made an unsnapshotted store. An open
// page is writable by every thread, so a report names the address, the
// field (from the type table) and the thread whose store opened the page;
// the change was made by the committing transaction, another one, or code
// outside any transaction. A store far from the committing transactions'
// ranges is found by the rotation, some commits later.
//
// Thread-safety: all members are safe to call concurrently. The tables are
// sized for the heap when the watch is armed: pool::grow (no transaction
// running) ends the watch and starts a new one over the grown heap, at the
// same address. The signal handler takes the same spin lock; code holding
// it never stores to a protected page.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ferrite::detail {

struct pool_impl;
struct tx_context;

class write_watch {
 public:
  // Protects the heap of `p`'s working view. REQUIRES: no transaction runs.
  explicit write_watch(pool_impl& p);
  ~write_watch();
  write_watch(const write_watch&) = delete;
  write_watch& operator=(const write_watch&) = delete;
  // `tx` began: its covered ranges count as accounted for until it ends.
  void enter(tx_context& tx);
  // At the outermost commit of `tx`, before its record: describes each
  // changed byte range no running transaction covers ("" when none), and
  // undoes it. Compares the open pages `tx` touched and a few others.
  std::string check(const tx_context& tx);
  // `tx` ended (its record is durable, or its bytes were restored).
  void leave(tx_context& tx);
  // Compares every open page (as check() does a few): with no transaction
  // running, what it finds was stored outside transactions.
  std::string check_all();
  // With no transaction running: every change so far is committed.
  void accept_all();

  // The signal handler's part: opens the page holding `addr` if it is a
  // protected page of this watch. Async-signal-safe.
  bool on_fault(const void* addr) noexcept;

 private:
  struct range {
    std::uint64_t begin, end;
  };
  class spin_lock {
   public:
    void lock() noexcept;
    void unlock() noexcept { held_.store(false, std::memory_order_release); }

   private:
    std::atomic<bool> held_{false};
  };

  void arm();
  void disarm() noexcept;
  void fold(std::uint64_t begin, std::uint64_t end);
  void gather(std::uint64_t begin, std::uint64_t end, std::vector<range>& out) const;
  void scan_page(std::uint32_t page, std::string& report, std::size_t& found);
  static std::string finish(std::string report, std::size_t found);
  std::string describe(std::uint64_t begin, std::uint64_t end, std::uint32_t page) const;

  pool_impl& pool_;
  std::byte* base_ = nullptr;         // the working view
  std::uint64_t heap_ = 0;            // pool offset of the heap
  std::uint64_t pages_ = 0;           // heap pages
  std::byte* pre_ = nullptr;          // pre-images, heap-sized, lazily backed
  std::vector<std::uint8_t> open_;    // per page: 1 while writable
  std::vector<std::int32_t> opener_;  // per page: thread whose store opened it
  std::vector<std::uint32_t>
      open_list_;  // open pages; capacity pages_ (the handler never allocates)
  std::vector<const tx_context*> running_;
  std::size_t next_ = 0;                   // rotation through open_list_
  std::vector<range> changed_, cover_;     // scan_page's buffers
  std::vector<std::uint32_t> pages_seen_;  // check's buffer
  std::size_t slot_ = 0;                   // in the handler's table
  mutable spin_lock mu_;
};

// The kernel's id of the calling thread (as `ps -L` and gdb show it).
std::int32_t current_thread_id() noexcept;

}  // namespace ferrite::detail
