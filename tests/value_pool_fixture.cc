// value_pool_fixture PATH: a value pool (pool.root() a dict) for
// tests/cli_test.sh: `ferrite dump` must decode every kind of value cell
// as the value model writes it.
//
//   root = {'none': None, 'yes': True, 'int': -7, 'float': 2.5,
//           'short': 'hi', 'long': 'a str too long for a cell',
//           'raw': b'\x00\x01ab', 'blob': b'0123456789abcdefXYZ',
//           'tuple': (1, 'x', 2.5), 'one': (1,), 'empty': (),
//           'frozen': frozenset({'a', 'b'}), 'set': {3}, 'no_set': set(),
//           'point': <geo.Point encoded>, 'player': <test.Player {...}>,
//           'nested': {'number': 42, 'guesses': [25]},
//           'shared_a': [1, 2], 'shared_b': the same list,
//           (1, 2): 'tuple key', 'self': the root dict itself (a cycle)}
#include <cstdio>
#include <iostream>
#include <string>

#include "ferrite/ferrite.h"

namespace fixture {

struct point {
  int x, y;
};

class player : public ferrite::object {
 public:
  using object::object;
};
FERRITE_CLASS(player, "test.Player")

}  // namespace fixture

template <>
struct ferrite::value_codec<fixture::point> {
  static constexpr std::string_view name = "geo.Point";
  static std::string encode(const fixture::point& p) {
    return std::to_string(p.x) + "," + std::to_string(p.y);
  }
  static fixture::point decode(std::string_view) { return {}; }
};

// --walk PATH: reads everything the root reaches through the public API
// (repr follows every list, dict, set, tuple and object; tests/check_test.cc
// runs it on damaged copies). Exit 0 read, 1 a ferrite::error; a signal is
// a bug.
int walk(const char* path) {
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::read_only;
    ferrite::pool p = ferrite::pool::open(path, o);
    std::cout << "walked: " << p.root().repr().size() << " characters\n";
  } catch (const ferrite::error& e) {
    std::cout << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--walk") return walk(argv[2]);
  if (argc != 2) {
    std::cerr << "usage: value_pool_fixture [--walk] PATH\n";
    return 2;
  }
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::create_exclusive;
    o.size = 8 << 20;
    ferrite::pool p = ferrite::pool::open(argv[1], o);
    ferrite::value root = p.root();
    p.transaction([&] {
      root = ferrite::dict_of();
      root["none"] = ferrite::none;
      root["yes"] = true;
      root["int"] = -7;
      root["float"] = 2.5;
      root["short"] = "hi";
      root["long"] = "a str too long for a cell";
      root["raw"] = ferrite::bytes_of(std::string_view("\0\1ab", 4));
      root["blob"] = ferrite::bytes_of("0123456789abcdefXYZ");
      root["tuple"] = ferrite::tuple_of(1, "x", 2.5);
      root["one"] = ferrite::tuple_of(1);
      root["empty"] = ferrite::tuple_of();
      root["frozen"] = ferrite::frozenset_of("a", "b");
      root["set"] = ferrite::set_of(3);
      root["no_set"] = ferrite::set_of();
      root["point"] = ferrite::encode(fixture::point{3, 4});
      root["player"] = ferrite::new_object<fixture::player>({{"name", "Ada"}, {"score", 10}});
      root["nested"] = ferrite::dict_of({{"number", 42}, {"guesses", ferrite::list_of(25)}});
      root["shared_a"] = ferrite::list_of(1, 2);
      root["shared_b"] = root["shared_a"];
      root[ferrite::tuple_of(1, 2)] = "tuple key";
      root["self"] = root;
    });
    std::cout << root << "\n";
  } catch (const std::exception& e) {
    std::cerr << "value_pool_fixture: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
