// ferrite._ferrite — the native half of ferrite's Python binding
// (docs/python.md). The pure-Python half, ferrite/pmemobj.py, gives it
// nvm.pmemobj's API; this half holds the pool and the value handles.
//
// - pool_state: one open pool, the Python transactions running on it (a
//   stack per thread), the factory that wraps a container handle into a
//   Persistent* object, and the types stored by pickling.
// - handle: one container, object, tuple or frozenset of the pool (a
//   detached copy of its cell). It pins its payload (value.h pin_payload):
//   while a handle lives, dropping the payload's last reference does not
//   free it, so a list popped out of another list, or the old root, stays
//   usable from Python, as Python objects do.
//
// Values convert both ways: None, bool, int, float, str and bytes are
// Python values; big ints (beyond 64 bits) and pickled objects are
// encoded cells (codecs "python.int" and "python.pickle"); tuples and
// frozensets are stored by value; lists, dicts, sets and objects by
// reference.
//
// Thread-safety: the GIL is held throughout, so calls are serialised; a
// transaction belongs to the thread that began it.
#pragma once

#include <pybind11/pybind11.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "ferrite/engine/pool.h"
#include "ferrite/engine/transaction.h"
#include "ferrite/types/value.h"

namespace ferrite::python {

namespace py = pybind11;

struct handle;

struct pool_state {
  std::optional<ferrite::pool> pool;
  detail::pool_impl* impl = nullptr;
  bool read_only = false;
  py::object factory;  // factory(handle) -> the Persistent* wrapper
  py::object pickled;  // set of types persisted by pickling
  // The Python transactions per thread, innermost last.
  std::map<std::thread::id, std::vector<std::unique_ptr<ferrite::transaction>>> txs;
  // Handles made while a Python transaction runs: if it aborts, those
  // whose payload the abort undid (made in it) say so, and their pins go.
  std::vector<std::pair<std::weak_ptr<bool>, ferrite::value>> made_in_tx;
  void forget_made_in_tx();
  // Payloads whose last handle died while nothing else named them: freed
  // at the next safe point (flush_releases), not inside a destructor that
  // Python's collector may run in the middle of another call.
  std::vector<ferrite::value> to_release;
  // Every handle alive: close() unpins them all (freeing what only Python
  // held) before the pool goes.
  std::unordered_set<handle*> live;

  void flush_releases();

  detail::pool_impl& open_impl() const;  // error(closed) after close()
  std::vector<std::unique_ptr<ferrite::transaction>>& stack() {
    return txs[std::this_thread::get_id()];
  }
};

struct handle {
  std::shared_ptr<pool_state> state;
  ferrite::value v;             // detached copy of the cell
  std::shared_ptr<bool> alive;  // false once a transaction that made it aborted
  bool pinned = true;           // until destroyed, or the pool closes
  std::uintptr_t payload = 0;   // identity (the payload's address)

  handle(std::shared_ptr<pool_state> s, ferrite::value val);
  ~handle();
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;

  // The value, after checking the pool is open and the payload exists.
  const ferrite::value& get() const;
};

// Conversions (convert.cc).
ferrite::input to_input(pool_state& s, py::handle o);
// The same for a value to compare with (`x in lst`, lst.index(x)): a plain
// list, dict or set is accepted too, as the value it equals.
ferrite::input to_probe(pool_state& s, py::handle o);
py::object to_py(const std::shared_ptr<pool_state>& s, const ferrite::value& v);
std::vector<ferrite::input> to_inputs(pool_state& s, py::handle iterable);

// Exceptions (errors.cc): ferrite::error as the Python exception
// nvm.pmemobj raised.
void register_errors(py::module_& m);

}  // namespace ferrite::python
