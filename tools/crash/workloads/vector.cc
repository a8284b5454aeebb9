// Built-in workload on ferrite::vector: vector.
//
// The root holds a vector<i64> and a vector<ferrite::string>. An operation
// runs one to four steps (push_back, pop_back, insert, erase of one element
// or a range, set, resize, reserve, shrink_to_fit, assign, clear, and
// misuse that must throw out_of_range and change nothing) as one call
// atomic on its own, in a transaction (sometimes nested), or in a
// transaction that aborts. Every eighth operation, from the third, makes
// the numbers a vector of 33,000 (a 264 KB extent, written directly rather
// than through the log) or shrinks it back.
//
// Model: std::vector<std::int64_t>, std::vector<std::string>, on
// typed::skeleton (typed_skeleton.h). compare(): the elements equal the
// model's (read through image_view; on the handle that owns the pool's tag
// also through the vector's own API). walk(): each vector's layout
// invariants (data == 0 iff capacity == 0, size <= capacity, a buffer of
// the vector's type holding capacity elements), every string element's;
// the skeleton adds no leak: the heap holds exactly the root, the two
// buffers and the strings' buffers.
//
// Capacities stay powers of two outside the extent (resize, reserve and
// assign to 8, 16 or 32; shrink_to_fit at such sizes), so that the buffers
// use few size classes: the allocator keeps a chunk for every size class
// it ever used, and the process kills run thousands of operations.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "ferrite/types/string.h"
#include "ferrite/types/vector.h"
#include "tools/crash/workloads/builtin.h"
#include "tools/crash/workloads/typed_skeleton.h"

namespace ferrite::crash::vector_workload {

struct root {
  std::uint64_t commits;  // typed::commit_counter
  std::uint64_t complement;
  ferrite::vector<std::int64_t> nums;
  ferrite::vector<ferrite::string> words;
};
FERRITE_TYPE(root, "crash.VectorRoot", commits, complement, nums, words)

namespace {

using typed::tx_mode;

constexpr std::size_t max_nums = 32;
constexpr std::size_t max_words = 8;
constexpr std::size_t big_nums = 33000;  // 264,000 bytes: an extent

enum class kind {
  push,
  pop,
  insert,
  erase,
  erase_range,
  set,
  resize,
  reserve,
  shrink,
  assign,
  clear,
  misuse,
  big,
  small,  // nums only: to the extent and back
};

struct step {
  bool words = false;  // which vector
  kind what = kind::push;
  std::size_t a = 0, b = 0;        // index / range / count
  std::vector<std::int64_t> nums;  // values (push, insert, set, assign)
  std::string text;                // words: push, insert, set
};

std::int64_t value(std::mt19937_64& rng) {
  return static_cast<std::int64_t>(rng() % 2000) - 1000;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find(' ', at);
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

template <class T, class V>
void apply_generic(std::vector<T>& v, const step& s, const V& one) {
  switch (s.what) {
    case kind::push:
      v.push_back(one);
      break;
    case kind::pop:
      v.pop_back();
      break;
    case kind::insert:
      v.insert(v.begin() + static_cast<std::ptrdiff_t>(s.a), one);
      break;
    case kind::erase:
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(s.a));
      break;
    case kind::erase_range:
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(s.a),
              v.begin() + static_cast<std::ptrdiff_t>(s.b));
      break;
    case kind::set:
      v[s.a] = one;
      break;
    case kind::resize:
      v.resize(s.a);
      break;
    case kind::clear:
      v.clear();
      break;
    case kind::reserve:
    case kind::shrink:
    case kind::misuse:
    case kind::assign:
    case kind::big:
    case kind::small:
      break;
  }
}

// The model's contents.
struct state {
  std::vector<std::int64_t> nums;
  std::vector<std::string> words;
  bool went_big = false;  // for end_of_run

  void apply(const step& s) {
    if (s.what == kind::big) {
      nums.resize(big_nums);
      for (std::size_t i = 0; i < big_nums; i += 1000) nums[i] = static_cast<std::int64_t>(i);
      went_big = true;
      return;
    }
    if (s.what == kind::small) {
      nums.resize(s.a);
      return;
    }
    if (s.words) {
      if (s.what == kind::assign) words = split_words(s.text);
      apply_generic(words, s, s.text);
    } else {
      if (s.what == kind::assign) nums = s.nums;
      apply_generic(nums, s, s.nums.empty() ? 0 : s.nums.front());
    }
  }
};

class vector_model final : public typed::skeleton<vector_model, root, state, step> {
 public:
  using skeleton::skeleton;
  std::string end_of_run(const pool&) const override {
    return state_.went_big ? "" : "the numbers never became an extent";
  }

  typed::plan<step> plan_of(std::uint64_t op) const;
  static void perform_step(pool&, root& r, const step& s, tx_mode);
  std::string compare(image_view& v, const root& r) const;
  std::string walk(image_view& v, const root& r) const;
};

typed::plan<step> vector_model::plan_of(std::uint64_t op) const {
  std::mt19937_64 rng = op_rng(seed_, op);
  typed::plan<step> pl;
  state st = state_;  // planned on a copy: later steps see earlier ones
  if (op % 8 == 2) {  // to the extent, or back: several calls, never atomic
    pl.how = op < 8 ? tx_mode::transaction : typed::pick_mode(rng, false);
    step s;
    s.what = st.nums.size() > max_nums ? kind::small : kind::big;
    s.a = rng() % 2 ? 8 : 0;  // small: the size kept
    pl.steps.push_back(s);
    return pl;
  }
  const std::size_t n = pl.pick(rng, has_root_);
  for (std::size_t i = 0; i < n; ++i) {
    step s;
    s.words = rng() % 3 == 0;
    const std::size_t size = s.words ? st.words.size() : st.nums.size();
    const std::size_t max = s.words ? max_words : max_nums;
    // The extent: erase (a rebuild when the tail is over 256 KiB), pop, set,
    // never a growth.
    const bool big = !s.words && size > max_nums;
    std::uint64_t k = rng() % 20;
    if (big && k < 6) k += 6;
    auto text_or_value = [&] {
      if (s.words) {
        s.text = typed::short_text(rng);
      } else {
        s.nums = {value(rng)};
      }
    };
    if (size == 0 && k >= 14) {
      s.what = kind::misuse;
    } else if (size == 0 || (size < max && k < 6)) {
      s.what = k % 2 || size == 0 ? kind::push : kind::insert;
      s.a = rng() % (size + 1);
      text_or_value();
    } else if (k < 9 && size > 0) {
      s.what = k == 6 ? kind::pop : k == 7 ? kind::erase : kind::erase_range;
      s.a = rng() % size;
      s.b = s.a + rng() % std::min<std::size_t>(size - s.a + 1, 4);
      if (big) {
        // Near the front (a tail over 256 KiB: the buffer is rebuilt) or near
        // the end (a tail under 32 KiB, logged). Not in between: the vector
        // logs tails up to 256 KiB, more than half of this pool's log (see
        // docs/crash.md, "Known limits").
        s.what = kind::erase;
        s.a = rng() % 2 ? rng() % 200 : size - 1 - rng() % 4000;
      }
    } else if (k < 13 && size > 0) {
      s.what = kind::set;
      s.a = rng() % size;
      text_or_value();
    } else if (big) {
      s.what = kind::misuse;
    } else if (k == 13) {
      s.what = kind::resize;
      s.a = s.words ? (rng() % 2 ? 4 : 8) : std::size_t{8} << rng() % 3;
      s.a = std::min(s.a, max);
    } else if (k == 14) {
      s.what = kind::reserve;
      s.a = s.words ? 8 : std::size_t{16} << rng() % 2;
    } else if (k == 15) {
      s.what = kind::shrink;
    } else if (k == 16) {
      s.what = kind::assign;
      const std::size_t count = std::min<std::size_t>(rng() % 2 ? 8 : 4, max);
      for (std::size_t j = 0; j < count; ++j) {
        if (s.words) {
          s.text += typed::letters(rng, 1 + rng() % 5) + " ";  // words, split on ' '
        } else {
          s.nums.push_back(value(rng));
        }
      }
    } else if (k == 17) {
      s.what = kind::clear;
    } else {
      s.what = kind::misuse;
      s.a = rng() % 3;
    }
    // shrink_to_fit only at sizes that keep capacities in few size classes
    if (s.what == kind::shrink && size != 0 && size != 4 && size != 8 && size != 16 && size != 32) {
      s.what = kind::misuse;
    }
    st.apply(s);
    pl.steps.push_back(std::move(s));
  }
  return pl;
}

template <class T, class In>
void perform_generic(ferrite::vector<T>& v, const step& s, In one) {
  switch (s.what) {
    case kind::push:
      v.push_back(one);
      return;
    case kind::pop:
      v.pop_back();
      return;
    case kind::insert:
      v.insert(s.a, one);
      return;
    case kind::erase:
      v.erase(s.a);
      return;
    case kind::erase_range:
      v.erase(s.a, s.b);
      return;
    case kind::set:
      v.set(s.a, one);
      return;
    case kind::resize:
      v.resize(s.a);
      return;
    case kind::reserve:
      v.reserve(s.a);
      return;
    case kind::shrink:
      v.shrink_to_fit();
      return;
    case kind::clear:
      v.clear();
      return;
    case kind::misuse:
      // a position outside the vector: out_of_range (as the value model's
      // list), nothing changed, the transaction goes on
      typed::expect_misuse(error_code::out_of_range, "vector misuse", [&] {
        switch (s.a) {
          case 0:
            v.erase(v.size());
            break;
          case 1:
            v.insert(v.size() + 1, one);
            break;
          default:
            if (v.empty())
              v.pop_back();
            else
              (void)v.at(v.size());
        }
      });
      return;
    case kind::assign:
    case kind::big:
    case kind::small:
      return;
  }
}

void vector_model::perform_step(pool&, root& r, const step& s, tx_mode) {
  if (s.what == kind::big) {
    r.nums.resize(big_nums);
    for (std::size_t i = 0; i < big_nums; i += 1000) r.nums.set(i, static_cast<std::int64_t>(i));
    return;
  }
  if (s.what == kind::small) {
    r.nums.resize(s.a);
    r.nums.shrink_to_fit();
    return;
  }
  if (s.words) {
    if (s.what == kind::assign) {
      const std::vector<std::string> w = split_words(s.text);
      const std::vector<std::string_view> views(w.begin(), w.end());
      r.words.assign(views.begin(), views.end());
      return;
    }
    perform_generic(r.words, s, std::string_view(s.text));
  } else {
    if (s.what == kind::assign) {
      r.nums.assign(s.nums.begin(), s.nums.end());
      return;
    }
    perform_generic(r.nums, s, s.nums.empty() ? std::int64_t{0} : s.nums.front());
  }
}

// The elements of both vectors, read through `v`.
struct contents {
  std::vector<std::int64_t> nums;
  std::vector<std::string> words;
};

contents read(image_view& v, const root& r) {
  contents c;
  std::uint64_t n = 0;
  const std::byte* buf = v.vector_buffer(&r.nums, sizeof(std::int64_t),
                                         typed::stored_name<ferrite::vector<std::int64_t>>(), n);
  c.nums.resize(n);
  if (n) std::memcpy(c.nums.data(), buf, n * sizeof(std::int64_t));
  buf = v.vector_buffer(&r.words, sizeof(ferrite::string),
                        typed::stored_name<ferrite::vector<ferrite::string>>(), n);
  for (std::uint64_t i = 0; i < n; ++i) {
    c.words.push_back(v.text(reinterpret_cast<const ferrite::string*>(buf)[i]));
  }
  return c;
}

std::string vector_model::compare(image_view& v, const root& r) const {
  const contents c = read(v, r);
  const std::vector<std::int64_t>& nums = state_.nums;
  const std::vector<std::string>& words = state_.words;
  if (std::string d = typed::first_difference(c.nums, nums, "the numbers"); !d.empty()) return d;
  if (std::string d = typed::first_difference(c.words, words, "the words"); !d.empty()) return d;
  if (v.owns_pointers()) {  // the vector's own reading API, too
    if (!std::equal(r.nums.begin(), r.nums.end(), nums.begin(), nums.end())) {
      return "vector<i64> iteration differs from its bytes";
    }
    if (r.words.size() != words.size()) return "vector<string>::size() differs";
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (r.words.at(i).view() != words[i]) return "vector<string>::at() differs";
    }
    if (!nums.empty() && (r.nums.front() != nums.front() || r.nums.back() != nums.back())) {
      return "vector<i64>::front()/back() differ";
    }
  }
  return "";
}

std::string vector_model::walk(image_view& v, const root& r) const {
  read(v, r);  // every layout invariant, each buffer reached once
  return "";
}

}  // namespace
}  // namespace ferrite::crash::vector_workload

namespace ferrite::crash::builtin {

workload_info vector() {
  workload_info w = typed::info<vector_workload::vector_model>(
      "vector",
      "ferrite::vector<i64> and vector<string>: push/pop/insert/erase/set/resize/reserve/"
      "shrink/assign/clear, misuse, a 264 KB extent; aborted and nested transactions");
  w.pool_sizes = {4ull << 20};  // the extent, and a chunk per size class
  w.quick_ops = 8;
  w.long_ops = 60;
  return w;
}

}  // namespace ferrite::crash::builtin
