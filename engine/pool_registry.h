// The process-wide table of open pools (internal).
//
// Maps a pool's tag to the address of its working view, so that a
// persistent pointer (tag + offset) resolves with one load and one add, and
// an address back to its pool (containers find their pool from `this`).
// Gives every open a generation number: the pool's open count (bumped by
// every writable open, in any process; a read-only open uses the count plus
// one) and a per-process counter, so no two opens of a pool share one.
// pmutex and pshared_mutex use it to treat locks taken by earlier opens as
// free.
//
// Thread-safety: lookups are lock-free; register/unregister take a lock.
// A pool must not be closed or grown while another thread uses it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

struct pool_impl;

struct open_pool_slot {
  std::atomic<std::byte*> base{nullptr};
  std::atomic<std::uint64_t> size{0};
  std::atomic<std::uint64_t> generation{0};
};

// Indexed by pool tag.
extern open_pool_slot open_pools[65536];

// The pool opened last that owns its tag, packed as tag << 48 | base (a
// user-space address fits in 48 bits), or 0. pptr::get() tries it first:
// comparing a pointer's tag with it is a predicted branch, so a chain of
// pointers waits for one load per hop instead of two (the slot's base
// would depend on the tag just loaded).
extern std::atomic<std::uint64_t> recent_pool;

// At most this many pools are open at once in a process.
inline constexpr std::size_t max_open_pools = 256;

// Registers an open pool; returns its generation. The first open pool with
// a tag owns the tag's slot; later ones with the same tag (read-only
// handles, copies of a pool file) get a generation but no slot. Throws
// invalid_argument when max_open_pools are open.
std::uint64_t register_pool(pool_impl* pool, std::uint16_t tag, std::byte* base, std::uint64_t size,
                            std::uint64_t open_count);
void unregister_pool(std::uint64_t generation) noexcept;
// The pool's working view moved or grew.
void reregister_pool(std::uint64_t generation, std::byte* base, std::uint64_t size) noexcept;

// The generation of the open pool whose working view contains `addr`, or 0.
std::uint64_t generation_of(const void* addr) noexcept;

// The open pool whose working view contains `addr`, or null.
pool_impl* pool_of(const void* addr) noexcept;

// True when the pool with this generation owns its tag's slot, so pointers
// into it can be made.
bool owns_tag(std::uint16_t tag, std::uint64_t generation) noexcept;

}  // namespace ferrite::detail
