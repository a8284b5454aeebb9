// value_pool_reader PATH: opens a value pool written by another program
// (the Python binding's tests write one), prints its root as the C++
// value model sees it (repr), then stores root["from_cpp"] = [1, 'two',
// (3,)] so that the writer can read back what C++ wrote.
#include <iostream>

#include "ferrite/ferrite.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: value_pool_reader PATH\n";
    return 2;
  }
  try {
    ferrite::pool_options o;
    o.mode = ferrite::open_mode::open_existing;
    ferrite::pool p = ferrite::pool::open(argv[1], o);
    ferrite::value root = p.root();
    std::cout << root << "\n";
    root["from_cpp"] = ferrite::list_of(1, "two", ferrite::tuple_of(3));
    p.close();
  } catch (const std::exception& e) {
    std::cerr << "value_pool_reader: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
