// B+-tree core: the invariant checker (btree.h, btree_check).
//
// Walks the tree depth first with the key range each subtree must respect,
// then compares the leaves met, in order, with the leaf chain. Used by the
// tests and the crash runner; reads only, and never trusts a count or a
// pointer before checking it.
#include <vector>

#include "ferrite/base/error.h"
#include "ferrite/types/detail/btree_node.h"

namespace ferrite::detail {

namespace {

class checker {
 public:
  checker(const btree_rep& rep, const btree_traits& t, const btree_geometry& g)
      : rep_(rep), t_(t), g_(g) {}

  std::string run();

 private:
  // `low`/`high`: stored keys bounding the subtree (null: unbounded); keys
  // k must satisfy low <= k < high.
  std::string walk(std::uint64_t raw, std::uint32_t depth, const std::byte* low,
                   const std::byte* high, bool root);

  const btree_rep& rep_;
  const btree_traits& t_;
  const btree_geometry& g_;
  std::vector<std::byte*> leaves_;
  std::uint64_t keys_ = 0;
};

std::string at_depth(std::uint32_t depth) {
  return " (at depth " + std::to_string(depth) + ")";
}

std::string checker::walk(std::uint64_t raw, std::uint32_t depth, const std::byte* low,
                          const std::byte* high, bool root) {
  if (raw == 0) return "a null child pointer" + at_depth(depth);
  const bool leaf = depth == rep_.height;
  if (!pptr_in_heap(raw, leaf ? g_.leaf_bytes : g_.inner_bytes, g_.node_align)) {
    return "a child pointer (offset " + std::to_string(raw & pptr_offset_mask) +
           ") to a node outside the heap or misaligned" + at_depth(depth);
  }
  std::byte* node = static_cast<std::byte*>(
      pptr_resolve(raw, leaf ? g_.leaf_bytes : g_.inner_bytes, g_.node_align));
  const btree_node_header& h = header_of(node);
  if (h.is_leaf != (leaf ? 1 : 0)) {
    return "a node with is_leaf " + std::to_string(h.is_leaf) + at_depth(depth) +
           " in a tree of height " + std::to_string(rep_.height);
  }
  const std::uint32_t cap = leaf ? g_.leaf_capacity : g_.inner_capacity;
  if (h.count > cap) {
    return "a node holds " + std::to_string(h.count) + " keys, more than its capacity " +
           std::to_string(cap) + at_depth(depth);
  }
  if (h.count == 0 && !root) return "an empty non-root node" + at_depth(depth);
  for (std::uint32_t i = 0; i < h.count; ++i) {
    const std::byte* k = key_at(g_, node, i);
    if (i > 0 && t_.compare_stored(key_at(g_, node, i - 1), k) >= 0) {
      return "keys out of order inside a node" + at_depth(depth);
    }
    if (low && t_.compare_stored(k, low) < 0) {
      return "a key below the separator bounding its subtree" + at_depth(depth);
    }
    if (high && t_.compare_stored(k, high) >= 0) {
      return "a key not below the separator bounding its subtree" + at_depth(depth);
    }
  }
  if (leaf) {
    leaves_.push_back(node);
    keys_ += h.count;
    return "";
  }
  if (h.next_leaf != 0) return "an inner node with a next_leaf link" + at_depth(depth);
  for (std::uint32_t i = 0; i <= h.count; ++i) {
    const std::byte* lo = i == 0 ? low : key_at(g_, node, i - 1);
    const std::byte* hi = i == h.count ? high : key_at(g_, node, i);
    std::string problem = walk(children_of(g_, node)[i], depth + 1, lo, hi, false);
    if (!problem.empty()) return problem;
  }
  return "";
}

std::string checker::run() {
  if (rep_.root == 0) {
    if (rep_.size != 0 || rep_.first_leaf != 0 || rep_.height != 0) {
      return "an empty tree with size " + std::to_string(rep_.size) + ", height " +
             std::to_string(rep_.height) + " or a first leaf";
    }
    return "";
  }
  std::string problem = walk(rep_.root, 0, nullptr, nullptr, true);
  if (!problem.empty()) return problem;
  if (header_of(leaves_.front()).count == 0) return "an empty root leaf";
  if (keys_ != rep_.size) {
    return "size is " + std::to_string(rep_.size) + " but the leaves hold " +
           std::to_string(keys_) + " keys";
  }
  // The chain must link exactly the leaves met, in order; then keys
  // increase along it (inside leaves and across separators, checked above).
  std::uint64_t raw = rep_.first_leaf;
  for (std::size_t i = 0; i < leaves_.size(); ++i) {
    if (pptr<std::byte>::from_raw(raw).get() != leaves_[i]) {
      return "the leaf chain does not link leaf " + std::to_string(i) + " in key order";
    }
    raw = header_of(leaves_[i]).next_leaf;
  }
  if (raw != 0) return "the leaf chain goes on past the last leaf";
  for (std::size_t i = 1; i < leaves_.size(); ++i) {
    const btree_node_header& prev = header_of(leaves_[i - 1]);
    if (t_.compare_stored(key_at(g_, leaves_[i - 1], prev.count - 1u), key_at(g_, leaves_[i], 0)) >=
        0) {
      return "keys do not increase from leaf " + std::to_string(i - 1) + " to the next";
    }
  }
  return "";
}

}  // namespace

std::string btree_check(const btree_rep& rep, const btree_traits& t) {
  btree_geometry g;
  try {
    g = btree_geometry_of(rep, t);
  } catch (const error& e) {
    return e.what();
  }
  if (rep.root != 0 && (rep.leaf_capacity == 0 || rep.inner_capacity == 0)) {
    return "a non-empty tree without stored node capacities";
  }
  try {
    return checker(rep, t, g).run();
  } catch (const error& e) {  // a pointer of a pool that is not open
    return e.what();
  }
}

}  // namespace ferrite::detail
