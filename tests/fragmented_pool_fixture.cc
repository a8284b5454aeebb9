// fragmented_pool_fixture PATH [--objects N] [--keep-every K] [--large-every L]
//                         [--size MIB]:
// a pool whose live objects are scattered through a heap that is mostly
// free (`ferrite copy` tests and its benchmark, docs/bench.md).
//
//   root test.Scatter
//     smalls: vector<pptr<test.Small>>   (Small: id, 3 x i64: 32 bytes)
//     larges: vector<pptr<test.Large>>   (Large: id, 127 x i64: 1 KiB)
//     names:  map<i64, string>           one entry per kept large object
//
// N objects (default 20000; every L-th a Large (default 4; 0: none), the
// rest Small) are made
// in order, so they fill the heap front to back; then all but every K-th
// (default 10) are freed again. With K = 1 nothing is freed.
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "ferrite/ferrite.h"
#include "ferrite/types/map.h"
#include "ferrite/types/vector.h"

namespace fixture {

struct small {
  std::int64_t id;
  std::int64_t words[3];
};
FERRITE_TYPE(small, "test.Small", id, words)

struct large {
  std::int64_t id;
  std::int64_t words[127];
};
FERRITE_TYPE(large, "test.Large", id, words)

struct scatter {
  ferrite::vector<ferrite::pptr<small>> smalls;
  ferrite::vector<ferrite::pptr<large>> larges;
  ferrite::map<std::int64_t, ferrite::string> names;
};
FERRITE_TYPE(scatter, "test.Scatter", smalls, larges, names)

}  // namespace fixture

int main(int argc, char** argv) {
  long objects = 20000, keep_every = 10, large_every = 4, size_mib = 32;
  bool usage = argc < 2 || argc % 2 != 0;
  for (int i = 2; !usage && i + 1 < argc; i += 2) {
    const long v = std::atol(argv[i + 1]);
    if (v < 0 || (v == 0 && std::strcmp(argv[i], "--large-every") != 0)) usage = true;
    if (std::strcmp(argv[i], "--objects") == 0)
      objects = v;
    else if (std::strcmp(argv[i], "--keep-every") == 0)
      keep_every = v;
    else if (std::strcmp(argv[i], "--large-every") == 0)
      large_every = v;
    else if (std::strcmp(argv[i], "--size") == 0)
      size_mib = v;
    else
      usage = true;
  }
  if (usage) {
    std::cerr << "usage: fragmented_pool_fixture PATH [--objects N] [--keep-every K] "
                 "[--large-every L] [--size MIB]\n";
    return 2;
  }
  using namespace fixture;
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::create_exclusive;
    o.size = static_cast<std::uint64_t>(size_mib) << 20;
    ferrite::pool p = ferrite::pool::open(argv[1], o);
    auto root = p.root<scatter>();
    std::vector<ferrite::pptr<small>> smalls;
    std::vector<ferrite::pptr<large>> larges;
    constexpr long batch = 512;
    for (long first = 0; first < objects; first += batch) {
      p.transaction([&] {
        for (long i = first; i < objects && i < first + batch; ++i) {
          if (large_every > 0 && i % large_every == large_every - 1) {
            larges.push_back(p.make<large>(large{i, {i, -i}}));
          } else {
            smalls.push_back(p.make<small>(small{i, {i, i * 2, i * 3}}));
          }
        }
      });
    }
    // Free all but every K-th, linking the survivors from the root.
    for (std::size_t first = 0; first < smalls.size(); first += batch) {
      p.transaction([&] {
        for (std::size_t i = first; i < smalls.size() && i < first + batch; ++i) {
          if (i % static_cast<std::size_t>(keep_every) == 0) {
            root->smalls.push_back(smalls[i]);
          } else {
            p.destroy(smalls[i]);
          }
        }
      });
    }
    for (std::size_t first = 0; first < larges.size(); first += batch) {
      p.transaction([&] {
        for (std::size_t i = first; i < larges.size() && i < first + batch; ++i) {
          if (i % static_cast<std::size_t>(keep_every) == 0) {
            root->larges.push_back(larges[i]);
            root->names.insert(larges[i]->id, "large object " + std::to_string(larges[i]->id));
          } else {
            p.destroy(larges[i]);
          }
        }
      });
    }
  } catch (const std::exception& e) {
    std::cerr << "fragmented_pool_fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
