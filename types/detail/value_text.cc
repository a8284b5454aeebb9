#include "ferrite/types/detail/value_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ferrite::detail {

void python_quote(std::string& out, std::string_view text, bool bytes) {
  const bool dq =
      text.find('\'') != std::string_view::npos && text.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  if (bytes) out += 'b';
  out += q;
  for (unsigned char ch : text) {
    if (ch == static_cast<unsigned char>(q) || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (ch < 0x20 || ch == 0x7f || (bytes && ch >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    } else {
      out += static_cast<char>(ch);
    }
  }
  out += q;
}

std::string python_float(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  const int exponent = std::atoi(s.c_str() + s.find('e') + 1);
  if (exponent < -4 || exponent >= 16) return s;
  r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed);
  s.assign(buf, r.ptr);
  if (s.find('.') == std::string::npos) s += ".0";  // 3.0, not 3
  return s;
}

const char* python_kind_name(value_kind k) noexcept {
  switch (k) {
    case value_kind::none:
      return "NoneType";
    case value_kind::boolean:
      return "bool";
    case value_kind::integer:
      return "int";
    case value_kind::floating:
      return "float";
    case value_kind::string:
      return "str";
    case value_kind::bytes:
      return "bytes";
    case value_kind::list:
      return "list";
    case value_kind::dict:
      return "dict";
    case value_kind::set:
      return "set";
    case value_kind::frozenset:
      return "frozenset";
    case value_kind::tuple:
      return "tuple";
    case value_kind::object:
      return "object";
    case value_kind::encoded:
      return "encoded";
  }
  return "unknown";
}

}  // namespace ferrite::detail
