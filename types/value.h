// ferrite::value — Python-like dynamic values in a pool (nvm.pmemobj's
// object model).
//
//   ferrite::pool pool = ferrite::pool::open("guessing.pool");
//   ferrite::value root = pool.root();                 // None in a new pool
//   if (root.is_none()) {
//     pool.transaction([&] {                           // all or nothing
//       root = ferrite::dict_of();
//       root["number"] = 42;
//       root["guesses"] = ferrite::list_of();
//     });
//   }
//   root["guesses"].as_list().append(25);              // atomic on its own
//   std::int64_t n = root["number"].as_int();
//   std::cout << root << "\n";                         // {'guesses': [25], 'number': 42}
//
// Kinds (value_format.h): none, bool, int (i64), float (f64), str, bytes,
// list, dict, set, frozenset, tuple, object (a registered class name plus
// attributes: FERRITE_CLASS below) and encoded (a user type stored through
// its value_codec<T>).
//
// Three kinds of C++ objects:
// - ferrite::value is a handle to a persistent slot (the root, a list item,
//   a dict item, an attribute, a value_cell field). Copying a handle gives
//   another handle to the same slot; ASSIGNING to a handle stores into its
//   slot, like assigning to a Python variable or item:
//     root["best"] = root["last"];   // both name the same object (shared)
//     root["count"] = 3;             // a new int
// - ferrite::input is what can be stored: it converts from none, bool,
//   integers, double, strings and value handles, and the builders
//   (list_of, dict_of, set_of, frozenset_of, tuple_of, bytes_of,
//   object_of, encode) make new containers. Building one allocates nothing;
//   storing it does, in the pool of the slot.
// - ferrite::list / dict / value_set / frozenset / tuple / object are handles to
//   one persistent container, returned by value::as_list() and friends.
//
// Semantics as in Python:
// - Lists, dicts, sets and objects are shared by reference; storing one
//   into two slots makes both name the same container. str, bytes, tuples
//   and frozensets are immutable (tuple and frozenset handles have no
//   mutators; as_list() of a tuple throws wrong_type).
// - Payloads are reference counted (docs/gc.md): overwriting a slot,
//   erasing, popping or clearing items drops references, and a payload
//   left without one is freed when the transaction commits (its own items
//   dropped in turn). Only cycles (a list that contains itself, two dicts
//   naming each other) need pool.gc(); it also runs at open after a crash.
//   A removed value stays readable until that commit: pop() inside a
//   transaction to move a value elsewhere; outside one, the copy pop()
//   returns is only safe to read when the pool still holds the value.
// - Equality is Python's: 1 == 1.0 == true; containers compare by contents,
//   objects by identity. Dict keys and set members must be hashable (none,
//   bool, int, float, str, bytes, tuple and frozenset of hashables, objects
//   by identity, encoded values); hashes are stable across runs, builds and
//   machines, so dicts need no rehashing at open.
// - Errors are ferrite::error: wrong_type (TypeError: a value of another
//   kind, an unhashable key), not_found (KeyError), out_of_range
//   (IndexError), invalid_argument (a value of another pool, a class name
//   that is not registered).
//
// Every mutating call (assignment, append, insert, erase, add...) is atomic
// on its own and joins the transaction the thread runs on the slot's pool.
// Handles hold addresses into the pool: use them while the pool is open and
// the slot is reachable (a dropped payload is freed at commit, a cycle by
// gc()); a handle or input holds no reference. List item handles are
// by index: they follow the list as it grows.
//
// Thread-safety: like Python objects without the GIL — concurrent reads,
// or one writer per container.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ferrite/base/format/value_format.h"
#include "ferrite/types/element.h"
#include "ferrite/types/hash_map.h"
#include "ferrite/types/vector.h"

namespace ferrite {

namespace detail {
struct value_access;
struct input_access;
struct input_node;
struct list_rep;
struct dict_rep;
struct set_rep;
struct object_rep;
}  // namespace detail

class input;
class value;
class list;
class dict;
class value_set;
class frozenset;
class tuple;
class object;

// --- The persistent cell ---------------------------------------------------

// One value as stored in a pool (16 bytes, value_format.h). Usable as a
// field of a FERRITE_TYPE struct (`ferrite::value_cell extra;`, zero bytes
// are None) and as a container element; reach it through a handle:
// `ferrite::value v = obj->extra;`. Copy assignment is deleted (it would
// bypass the transaction); assign through the handle.
class value_cell {
 public:
  using ferrite_container_handle = void;  // engine/pptr.h: no pptr<void> to a container
  value_cell() noexcept = default;
  value_cell(const value_cell&) noexcept = default;
  value_cell& operator=(const value_cell&) = delete;

  value_kind kind() const noexcept { return static_cast<value_kind>(rep_.kind); }
  const detail::value_cell_rep& rep() const noexcept { return rep_; }

 private:
  friend struct detail::value_access;
  detail::value_cell_rep rep_{};
};
static_assert(std::is_trivially_copyable_v<value_cell>);
static_assert(std::is_standard_layout_v<value_cell>);
static_assert(sizeof(value_cell) == 16);

namespace detail {

// A cell being copied into a container: a new reference to its payload
// (element_traits<value_cell> below retains it). Holds the 16 bytes, not a
// reference, so a copy of an element of the same container stays valid
// while the container moves its elements.
struct counted_cell {
  value_cell cell;
  counted_cell(const value_cell& c) noexcept : cell(c) {}  // NOLINT(google-explicit-constructor)
};

// A probe for dict/set lookups: a stored cell or an input.
struct value_key {
  const value_cell* cell = nullptr;  // when set
  const input* in = nullptr;
  value_key(const value_cell& c) noexcept : cell(&c) {}  // NOLINT(google-explicit-constructor)
  value_key(const counted_cell& c) noexcept              // NOLINT(google-explicit-constructor)
      : cell(&c.cell) {}
  value_key(const input& i) noexcept : in(&i) {}  // NOLINT(google-explicit-constructor)
};
std::uint64_t value_hash(const value_key& k);  // wrong_type when unhashable
bool value_equal(const value_cell& stored, const value_key& k);

}  // namespace detail

template <>
struct key_traits<value_cell> {
  using lookup = detail::value_key;
  static std::uint64_t hash(const detail::value_key& k) { return detail::value_hash(k); }
  static bool equal(const value_cell& stored, const detail::value_key& k) {
    return detail::value_equal(stored, k);
  }
  static detail::value_key stored_as_lookup(const value_cell& c) noexcept { return c; }
};

namespace detail {
// The reference a cell holds (docs/gc.md): +1 / -1 on its payload's count
// (nothing for a value held in the cell). REQUIRES: a transaction runs on p.
void retain_cell(pool_impl& p, const value_cell& c);
void drop_cell(pool_impl& p, const value_cell& c);
}  // namespace detail

// Cells in containers (a list's items, a dict's keys and values, a
// vector<value_cell> of a typed struct) are references: copying one in
// retains its payload, erasing or overwriting it drops it.
template <>
struct element_traits<value_cell> {
  using input = detail::counted_cell;
  static void construct(detail::pool_impl& p, value_cell* dest, input v) {
    std::memcpy(static_cast<void*>(dest), &v.cell, sizeof(value_cell));
    detail::retain_cell(p, v.cell);
  }
  static void release(detail::pool_impl& p, value_cell* v) { detail::drop_cell(p, *v); }
};

namespace detail {
template <>
struct describe<value_cell> {
  static const type_descriptor& get();
};
}  // namespace detail

namespace detail {
using value_map = hash_map<value_cell, value_cell>;     // dict items, object attributes
using member_map = hash_map<value_cell, std::uint8_t>;  // set members
}  // namespace detail

// --- What can be stored ----------------------------------------------------

struct none_t {
  explicit constexpr none_t(int) {}
};
inline constexpr none_t none{0};

// A value to store, described in volatile memory (see the banner).
class input {
 public:
  input() noexcept;        // None
  input(none_t) noexcept;  // NOLINT(google-explicit-constructor)
  input(bool b) noexcept;  // NOLINT(google-explicit-constructor)
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool> && !std::is_same_v<I, char>) input(I i)
      : input(integer_tag{}, static_cast<std::int64_t>(i)) {  // NOLINT
    if constexpr (std::is_unsigned_v<I> && sizeof(I) >= 8)
      check_unsigned(static_cast<std::uint64_t>(i));
  }
  input(double d) noexcept;        // NOLINT(google-explicit-constructor)
  input(const char* text);         // NOLINT(google-explicit-constructor)
  input(std::string_view text);    // NOLINT(google-explicit-constructor)
  input(const std::string& text);  // NOLINT(google-explicit-constructor)
  // The value in a slot: stored by sharing (lists, dicts... are the same
  // object afterwards), which requires the same pool.
  input(const value& v);  // NOLINT(google-explicit-constructor)

  value_kind kind() const noexcept;
  const detail::input_node& node() const noexcept { return *node_; }

 private:
  struct integer_tag {};
  input(integer_tag, std::int64_t i);
  explicit input(std::shared_ptr<const detail::input_node> n) noexcept : node_(std::move(n)) {}
  static void check_unsigned(std::uint64_t u);
  friend struct detail::input_access;
  std::shared_ptr<const detail::input_node> node_;
};

using input_pairs = std::initializer_list<std::pair<input, input>>;

// New containers holding these items (copied in when stored).
template <class... A>
input list_of(A&&... items);
template <class... A>
input tuple_of(A&&... items);
template <class... A>
input set_of(A&&... items);
template <class... A>
input frozenset_of(A&&... items);
input dict_of(input_pairs items = {});
input list_from(std::vector<input> items);
input tuple_from(std::vector<input> items);
input bytes_of(std::string_view raw);
// A new object of a registered class (FERRITE_CLASS / register_class) with
// these attributes (names are strings).
input object_of(std::string_view class_name, input_pairs attributes = {});

// Registers a class name for objects (FERRITE_CLASS does it before main).
// Names are stable identities like type names ("guess.Guesser"); throws
// invalid_argument for an empty name, one over 87 bytes or one starting
// with "ferrite.". Registering a name twice is harmless.
void register_class(std::string_view class_name);

// --- Pins: payloads held by volatile code ----------------------------------

// A language binding (or a cache) that hands out objects standing for
// payloads of a pool pins them: a pinned list, dict, set, object, tuple,
// str... is not freed when its last reference drops, nor by gc(), so the
// holder's object stays usable (Python's `x = lst.pop()` keeps x alive).
//
//   ferrite::value kept = ferrite::pin_payload(root["moves"]);
//   root["moves"] = ferrite::none;            // the list is not freed
//   kept.as_list().append(3);                 // still a list of the pool
//   if (ferrite::unpin_payload(kept)) ferrite::release_if_unreferenced(kept);
//
// pin_payload returns a read-only handle naming the payload itself (not
// the slot it was read from). unpin_payload() returns true when that was
// the last pin and no cell names the payload any more:
// release_if_unreferenced() then frees it (atomically, or in the running
// transaction). Between the two call neither gc() nor close(). Pins nest;
// a value held in its cell (None, an int, a short str) needs none. Pins
// are volatile: after a crash the collection at open frees what only pins
// kept. Thread-safe.
value pin_payload(const value& v);
bool unpin_payload(const value& pinned);
void release_if_unreferenced(const value& pinned);

// --- User types stored by serialisation -----------------------------------

// Specialise to store a T as a value (nvm.pmemobj's persist_via_pickle
// whitelist: only types with a codec can be stored):
//   template <> struct ferrite::value_codec<point> {
//     static constexpr std::string_view name = "geo.Point";   // stable
//     static std::string encode(const point& p);
//     static point decode(std::string_view bytes);  // throw on bad bytes
//   };
//   root["where"] = ferrite::encode(point{1, 2});
//   point p = root["where"].as<point>();
template <class T>
struct value_codec;

input encoded(std::string_view codec_name, std::string_view bytes);
template <class T>
input encode(const T& x) {
  return encoded(value_codec<T>::name, value_codec<T>::encode(x));
}

// --- Handles ---------------------------------------------------------------

namespace detail {
// Where a handle's value lives.
struct value_slot {
  enum class where : std::uint8_t { cell, list_item, dict_item, detached };
  where at = where::detached;
  bool read_only = false;
  pool_impl* pool = nullptr;
  value_cell* cell = nullptr;        // cell
  void* container = nullptr;         // list_item: list_rep; dict_item: the map
  std::int64_t index = 0;            // list_item
  std::shared_ptr<const input> key;  // dict_item
  value_cell copy{};                 // detached: a read-only copy
};
}  // namespace detail

// A handle to a persistent value slot (see the banner).
class value {
 public:
  // A handle to the cell `c`; read-only when `c` is not in an open pool.
  value(value_cell& c);        // NOLINT(google-explicit-constructor)
  value(const value_cell& c);  // NOLINT(google-explicit-constructor) read-only
  value(const value&) = default;
  value(value&&) noexcept = default;
  ~value();

  // Stores into this slot (atomic; joins the running transaction).
  value& operator=(const value& other);
  value& operator=(const input& v);

  value_kind kind() const;
  // "NoneType", "bool", "int", "float", "str", "bytes", "list", "dict",
  // "set", "frozenset", "tuple", the class name of an object, the codec
  // name of an encoded value.
  std::string type_name() const;
  bool is_none() const { return kind() == value_kind::none; }
  bool is_bool() const { return kind() == value_kind::boolean; }
  bool is_int() const { return kind() == value_kind::integer; }
  bool is_float() const { return kind() == value_kind::floating; }
  bool is_str() const { return kind() == value_kind::string; }
  bool is_bytes() const { return kind() == value_kind::bytes; }
  bool is_list() const { return kind() == value_kind::list; }
  bool is_dict() const { return kind() == value_kind::dict; }
  bool is_set() const { return kind() == value_kind::set; }
  bool is_frozenset() const { return kind() == value_kind::frozenset; }
  bool is_tuple() const { return kind() == value_kind::tuple; }
  bool is_object() const { return kind() == value_kind::object; }
  bool is_encoded() const { return kind() == value_kind::encoded; }

  // The value as a C++ value or container handle; wrong_type otherwise.
  // as_float() also accepts an int (as Python's float(x)).
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_float() const;
  std::string_view as_str() const;    // into the pool (or this handle)
  std::string_view as_bytes() const;  // into the pool (or this handle)
  std::string str() const { return std::string(as_str()); }
  list as_list() const;
  dict as_dict() const;
  value_set as_set() const;
  frozenset as_frozenset() const;
  tuple as_tuple() const;
  object as_object() const;
  // A registered class (FERRITE_CLASS(C, ...), C derives from object), or a
  // type with a value_codec.
  template <class T>
  T as() const;

  // Python truthiness: None, false, 0, 0.0 and empty containers are false.
  explicit operator bool() const;
  // len(): str/bytes length, or the number of items.
  std::size_t size() const;

  // v[key]: a dict's item (absent until assigned: reading it throws
  // not_found), an object's attribute (key a str), or a list's / tuple's
  // item (key an int, negative from the end; out_of_range outside).
  value operator[](const input& key) const;
  // `key in v`: a dict key, a set or frozenset member, a list or tuple
  // item, an object attribute, a substring of a str.
  bool contains(const input& key) const;

  // Python ==.
  friend bool operator==(const value& a, const input& b);
  friend bool operator==(const value& a, const value& b) { return a == input(b); }
  // Python repr(): "{'number': 42, 'guesses': [25, 50]}". Cycles print as
  // [...] / {...}.
  std::string repr() const;
  friend std::ostream& operator<<(std::ostream& os, const value& v);

  // The cell this handle reads (resolving list/dict items; not_found /
  // out_of_range when they are gone). For the value model's own use.
  const value_cell& cell() const;
  detail::pool_impl* pool() const noexcept { return slot_.pool; }

 private:
  friend struct detail::value_access;
  explicit value(detail::value_slot s) noexcept : slot_(std::move(s)) {}
  void store(const input& v);
  detail::value_slot slot_;
};

// A list handle (Python list). Items are value handles by index.
class list {
 public:
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  // Item i (negative from the end); reading or writing past the end
  // throws out_of_range.
  value operator[](std::int64_t i) const;
  void append(const input& v);
  // Inserts before index i (clamped to [0, size] like Python).
  void insert(std::int64_t i, const input& v);
  void extend(const std::vector<input>& items);
  // Removes item i (default the last) and returns a read-only copy of it.
  // When that was the last reference to its payload, the payload is freed
  // when the transaction commits: read or store the copy before then
  // (pop inside a transaction to move an item).
  value pop(std::int64_t i = -1);
  // Removes the first item equal to v; not_found when there is none.
  void remove(const input& v);
  // Index of the first item equal to v; not_found when there is none.
  std::size_t index(const input& v) const;
  std::size_t count(const input& v) const;
  bool contains(const input& v) const;
  void clear();

  class iterator;
  iterator begin() const;
  iterator end() const;

 private:
  friend struct detail::value_access;
  detail::list_rep* rep_ = nullptr;
  detail::pool_impl* pool_ = nullptr;
};

// A dict handle (Python dict). Order of iteration is unspecified (not
// insertion order).
class dict {
 public:
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  // The item of `key` (see value::operator[]).
  value operator[](const input& key) const;
  bool contains(const input& key) const;
  // The item of key, or nothing when absent.
  std::optional<value> get(const input& key) const;
  // Stores key: v (same as d[key] = v).
  void set(const input& key, const input& v);
  // Removes key; returns whether it was there (Python's `del d[k]` throws
  // KeyError: use pop).
  bool erase(const input& key);
  // Removes key and returns a read-only copy of its value; not_found when
  // absent. The copy is valid until the commit, as for list::pop.
  value pop(const input& key);
  // The value of key, storing `fallback` first when absent.
  value setdefault(const input& key, const input& fallback = none);
  void clear();

  struct entry {
    ferrite::value key;    // read-only copy
    ferrite::value value;  // the item's slot
  };
  class iterator;
  iterator begin() const;
  iterator end() const;
  std::vector<value> keys() const;

 private:
  friend struct detail::value_access;
  friend class object;
  detail::value_map* map_ = nullptr;  // of a dict_rep or an object_rep
  detail::pool_impl* pool_ = nullptr;
};

// A set handle (Python set; ferrite::set<K> is the typed ordered set).
class value_set {
 public:
  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  bool contains(const input& v) const;
  // Adds v; returns whether it was new. wrong_type when v is unhashable.
  bool add(const input& v);
  // Removes v; not_found when absent (Python's remove).
  void remove(const input& v);
  // Removes v if present; returns whether it was.
  bool discard(const input& v);
  void clear();

  class iterator;
  iterator begin() const;
  iterator end() const;

 private:
  friend struct detail::value_access;
  detail::set_rep* rep_ = nullptr;
  detail::pool_impl* pool_ = nullptr;
};

// Immutable sequences of values: tuple and frozenset handles read only.
class tuple {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  value operator[](std::int64_t i) const;  // read-only; out_of_range outside
  bool contains(const input& v) const;
  class iterator;
  iterator begin() const;
  iterator end() const;

 private:
  friend struct detail::value_access;
  friend class frozenset;
  const value_cell* items_ = nullptr;
  std::size_t size_ = 0;
  detail::pool_impl* pool_ = nullptr;
};

class frozenset {
 public:
  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  bool contains(const input& v) const;
  tuple::iterator begin() const;
  tuple::iterator end() const;

 private:
  friend struct detail::value_access;
  tuple items_;  // sorted by hash
};

// An object handle (nvm.pmemobj's PersistentObject): a registered class
// name and attributes. Derive from it to give a class behaviour:
//
//   class guesser : public ferrite::object {
//    public:
//     using object::object;
//     std::string check_guess(std::int64_t g);   // uses (*this)["number"]...
//   };
//   FERRITE_CLASS(guesser, "guess.Guesser")
//
//   root = ferrite::new_object<guesser>({{"name", "Ada"}});
//   guesser g = root.as<guesser>();            // wrong_type for another class
class object {
 public:
  object() = default;
  std::string class_name() const;
  // Attribute `name` (reading an absent one throws not_found).
  value operator[](std::string_view name) const;
  value attr(std::string_view name) const { return (*this)[name]; }
  bool has_attr(std::string_view name) const;
  // Removes an attribute; returns whether it was there.
  bool del_attr(std::string_view name);
  // The attributes as a dict handle (keys are str).
  dict attributes() const;
  // Runs fn in a transaction on the object's pool (for methods that
  // change several attributes together).
  void transaction(const std::function<void()>& fn) const;

  friend bool operator==(const object& a, const object& b) noexcept { return a.rep_ == b.rep_; }

 private:
  friend struct detail::value_access;
  detail::object_rep* rep_ = nullptr;
  detail::pool_impl* pool_ = nullptr;
};

// Iterators: forward iterators yielding handles by value.
namespace detail {
// The member types of the value model's iterators, which yield by value.
template <class Yield>
struct yields_by_value {
  using iterator_category = std::input_iterator_tag;
  using value_type = Yield;
  using difference_type = std::ptrdiff_t;
  using reference = Yield;
  using pointer = void;
};
}  // namespace detail

class list::iterator : public detail::yields_by_value<value> {
 public:
  value operator*() const;
  iterator& operator++() {
    ++i_;
    return *this;
  }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

 private:
  friend class list;
  detail::list_rep* rep_ = nullptr;
  detail::pool_impl* pool_ = nullptr;
  std::int64_t i_ = 0;
};

class tuple::iterator : public detail::yields_by_value<value> {
 public:
  value operator*() const;
  iterator& operator++() {
    ++at_;
    return *this;
  }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.at_ == b.at_; }

 private:
  friend class tuple;
  friend class frozenset;
  const value_cell* at_ = nullptr;
  detail::pool_impl* pool_ = nullptr;
};

// dict and set iterators walk the hash map's nodes.
class dict::iterator : public detail::yields_by_value<dict::entry> {
 public:
  entry operator*() const;
  iterator& operator++() {
    ++it_;
    return *this;
  }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.it_ == b.it_; }

 private:
  friend class dict;
  detail::value_map::iterator it_;
};

class value_set::iterator : public detail::yields_by_value<value> {
 public:
  value operator*() const;
  iterator& operator++() {
    ++it_;
    return *this;
  }
  friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.it_ == b.it_; }

 private:
  friend class value_set;
  detail::member_map::iterator it_;
};

// --- Internals the templates above need ------------------------------------

namespace detail {

input make_container(value_kind kind, std::vector<input> items);
input make_object(std::string_view class_name, input_pairs attributes);

struct value_access {
  static value_cell_rep& rep(value_cell& c) noexcept { return c.rep_; }
  static value make(value_slot s) { return value(std::move(s)); }
  static list make_list(pool_impl* p, list_rep* l);
  static dict make_dict(pool_impl* p, value_map* m);
  static value_set make_set(pool_impl* p, set_rep* s);
  static tuple make_tuple(pool_impl* p, const value_cell& c);
  static frozenset make_frozenset(pool_impl* p, const value_cell& c);
  static value attribute(const object& o, const input& name);
  static object as_object(const value& v, std::string_view class_name);
  template <class T>
  static T wrap(const object& o) {
    T t;
    static_cast<object&>(t) = o;
    return t;
  }
  static std::string_view encoded_bytes(const value& v, std::string_view codec_name);
};

template <class C>
std::string_view class_name_of() {
  return ferrite_class_name(static_cast<C*>(nullptr));
}

template <class C>
struct auto_register_class {
  static inline const bool done = (register_class(class_name_of<C>()), true);
};

}  // namespace detail

template <class... A>
input list_of(A&&... items) {
  return detail::make_container(value_kind::list, {input(std::forward<A>(items))...});
}
template <class... A>
input tuple_of(A&&... items) {
  return detail::make_container(value_kind::tuple, {input(std::forward<A>(items))...});
}
template <class... A>
input set_of(A&&... items) {
  return detail::make_container(value_kind::set, {input(std::forward<A>(items))...});
}
template <class... A>
input frozenset_of(A&&... items) {
  return detail::make_container(value_kind::frozenset, {input(std::forward<A>(items))...});
}

// A new object of registered class C.
template <class C>
input new_object(input_pairs attributes = {}) {
  return object_of(detail::class_name_of<C>(), attributes);
}

template <class T>
T value::as() const {
  if constexpr (std::is_base_of_v<object, T>) {
    return detail::value_access::wrap<T>(
        detail::value_access::as_object(*this, detail::class_name_of<T>()));
  } else {
    return value_codec<T>::decode(detail::value_access::encoded_bytes(*this, value_codec<T>::name));
  }
}

}  // namespace ferrite

// Registers class C (derived from ferrite::object) under NAME before main.
// At namespace scope, in the namespace of C.
#define FERRITE_CLASS(C, NAME)                             \
  inline std::string_view ferrite_class_name(C*) {         \
    (void)::ferrite::detail::auto_register_class<C>::done; \
    return NAME;                                           \
  }
