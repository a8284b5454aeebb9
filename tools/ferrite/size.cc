#include <cctype>
#include <limits>

#include "tools/ferrite/commands.h"

namespace ferrite::cli {

std::uint64_t parse_size(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) throw CLI::ValidationError("size", "'" + text + "' is not a size (e.g. 64M, 1G)");
  std::uint64_t value = 0;
  for (std::size_t k = 0; k < i; ++k) {
    std::uint64_t digit = static_cast<std::uint64_t>(text[k] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      throw CLI::ValidationError("size", "'" + text + "' is too large");
    }
    value = value * 10 + digit;
  }
  std::string unit;
  for (std::size_t k = i; k < text.size(); ++k) {
    if (text[k] != ' ')
      unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[k])));
  }
  int shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "K" || unit == "KB" || unit == "KIB")
    shift = 10;
  else if (unit == "M" || unit == "MB" || unit == "MIB")
    shift = 20;
  else if (unit == "G" || unit == "GB" || unit == "GIB")
    shift = 30;
  else if (unit == "T" || unit == "TB" || unit == "TIB")
    shift = 40;
  else
    throw CLI::ValidationError("size", "unknown unit in '" + text + "' (use K, M, G or T)");
  if (shift && value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    throw CLI::ValidationError("size", "'" + text + "' is too large");
  }
  return value << shift;
}

}  // namespace ferrite::cli
