// Must compile (the control for the other files here): every member is
// listed, in any order, with padding between and after them.
#include <cstdint>

#include "ferrite/ferrite.h"

struct all_listed {
  char c;
  std::int64_t a;
  char tag[3];
  std::int32_t y;
  ferrite::pptr<all_listed> next;
  std::int16_t last;
};
FERRITE_TYPE(all_listed, "test.all_listed", next, c, a, tag, y, last)
