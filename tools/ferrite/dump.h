// The decoder behind `ferrite dump`: a pool's object graph, read through its
// type table alone (no application code).
//
//   ferrite::pool p = ferrite::pool::open(path, read_only_options);
//   ferrite::cli::dump_options o;
//   o.max_elements = 20;
//   ferrite::cli::dump_result r = ferrite::cli::decode_pool(p, o);
//   ferrite::cli::print_text(r, std::cout);        // or to_json(r).dump(2)
//
// decode_pool walks from the root object: struct fields by name, char
// arrays as text, pointers to their targets (each heap object decoded once;
// later references say "see above"), lock fields as `<lock>` (never their
// bytes: engine/pmutex.h), and the containers of
// base/format/container_format.h (string, vector, hash_map, map, set) with their
// elements, and the dynamic value cells of base/format/value_format.h (str,
// bytes, tuples... and the list/dict/set/object payload structs). The result is a plain tree
// (dump_value) that the two printers render; nothing is printed while decoding.
//
// The pool is untrusted input (docs/design.md, "Errors"; invariant 7). Every pointer,
// offset, size and count read from it is checked before use: a pointer must
// name the start of an allocated heap object (the allocator's own check),
// every read stays inside the object it belongs to, a container's size is
// capped by what its storage can hold, chains and trees are walked with a
// visited set and a step budget, and nesting is capped by
// dump_options::max_depth. A value that fails a check becomes a `problem`
// node (also counted in dump_result::problems); decoding goes on with the
// next value. Decoding never crashes and always terminates.
//
// Thread-safety: decode_pool only reads the pool; the caller must keep the
// pool open and unchanged while it runs (the CLI opens it read-only).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "ferrite/base/format/value_format.h"
#include "ferrite/engine/detail/type_table.h"
#include "ferrite/engine/pool.h"

namespace ferrite::cli {

struct dump_options {
  std::uint64_t max_elements = 100;  // per container or array; the rest are counted
  std::uint32_t max_depth = 64;      // nesting levels of the printed tree
  std::uint64_t max_text = 4096;     // bytes of one string shown
  bool all = false;                  // also list heap objects the dump did not reach
};

// One decoded value. Which members are meaningful depends on `what`.
struct dump_value {
  enum class kind : std::uint8_t {
    boolean,       // b
    signed_int,    // i
    unsigned_int,  // u
    floating,      // f
    character,     // text (one byte)
    text,          // text (at most max_text bytes of `size`); type: "" for a char array
    structure,     // type; names[k] is the name of items[k]
    pointer,       // see link
    sequence,      // type ("" for a plain array); size; items; omitted (sets too)
    mapping,       // type; size; keys[k] -> items[k]; omitted
    problem,       // text: what is wrong (a bad pointer, damaged container storage)
    elided,        // type: not decoded, max_depth reached
    dynamic,       // a value cell (base/format/value_format.h): see dump_value::cell
    lock,          // a pmutex / pshared_mutex field: type; text "exclusive" or "shared"
                   // (its bytes are run-time state and are not shown)
  };
  enum class link : std::uint8_t {
    null,         // a null pointer
    expanded,     // the object at `offset`, of `type`: items[0] (none for untyped objects: size)
    seen,         // decoded earlier in this dump
    foreign,      // into another pool: tag, offset (counted as a problem: pools never do)
    depth_limit,  // not followed: max_depth reached
  };

  kind what = kind::problem;
  // dynamic: the cell's kind; type is Python's type name ("int", "str"...),
  // an object's class name or an encoded value's codec name. none: nothing
  // more; bool b, int i, float f; str, bytes, encoded: text (data) and
  // size; tuple, frozenset: size, items (cells), omitted, offset (0: empty);
  // list, dict, set, object: items[0], the pointer to the payload struct
  // (decoded as any heap object: ferrite.list, ferrite.dict, ferrite.set,
  // the class's struct).
  value_kind cell = value_kind::none;
  link target = link::null;
  bool b = false;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double f = 0;
  std::string type;
  std::string text;
  std::uint64_t offset = 0;   // pointer: target pool offset; problem: where (0: inline)
  std::uint16_t tag = 0;      // foreign pointer: the other pool's tag
  std::uint64_t size = 0;     // text/sequence/mapping: stored size; untyped object: bytes
  std::uint64_t omitted = 0;  // sequence/mapping: elements not shown (max_elements)
  std::vector<std::string> names;
  std::vector<dump_value> keys;
  std::vector<dump_value> items;
  std::vector<dump_value> notes;  // sequence/mapping: problems met walking the storage
};

// A heap object that no decoded pointer or container reached (with --all).
struct unreached_object {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::string type;
};

struct dump_result {
  std::string path;
  bool has_root = false;
  dump_value root;                         // a pointer value (link::expanded when readable)
  std::uint64_t objects = 0;               // heap objects decoded
  std::uint64_t problems = 0;              // problem values in the tree
  std::vector<detail::stored_type> types;  // the pool's type table (stored types)
  bool listed_unreached = false;           // options.all
  std::vector<unreached_object> unreached;
};

// Decodes the pool's object graph from its root. REQUIRES: `p` is open.
// Throws ferrite::error only for failures of the pool as a whole; problems
// in objects become problem values.
dump_result decode_pool(const pool& p, const dump_options& options);

// The indented text form: `root: test.Game @<offset>`, one field per line.
void print_text(const dump_result& r, std::ostream& out);

// {"root": ..., "types": [...], "objects": N, "problems": N}; objects are
// {"type", "offset", "fields"}, repeated references {"ref": offset}.
nlohmann::ordered_json to_json(const dump_result& r);

}  // namespace ferrite::cli
