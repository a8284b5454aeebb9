// ferrite::error as Python exceptions (binding.h): the builtin exception
// nvm.pmemobj raised for the same mistake where there is one (OSError and
// its subclasses, ValueError, TypeError, KeyError, IndexError,
// MemoryError, RuntimeError), else ferrite.pmemobj.FerriteError, an
// OSError whose `code` names the ferrite error ("corrupted").
#include <cerrno>

#include "binding.h"
#include "ferrite/base/error.h"

namespace ferrite::python {

namespace {

PyObject* ferrite_error_type = nullptr;
PyObject* tx_aborted_type = nullptr;

// Raises type(errno, message) with .code set.
void raise_os(PyObject* type, int err, const ferrite::error& e) {
  py::object exc = py::reinterpret_borrow<py::object>(type)(err, e.what());
  exc.attr("code") = py::str(std::string(to_string(e.code())));
  PyErr_SetObject(type, exc.ptr());
}

void translate(const ferrite::error& e) {
  switch (e.code()) {
    case error_code::file_missing:
      return raise_os(PyExc_FileNotFoundError, ENOENT, e);
    case error_code::file_exists:
      return raise_os(PyExc_FileExistsError, EEXIST, e);
    case error_code::permission_denied:
      return raise_os(PyExc_PermissionError, EACCES, e);
    case error_code::no_space:
      return raise_os(ferrite_error_type, ENOSPC, e);
    case error_code::io_error:
      return raise_os(ferrite_error_type, EIO, e);
    case error_code::read_only:
      return raise_os(ferrite_error_type, EROFS, e);
    case error_code::pool_locked:
      return raise_os(ferrite_error_type, EBUSY, e);
    case error_code::tx_aborted:
      return raise_os(tx_aborted_type, ECANCELED, e);
    case error_code::not_a_pool:
    case error_code::bad_version:
    case error_code::corrupted:
    case error_code::truncated:
    case error_code::layout_mismatch:
    case error_code::missing_snapshot:
      return raise_os(ferrite_error_type, EINVAL, e);
    case error_code::too_small:
    case error_code::invalid_argument:
    case error_code::closed:
      PyErr_SetString(PyExc_ValueError, e.what());
      return;
    case error_code::out_of_space:
      PyErr_SetString(PyExc_MemoryError, e.what());
      return;
    case error_code::tx_invalid:
      PyErr_SetString(PyExc_RuntimeError, e.what());
      return;
    case error_code::wrong_type:
      PyErr_SetString(PyExc_TypeError, e.what());
      return;
    case error_code::not_found:
      PyErr_SetString(PyExc_KeyError, e.what());
      return;
    case error_code::out_of_range:
      PyErr_SetString(PyExc_IndexError, e.what());
      return;
  }
  PyErr_SetString(PyExc_RuntimeError, e.what());
}

}  // namespace

void register_errors(py::module_& m) {
  static py::exception<ferrite::error> base(m, "FerriteError", PyExc_OSError);
  static py::object aborted = py::reinterpret_borrow<py::object>(PyErr_NewExceptionWithDoc(
      "ferrite._ferrite.TransactionAborted",
      "The transaction was aborted (an inner abort, or an error inside it): nothing it changed "
      "was kept.",
      base.ptr(), nullptr));
  ferrite_error_type = base.ptr();
  tx_aborted_type = aborted.ptr();
  m.attr("TransactionAborted") = aborted;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ferrite::error& e) {
      translate(e);
    }
  });
}

}  // namespace ferrite::python
