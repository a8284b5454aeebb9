// ferrite: a persistent heap engine. The one header a program includes.
//
//   #include <ferrite/ferrite.h>     // pkg-config --cflags --libs ferrite
//
// It brings the public API: pools and transactions (engine/), errors and
// media statistics (base/), typed containers and dynamic values (types/).
// Internals (detail/ folders, alloc/, txlog/) are not installed; the
// simulated device of the crash runner is not part of it.
#pragma once

#include "ferrite/base/error.h"
#include "ferrite/base/media/media.h"
#include "ferrite/engine/check.h"
#include "ferrite/engine/copy.h"
#include "ferrite/engine/p.h"
#include "ferrite/engine/pmutex.h"
#include "ferrite/engine/pool.h"
#include "ferrite/engine/pptr.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/engine/type_info.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/map.h"
#include "ferrite/types/set.h"
#include "ferrite/types/string.h"
#include "ferrite/types/value.h"
#include "ferrite/types/vector.h"
