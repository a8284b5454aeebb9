// B+-tree core: geometry, lookups and insertion (btree.h).
//
// Insertion descends once, recording the path, and places the key in its
// leaf. A full leaf splits in two and hands a separator (a new copy of the
// right leaf's first key) to its parent; a full inner node splits around
// its median key, which moves up. When the root splits, a new root is
// made and the height grows. Appending past the last key of the last leaf
// splits unevenly (the old node stays full), so ascending inserts leave
// full nodes behind.
#include <algorithm>
#include <vector>

#include "ferrite/base/error.h"
#include "ferrite/types/detail/btree_node.h"

namespace ferrite::detail {

namespace {

constexpr std::uint32_t align_up(std::uint32_t v, std::uint32_t a) {
  return (v + a - 1) / a * a;
}

// Heap slots carry a 16-byte object header; 512-byte slots hold 496 bytes.
constexpr std::uint32_t node_budget = 512 - 16;
constexpr std::uint32_t min_capacity = 4;
constexpr std::uint32_t max_capacity = 1024;

// Room for one key moving between nodes: on the stack unless the key is big.
class key_buffer {
 public:
  explicit key_buffer(std::uint32_t size) {
    if (size > sizeof small_) big_.resize(size);
  }
  std::byte* get() noexcept { return big_.empty() ? small_ : big_.data(); }

 private:
  alignas(16) std::byte small_[256];
  std::vector<std::byte> big_;
};

// A separator on its way into an inner node. `copy`: the bytes are those of
// a leaf key, and the inner node must build its own copy of it; otherwise
// they are a separator moved out of another inner node.
struct separator {
  std::byte* bytes;
  bool copy;
};

std::byte* new_node(pool_impl& p, const btree_traits& t, const btree_geometry& g, bool leaf) {
  const std::uint32_t id = type_id_of(p, t.container());
  auto* n = static_cast<std::byte*>(
      tx_allocate(p, leaf ? g.leaf_bytes : g.inner_bytes, id, g.node_align));
  btree_node_header& h = header_of(n);
  h = {};
  h.is_leaf = leaf ? 1 : 0;
  return n;
}

// Builds an element at `dest` from what was staged or from its input.
void place_key(pool_impl& p, const btree_traits& t, std::byte* dest, const std::byte* staged,
               const void* probe) {
  if (staged) {
    std::memcpy(dest, staged, t.key_size);
  } else {
    std::memset(dest, 0, t.key_size);
    t.construct_key(p, dest, probe);
  }
}
void place_value(pool_impl& p, const btree_traits& t, std::byte* dest, const std::byte* staged,
                 const void* input) {
  if (t.value_size == 0) return;
  if (staged) {
    std::memcpy(dest, staged, t.value_size);
  } else {
    std::memset(dest, 0, t.value_size);
    t.construct_value(p, dest, input);
  }
}

void place_separator(pool_impl& p, const btree_traits& t, std::byte* dest, const separator& s) {
  if (s.copy && t.key_owns_storage) {
    std::memset(dest, 0, t.key_size);
    t.copy_key(p, dest, s.bytes);
  } else {
    std::memcpy(dest, s.bytes, t.key_size);
  }
}

// Opens slot `pos` in a leaf with room (count < capacity): snapshots and
// shifts keys and values [pos, count) one to the right, counts the slot.
void open_leaf_slot(const btree_geometry& g, std::byte* leaf, std::uint32_t pos) {
  btree_node_header& h = header_of(leaf);
  const std::uint32_t n = h.count;
  tx_snapshot(key_at(g, leaf, pos), std::size_t{n - pos + 1} * g.key_size);
  std::memmove(key_at(g, leaf, pos + 1), key_at(g, leaf, pos), std::size_t{n - pos} * g.key_size);
  if (g.value_size) {
    tx_snapshot(value_at(g, leaf, pos), std::size_t{n - pos + 1} * g.value_size);
    std::memmove(value_at(g, leaf, pos + 1), value_at(g, leaf, pos),
                 std::size_t{n - pos} * g.value_size);
  }
  tx_snapshot(&h.count, sizeof h.count);
  h.count = static_cast<std::uint16_t>(n + 1);
}

// Opens key slot `pos` and child slot `pos + 1` in an inner node with room.
void open_inner_slot(const btree_geometry& g, std::byte* node, std::uint32_t pos) {
  btree_node_header& h = header_of(node);
  const std::uint32_t n = h.count;
  tx_snapshot(key_at(g, node, pos), std::size_t{n - pos + 1} * g.key_size);
  std::memmove(key_at(g, node, pos + 1), key_at(g, node, pos), std::size_t{n - pos} * g.key_size);
  std::uint64_t* c = children_of(g, node);
  tx_snapshot(c + pos + 1, std::size_t{n - pos + 1} * 8);
  std::memmove(c + pos + 2, c + pos + 1, std::size_t{n - pos} * 8);
  tx_snapshot(&h.count, sizeof h.count);
  h.count = static_cast<std::uint16_t>(n + 1);
}

// Copies entries [from, count) of a full leaf into the new leaf `right`
// and links it after `left`; `left` keeps `from` entries.
void split_leaf(pool_impl& p, const btree_geometry& g, std::byte* left, std::byte* right,
                std::uint32_t from) {
  btree_node_header& lh = header_of(left);
  btree_node_header& rh = header_of(right);
  const std::uint32_t moved = lh.count - from;
  std::memcpy(key_at(g, right, 0), key_at(g, left, from), std::size_t{moved} * g.key_size);
  if (g.value_size) {
    std::memcpy(value_at(g, right, 0), value_at(g, left, from), std::size_t{moved} * g.value_size);
  }
  rh.count = static_cast<std::uint16_t>(moved);
  rh.next_leaf = lh.next_leaf;
  tx_snapshot(&lh, sizeof lh);
  lh.count = static_cast<std::uint16_t>(from);
  lh.next_leaf = pointer_bits(p, right);
}

class inserter {
 public:
  inserter(pool_impl& p, btree_rep& rep, const btree_traits& t)
      : p_(p), rep_(rep), t_(t), carry_a_(t.key_size), carry_b_(t.key_size) {}

  btree_insert_result run(const void* probe, const void* value_input, bool assign);

 private:
  void start_tree();
  void stage(const void* probe, const void* value_input);
  btree_cursor cursor(std::byte* leaf, std::uint32_t i) const { return cursor_at(g_, leaf, i); }
  btree_cursor insert_into_leaf(std::byte* leaf, std::uint32_t pos, const void* probe,
                                const void* value_input);
  // Inserts separator `s` and the child to its right into path[level]'s
  // node (after its child path[level].child), splitting upwards as needed.
  void insert_separator(int level, separator s, std::uint64_t right_child);
  void grow_root(const separator& s, std::uint64_t right_child);

  pool_impl& p_;
  btree_rep& rep_;
  const btree_traits& t_;
  btree_geometry g_;
  btree_step path_[btree_max_height];
  const std::byte* staged_key_ = nullptr;
  const std::byte* staged_value_ = nullptr;
  alignas(16) std::byte key_stage_[64];
  alignas(16) std::byte value_stage_[64];
  key_buffer carry_a_, carry_b_;
  bool appending_ = false;  // the key goes past the last key of the tree
};

void inserter::start_tree() {
  tx_snapshot(&rep_, sizeof rep_);
  if (rep_.leaf_capacity == 0 || rep_.inner_capacity == 0) {
    btree_choose_capacities(t_, rep_.leaf_capacity, rep_.inner_capacity);
  }
  g_ = btree_geometry_of(rep_, t_);
  std::byte* leaf = new_node(p_, t_, g_, true);
  rep_.root = rep_.first_leaf = pointer_bits(p_, leaf);
  rep_.height = 0;
}

// Elements that own no storage are built into volatile buffers first: a
// refused element (a pointer into another pool) then throws before the
// tree changes.
void inserter::stage(const void* probe, const void* value_input) {
  if (!t_.key_owns_storage && t_.key_size <= sizeof key_stage_ && t_.key_align <= 16) {
    t_.construct_key(p_, key_stage_, probe);
    staged_key_ = key_stage_;
  }
  if (t_.value_size && !t_.value_owns_storage && t_.value_size <= sizeof value_stage_ &&
      t_.value_align <= 16) {
    t_.construct_value(p_, value_stage_, value_input);
    staged_value_ = value_stage_;
  }
}

btree_insert_result inserter::run(const void* probe, const void* value_input, bool assign) {
  if (rep_.root == 0) start_tree();
  g_ = btree_geometry_of(rep_, t_);
  std::byte* leaf = btree_descend(rep_, t_, g_, probe, path_);
  const std::uint32_t pos = lower_index(t_, g_, leaf, probe);
  if (pos < header_of(leaf).count && t_.compare(key_at(g_, leaf, pos), probe) == 0) {
    if (assign && g_.value_size) {
      stage(probe, value_input);
      std::byte* v = value_at(g_, leaf, pos);
      tx_snapshot(v, g_.value_size);
      if (t_.value_owns_storage) t_.release_value(p_, v);
      place_value(p_, t_, v, staged_value_, value_input);
    }
    return {cursor(leaf, pos), false};
  }
  stage(probe, value_input);
  const btree_cursor at = insert_into_leaf(leaf, pos, probe, value_input);
  tx_snapshot(&rep_.size, sizeof rep_.size);
  ++rep_.size;
  return {at, true};
}

btree_cursor inserter::insert_into_leaf(std::byte* leaf, std::uint32_t pos, const void* probe,
                                        const void* value_input) {
  const std::uint32_t n = header_of(leaf).count;
  std::byte* target = leaf;
  std::uint32_t at = pos;
  if (n == g_.leaf_capacity) {
    // The n + 1 entries split so that the left leaf holds `keep` of them;
    // when appending to the last leaf, the left one stays full.
    const bool append = pos == n && header_of(leaf).next_leaf == 0;
    appending_ = append;
    const std::uint32_t keep = append ? n : (n + 2) / 2;
    const std::uint32_t from = pos < keep ? keep - 1 : keep;
    std::byte* right = new_node(p_, t_, g_, true);
    split_leaf(p_, g_, leaf, right, from);
    if (pos >= keep) {
      target = right;
      at = pos - from;
    }
    open_leaf_slot(g_, target, at);
    place_key(p_, t_, key_at(g_, target, at), staged_key_, probe);
    place_value(p_, t_, value_at(g_, target, at), staged_value_, value_input);
    // The separator is the right leaf's first key, copied into the parent.
    std::memcpy(carry_a_.get(), key_at(g_, right, 0), g_.key_size);
    insert_separator(static_cast<int>(rep_.height) - 1, {carry_a_.get(), true},
                     pointer_bits(p_, right));
    return cursor(target, at);
  }
  open_leaf_slot(g_, target, at);
  place_key(p_, t_, key_at(g_, target, at), staged_key_, probe);
  place_value(p_, t_, value_at(g_, target, at), staged_value_, value_input);
  return cursor(target, at);
}

void inserter::insert_separator(int level, separator s, std::uint64_t right_child) {
  key_buffer* spare = &carry_b_;  // where a median moving up is kept
  for (; level >= 0; --level) {
    std::byte* node = path_[level].node;
    const std::uint32_t i = path_[level].child;  // s goes to keys[i], right_child to children[i+1]
    const std::uint32_t n = header_of(node).count;
    if (n < g_.inner_capacity) {
      open_inner_slot(g_, node, i);
      place_separator(p_, t_, key_at(g_, node, i), s);
      children_of(g_, node)[i + 1] = right_child;
      return;
    }
    // Split around the median m of the n + 1 keys: keys [0, m) stay, key m
    // moves up, keys (m, n] go right. Appending on the rightmost path keeps
    // the left node nearly full.
    const bool append = appending_ && i == n;
    const std::uint32_t m = append ? n - 1 : (n + 1) / 2;
    std::byte* right = new_node(p_, t_, g_, false);
    btree_node_header& rh = header_of(right);
    std::uint64_t* lc = children_of(g_, node);
    std::uint64_t* rc = children_of(g_, right);
    separator up{spare->get(), false};
    btree_node_header& lh = header_of(node);
    tx_snapshot(&lh.count, sizeof lh.count);
    if (i < m) {
      // s goes left; old key m-1 moves up; old keys [m, n) go right.
      std::memcpy(up.bytes, key_at(g_, node, m - 1), g_.key_size);
      std::memcpy(key_at(g_, right, 0), key_at(g_, node, m), std::size_t{n - m} * g_.key_size);
      std::memcpy(rc, lc + m, std::size_t{n - m + 1} * 8);
      rh.count = static_cast<std::uint16_t>(n - m);
      lh.count = static_cast<std::uint16_t>(m - 1);
      open_inner_slot(g_, node, i);
      place_separator(p_, t_, key_at(g_, node, i), s);
      lc[i + 1] = right_child;
    } else if (i == m) {
      // s itself moves up; old keys [m, n) go right, right_child first.
      up = s;
      std::memcpy(key_at(g_, right, 0), key_at(g_, node, m), std::size_t{n - m} * g_.key_size);
      rc[0] = right_child;
      std::memcpy(rc + 1, lc + m + 1, std::size_t{n - m} * 8);
      rh.count = static_cast<std::uint16_t>(n - m);
      lh.count = static_cast<std::uint16_t>(m);
    } else {
      // old key m moves up; old keys (m, n) go right with s among them.
      std::memcpy(up.bytes, key_at(g_, node, m), g_.key_size);
      std::memcpy(key_at(g_, right, 0), key_at(g_, node, m + 1),
                  std::size_t{n - m - 1} * g_.key_size);
      std::memcpy(rc, lc + m + 1, std::size_t{n - m} * 8);
      rh.count = static_cast<std::uint16_t>(n - m - 1);
      lh.count = static_cast<std::uint16_t>(m);
      const std::uint32_t at = i - m - 1;
      open_inner_slot(g_, right, at);
      place_separator(p_, t_, key_at(g_, right, at), s);
      rc[at + 1] = right_child;
    }
    // The buffer that held s is free unless s moved up.
    if (!(up.bytes == s.bytes)) spare = spare == &carry_b_ ? &carry_a_ : &carry_b_;
    s = up;
    right_child = pointer_bits(p_, right);
  }
  grow_root(s, right_child);
}

void inserter::grow_root(const separator& s, std::uint64_t right_child) {
  if (rep_.height + 1 >= btree_max_height) btree_corrupted("the tree is too deep");
  std::byte* root = new_node(p_, t_, g_, false);
  header_of(root).count = 1;
  place_separator(p_, t_, key_at(g_, root, 0), s);
  children_of(g_, root)[0] = rep_.root;
  children_of(g_, root)[1] = right_child;
  tx_snapshot(&rep_, sizeof rep_);
  rep_.root = pointer_bits(p_, root);
  ++rep_.height;
}

// The leaf holding the first key >= / > the probe, as a cursor.
btree_cursor bound(const btree_rep& rep, const btree_traits& t, const void* probe, bool upper) {
  if (rep.root == 0) return {};
  const btree_geometry g = btree_geometry_of(rep, t);
  btree_step path[btree_max_height];
  std::byte* leaf = btree_descend(rep, t, g, probe, path);
  btree_cursor c =
      cursor_at(g, leaf, upper ? upper_index(t, g, leaf, probe) : lower_index(t, g, leaf, probe));
  if (c.index == header_of(leaf).count) {
    // Every key of the next leaf is >= the separator above it, > the probe.
    c.index = 0;
    c.leaf = btree_next_leaf(c, header_of(leaf).next_leaf);
  }
  return c;
}

}  // namespace

void btree_corrupted(const std::string& what) {
  fail(error_code::corrupted, "a ferrite map/set in this pool is damaged (" + what +
                                  "); run `ferrite check` on the pool file");
}

std::byte* btree_next_leaf(const btree_cursor& c, std::uint64_t raw) {
  if (raw == 0) return nullptr;
  auto* n = static_cast<std::byte*>(pptr_resolve(raw, c.leaf_bytes, c.node_align));
  const btree_node_header& h = header_of(n);
  if (h.is_leaf != 1 || h.count > c.leaf_capacity) {
    btree_corrupted("a leaf chain pointer to a node with a bad header (is_leaf " +
                    std::to_string(h.is_leaf) + ", count " + std::to_string(h.count) + ")");
  }
  return n;
}

btree_geometry btree_geometry_for(const btree_traits& t, std::uint32_t leaf_capacity,
                                  std::uint32_t inner_capacity) {
  btree_geometry g;
  g.key_size = t.key_size;
  g.value_size = t.value_size;
  g.leaf_capacity = leaf_capacity;
  g.inner_capacity = inner_capacity;
  g.node_align = std::max<std::uint32_t>({8, t.key_align, t.value_align});
  g.keys = btree_keys_offset(t.key_align);
  g.leaf_values = align_up(g.keys + leaf_capacity * t.key_size, t.value_align);
  g.leaf_bytes = align_up(g.leaf_values + leaf_capacity * t.value_size, 8);
  g.inner_children = align_up(g.keys + inner_capacity * t.key_size, 8);
  g.inner_bytes = g.inner_children + (inner_capacity + 1) * 8;
  return g;
}

void btree_choose_capacities(const btree_traits& t, std::uint16_t& leaf_capacity,
                             std::uint16_t& inner_capacity) {
  std::uint32_t leaf = min_capacity, inner = min_capacity;
  while (leaf < max_capacity && btree_geometry_for(t, leaf + 1, inner).leaf_bytes <= node_budget) {
    ++leaf;
  }
  while (inner < max_capacity &&
         btree_geometry_for(t, leaf, inner + 1).inner_bytes <= node_budget) {
    ++inner;
  }
  leaf_capacity = static_cast<std::uint16_t>(leaf);
  inner_capacity = static_cast<std::uint16_t>(inner);
}

btree_geometry btree_geometry_of(const btree_rep& rep, const btree_traits& t) {
  std::uint16_t leaf = rep.leaf_capacity, inner = rep.inner_capacity;
  if (leaf == 0 && inner == 0 && rep.root == 0) btree_choose_capacities(t, leaf, inner);
  if (leaf < 2 || inner < 2 || leaf > max_capacity || inner > max_capacity) {
    btree_corrupted("node capacities " + std::to_string(leaf) + "/" + std::to_string(inner));
  }
  if (rep.height >= btree_max_height) {
    btree_corrupted("height " + std::to_string(rep.height));
  }
  return btree_geometry_for(t, leaf, inner);
}

std::byte* btree_descend(const btree_rep& rep, const btree_traits& t, const btree_geometry& g,
                         const void* probe, btree_step* path) {
  std::uint64_t raw = rep.root;
  for (std::uint32_t level = 0; level < rep.height; ++level) {
    std::byte* node = node_at(g, raw, false);
    const std::uint32_t i = upper_index(t, g, node, probe);
    path[level] = {node, i};
    raw = children_of(g, node)[i];
  }
  return node_at(g, raw, true);
}

btree_cursor btree_begin(const btree_rep& rep, const btree_traits& t) {
  if (rep.first_leaf == 0) return {};
  const btree_geometry g = btree_geometry_of(rep, t);
  return cursor_at(g, node_at(g, rep.first_leaf, true), 0);
}

btree_cursor btree_find(const btree_rep& rep, const btree_traits& t, const void* probe) {
  if (rep.root == 0) return {};
  const btree_geometry g = btree_geometry_of(rep, t);
  btree_step path[btree_max_height];
  std::byte* leaf = btree_descend(rep, t, g, probe, path);
  const std::uint32_t i = lower_index(t, g, leaf, probe);
  if (i < header_of(leaf).count && t.compare(key_at(g, leaf, i), probe) == 0) {
    return cursor_at(g, leaf, i);
  }
  return {};
}

btree_cursor btree_lower_bound(const btree_rep& rep, const btree_traits& t, const void* probe) {
  return bound(rep, t, probe, false);
}

btree_cursor btree_upper_bound(const btree_rep& rep, const btree_traits& t, const void* probe) {
  return bound(rep, t, probe, true);
}

btree_insert_result btree_insert(btree_rep& rep, const btree_traits& t, const void* probe,
                                 const void* value_input, bool assign) {
  pool_impl& p = pool_holding(&rep);
  return atomically(p, [&] { return inserter(p, rep, t).run(probe, value_input, assign); });
}

}  // namespace ferrite::detail
