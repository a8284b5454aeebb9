// ferrite: a persistent heap engine. The one header a program includes.
#pragma once

#include "engine/check.h"
#include "engine/error.h"
#include "engine/media/media.h"
#include "engine/media/sim_device.h"
#include "engine/pmutex.h"
#include "engine/pool.h"
#include "engine/pptr.h"
#include "engine/transaction.h"
#include "engine/type_info.h"
#include "types/string.h"
#include "types/vector.h"
#include "types/map.h"
#include "types/set.h"
#include "types/hash_map.h"
#include "types/value.h"
