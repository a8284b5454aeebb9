// The process-wide table of open pools (internal).
//
// Maps a pool's tag to the address of its working view, so that a
// persistent pointer (tag + offset) resolves with one load and one add, and
// gives every open a generation number: the pool's open count (bumped by
// every writable open, in any process) and a per-process counter, so no two
// opens of a pool share one. pmutex uses it to treat locks taken by earlier
// opens as free.
//
// Thread-safety: lookups are lock-free; register/unregister take a lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace ferrite::detail {

struct open_pool_slot {
  std::atomic<std::byte*> base{nullptr};
  std::atomic<std::uint64_t> size{0};
  std::atomic<std::uint64_t> generation{0};
};

// Indexed by pool tag.
extern open_pool_slot open_pools[65536];

// Registers an open pool; returns its generation. The first open pool with
// a tag owns the tag's slot; later ones with the same tag (read-only
// handles, copies of a pool file) get a generation but no slot.
std::uint64_t register_pool(std::uint16_t tag, std::byte* base, std::uint64_t size,
                            std::uint64_t open_count);
void unregister_pool(std::uint64_t generation) noexcept;
// The pool's working view moved or grew.
void reregister_pool(std::uint64_t generation, std::byte* base, std::uint64_t size) noexcept;

// The generation of the open pool whose working view contains `addr`, or 0.
std::uint64_t generation_of(const void* addr) noexcept;

}  // namespace ferrite::detail
