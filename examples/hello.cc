// hello: remembers your name between runs (docs/tutorial.md, part 1).
//
//   $ hello            the first time: asks your name and keeps it
//   What's your name? Ada
//   Hello, Ada!
//   $ hello            every time after: remembers it
//   Hello, Ada!
//
// The pool file is hello_world.pool in the current directory; delete it
// and hello asks again.
#include <iostream>
#include <string>

#include <ferrite/ferrite.h>

int main() {
  try {
    ferrite::pool pool = ferrite::pool::open("hello_world.pool");  // create or open
    ferrite::value root = pool.root();                             // None in a new pool
    if (root.is_none()) {
      std::cout << "What's your name? " << std::flush;
      std::string name;
      if (!std::getline(std::cin, name) || name.empty()) {
        std::cout << "\nNo name given; I'll ask again next time.\n";
        return 1;
      }
      root = name;  // stored in the pool, atomically
    }
    std::cout << "Hello, " << root.as_str() << "!\n";
  } catch (const ferrite::error& e) {
    std::cerr << "hello: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
