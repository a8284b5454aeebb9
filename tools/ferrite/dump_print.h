// Internal to `ferrite dump`'s printers (dump_print.cc: the generic tree,
// dump_print_values.cc: value cells as Python reprs). See dump.h.
//
// Thread-safety: pure functions of their arguments.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "tools/ferrite/dump.h"

namespace ferrite::cli::print_detail {

using json = nlohmann::ordered_json;

inline constexpr std::size_t inline_width = 100;  // longest one-line form

// Generic tree (dump_print.cc).
bool one_line(const dump_value& v, std::string& out);  // false: v needs a block
void print_value(const std::string& label, const dump_value& v, int indent, std::ostream& out);
json json_of(const dump_value& v);

// Value cells (dump_print_values.cc), v.what == kind::dynamic.
// Python's repr of v ({'number': 42, 'guesses': [25]}); false when it does
// not fit inline_width or holds a problem note that needs its own line.
bool cell_line(const dump_value& v, std::string& out);
// The block form: "label: dict @OFF size N", then one line per item.
void print_cell(const std::string& label, const dump_value& v, int indent, std::ostream& out);
// {"kind": "int", "value": 42}, {"kind": "list", "offset": N, "items": [...]}...
json cell_json(const dump_value& v);

}  // namespace ferrite::cli::print_detail
