// Must not compile: `tag` (3 bytes between two int32_t) is not listed;
// alignment alone would put `y` at offset 4, not 8.
#include <cstdint>

#include "ferrite/ferrite.h"

struct tagged {
  std::int32_t x;
  char tag[3];
  std::int32_t y;
};
FERRITE_TYPE(tagged, "test.tagged", x, y)
