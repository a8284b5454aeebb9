// Python's text forms of scalars, shared by value::repr() and `ferrite dump`.
#pragma once

#include <string>
#include <string_view>

#include "ferrite/base/format/value_format.h"

namespace ferrite::detail {

// Appends Python's repr of a str (or, with `bytes`, of a bytes: b'...').
void python_quote(std::string& out, std::string_view text, bool bytes);
// Python's repr of a float: the shortest digits that read back, in fixed
// notation when the exponent is in [-4, 16), else as 1e+16 / 3e-05.
std::string python_float(double f);
// Python's type name of a kind ("NoneType", "int", "list", ...; "object"
// and "encoded" for those, whose real names are their class / codec).
const char* python_kind_name(value_kind k) noexcept;

}  // namespace ferrite::detail
