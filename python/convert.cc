// Python objects to ferrite inputs and cells back to Python objects
// (binding.h).
#include <string_view>

#include "binding.h"
#include "ferrite/base/error.h"
#include "ferrite/types/detail/value_internal.h"

namespace ferrite::python {

namespace {

constexpr std::string_view big_int_codec = "python.int";
constexpr std::string_view pickle_codec = "python.pickle";

py::object& persistent_base() {
  static py::object* base =
      new py::object(py::module_::import("ferrite.pmemobj").attr("Persistent"));
  return *base;
}

py::object& pickle_module() {
  static py::object* m = new py::object(py::module_::import("pickle"));
  return *m;
}

}  // namespace

std::vector<input> to_inputs(pool_state& s, py::handle iterable) {
  std::vector<input> items;
  for (py::handle item : py::iter(iterable)) items.push_back(to_input(s, item));
  return items;
}

input to_input(pool_state& s, py::handle o) {
  PyObject* p = o.ptr();
  if (p == Py_None) return input();
  if (PyBool_Check(p)) return input(p == Py_True);
  if (PyLong_CheckExact(p)) {
    int overflow = 0;
    const long long i = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow == 0) {
      if (i == -1 && PyErr_Occurred()) throw py::error_already_set();
      return input(static_cast<std::int64_t>(i));
    }
    return encoded(big_int_codec, std::string(py::str(o)));
  }
  if (PyFloat_CheckExact(p)) return input(PyFloat_AS_DOUBLE(p));
  if (PyUnicode_CheckExact(p)) {
    Py_ssize_t n = 0;
    const char* text = PyUnicode_AsUTF8AndSize(p, &n);
    if (text == nullptr) throw py::error_already_set();
    return input(std::string_view(text, static_cast<std::size_t>(n)));
  }
  if (PyBytes_CheckExact(p)) {
    return bytes_of(
        std::string_view(PyBytes_AS_STRING(p), static_cast<std::size_t>(PyBytes_GET_SIZE(p))));
  }
  if (py::isinstance(o, persistent_base())) {
    const handle& h = o.attr("_p_h").cast<const handle&>();
    if (h.state.get() != &s) {
      throw py::value_error("this persistent object belongs to another pool (" +
                            std::string(py::repr(o)) + "): objects cannot be shared between pools");
    }
    return input(h.get());
  }
  if (PyTuple_CheckExact(p)) return tuple_from(to_inputs(s, o));
  if (PyFrozenSet_CheckExact(p))
    return detail::make_container(value_kind::frozenset, to_inputs(s, o));
  if (s.pickled && s.pickled.contains(py::type::of(o))) {
    py::bytes data = pickle_module().attr("dumps")(o);
    return encoded(pickle_codec, std::string_view(data));
  }
  std::string what = py::str(py::type::of(o).attr("__module__")).cast<std::string>() + "." +
                     py::str(py::type::of(o).attr("__qualname__")).cast<std::string>();
  std::string hint;
  if (PyList_Check(p) || PyDict_Check(p) || PyAnySet_Check(p)) {
    hint =
        " (make a persistent one: pool.new(PersistentList, items), PersistentDict, PersistentSet)";
  } else {
    hint = " (pool.persist_via_pickle(type) stores an immutable type by pickling)";
  }
  throw py::type_error("Don't know how to persist " + what + hint);
}

input to_probe(pool_state& s, py::handle o) {
  PyObject* p = o.ptr();
  if (PyList_CheckExact(p)) {
    std::vector<input> items;
    for (py::handle item : o) items.push_back(to_probe(s, item));
    return list_from(std::move(items));
  }
  if (PySet_CheckExact(p)) {
    std::vector<input> items;
    for (py::handle item : o) items.push_back(to_probe(s, item));
    return detail::make_container(value_kind::set, std::move(items));
  }
  if (PyDict_CheckExact(p)) {
    std::vector<input> kv;
    for (auto [k, v] : py::reinterpret_borrow<py::dict>(o)) {
      kv.push_back(to_probe(s, k));
      kv.push_back(to_probe(s, v));
    }
    return detail::make_container(value_kind::dict, std::move(kv));
  }
  return to_input(s, o);
}

py::object to_py(const std::shared_ptr<pool_state>& s, const value& v) {
  const value_cell& c = v.cell();
  switch (c.kind()) {
    case value_kind::none:
      return py::none();
    case value_kind::boolean:
      return py::bool_(v.as_bool());
    case value_kind::integer:
      return py::int_(v.as_int());
    case value_kind::floating:
      return py::float_(v.as_float());
    case value_kind::string: {
      std::string_view t = v.as_str();
      PyObject* u =
          PyUnicode_DecodeUTF8(t.data(), static_cast<Py_ssize_t>(t.size()), "surrogateescape");
      if (u == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(u);
    }
    case value_kind::bytes: {
      std::string_view t = v.as_bytes();
      return py::bytes(t.data(), t.size());
    }
    case value_kind::encoded: {
      const std::string codec = v.type_name();
      std::string_view data = detail::value_access::encoded_bytes(v, codec);
      if (codec == big_int_codec) {
        PyObject* i = PyLong_FromString(std::string(data).c_str(), nullptr, 10);
        if (i == nullptr) throw py::error_already_set();
        return py::reinterpret_steal<py::object>(i);
      }
      if (codec == pickle_codec) {
        return pickle_module().attr("loads")(py::bytes(data.data(), data.size()));
      }
      // A C++ value_codec's bytes: shown as (codec name, bytes).
      return py::make_tuple(py::str(codec), py::bytes(data.data(), data.size()));
    }
    case value_kind::list:
    case value_kind::dict:
    case value_kind::set:
    case value_kind::frozenset:
    case value_kind::tuple:
    case value_kind::object:
      return s->factory(std::make_shared<handle>(s, detail::detached(&s->open_impl(), c)));
  }
  fail(error_code::corrupted, "a value cell of unknown kind");
}

}  // namespace ferrite::python
