// The libpmemobj engine (PMDK), built only when libpmemobj is found.
//
// Thread regions live in the root object. Transactions use the plain C API
// without setjmp: pmemobj_tx_begin(jmp_buf = NULL), pmemobj_tx_add_range_direct,
// pmemobj_tx_commit, pmemobj_tx_end. Whether libpmemobj flushes cache lines
// or calls msync is libpmem's pmem_is_pmem() answer, which
// PMEM_IS_PMEM_FORCE decides (set by the driver before this process starts);
// open() checks that answer against the mode.
//
// vector_push runs on a persistent array written here with the C API (no
// such structure is part of libpmemobj): see pvec below. libpmemobj has no
// hash map or ordered map, so map_insert and map_get are not run here.
//
// churn: pmemobj_alloc into a volatile oid (atomic, like ferrite's
// one-allocation transaction), pmemobj_free; ENOMEM is the out_of_space.
#include <libpmem.h>
#include <libpmemobj.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include "bench/engine.h"

namespace ferrite::bench {
namespace {

constexpr const char* layout = "ferrite-bench";

[[noreturn]] void fail_pmdk(const std::string& what) {
  throw std::runtime_error("libpmemobj: " + what + ": " + pmemobj_errormsg());
}

struct chase_node {
  PMEMoid next;
  std::uint64_t value;
};

constexpr std::uint64_t fill_batch = 4096;
constexpr std::uint64_t churn_type = 7;  // the type number of churn's objects

// A hand-written persistent array of u64 (vector_push), at the start of
// thread 0's region in the root object: `size` elements at `data`, room for
// `capacity`. A push is one transaction: pmemobj_tx_add_range_direct of
// `size` and of the new slot, then the stores; when full, the array doubles
// (from 16) as ferrite::vector does: pmemobj_tx_zalloc of the new array,
// copy (new memory, no snapshot), pmemobj_tx_free of the old one, and the
// whole header snapshotted. Invariant: OID_IS_NULL(data) iff capacity == 0.
struct pvec {
  std::uint64_t size;
  std::uint64_t capacity;
  PMEMoid data;
};
constexpr std::uint64_t pvec_first_capacity = 16;

class pmdk_engine final : public bench_engine {
 public:
  ~pmdk_engine() override { close_and_remove(); }

  std::string open(const engine_setup& setup) override {
    setup_ = setup;
    pop_ = pmemobj_create(setup.pool_path.c_str(), layout, setup.pool_bytes, 0666);
    if (pop_ == nullptr) fail_pmdk("creating " + setup.pool_path.string());
    find_root();
    if (setup.work == workload::chase) build_chase();
    if (setup.work == workload::open) fill(setup.objects);
    const int is_pmem = pmem_is_pmem(root_, root_bytes());
    const int want = setup.mode == media_mode::cacheline ? 1 : 0;
    if (is_pmem != want) {
      throw std::runtime_error("libpmem says pmem_is_pmem = " + std::to_string(is_pmem) + " for " +
                               setup.pool_path.string() + ", the " +
                               std::string(to_string(setup.mode)) + " mode needs " +
                               std::to_string(want) + " (is PMEM_IS_PMEM_FORCE set?)");
    }
    return std::string("libpmemobj ") +
           (is_pmem ? "pmem_is_pmem=1 (flush cache lines + fence)" : "pmem_is_pmem=0 (msync)") +
           ", fields in the root object, pmemobj_tx_add_range_direct";
  }

  void run(workload w, int t, std::uint64_t ops) override {
    std::uint64_t* r = region(t);
    switch (w) {
      case workload::tx_set8:
        return set_fields<1>(r, ops);
      case workload::tx_set_lines:
        return set_fields<8>(r, ops);
      case workload::tx_alloc64: {
        auto* slots = reinterpret_cast<PMEMoid*>(r);  // 64 slots of 16 bytes: the region
        for (std::uint64_t i = 0; i < ops; ++i) tx_alloc_into(&slots[i % 64]);
        return;
      }
      case workload::tx_alloc_free64: {
        auto* slot = reinterpret_cast<PMEMoid*>(r);
        for (std::uint64_t i = 0; i < ops; ++i) {
          tx_alloc_into(slot);
          tx_free_from(slot);
        }
        return;
      }
      case workload::atomic_alloc_free64: {
        auto* slot = reinterpret_cast<PMEMoid*>(r);
        for (std::uint64_t i = 0; i < ops; ++i) {
          // zero-filled, as ferrite's allocate_into
          if (pmemobj_zalloc(pop_, slot, 64, 0) != 0) fail_pmdk("pmemobj_zalloc");
          pmemobj_free(slot);
        }
        return;
      }
      case workload::chase:
        return chase(ops);
      case workload::open:
        for (std::uint64_t i = 0; i < ops; ++i) open_and_allocate();
        return;
      case workload::vector_push: {
        auto* v = reinterpret_cast<pvec*>(r);
        for (std::uint64_t i = 0; i < ops; ++i) push(v, v->size);
        return;
      }
      default:
        throw std::logic_error("pmdk: workload not implemented");
    }
  }

  void finish_run() override {}
  counters read_counters() const override { return {}; }

  void close_for_open() override {
    pmemobj_close(pop_);
    pop_ = nullptr;
  }

  void reopen() override {
    if (pop_ == nullptr) open_and_allocate();
    pmemobj_close(pop_);
    pop_ = pmemobj_open(setup_.pool_path.c_str(), layout);
    if (pop_ == nullptr) fail_pmdk("reopening " + setup_.pool_path.string());
    find_root();
  }

  std::uint64_t read_word(int t, std::size_t i) const override { return region(t)[i]; }

  void check_container(workload w, std::uint64_t count) override {
    if (w != workload::vector_push) throw std::logic_error("pmdk: no such container");
    const auto* v = reinterpret_cast<const pvec*>(region(0));
    if (v->size != count) {
      throw std::runtime_error("the libpmemobj array holds " + std::to_string(v->size) +
                               " elements after reopening, expected " + std::to_string(count));
    }
    const auto* a = static_cast<const std::uint64_t*>(pmemobj_direct(v->data));
    for (std::uint64_t i = 0; i < count; ++i) {
      if (a[i] != i) throw std::runtime_error("the libpmemobj array lost a pushed element");
    }
  }

  std::optional<std::uint64_t> churn_allocate(std::size_t size) override {
    PMEMoid oid = OID_NULL;
    if (pmemobj_alloc(pop_, &oid, size, churn_type, nullptr, nullptr) != 0) {
      if (errno == ENOMEM) return std::nullopt;
      fail_pmdk("pmemobj_alloc");
    }
    pool_uuid_lo_ = oid.pool_uuid_lo;
    return oid.off;
  }

  void churn_free(std::uint64_t off) override {
    PMEMoid oid{pool_uuid_lo_, off};
    pmemobj_free(&oid);
  }

  std::vector<std::pair<std::string, double>> take_figures() override {
    std::vector<std::pair<std::string, double>> f;
    if (opens_ != 0) {
      const double n = static_cast<double>(opens_);
      f = {{"open_ms", open_ns_ / n / 1e6}, {"first_alloc_ms", first_alloc_ns_ / n / 1e6}};
    }
    opens_ = 0;
    open_ns_ = first_alloc_ns_ = 0;
    return f;
  }

  // libpmemobj cannot tell the requested sizes: objects are counted only.
  void check_churn(std::uint64_t objects, std::uint64_t) override {
    std::uint64_t n = 0;
    for (PMEMoid o = pmemobj_first(pop_); !OID_IS_NULL(o); o = pmemobj_next(o)) {
      n += pmemobj_type_num(o) == churn_type;
    }
    if (n != objects) {
      throw std::runtime_error("after reopening, the libpmemobj pool holds " + std::to_string(n) +
                               " churn objects, expected " + std::to_string(objects));
    }
  }

  void close_and_remove() noexcept override {
    if (pop_ == nullptr) return;
    pmemobj_close(pop_);
    pop_ = nullptr;
    std::error_code ec;
    std::filesystem::remove(setup_.pool_path, ec);
  }

 private:
  std::size_t root_bytes() const {
    return static_cast<std::size_t>(setup_.threads) * region_bytes + 64;
  }

  void find_root() {
    PMEMoid root = pmemobj_root(pop_, root_bytes());
    if (OID_IS_NULL(root)) fail_pmdk("allocating the root object");
    auto* p = static_cast<std::byte*>(pmemobj_direct(root));
    auto misalign = reinterpret_cast<std::uintptr_t>(p) % 64;
    root_ = p + (misalign ? 64 - misalign : 0);
  }

  std::uint64_t* region(int t) const {
    return reinterpret_cast<std::uint64_t*>(root_ + static_cast<std::size_t>(t) * region_bytes);
  }

  // One transaction: a 64-byte object (pmemobj_tx_zalloc: zero-filled, as
  // ferrite's) whose oid goes into *slot (snapshotted).
  void tx_alloc_into(PMEMoid* slot) {
    if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
    int rc = pmemobj_tx_add_range_direct(slot, sizeof *slot);
    if (rc == 0) {
      PMEMoid oid = pmemobj_tx_zalloc(64, 0);
      if (OID_IS_NULL(oid)) {
        rc = -1;
      } else {
        *slot = oid;
      }
    }
    if (rc == 0) pmemobj_tx_commit();
    if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("allocating transaction");
  }

  void tx_free_from(PMEMoid* slot) {
    if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
    int rc = pmemobj_tx_add_range_direct(slot, sizeof *slot);
    if (rc == 0) rc = pmemobj_tx_free(*slot);
    if (rc == 0) {
      *slot = OID_NULL;
      pmemobj_tx_commit();
    }
    if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("freeing transaction");
  }

  // One push_back of `value` onto *v, one transaction (see pvec).
  void push(pvec* v, std::uint64_t value) {
    if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
    int rc = 0;
    if (v->size == v->capacity) {
      const std::uint64_t capacity = v->capacity ? v->capacity * 2 : pvec_first_capacity;
      PMEMoid bigger = pmemobj_tx_zalloc(capacity * sizeof(std::uint64_t), 0);
      rc = OID_IS_NULL(bigger) ? -1 : pmemobj_tx_add_range_direct(v, sizeof *v);
      if (rc == 0 && v->size) {
        std::memcpy(pmemobj_direct(bigger), pmemobj_direct(v->data),
                    v->size * sizeof(std::uint64_t));
      }
      if (rc == 0 && !OID_IS_NULL(v->data)) rc = pmemobj_tx_free(v->data);
      if (rc == 0) {
        v->data = bigger;
        v->capacity = capacity;
      }
    } else {
      rc = pmemobj_tx_add_range_direct(&v->size, sizeof v->size);
    }
    if (rc == 0) {
      auto* slot = static_cast<std::uint64_t*>(pmemobj_direct(v->data)) + v->size;
      rc = pmemobj_tx_add_range_direct(slot, sizeof *slot);
      if (rc == 0) {
        *slot = value;
        v->size += 1;
      }
    }
    // A failed call has aborted the transaction already.
    if (rc == 0) pmemobj_tx_commit();
    if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("push transaction");
  }

  // `n` 64-byte objects in transactions of fill_batch allocations, unlinked.
  void fill(std::uint64_t n) {
    for (std::uint64_t done = 0; done < n;) {
      const std::uint64_t k = std::min(fill_batch, n - done);
      if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
      int rc = 0;
      for (std::uint64_t i = 0; i < k && rc == 0; ++i) {
        if (OID_IS_NULL(pmemobj_tx_alloc(64, 0))) rc = -1;
      }
      if (rc == 0) pmemobj_tx_commit();
      if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("filling the pool");
      done += k;
    }
  }

  void open_and_allocate() {
    auto t0 = std::chrono::steady_clock::now();
    pop_ = pmemobj_open(setup_.pool_path.c_str(), layout);
    if (pop_ == nullptr) fail_pmdk("opening " + setup_.pool_path.string());
    find_root();
    auto t1 = std::chrono::steady_clock::now();
    // As ferrite's: allocate into the empty one of two slots (timed), then
    // free the previous open's object in the other (untimed).
    auto* slots = reinterpret_cast<PMEMoid*>(region(0));
    const int empty = OID_IS_NULL(slots[0]) ? 0 : 1;
    if (pmemobj_alloc(pop_, &slots[empty], 64, 0, nullptr, nullptr) != 0) {
      fail_pmdk("pmemobj_alloc");
    }
    auto t2 = std::chrono::steady_clock::now();
    if (!OID_IS_NULL(slots[1 - empty])) pmemobj_free(&slots[1 - empty]);
    open_ns_ += std::chrono::duration<double, std::nano>(t1 - t0).count();
    first_alloc_ns_ += std::chrono::duration<double, std::nano>(t2 - t1).count();
    opens_ += 1;
    if (std::getenv("FERRITE_BENCH_OPEN_SPLIT")) {
      std::fprintf(stderr, "pmdk open %llu objects: open %.3f ms, first alloc %.3f ms\n",
                   static_cast<unsigned long long>(setup_.objects),
                   std::chrono::duration<double, std::milli>(t1 - t0).count(),
                   std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
  }

  // The same shuffled circle as the ferrite engine (same seed).
  void build_chase() {
    std::vector<PMEMoid> nodes(chase_nodes);
    for (std::uint64_t done = 0; done < chase_nodes;) {
      const std::uint64_t k = std::min(fill_batch, chase_nodes - done);
      if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
      int rc = 0;
      for (std::uint64_t i = 0; i < k && rc == 0; ++i) {
        nodes[done + i] = pmemobj_tx_zalloc(sizeof(chase_node), 0);
        if (OID_IS_NULL(nodes[done + i])) rc = -1;
      }
      if (rc == 0) pmemobj_tx_commit();
      if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("allocating the chase nodes");
      done += k;
    }
    std::vector<std::uint64_t> order(chase_nodes);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
    for (std::uint64_t done = 0; done < chase_nodes; done += fill_batch) {
      if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
      int rc = 0;
      for (std::uint64_t i = done; i < std::min(done + fill_batch, chase_nodes) && rc == 0; ++i) {
        auto* n = static_cast<chase_node*>(pmemobj_direct(nodes[order[i]]));
        rc = pmemobj_tx_add_range_direct(n, sizeof *n);
        if (rc == 0) {
          n->next = nodes[order[(i + 1) % chase_nodes]];
          n->value = i;
        }
      }
      if (rc == 0) pmemobj_tx_commit();
      if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("linking the chase nodes");
    }
    cursor_ = nodes[order[0]];
  }

  void chase(std::uint64_t ops) {
    PMEMoid p = cursor_;
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      auto* n = static_cast<const chase_node*>(pmemobj_direct(p));
      sum += n->value;
      p = n->next;
    }
    cursor_ = p;
    sink_ += sum;
  }

  template <int Lines>
  void set_fields(std::uint64_t* r, std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      if (pmemobj_tx_begin(pop_, nullptr, TX_PARAM_NONE) != 0) fail_pmdk("pmemobj_tx_begin");
      int rc = 0;
      for (int k = 0; k < Lines && rc == 0; ++k) {
        std::uint64_t* field = r + k * words_per_line;
        rc = pmemobj_tx_add_range_direct(field, sizeof *field);
        if (rc == 0) *field += 1;
      }
      // A failed add_range has aborted the transaction already.
      if (rc == 0) pmemobj_tx_commit();
      if (pmemobj_tx_end() != 0 || rc != 0) fail_pmdk("transaction");
    }
  }

  engine_setup setup_;
  PMEMobjpool* pop_ = nullptr;
  std::byte* root_ = nullptr;
  PMEMoid cursor_ = OID_NULL;
  std::uint64_t sink_ = 0;
  std::uint64_t pool_uuid_lo_ = 0;  // churn: of the oids it hands out
  // open: the opens since take_figures, and their times.
  std::uint64_t opens_ = 0;
  double open_ns_ = 0;
  double first_alloc_ns_ = 0;
};

}  // namespace

std::unique_ptr<bench_engine> make_pmdk_engine() {
  return std::make_unique<pmdk_engine>();
}

}  // namespace ferrite::bench
