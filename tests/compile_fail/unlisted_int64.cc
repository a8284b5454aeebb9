// Must not compile: `b` is not listed.
#include <cstdint>

#include "ferrite/ferrite.h"

struct pair {
  std::int64_t a;
  std::int64_t b;
};
FERRITE_TYPE(pair, "test.pair", a)
