// Registered persistent types: what the pool's type table records.
//
//   struct guesser {
//     char name[32];
//     std::int64_t maximum, number;
//     ferrite::vector<std::int64_t> guesses;
//   };
//   FERRITE_TYPE(guesser, "guess.Guesser", name, maximum, number, guesses)
//
//   auto g = pool.make<guesser>();            // the allocation carries its type id
//
// FERRITE_TYPE(T, "stable.name", field...) goes at namespace scope, in the
// namespace of T, after T is complete. T must be trivially copyable and
// standard-layout (static_asserts say so); the name must never change once
// pools hold the type (it is what identifies the type in a pool, not
// typeid). List every field: the garbage collector and `ferrite dump` see
// only the fields listed, and a static_assert refuses a struct whose listed
// fields leave a gap padding does not explain (fields_cover). A struct may declare
// `static constexpr std::uint32_t ferrite_version = N;` (default 1).
//
// Every type a pool stores has a descriptor: scalars (bool, char, the
// fixed-width integers, float, double, enums as their underlying type),
// persistent pointers, locks (ferrite::pmutex, ferrite::pshared_mutex:
// engine/pmutex.h), registered structs and ferrite containers. A field is
// one value or a one-dimensional array (`char name[32]`, std::array).
//
// Descriptors are built once per process (thread-safe statics) and never
// change. References between descriptors are functions, so that a type can
// point at itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ferrite/engine/pptr.h"

namespace ferrite {

namespace detail {
struct pool_impl;
}

// What a type is, as stored in the type table (docs/format.md).
enum class type_kind : std::uint8_t {
  scalar = 1,
  pointer = 2,    // ferrite::pptr<target>
  structure = 3,  // a FERRITE_TYPE struct
  container = 4,  // a ferrite container (types/)
  lock = 5,       // ferrite::pmutex or ferrite::pshared_mutex (engine/pmutex.h)
};

enum class scalar_kind : std::uint8_t {
  boolean = 1,
  character,
  i8,
  u8,
  i16,
  u16,
  i32,
  u32,
  i64,
  u64,
  f32,
  f64,
};

enum class container_kind : std::uint8_t {
  string = 1,
  vector = 2,    // value: the element type
  hash_map = 3,  // key, value
  map = 4,       // key, value (a B+-tree)
  set = 5,       // key
  value = 6,     // a dynamic value cell (base/format/value_format.h)
};

// The sub-kind of a type_kind::lock. A lock's 8 bytes are run-time state,
// never data: the garbage collector, `ferrite dump` and `ferrite check`
// skip them, and the engine keeps an abort from restoring them.
enum class lock_kind : std::uint8_t {
  exclusive = 1,  // ferrite::pmutex, "ferrite.pmutex"
  shared = 2,     // ferrite::pshared_mutex, "ferrite.pshared_mutex"
};

struct type_descriptor;
using type_ref = const type_descriptor& (*)();

struct field_descriptor {
  std::string_view name;
  std::uint32_t offset = 0;
  std::uint32_t size = 0;   // of the whole field (count elements)
  std::uint32_t count = 1;  // > 1 for arrays
  type_ref type = nullptr;  // of one element
};

struct type_descriptor {
  std::string name;  // stable name, e.g. "guess.Guesser", "i64", "ferrite.vector<i64>"
  type_kind kind = type_kind::scalar;
  std::uint8_t subkind = 0;  // scalar_kind, container_kind or lock_kind
  std::uint32_t size = 0;
  std::uint32_t align = 0;
  std::uint32_t version = 1;
  std::vector<field_descriptor> fields;  // structures
  type_ref key = nullptr;                // containers: hash_map, map, set
  type_ref value = nullptr;              // pointers: target (null = untyped); vector/maps: value
  // Containers: frees the storage the container at `obj` owns (not the
  // container itself), inside the running transaction. The handle's bytes
  // are dead afterwards (its owner is freed or overwrites them), so a
  // release need not snapshot or clear the handle.
  void (*release)(detail::pool_impl& pool, void* obj) = nullptr;
  // Process-wide index, dense, assigned at registration (pools cache type ids by it).
  mutable std::uint32_t index = 0;
};

namespace detail {

// Adds `d` (and every type it refers to) to the process-wide registry;
// returns true. Registered types are checked against each pool's type table
// when the pool opens. REQUIRES: `d` lives until the process ends (the
// registry keeps its address; FERRITE_TYPE and the containers use statics).
bool register_type(const type_descriptor& d);

// Every registered descriptor (a snapshot).
std::vector<const type_descriptor*> registered_types();

// Frees the storage owned by the object at `obj` of type `d` (container
// buffers, recursively through struct fields), in the running transaction.
void release_storage(pool_impl& pool, const type_descriptor& d, void* obj);

template <class T>
inline constexpr bool always_false = false;

// Specialised below, by FERRITE_TYPE and by the containers.
template <class T, class = void>
struct describe {
  static_assert(always_false<T>,
                "not a persistent type: register the struct with FERRITE_TYPE (in its own "
                "namespace), or use a scalar, ferrite::pptr, a ferrite container or a lock "
                "(ferrite::pmutex, ferrite::pshared_mutex: include ferrite/engine/pmutex.h)");
  static const type_descriptor& get();
};

template <class T>
const type_descriptor& descriptor_of() {
  return describe<std::remove_cv_t<T>>::get();
}

template <class T>
type_descriptor scalar_descriptor(const char* name, scalar_kind k) {
  type_descriptor d;
  d.name = name;
  d.kind = type_kind::scalar;
  d.subkind = static_cast<std::uint8_t>(k);
  d.size = sizeof(T);
  d.align = alignof(T);
  return d;
}

template <class T>
constexpr scalar_kind scalar_kind_of() {
  if constexpr (std::is_same_v<T, bool>)
    return scalar_kind::boolean;
  else if constexpr (std::is_same_v<T, char>)
    return scalar_kind::character;
  else if constexpr (std::is_floating_point_v<T>) {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "only float and double are persistent floats");
    return sizeof(T) == 4 ? scalar_kind::f32 : scalar_kind::f64;
  } else {
    constexpr bool s = std::is_signed_v<T>;
    if constexpr (sizeof(T) == 1)
      return s ? scalar_kind::i8 : scalar_kind::u8;
    else if constexpr (sizeof(T) == 2)
      return s ? scalar_kind::i16 : scalar_kind::u16;
    else if constexpr (sizeof(T) == 4)
      return s ? scalar_kind::i32 : scalar_kind::u32;
    else
      return s ? scalar_kind::i64 : scalar_kind::u64;
  }
}

// The stable name of a scalar kind ("i64", "f64", "bool", ...).
const char* scalar_name(scalar_kind k);

template <class T>
struct describe<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static const type_descriptor& get() {
    using U = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>,
                                          std::type_identity<T>>::type;
    static const type_descriptor d = [] {
      constexpr scalar_kind k = scalar_kind_of<U>();
      return scalar_descriptor<U>(scalar_name(k), k);
    }();
    return d;
  }
};

template <class T>
struct describe<pptr<T>> {
  static const type_descriptor& get() {
    static const type_descriptor d = [] {
      type_descriptor r;
      r.kind = type_kind::pointer;
      r.size = 8;
      r.align = 8;
      if constexpr (std::is_void_v<T>) {
        r.name = "ferrite.ptr";
      } else {
        // Safe for self-referring types: a struct's descriptor only keeps
        // references to its fields' descriptors, it never builds them.
        r.value = &descriptor_of<T>;
        r.name = "ferrite.ptr<" + descriptor_of<T>().name + ">";
      }
      return r;
    }();
    return d;
  }
};

// Field helpers for FERRITE_TYPE.
template <class F>
struct field_shape {
  using element = F;
  static constexpr std::uint32_t count = 1;
};
template <class E, std::size_t N>
struct field_shape<E[N]> {
  using element = E;
  static constexpr std::uint32_t count = N;
};
template <class E, std::size_t N>
struct field_shape<std::array<E, N>> {
  using element = E;
  static constexpr std::uint32_t count = N;
};

template <class F>
field_descriptor make_field(std::string_view name, std::size_t offset) {
  using shape = field_shape<F>;
  static_assert(!std::is_array_v<typename shape::element>,
                "FERRITE_TYPE: only one-dimensional arrays can be fields");
  static_assert(!std::is_pointer_v<typename shape::element>,
                "FERRITE_TYPE: a raw pointer cannot be stored in a pool; use ferrite::pptr<T>");
  return {name, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(sizeof(F)),
          shape::count, &descriptor_of<typename shape::element>};
}

// Where a listed field lies in its struct (FERRITE_TYPE's layout check).
struct field_extent {
  std::size_t offset, size, align;
};

template <class F>
constexpr field_extent extent_of(std::size_t offset) {
  return {offset, sizeof(F), alignof(F)};
}

// Whether the listed fields, in offset order, cover all of T: the first at
// offset 0, each next one where alignment puts it after the one before (no
// gap padding cannot explain), and the last plus T's tail padding ending at
// sizeof(T). False means a member is missing from the list (or listed
// twice): the garbage collector would not see a pptr in it and `ferrite
// dump` would not show it.
template <class T, std::size_t N>
constexpr bool fields_cover(std::array<field_extent, N> f) {
  for (std::size_t i = 1; i < N; ++i) {  // insertion sort by offset
    for (std::size_t j = i; j > 0 && f[j - 1].offset > f[j].offset; --j) {
      const field_extent t = f[j];
      f[j] = f[j - 1];
      f[j - 1] = t;
    }
  }
  auto align_up = [](std::size_t at, std::size_t a) { return (at + a - 1) / a * a; };
  std::size_t end = 0;
  for (std::size_t i = 0; i < N; ++i) {
    if (f[i].offset != align_up(end, f[i].align)) return false;
    end = f[i].offset + f[i].size;
  }
  return align_up(end, alignof(T)) == sizeof(T);
}

template <class T>
constexpr std::uint32_t version_of() {
  if constexpr (requires { T::ferrite_version; }) {
    return T::ferrite_version;
  } else {
    return 1;
  }
}

template <class T>
type_descriptor make_struct(const char* name, std::vector<field_descriptor> fields) {
  static_assert(std::is_trivially_copyable_v<T>,
                "FERRITE_TYPE: a persistent type must be trivially copyable (no virtual "
                "functions, no user-defined copy, no std::string or std::vector members)");
  static_assert(std::is_standard_layout_v<T>,
                "FERRITE_TYPE: a persistent type must be standard-layout (one access level for "
                "all fields, no virtual bases)");
  type_descriptor d;
  d.name = name;
  d.kind = type_kind::structure;
  d.size = sizeof(T);
  d.align = alignof(T);
  d.version = version_of<T>();
  d.fields = std::move(fields);
  return d;
}

// Registers T before main (a template static member, instantiated by its
// use in T's describe function).
template <class T>
struct auto_register {
  static inline const bool done = register_type(descriptor_of<T>());
};

}  // namespace detail
}  // namespace ferrite

// --- FERRITE_TYPE --------------------------------------------------------

#define FERRITE_DETAIL_FIELD(T, f) ::ferrite::detail::make_field<decltype(T::f)>(#f, offsetof(T, f))

#define FERRITE_DETAIL_F1(M, T, a) M(T, a)
#define FERRITE_DETAIL_F2(M, T, a, ...) M(T, a), FERRITE_DETAIL_F1(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F3(M, T, a, ...) M(T, a), FERRITE_DETAIL_F2(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F4(M, T, a, ...) M(T, a), FERRITE_DETAIL_F3(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F5(M, T, a, ...) M(T, a), FERRITE_DETAIL_F4(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F6(M, T, a, ...) M(T, a), FERRITE_DETAIL_F5(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F7(M, T, a, ...) M(T, a), FERRITE_DETAIL_F6(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F8(M, T, a, ...) M(T, a), FERRITE_DETAIL_F7(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F9(M, T, a, ...) M(T, a), FERRITE_DETAIL_F8(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F10(M, T, a, ...) M(T, a), FERRITE_DETAIL_F9(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F11(M, T, a, ...) M(T, a), FERRITE_DETAIL_F10(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F12(M, T, a, ...) M(T, a), FERRITE_DETAIL_F11(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F13(M, T, a, ...) M(T, a), FERRITE_DETAIL_F12(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F14(M, T, a, ...) M(T, a), FERRITE_DETAIL_F13(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F15(M, T, a, ...) M(T, a), FERRITE_DETAIL_F14(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F16(M, T, a, ...) M(T, a), FERRITE_DETAIL_F15(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F17(M, T, a, ...) M(T, a), FERRITE_DETAIL_F16(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F18(M, T, a, ...) M(T, a), FERRITE_DETAIL_F17(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F19(M, T, a, ...) M(T, a), FERRITE_DETAIL_F18(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F20(M, T, a, ...) M(T, a), FERRITE_DETAIL_F19(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F21(M, T, a, ...) M(T, a), FERRITE_DETAIL_F20(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F22(M, T, a, ...) M(T, a), FERRITE_DETAIL_F21(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F23(M, T, a, ...) M(T, a), FERRITE_DETAIL_F22(M, T, __VA_ARGS__)
#define FERRITE_DETAIL_F24(M, T, a, ...) M(T, a), FERRITE_DETAIL_F23(M, T, __VA_ARGS__)

#define FERRITE_DETAIL_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, \
                            _17, _18, _19, _20, _21, _22, _23, _24, NAME, ...)                     \
  NAME
#define FERRITE_DETAIL_EACH(M, T, ...)                                                             \
  FERRITE_DETAIL_PICK(                                                                             \
      __VA_ARGS__, FERRITE_DETAIL_F24, FERRITE_DETAIL_F23, FERRITE_DETAIL_F22, FERRITE_DETAIL_F21, \
      FERRITE_DETAIL_F20, FERRITE_DETAIL_F19, FERRITE_DETAIL_F18, FERRITE_DETAIL_F17,              \
      FERRITE_DETAIL_F16, FERRITE_DETAIL_F15, FERRITE_DETAIL_F14, FERRITE_DETAIL_F13,              \
      FERRITE_DETAIL_F12, FERRITE_DETAIL_F11, FERRITE_DETAIL_F10, FERRITE_DETAIL_F9,               \
      FERRITE_DETAIL_F8, FERRITE_DETAIL_F7, FERRITE_DETAIL_F6, FERRITE_DETAIL_F5,                  \
      FERRITE_DETAIL_F4, FERRITE_DETAIL_F3, FERRITE_DETAIL_F2, FERRITE_DETAIL_F1)                  \
  (M, T, __VA_ARGS__)
#define FERRITE_DETAIL_FIELDS(T, ...) FERRITE_DETAIL_EACH(FERRITE_DETAIL_FIELD, T, __VA_ARGS__)
#define FERRITE_DETAIL_EXTENT(T, f) ::ferrite::detail::extent_of<decltype(T::f)>(offsetof(T, f))
#define FERRITE_DETAIL_EXTENTS(T, ...) FERRITE_DETAIL_EACH(FERRITE_DETAIL_EXTENT, T, __VA_ARGS__)

// Registers struct T under NAME with its fields (up to 24). At namespace
// scope, in the namespace that declares T (it is found by argument-dependent
// lookup).
#define FERRITE_TYPE(T, NAME, ...)                                                              \
  inline const ::ferrite::type_descriptor& ferrite_describe(T*) {                               \
    static_assert(                                                                              \
        ::ferrite::detail::fields_cover<T>(std::array{FERRITE_DETAIL_EXTENTS(T, __VA_ARGS__)}), \
        "FERRITE_TYPE(" #T "): a member of " #T                                                 \
        " is not listed (the listed fields, in offset order, leave a gap "                      \
        "alignment does not explain, or stop before its end); list every "                      \
        "member: an unlisted pptr is invisible to gc");                                         \
    static const ::ferrite::type_descriptor d =                                                 \
        ::ferrite::detail::make_struct<T>(NAME, {FERRITE_DETAIL_FIELDS(T, __VA_ARGS__)});       \
    (void)::ferrite::detail::auto_register<T>::done;                                            \
    return d;                                                                                   \
  }

namespace ferrite::detail {
template <class T>
    struct describe < T,
    std::enable_if_t < std::is_class_v<T>&& requires {
  ferrite_describe(static_cast<T*>(nullptr));
} >> {static const type_descriptor & get(){return ferrite_describe(static_cast<T*>(nullptr));
}  // namespace ferrite::detail
}
;
}  // namespace ferrite::detail
