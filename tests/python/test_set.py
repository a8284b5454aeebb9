"""PersistentSet and PersistentFrozenSet: every operation compared with a
Python set / frozenset holding the same content; persistence, sharing,
identity, hashing."""
import random

import pytest

from ferrite.pmemobj import (PersistentDict, PersistentFrozenSet, PersistentList,
                             PersistentSet)
from semantics import assert_same_outcome, operation_params

CONTENT = {1, "a", None, 2.5, b"x", (1, 2), frozenset({3}), -7, 2 ** 70}
OTHER = {1, "b", (1, 2), 99}


def pop(s):
    e = s.pop()
    ok = e in CONTENT and e not in s and len(s) == len(CONTENT) - 1
    s.add(e)      # which element is popped is unspecified: put it back
    return ok


def pop_empty(s):
    s.clear()
    return s.pop()


def ior(s):
    s |= OTHER
    return s


def iand(s):
    s &= OTHER
    return s


def isub(s):
    s -= OTHER
    return s


def ixor(s):
    s ^= OTHER
    return s


# Operations shared by set and frozenset (they do not mutate).
READ_OPERATIONS = {
    "len": len,
    "contains": lambda s: "a" in s,
    "contains_tuple": lambda s: (1, 2) in s,
    "contains_frozenset": lambda s: frozenset({3}) in s,
    "contains_equal_number": lambda s: 1.0 in s,
    "contains_true": lambda s: True in s,               # True == 1
    "contains_missing": lambda s: "zz" in s,
    "contains_big_int": lambda s: 2 ** 70 in s,
    "contains_big_int_as_float": lambda s: float(2 ** 70) in s,
    "contains_unhashable": lambda s: [1] in s,
    "iter": lambda s: set(iter(s)),
    "or": lambda s: s | OTHER,
    "and": lambda s: s & OTHER,
    "sub": lambda s: s - OTHER,
    "xor": lambda s: s ^ OTHER,
    "or_frozenset": lambda s: s | frozenset(OTHER),
    "ror": lambda s: OTHER | s,
    "rand": lambda s: OTHER & s,
    "rsub": lambda s: OTHER - s,
    "or_list": lambda s: s | [1],
    "union_list": lambda s: s.union([5, 6], (7,)),
    "intersection_list": lambda s: s.intersection([1, "a", 5]),
    "difference_list": lambda s: s.difference([1, "a"]),
    "symmetric_difference": lambda s: s.symmetric_difference([1, 5]),
    "issubset_true": lambda s: s.issubset(CONTENT | {5}),
    "issubset_false": lambda s: s.issubset({1}),
    "issuperset_true": lambda s: s.issuperset({1, "a"}),
    "issuperset_false": lambda s: s.issuperset({1, 5}),
    "isdisjoint_true": lambda s: s.isdisjoint({5, 6}),
    "isdisjoint_false": lambda s: s.isdisjoint({5, "a"}),
    "le": lambda s: s <= CONTENT,
    "lt_equal": lambda s: s < set(CONTENT),
    "lt_bigger": lambda s: s < CONTENT | {5},
    "ge": lambda s: s >= {1},
    "gt": lambda s: s > set(CONTENT),
    "eq_set": lambda s: s == set(CONTENT),
    "eq_frozenset": lambda s: s == frozenset(CONTENT),
    "ne": lambda s: s != {1},
    "eq_list": lambda s: s == list(CONTENT),
    "bool": bool,
}

MUTATING_OPERATIONS = {
    "add_new": lambda s: s.add("new"),
    "add_existing": lambda s: s.add("a"),
    "add_equal_number": lambda s: s.add(1.0),
    "add_tuple": lambda s: s.add((5, (6,))),
    "add_unhashable": lambda s: s.add([1]),
    "add_unhashable_in_tuple": lambda s: s.add((1, [2])),
    "discard_present": lambda s: s.discard("a"),
    "discard_absent": lambda s: s.discard("zz"),
    "discard_equal_number": lambda s: s.discard(2.5),
    "discard_unhashable": lambda s: s.discard([1]),
    "remove_present": lambda s: s.remove((1, 2)),
    "remove_absent": lambda s: s.remove("zz"),
    "pop": pop,
    "pop_empty": pop_empty,
    "clear": lambda s: s.clear(),
    "update": lambda s: s.update([10, 11], {"u"}),
    "ior": ior,
    "iand": iand,
    "isub": isub,
    "ixor": ixor,
    "bool_empty": lambda s: (s.clear(), bool(s))[1],
    "hash": hash,
}

SET_OPERATIONS = dict(READ_OPERATIONS, **MUTATING_OPERATIONS)


@pytest.fixture
def set_pair(pool):
    pool.root = pool.new(PersistentSet, CONTENT)
    return pool.root, set(CONTENT)


@pytest.mark.parametrize("name", operation_params(SET_OPERATIONS, {
    "contains_big_int_as_float": "an int beyond 64 bits is not found by the equal float (float(2**70) in s -> False)"}))
def test_set_operation_matches_python_set(set_pair, name):
    persistent, plain = set_pair
    assert_same_outcome(SET_OPERATIONS[name], persistent, plain)
    assert set(persistent) == plain


@pytest.mark.parametrize("name", sorted(MUTATING_OPERATIONS))
def test_set_operation_result_persists(set_pair, pool, reopen, name):
    persistent, plain = set_pair
    for target in (persistent, plain):
        try:
            MUTATING_OPERATIONS[name](target)
        except Exception:
            pass
    p = reopen(pool)
    assert set(p.root) == plain
    assert p.root == plain


def test_in_place_operators_keep_identity(pool):
    pool.root = s = pool.new(PersistentSet, [1, 2])
    before = s
    s |= {3}
    s &= {1, 3}
    s -= {1}
    s ^= {4}
    assert s is before and pool.root is before
    assert s == {3, 4}


def test_set_new_empty(pool):
    s = pool.new(PersistentSet)
    assert len(s) == 0 and s == set()


def test_set_new_with_unhashable_raises_type_error(pool):
    with pytest.raises(TypeError):
        pool.new(PersistentSet, [1, [2]])


def test_persistent_list_is_not_a_set_element(pool):
    s = pool.new(PersistentSet)
    with pytest.raises(TypeError):
        s.add(pool.new(PersistentList))
    assert len(s) == 0


def test_set_repr_is_nvm_pmemobjs(pool):
    # nvm.pmemobj's form: the class name around the set's repr.
    assert repr(pool.new(PersistentSet, [(2,)])) == "PersistentSet({PersistentTuple((2,))})"
    assert repr(pool.new(PersistentSet)) == "PersistentSet(set())"


def test_frozenset_repr_is_nvm_pmemobjs(pool):
    assert repr(pool.new(PersistentFrozenSet, ["a"])) == "PersistentFrozenSet(frozenset({'a'}))"
    assert repr(pool.new(PersistentFrozenSet)) == "PersistentFrozenSet(frozenset())"


def test_set_of_equal_numbers_has_one_element(pool, reopen):
    pool.root = pool.new(PersistentSet, [1, 1.0, True])
    assert len(pool.root) == 1
    p = reopen(pool)
    assert len(p.root) == 1 and 1 in p.root


def test_set_update_with_unsupported_element_changes_nothing(pool):
    pool.root = pool.new(PersistentSet, [1])
    with pytest.raises(TypeError):
        pool.root.update([2, 3j])
    assert pool.root == {1}


def test_many_elements_persist(pool, reopen):
    plain = set(range(0, 6000, 2)) | {"s%d" % i for i in range(1000)}
    pool.root = pool.new(PersistentSet, plain)
    for i in range(0, 6000, 6):
        pool.root.remove(i)
        plain.remove(i)
    p = reopen(pool)
    assert len(p.root) == len(plain)
    assert set(p.root) == plain
    assert all(e in p.root for e in plain)
    assert 1 not in p.root


def test_random_operations_match_python_set_after_reopen(pool, reopen):
    rng = random.Random(18)
    pool.root = pool.new(PersistentSet)
    plain = set()
    for _ in range(400):
        e = rng.choice([rng.randrange(40), "s%d" % rng.randrange(40)])
        if rng.random() < 0.6:
            pool.root.add(e), plain.add(e)
        else:
            pool.root.discard(e), plain.discard(e)
    assert set(pool.root) == plain
    assert set(reopen(pool).root) == plain


def test_shared_set_is_one_object(pool, reopen):
    shared = pool.new(PersistentSet, [1])
    pool.root = pool.new(PersistentDict, {"a": shared, "b": shared})
    pool.root["a"].add(2)
    assert pool.root["b"] == {1, 2}
    p = reopen(pool)
    assert p.root["a"] is p.root["b"]
    p.root["b"].discard(1)
    assert p.root["a"] == {2}


def test_set_identity(pool, reopen):
    pool.root = pool.new(PersistentList, [pool.new(PersistentSet, [1])])
    assert pool.root[0] is pool.root[0]
    p = reopen(pool)
    assert p.root[0] is p.root[0]


# --- frozenset ------------------------------------------------------------------

@pytest.fixture
def frozenset_pair(pool):
    pool.root = pool.new(PersistentFrozenSet, CONTENT)
    return pool.root, frozenset(CONTENT)


FROZENSET_OPERATIONS = dict(READ_OPERATIONS, **{
    "hash": hash,
    "add": lambda s: s.add(1),
    "discard": lambda s: s.discard(1),
    "set_of_it": lambda s: {s, frozenset(CONTENT)},
    "dict_key": lambda s: {frozenset(CONTENT): "v"}[s],
})


@pytest.mark.parametrize("name", operation_params(FROZENSET_OPERATIONS, {
    "contains_big_int_as_float": "an int beyond 64 bits is not found by the equal float (float(2**70) in s -> False)"}))
def test_frozenset_operation_matches_python_frozenset(frozenset_pair, name):
    persistent, plain = frozenset_pair
    assert_same_outcome(FROZENSET_OPERATIONS[name], persistent, plain)
    assert frozenset(persistent) == plain


def test_frozenset_persists(frozenset_pair, pool, reopen):
    p = reopen(pool)
    assert isinstance(p.root, PersistentFrozenSet)
    assert p.root == frozenset(CONTENT)
    assert hash(p.root) == hash(frozenset(CONTENT))


def test_frozenset_stored_from_a_plain_frozenset(pool, reopen):
    pool.root = pool.new(PersistentDict, {"f": frozenset({1, (2, 3)})})
    p = reopen(pool)
    assert isinstance(p.root["f"], PersistentFrozenSet)
    assert p.root["f"] == frozenset({1, (2, 3)})


def test_frozenset_new_empty(pool):
    f = pool.new(PersistentFrozenSet)
    assert len(f) == 0 and f == frozenset() and hash(f) == hash(frozenset())


def test_frozenset_is_a_set_element(pool, reopen):
    pool.root = pool.new(PersistentSet)
    pool.root.add(pool.new(PersistentFrozenSet, [1, 2]))
    assert frozenset({1, 2}) in pool.root
    p = reopen(pool)
    assert frozenset({2, 1}) in p.root
