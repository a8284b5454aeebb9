// Helpers of the built-in workloads (workloads/*.cc) and their catalogue.
//
// Most built-in workloads model the scratch region as a plain byte array:
// an operation is a list of writes, applied the same way to the pool (in a
// transaction) and to the model. Words 0 and 1 of the region count the
// committed operations and hold the count's complement: the invariant
// `word1 == ~word0` (or both zero, before the first one) holds in every
// state, model or not.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ferrite/base/error.h"
#include "tools/crash/workload.h"

namespace ferrite::crash::builtin {

// A write of `data` at byte `offset` of a region.
struct region_write {
  std::uint64_t offset;
  std::vector<std::byte> data;
};

// `n` bytes from `rng`.
std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n);

// "" when `actual` equals `expected`, else where they first differ.
std::string compare_bytes(const std::byte* actual, const std::vector<std::byte>& expected,
                          const std::string& what);

// The model of `size` bytes at the start of the scratch region, with the
// operation counter in words 0 and 1.
class region_model : public workload {
 public:
  explicit region_model(std::uint64_t size) : bytes_(size) {}
  std::string check(const pool& p) const override;
  std::string invariants(const pool& p) const override;

 protected:
  // Applies `writes` and bumps the counter, in the model / in one
  // transaction on the pool.
  void apply_writes(const std::vector<region_write>& writes);
  static void perform_writes(pool& p, const std::vector<region_write>& writes);
  std::uint64_t counter() const;

  std::vector<std::byte> bytes_;
};

inline constexpr std::uint64_t counter_bytes = 16;  // words 0 and 1

// Fills `size` bytes at `obj` with a word pattern seeded by `tag` (the
// operation that made the object), and tells whether they still hold it.
void fill_pattern(void* obj, std::uint64_t size, std::uint64_t tag);
bool matches_pattern(const void* obj, std::uint64_t size, std::uint64_t tag);

// Throws std::logic_error("what: ...") unless `fn` throws a ferrite::error
// with `code`; any other ferrite::error propagates unchanged (an injected
// fault, say).
template <class Fn>
void expect_error(error_code code, const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const ferrite::error& e) {
    if (e.code() == code) return;
    throw;
  }
  throw std::logic_error(what + ": the engine did not report " + std::string(to_string(code)));
}

workload_info counters();
workload_info tx_sizes();
workload_info nested_abort();
workload_info early_release();  // workloads/early_release.cc
workload_info log_wrap();
workload_info log_full();
workload_info pool_sizes();
workload_info alloc_free();
workload_info grow();
workload_info values();    // workloads/values.cc
workload_info refcount();  // workloads/values.cc
workload_info typed_objects();
workload_info vector();
workload_info map_set();
workload_info hash_map();
workload_info gc();
workload_info heap_churn();     // workloads/heap_churn.cc
workload_info copy();           // workloads/copy.cc: process kills of copy_pool only
workload_info checkpointer();   // workloads/background.cc
workload_info budget();         // workloads/background.cc
workload_info budget_inline();  // workloads/background.cc
workload_info grow_tx();        // workloads/background.cc

}  // namespace ferrite::crash::builtin
