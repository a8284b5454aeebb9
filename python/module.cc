// The ferrite._ferrite module (binding.h): Pool and Handle.
#include <pybind11/stl.h>

#include <cstring>

#include "binding.h"
#include "ferrite/base/error.h"
#include "ferrite/engine/object_ops.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite::python {

namespace {

// KeyError(key), as Python's dict raises it.
[[noreturn]] void key_error(py::handle key) {
  PyErr_SetObject(PyExc_KeyError, key.ptr());
  throw py::error_already_set();
}

// A Python index as an int64: one beyond 64 bits is out of range (or, for
// insert, clamped as Python clamps it).
std::int64_t index_of(py::handle i, const char* what, bool clamp = false) {
  py::object n = py::reinterpret_steal<py::object>(PyNumber_Index(i.ptr()));
  if (!n) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
  if (overflow == 0) return v;
  if (clamp) return overflow > 0 ? INT64_MAX : INT64_MIN;
  throw py::index_error(std::string(what) + " index out of range");
}

std::uintptr_t payload_of(pool_state& s, const value& v) {
  return reinterpret_cast<std::uintptr_t>(detail::cell_target(&s.open_impl(), v.cell()));
}

}  // namespace

detail::pool_impl& pool_state::open_impl() const {
  if (!pool || impl == nullptr) fail(error_code::closed, "the pool is closed");
  return *impl;
}

handle::handle(std::shared_ptr<pool_state> s, value val)
    : state(std::move(s)), v(std::move(val)), alive(std::make_shared<bool>(true)) {
  payload = payload_of(*state, v);
  pin_payload(v);
  state->live.insert(this);
  if (!state->stack().empty()) state->made_in_tx.emplace_back(alive, v);
}

handle::~handle() {
  state->live.erase(this);
  if (!state->pool || !*alive || !pinned) return;
  if (unpin_payload(v)) state->to_release.push_back(v);
}

void pool_state::forget_made_in_tx() {
  for (auto& [life, v] : made_in_tx) {
    auto a = life.lock();
    if (!a || !*a) continue;
    void* payload = detail::cell_target(&open_impl(), v.cell());
    if (detail::is_allocated(open_impl(), payload)) continue;  // older than the transaction
    *a = false;
    detail::unpin_cell(open_impl(), payload);
  }
  made_in_tx.clear();
}

void pool_state::flush_releases() {
  if (!pool) {
    to_release.clear();
    return;
  }
  std::vector<value> now;
  now.swap(to_release);
  for (const value& v : now) release_if_unreferenced(v);
}

const value& handle::get() const {
  state->open_impl();
  if (!*alive) {
    fail(error_code::invalid_argument,
         "this object was made in a transaction that aborted: it no longer exists");
  }
  return v;
}

namespace {

using tx_stack = std::vector<std::unique_ptr<ferrite::transaction>>;

std::shared_ptr<pool_state> open_pool(const std::string& path, const std::string& flag,
                                      std::uint64_t size, unsigned file_mode,
                                      std::uint64_t log_size) {
  pool_options o;
  if (flag == "w") {
    o.mode = open_mode::open_existing;
  } else if (flag == "x") {
    o.mode = open_mode::create_exclusive;
  } else if (flag == "c") {
    o.mode = open_mode::create_or_open;
  } else if (flag == "r") {
    o.mode = open_mode::read_only;
  } else {
    throw py::value_error("Invalid flag value '" + flag + "' (one of 'w', 'x', 'c', 'r')");
  }
  o.size = size;
  o.log_size = log_size;
  o.file_mode = file_mode;
  auto s = std::make_shared<pool_state>();
  s->pool.emplace(ferrite::pool::open(path, o));
  s->impl = &detail::impl_of(*s->pool);
  s->read_only = flag == "r";
  return s;
}

void close_pool(pool_state& s) {
  if (!s.pool) return;
  bool aborted = false;
  for (auto& [thread, stack] : s.txs) {
    aborted = aborted || !stack.empty();
    while (!stack.empty()) stack.pop_back();  // destroyed uncommitted: aborted
  }
  s.txs.clear();
  if (aborted) s.forget_made_in_tx();
  if (aborted) s.to_release.clear();  // as after an abort (end)
  // Python may keep objects past close(): their pins go now, and what only
  // they held is freed before the pool closes.
  for (handle* h : s.live) {
    if (!*h->alive || !h->pinned) continue;
    h->pinned = false;
    if (unpin_payload(h->v) && !aborted) s.to_release.push_back(h->v);
  }
  if (aborted) {
    s.to_release.clear();
  } else {
    s.flush_releases();
  }
  std::optional<ferrite::pool> p = std::move(s.pool);
  s.pool.reset();
  s.impl = nullptr;
  s.factory = py::object();
  p->close();
}

void begin(pool_state& s) {
  s.open_impl();
  if (s.stack().empty()) s.flush_releases();
  s.stack().push_back(std::make_unique<ferrite::transaction>(*s.pool));
}

void end(pool_state& s, bool commit) {
  s.open_impl();
  tx_stack& stack = s.stack();
  if (stack.empty()) {
    throw std::runtime_error(std::string(commit ? "commit" : "abort") +
                             " called outside of a transaction");
  }
  std::unique_ptr<ferrite::transaction> t = std::move(stack.back());
  stack.pop_back();
  const bool outermost = stack.empty();
  auto forget_made = [&](bool aborted) {
    if (aborted) {
      s.forget_made_in_tx();
    } else if (outermost) {
      s.made_in_tx.clear();
    }
  };
  // After an abort, a queued release may name a payload the abort undid:
  // the queue is dropped (what it held is left for gc).
  if (!commit) {
    t->abort();
    forget_made(true);
    s.to_release.clear();
    return;
  }
  try {
    t->commit();
  } catch (...) {
    forget_made(true);
    s.to_release.clear();
    throw;
  }
  forget_made(false);
  if (outermost) s.flush_releases();
}

// A new payload (count 0, pinned by its handle) holding `in`. The handle
// is made once the payload exists for good (committed, or in the running
// transaction): a failed build leaves no handle naming freed memory.
std::shared_ptr<handle> make_payload(const std::shared_ptr<pool_state>& s, const input& in) {
  detail::pool_impl& p = s->open_impl();
  s->flush_releases();
  const detail::value_cell_rep r = detail::atomically(p, [&] { return detail::build_cell(p, in); });
  return std::make_shared<handle>(s, detail::detached(&p, detail::as_cell(r)));
}

py::dict gc_stats_dict(const gc_stats& g) {
  py::dict by_type;
  for (const auto& [name, c] : g.by_type) {
    by_type[py::str(name)] = py::make_tuple(c.live, c.freed);
  }
  py::dict d;
  d["live"] = g.total.live;
  d["freed"] = g.total.freed;
  d["live_bytes"] = g.total.live_bytes;
  d["freed_bytes"] = g.total.freed_bytes;
  d["transactions"] = g.transactions;
  d["counts_repaired"] = g.counts_repaired;
  d["by_type"] = by_type;
  return d;
}

list list_of_handle(const handle& h) {
  return h.get().as_list();
}

}  // namespace

}  // namespace ferrite::python

using namespace ferrite;
using namespace ferrite::python;

PYBIND11_MODULE(_ferrite, m) {
  m.doc() = "ferrite's native binding (docs/python.md); use ferrite.pmemobj";
  register_errors(m);
  m.attr("MIN_POOL_SIZE") = ferrite::pool::min_size;

  py::class_<pool_state, std::shared_ptr<pool_state>>(m, "Pool")
      .def(py::init(&open_pool), py::arg("path"), py::arg("flag"), py::arg("size"), py::arg("mode"),
           py::arg("log_size"))
      .def("close", [](pool_state& s) { close_pool(s); })
      .def_property_readonly("closed", [](const pool_state& s) { return !s.pool.has_value(); })
      .def_property_readonly("read_only", [](const pool_state& s) { return s.read_only; })
      .def("set_factory",
           [](pool_state& s, py::object f, py::object pickled) {
             s.factory = std::move(f);
             s.pickled = std::move(pickled);
           })
      .def("get_root",
           [](const std::shared_ptr<pool_state>& s) {
             s->open_impl();
             if (!s->pool->has_root()) return py::object(py::none());
             return to_py(s, s->pool->root());
           })
      .def("set_root",
           [](pool_state& s, py::handle v) {
             s.open_impl();
             s.pool->root() = to_input(s, v);
             if (s.stack().empty()) s.flush_releases();
           })
      .def("begin", &begin)
      .def("commit", [](pool_state& s) { end(s, true); })
      .def("abort", [](pool_state& s) { end(s, false); })
      .def_property_readonly("depth", [](pool_state& s) { return s.stack().size(); })
      .def("gc",
           [](pool_state& s) {
             s.open_impl();
             s.flush_releases();
             return gc_stats_dict(s.pool->gc());
           })
      .def("stats",
           [](pool_state& s) {
             s.open_impl();
             const pool_stats st = s.pool->stats();
             py::dict d;
             d["commits"] = st.commits;
             d["fences"] = st.media.fences;
             d["syncs"] = st.media.syncs;
             d["flushed_lines"] = st.media.flushed_lines;
             d["log_bytes"] = st.log_bytes;
             d["checkpoints"] = st.checkpoints;
             d["granularity"] = std::string(to_string(s.pool->info().store_granularity));
             return d;
           })
      .def("gc_at_open",
           [](pool_state& s) -> py::object {
             s.open_impl();
             auto g = s.pool->gc_at_open();
             if (!g) return py::none();
             return gc_stats_dict(*g);
           })
      .def("new_list",
           [](const std::shared_ptr<pool_state>& s, py::handle items) {
             return make_payload(s, list_from(to_inputs(*s, items)));
           })
      .def("new_dict",
           [](const std::shared_ptr<pool_state>& s) { return make_payload(s, dict_of()); })
      .def("new_set",
           [](const std::shared_ptr<pool_state>& s, py::handle items) {
             return make_payload(s, detail::make_container(value_kind::set, to_inputs(*s, items)));
           })
      .def("new_frozenset",
           [](const std::shared_ptr<pool_state>& s, py::handle items) {
             return make_payload(
                 s, detail::make_container(value_kind::frozenset, to_inputs(*s, items)));
           })
      .def("new_tuple",
           [](const std::shared_ptr<pool_state>& s, py::handle items) {
             return make_payload(s, tuple_from(to_inputs(*s, items)));
           })
      .def("new_object", [](const std::shared_ptr<pool_state>& s, const std::string& class_name) {
        register_class(class_name);
        return make_payload(s, object_of(class_name));
      });

  py::class_<handle, std::shared_ptr<handle>>(m, "Handle")
      .def_property_readonly("kind",
                             [](const handle& h) { return std::string(h.get().type_name()); })
      .def_property_readonly("payload", [](const handle& h) { return h.payload; })
      .def_property_readonly("alive", [](const handle& h) { return h.state->pool && *h.alive; })
      .def("class_name", [](const handle& h) { return h.get().as_object().class_name(); })
      .def("same_pool", [](const handle& h, const pool_state& s) { return h.state.get() == &s; })
      // Sequences (list, tuple, frozenset).
      .def("len", [](const handle& h) { return h.get().size(); })
      .def("items",
           [](const handle& h) {
             const value& v = h.get();
             py::list out;
             switch (v.kind()) {
               case value_kind::list:
                 for (value item : v.as_list()) out.append(to_py(h.state, item));
                 break;
               case value_kind::tuple:
                 for (value item : v.as_tuple()) out.append(to_py(h.state, item));
                 break;
               case value_kind::frozenset:
                 for (value item : v.as_frozenset()) out.append(to_py(h.state, item));
                 break;
               case value_kind::set:
                 for (value item : v.as_set()) out.append(to_py(h.state, item));
                 break;
               case value_kind::dict:
                 for (value key : v.as_dict().keys()) out.append(to_py(h.state, key));
                 break;
               default:
                 fail(error_code::wrong_type, "not a container");
             }
             return out;
           })
      .def("contains",
           [](const handle& h, py::handle x) { return h.get().contains(to_probe(*h.state, x)); })
      .def("get_item",
           [](const handle& h, py::handle index) {
             const value& v = h.get();
             if (v.kind() == value_kind::list)
               return to_py(h.state, v.as_list()[index_of(index, "list")]);
             return to_py(h.state, v.as_tuple()[index_of(index, "tuple")]);
           })
      .def("set_item",
           [](const handle& h, py::handle index, py::handle x) {
             list_of_handle(h)[index_of(index, "list assignment")] = to_input(*h.state, x);
           })
      .def("append",
           [](const handle& h, py::handle x) { list_of_handle(h).append(to_input(*h.state, x)); })
      .def("insert",
           [](const handle& h, py::handle index, py::handle x) {
             list_of_handle(h).insert(index_of(index, "list", true), to_input(*h.state, x));
           })
      .def("extend", [](const handle& h,
                        py::handle xs) { list_of_handle(h).extend(to_inputs(*h.state, xs)); })
      .def("pop",
           [](const handle& h, py::handle index) {
             const std::int64_t i = index_of(index, "pop");
             list l = list_of_handle(h);
             // Converted before the item's reference is dropped, so a
             // container popped out comes back pinned.
             py::object item = to_py(h.state, l[i]);
             l.pop(i);
             return item;
           })
      .def("index",
           [](const handle& h, py::handle x) {
             const value& v = h.get();
             const input in = to_probe(*h.state, x);
             if (v.kind() == value_kind::list) return v.as_list().index(in);
             std::size_t n = 0;
             for (value item : v.as_tuple()) {
               if (item == in) return n;
               ++n;
             }
             fail(error_code::not_found, "tuple.index(x): x not in tuple");
           })
      .def("count",
           [](const handle& h, py::handle x) {
             const value& v = h.get();
             const input in = to_probe(*h.state, x);
             if (v.kind() == value_kind::list) return v.as_list().count(in);
             std::size_t n = 0;
             for (value item : v.as_tuple()) n += item == in ? 1 : 0;
             return n;
           })
      .def("clear",
           [](const handle& h) {
             const value& v = h.get();
             switch (v.kind()) {
               case value_kind::list:
                 return v.as_list().clear();
               case value_kind::dict:
                 return v.as_dict().clear();
               case value_kind::set:
                 return v.as_set().clear();
               default:
                 fail(error_code::wrong_type, "an immutable container cannot be cleared");
             }
           })
      // Dicts and objects' attributes.
      .def("get_key",
           [](const handle& h, py::handle key) {
             const value& v = h.get();
             auto found = v.kind() == value_kind::object
                              ? v.as_object().attributes().get(to_input(*h.state, key))
                              : v.as_dict().get(to_input(*h.state, key));
             if (!found) key_error(key);
             return to_py(h.state, *found);
           })
      .def("get_key_or",
           [](const handle& h, py::handle key, py::object fallback) {
             auto found = h.get().as_dict().get(to_input(*h.state, key));
             return found ? to_py(h.state, *found) : fallback;
           })
      .def("set_key",
           [](const handle& h, py::handle key, py::handle x) {
             const value& v = h.get();
             dict d = v.kind() == value_kind::object ? v.as_object().attributes() : v.as_dict();
             d.set(to_input(*h.state, key), to_input(*h.state, x));
           })
      .def("del_key",
           [](const handle& h, py::handle key) {
             const value& v = h.get();
             dict d = v.kind() == value_kind::object ? v.as_object().attributes() : v.as_dict();
             if (!d.erase(to_input(*h.state, key))) key_error(key);
           })
      .def("pop_key",
           [](const handle& h, py::handle key) {
             dict d = h.get().as_dict();
             const input k = to_input(*h.state, key);
             auto found = d.get(k);
             if (!found) key_error(key);
             py::object item = to_py(h.state, *found);
             d.erase(k);
             return item;
           })
      .def("dict_items",
           [](const handle& h) {
             const value& v = h.get();
             dict d = v.kind() == value_kind::object ? v.as_object().attributes() : v.as_dict();
             py::list out;
             for (dict::entry e : d)
               out.append(py::make_tuple(to_py(h.state, e.key), to_py(h.state, e.value)));
             return out;
           })
      // Sets.
      .def("add", [](const handle& h,
                     py::handle x) { return h.get().as_set().add(to_input(*h.state, x)); })
      .def("discard", [](const handle& h,
                         py::handle x) { return h.get().as_set().discard(to_input(*h.state, x)); })
      // Objects' attributes: AttributeError when absent.
      .def("get_attr",
           [](const handle& h, const std::string& name) {
             object o = h.get().as_object();
             if (!o.has_attr(name)) {
               throw py::attribute_error("'" + o.class_name() + "' object has no attribute '" +
                                         name + "'");
             }
             return to_py(h.state, o[name]);
           })
      .def("get_attr_or",
           [](const handle& h, const std::string& name, py::object fallback) {
             object o = h.get().as_object();
             auto found = o.attributes().get(input(name));
             return found ? to_py(h.state, *found) : fallback;
           })
      .def("set_attr", [](const handle& h, const std::string& name,
                          py::handle x) { h.get().as_object()[name] = to_input(*h.state, x); })
      .def("del_attr", [](const handle& h, const std::string& name) {
        object o = h.get().as_object();
        if (!o.del_attr(name)) {
          throw py::attribute_error("'" + o.class_name() + "' object has no attribute '" + name +
                                    "'");
        }
      });
}
