// demo: what survives between two runs of a program using ferrite.
//
//   demo POOL        creates POOL on the first run, reopens it afterwards,
//                    and shows what the pool remembers.
#include <iostream>

#include <ferrite/ferrite.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: demo POOL\n";
    return 2;
  }
  try {
    ferrite::pool p = ferrite::pool::open(argv[1]);  // create or open
    ferrite::pool_info info = p.info();
    std::cout << "pool " << info.path << " (uuid " << ferrite::format_uuid(info.uuid) << ", "
              << ferrite::to_string(info.store_granularity) << " media)\n"
              << "  opened " << info.open_count << " time(s); previous close was "
              << (info.was_clean_shutdown ? "clean" : "NOT clean") << "\n";
    p.close();
  } catch (const ferrite::error& e) {
    std::cerr << "demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
