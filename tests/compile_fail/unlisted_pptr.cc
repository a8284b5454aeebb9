// Must not compile: `next` is not listed, so gc would not see the pointer.
#include <cstdint>

#include "ferrite/ferrite.h"

struct node {
  std::int64_t v;
  ferrite::pptr<node> next;
};
FERRITE_TYPE(node, "test.node", v)
