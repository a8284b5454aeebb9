// container_pool_fixture PATH: a pool whose root holds the real ferrite
// containers, written by their own code, for tests/cli_test.sh: `ferrite
// dump` must decode what the containers actually write (typed_pool_fixture
// writes the documented layouts by hand instead).
//
//   root test.Shelf
//     numbers: vector<i64> 0..9          words: vector<string> "w0".."w4"
//     by_name: hash_map<string,i64> k0..k199 -> 0..199 (many splits)
//     ordered: map<i64,string> 0..299 -> "v<i>" (a tree of several levels)
//     marks:   set<i32> {-3, 0, 5}
#include <cstdio>
#include <iostream>
#include <string>

#include "ferrite/ferrite.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/set.h"
#include "ferrite/types/vector.h"

namespace fixture {

struct shelf {
  ferrite::vector<std::int64_t> numbers;
  ferrite::vector<ferrite::string> words;
  ferrite::hash_map<ferrite::string, std::int64_t> by_name;
  ferrite::map<std::int64_t, ferrite::string> ordered;
  ferrite::set<std::int32_t> marks;
};
FERRITE_TYPE(shelf, "test.Shelf", numbers, words, by_name, ordered, marks)

}  // namespace fixture

// --walk PATH: reads everything the root reaches through the public API
// (tests/check_test.cc runs it on damaged copies). Exit 0 read, 1 a
// ferrite::error; a signal is a bug.
int walk(const char* path) {
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::read_only;
    ferrite::pool p = ferrite::pool::open(path, o);
    auto s = p.root<fixture::shelf>();
    std::int64_t sum = 0;
    for (std::int64_t v : s->numbers) sum += v;
    for (const auto& w : s->words) sum += static_cast<std::int64_t>(std::string(w.c_str()).size());
    for (const auto& [k, v] : s->by_name) sum += v + static_cast<std::int64_t>(k.size());
    for (const auto& [k, v] : s->ordered) sum += k + static_cast<std::int64_t>(v.size());
    for (std::int32_t m : s->marks) sum += m;
    std::cout << "walked: " << sum << "\n";
  } catch (const ferrite::error& e) {
    std::cout << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--walk") return walk(argv[2]);
  if (argc != 2) {
    std::cerr << "usage: container_pool_fixture [--walk] PATH\n";
    return 2;
  }
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::create_exclusive;
    o.size = 8 << 20;
    ferrite::pool p = ferrite::pool::open(argv[1], o);
    auto s = p.root<fixture::shelf>();
    p.transaction([&] {
      for (std::int64_t i = 0; i < 10; ++i) s->numbers.push_back(i);
      for (int i = 0; i < 5; ++i) s->words.push_back("w" + std::to_string(i));
      for (std::int64_t i = 0; i < 200; ++i) s->by_name.insert("k" + std::to_string(i), i);
      for (std::int64_t i = 0; i < 300; ++i) s->ordered.insert(i, "v" + std::to_string(i));
      for (std::int32_t m : {5, -3, 0}) s->marks.insert(m);
    });
  } catch (const std::exception& e) {
    std::cerr << "container_pool_fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
