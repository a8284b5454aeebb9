// B+-tree core: erase, clear and release (btree.h).
//
// Erase removes the key from its leaf. A leaf left empty is unlinked from
// the leaf chain, freed, and removed from its parent with the separator
// that bounded it. An inner node left without keys (one child) is merged
// into an adjacent sibling with room, or else takes one child from that
// (full) sibling through the parent; the parent may in turn lose a key.
// An inner root left with one child is replaced by that child. Leaves are
// never merged: they may be sparse after many erases, but every node but
// the root holds at least one key and every leaf stays at depth `height`.
#include "ferrite/types/detail/btree_node.h"

namespace ferrite::detail {

namespace {

// Removes key `k` and child `c` from an inner node (shifting the rest left);
// the key's bytes are dropped, not released.
void remove_from_inner(const btree_geometry& g, std::byte* node, std::uint32_t k, std::uint32_t c) {
  btree_node_header& h = header_of(node);
  const std::uint32_t n = h.count;
  tx_snapshot(key_at(g, node, k), std::size_t{n - k} * g.key_size);
  std::memmove(key_at(g, node, k), key_at(g, node, k + 1), std::size_t{n - k - 1} * g.key_size);
  std::uint64_t* ch = children_of(g, node);
  tx_snapshot(ch + c, std::size_t{n + 1 - c} * 8);
  std::memmove(ch + c, ch + c + 1, std::size_t{n - c} * 8);
  tx_snapshot(&h.count, sizeof h.count);
  h.count = static_cast<std::uint16_t>(n - 1);
}

class eraser {
 public:
  eraser(pool_impl& p, btree_rep& rep, const btree_traits& t)
      : p_(p), rep_(rep), t_(t), g_(btree_geometry_of(rep, t)) {}

  std::size_t run(const void* probe);

 private:
  void remove_leaf(std::byte* leaf);
  // The leaf before the one reached through path_[0 .. height), or null.
  std::byte* previous_leaf() const;
  // path_[level].node has no key left and one child.
  void fix_empty_inner(int level);

  pool_impl& p_;
  btree_rep& rep_;
  const btree_traits& t_;
  btree_geometry g_;
  btree_step path_[btree_max_height];
};

std::size_t eraser::run(const void* probe) {
  std::byte* leaf = btree_descend(rep_, t_, g_, probe, path_);
  const std::uint32_t pos = lower_index(t_, g_, leaf, probe);
  btree_node_header& h = header_of(leaf);
  if (pos == h.count || t_.compare(key_at(g_, leaf, pos), probe) != 0) return 0;
  if (t_.key_owns_storage) t_.release_key(p_, key_at(g_, leaf, pos));
  if (g_.value_size && t_.value_owns_storage) t_.release_value(p_, value_at(g_, leaf, pos));
  tx_snapshot(&rep_.size, sizeof rep_.size);
  --rep_.size;
  if (h.count == 1) {
    remove_leaf(leaf);
    return 1;
  }
  const std::uint32_t n = h.count;
  tx_snapshot(key_at(g_, leaf, pos), std::size_t{n - pos} * g_.key_size);
  std::memmove(key_at(g_, leaf, pos), key_at(g_, leaf, pos + 1),
               std::size_t{n - pos - 1} * g_.key_size);
  if (g_.value_size) {
    tx_snapshot(value_at(g_, leaf, pos), std::size_t{n - pos} * g_.value_size);
    std::memmove(value_at(g_, leaf, pos), value_at(g_, leaf, pos + 1),
                 std::size_t{n - pos - 1} * g_.value_size);
  }
  tx_snapshot(&h.count, sizeof h.count);
  h.count = static_cast<std::uint16_t>(n - 1);
  return 1;
}

std::byte* eraser::previous_leaf() const {
  int level = static_cast<int>(rep_.height) - 1;
  while (level >= 0 && path_[level].child == 0) --level;
  if (level < 0) return nullptr;
  std::uint64_t raw = children_of(g_, path_[level].node)[path_[level].child - 1];
  for (std::uint32_t l = static_cast<std::uint32_t>(level) + 1; l < rep_.height; ++l) {
    std::byte* node = node_at(g_, raw, false);
    raw = children_of(g_, node)[header_of(node).count];
  }
  return node_at(g_, raw, true);
}

void eraser::remove_leaf(std::byte* leaf) {
  const std::uint64_t next = header_of(leaf).next_leaf;
  if (rep_.height == 0) {  // the root: the tree is empty now
    tx_free(p_, leaf);
    tx_snapshot(&rep_, sizeof rep_);
    rep_.root = rep_.first_leaf = 0;
    return;
  }
  if (std::byte* prev = previous_leaf()) {
    tx_snapshot(&header_of(prev).next_leaf, 8);
    header_of(prev).next_leaf = next;
  } else {
    tx_snapshot(&rep_.first_leaf, 8);
    rep_.first_leaf = next;
  }
  tx_free(p_, leaf);
  const int level = static_cast<int>(rep_.height) - 1;
  std::byte* parent = path_[level].node;
  const std::uint32_t c = path_[level].child;
  const std::uint32_t k = c > 0 ? c - 1 : 0;  // the separator bounding the leaf
  if (t_.key_owns_storage) t_.release_key(p_, key_at(g_, parent, k));
  remove_from_inner(g_, parent, k, c);
  if (header_of(parent).count == 0) fix_empty_inner(level);
}

void eraser::fix_empty_inner(int level) {
  for (;; --level) {
    std::byte* node = path_[level].node;
    const std::uint64_t only = children_of(g_, node)[0];
    if (level == 0) {  // the root: its child becomes the root
      tx_free(p_, node);
      tx_snapshot(&rep_, sizeof rep_);
      rep_.root = only;
      --rep_.height;
      return;
    }
    std::byte* parent = path_[level - 1].node;
    const std::uint32_t j = path_[level - 1].child;
    std::uint64_t* pc = children_of(g_, parent);
    const bool left = j > 0;  // the sibling to use
    const std::uint32_t sep = left ? j - 1 : 0;
    std::byte* sib = node_at(g_, pc[left ? j - 1 : 1], false);
    btree_node_header& sh = header_of(sib);
    const std::uint32_t sn = sh.count;
    std::uint64_t* sc = children_of(g_, sib);
    if (sn < g_.inner_capacity) {
      // Merge: the sibling takes the parent's separator and the only child.
      tx_snapshot(&sh.count, sizeof sh.count);
      if (left) {
        tx_snapshot(key_at(g_, sib, sn), g_.key_size);
        std::memcpy(key_at(g_, sib, sn), key_at(g_, parent, sep), g_.key_size);
        tx_snapshot(sc + sn + 1, 8);
        sc[sn + 1] = only;
      } else {
        tx_snapshot(key_at(g_, sib, 0), std::size_t{sn + 1} * g_.key_size);
        std::memmove(key_at(g_, sib, 1), key_at(g_, sib, 0), std::size_t{sn} * g_.key_size);
        std::memcpy(key_at(g_, sib, 0), key_at(g_, parent, sep), g_.key_size);
        tx_snapshot(sc, std::size_t{sn + 2} * 8);
        std::memmove(sc + 1, sc, std::size_t{sn + 1} * 8);
        sc[0] = only;
      }
      sh.count = static_cast<std::uint16_t>(sn + 1);
      tx_free(p_, node);
      remove_from_inner(g_, parent, sep, j);
      if (header_of(parent).count > 0) return;
      continue;
    }
    // Borrow: the full sibling gives its nearest child, the parent's
    // separator comes down and the sibling's nearest key goes up.
    btree_node_header& h = header_of(node);
    std::uint64_t* ch = children_of(g_, node);
    tx_snapshot(&h.count, sizeof h.count);
    tx_snapshot(key_at(g_, node, 0), g_.key_size);
    tx_snapshot(ch, 16);
    std::memcpy(key_at(g_, node, 0), key_at(g_, parent, sep), g_.key_size);
    tx_snapshot(key_at(g_, parent, sep), g_.key_size);
    tx_snapshot(&sh.count, sizeof sh.count);
    if (left) {
      ch[1] = only;
      ch[0] = sc[sn];
      std::memcpy(key_at(g_, parent, sep), key_at(g_, sib, sn - 1), g_.key_size);
    } else {
      ch[0] = only;
      ch[1] = sc[0];
      std::memcpy(key_at(g_, parent, sep), key_at(g_, sib, 0), g_.key_size);
      tx_snapshot(key_at(g_, sib, 0), std::size_t{sn} * g_.key_size);
      std::memmove(key_at(g_, sib, 0), key_at(g_, sib, 1), std::size_t{sn - 1} * g_.key_size);
      tx_snapshot(sc, std::size_t{sn + 1} * 8);
      std::memmove(sc, sc + 1, std::size_t{sn} * 8);
    }
    sh.count = static_cast<std::uint16_t>(sn - 1);
    h.count = 1;
    return;
  }
}

// Releases and frees the subtree at `raw`, `depth` levels above the leaves.
void release_subtree(pool_impl& p, const btree_traits& t, const btree_geometry& g,
                     std::uint64_t raw, std::uint32_t depth) {
  std::byte* node = node_at(g, raw, depth == 0);
  const std::uint32_t n = header_of(node).count;
  if (depth == 0) {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (t.key_owns_storage) t.release_key(p, key_at(g, node, i));
      if (g.value_size && t.value_owns_storage) t.release_value(p, value_at(g, node, i));
    }
  } else {
    for (std::uint32_t i = 0; i < n; ++i) {
      if (t.key_owns_storage) t.release_key(p, key_at(g, node, i));
    }
    for (std::uint32_t i = 0; i <= n; ++i) {
      release_subtree(p, t, g, children_of(g, node)[i], depth - 1);
    }
  }
  tx_free(p, node);
}

}  // namespace

std::size_t btree_erase(btree_rep& rep, const btree_traits& t, const void* probe) {
  if (rep.root == 0) return 0;
  pool_impl& p = pool_holding(&rep);
  return atomically(p, [&] { return eraser(p, rep, t).run(probe); });
}

void btree_clear(btree_rep& rep, const btree_traits& t) {
  if (rep.root == 0) return;
  pool_impl& p = pool_holding(&rep);
  atomically(p, [&] { btree_release(p, rep, t); });
}

void btree_release(pool_impl& p, btree_rep& rep, const btree_traits& t) {
  if (rep.root == 0) return;
  const btree_geometry g = btree_geometry_of(rep, t);
  release_subtree(p, t, g, rep.root, rep.height);
  tx_snapshot(&rep, sizeof rep);
  rep.size = 0;
  rep.root = 0;
  rep.height = 0;
  rep.first_leaf = 0;
}

}  // namespace ferrite::detail
