// The process-wide table of open pools (internal).
//
// Maps a pool's tag to the address of its working view and the bounds of
// its heap, so that a persistent pointer (tag + offset) resolves with two
// compares and an add (pptr.h), and an address back to its pool
// (containers find their pool from `this`).
// Gives every open a generation number: the pool's open count (bumped by
// every writable open, in any process; a read-only open uses the count plus
// one) and a per-process counter, so no two opens of a pool share one.
// pmutex and pshared_mutex use it to treat locks taken by earlier opens as
// free.
//
// Thread-safety: lookups are lock-free; register/unregister/reregister take
// a lock. A pool must not be closed while another thread uses it; it may
// grow meanwhile (its working view never moves: a grow only raises the
// heap's end, and a racing lookup sees the old end or the new one, both
// right for what it may find).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

struct pool_impl;

struct open_pool_slot {
  std::atomic<std::byte*> base{nullptr};
  std::atomic<std::uint64_t> generation{0};
};

// Indexed by pool tag.
extern open_pool_slot open_pools[65536];

// How the pointers with one tag resolve, in the terms of pptr's check
// (pptr.h): the bits `raw` (tag << 48 | offset) of a pointer to `bytes`
// bytes are in the owner's heap iff low <= raw <= high - bytes, and its
// address is bias + raw. low and high are the heap's bounds as pointer
// bits (tag << 48 | heap offset, tag << 48 | heap end), so the compares
// check the tag and the offset at once: a pointer with another tag is
// outside [low, high]. bias = base - (tag << 48), modulo 2^64.
// All zero until a pool first owns the tag (admits nothing but null).
// Written (bias, low, then high with release) before the slot's base and
// recent_route are published, and never cleared: when the pool closes the
// bounds stay, and the slot's null base says the tag is not open. So
// low and high always lie in the tag's band of pointer values, and a
// reader racing with the open, grow or close of another pool never admits
// a pointer of its own tag against them. A pool's own route changes only
// at open, while no other thread uses the pool, and at grow, which only
// raises `high` (bias and low stay: the working view never moves).
struct alignas(32) tag_route {
  std::atomic<std::uint64_t> low{0};
  std::atomic<std::uint64_t> high{0};
  std::atomic<std::uintptr_t> bias{0};
};
extern tag_route tag_routes[65536];

// The route of the pool opened last that owns its tag (when it closes,
// another open pool's), or no_route (which admits nothing: low = ~0,
// high = 0). pptr::get() tries it first: one
// load of this pointer, two compares with its bounds, and the address is
// an add; the chain of pointers waits for one load per hop (the route's
// words do not depend on the pointer just loaded).
extern const tag_route no_route;
extern std::atomic<const tag_route*> recent_route;

// At most this many pools are open at once in a process.
inline constexpr std::size_t max_open_pools = 256;

// Registers an open pool; returns its generation. The first open pool with
// a tag owns the tag's slot and route (its heap bounds read from the pool:
// header.heap_offset, state.heap_size, clamped to `size`); later ones with
// the same tag (read-only handles, copies of a pool file) get a generation
// but no slot. Throws
// invalid_argument when max_open_pools are open.
std::uint64_t register_pool(pool_impl* pool, std::uint16_t tag, std::byte* base, std::uint64_t size,
                            std::uint64_t open_count);
void unregister_pool(std::uint64_t generation) noexcept;
// The pool grew to `size` bytes, at the same base (its heap bounds are read
// again).
void reregister_pool(std::uint64_t generation, std::uint64_t size) noexcept;

// The generation of the open pool whose working view contains `addr`, or 0.
std::uint64_t generation_of(const void* addr) noexcept;

// The open pool whose working view contains `addr`, or null.
pool_impl* pool_of(const void* addr) noexcept;

// True when the pool with this generation owns its tag's slot, so pointers
// into it can be made.
bool owns_tag(std::uint16_t tag, std::uint64_t generation) noexcept;

}  // namespace ferrite::detail
