"""PersistentTuple: every operation compared with a Python tuple holding the
same content; immutability, hashing, persistence, tuples holding containers."""
import pytest

from ferrite.pmemobj import PersistentDict, PersistentList, PersistentTuple
from semantics import assert_same_outcome

CONTENT = (3, "a", None, 2.5, b"x", 3, (1, (2,)), frozenset({4}), True)


OPERATIONS = {
    "len": len,
    "getitem_first": lambda t: t[0],
    "getitem_negative": lambda t: t[-1],
    "getitem_nested": lambda t: t[6][1][0],
    "getitem_past_end": lambda t: t[len(t)],
    "getitem_before_start": lambda t: t[-len(t) - 1],
    "getitem_str_index": lambda t: t["a"],
    "slice": lambda t: t[1:4],
    "slice_step": lambda t: t[::-2],
    "slice_empty": lambda t: t[50:],
    "iter": lambda t: list(iter(t)),
    "reversed": lambda t: list(reversed(t)),
    "count": lambda t: t.count(3),
    "count_equal_number": lambda t: t.count(1),          # True == 1
    "count_absent": lambda t: t.count("zz"),
    "index": lambda t: t.index("a"),
    "index_with_start": lambda t: t.index(3, 1),
    "index_absent": lambda t: t.index("zz"),
    "contains": lambda t: (1, (2,)) in t,
    "contains_absent": lambda t: "zz" in t,
    "eq": lambda t: t == tuple(CONTENT),
    "ne": lambda t: t != CONTENT[:-1],
    "eq_list": lambda t: t == list(CONTENT),
    "lt": lambda t: t < (3, "b"),
    "hash": hash,
    "dict_key": lambda t: {tuple(CONTENT): "v"}[t],
    "add": lambda t: t + (1, 2),
    "radd": lambda t: (0,) + t,
    "add_list": lambda t: t + [1],
    "mul": lambda t: t * 2,
    "setitem": lambda t: t.__setitem__(0, 1),
    "delitem": lambda t: t.__delitem__(0),
    "append": lambda t: t.append(1),
    "bool": bool,
}


@pytest.fixture(params=["new", "stored"])
def pair(pool, request):
    """A persistent tuple made by pool.new or by storing a plain tuple."""
    if request.param == "new":
        pool.root = pool.new(PersistentTuple, CONTENT)
    else:
        pool.root = CONTENT
    return pool.root, tuple(CONTENT)


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_matches_python_tuple(pair, name):
    persistent, plain = pair
    assert_same_outcome(OPERATIONS[name], persistent, plain)
    assert tuple(persistent) == plain


def test_is_a_persistent_tuple(pair):
    assert isinstance(pair[0], PersistentTuple)


def test_persists(pair, pool, reopen):
    p = reopen(pool)
    assert p.root == CONTENT
    assert hash(p.root) == hash(CONTENT)
    assert isinstance(p.root[6], PersistentTuple)


def test_empty_tuple(pool, reopen):
    pool.root = pool.new(PersistentTuple)
    assert pool.root == () and len(pool.root) == 0 and hash(pool.root) == hash(())
    assert reopen(pool).root == ()


def test_repr_is_nvm_pmemobjs(pool):
    # nvm.pmemobj's form: the class name around the tuple's repr.
    assert repr(pool.new(PersistentTuple, [1, (2, "b")])) == \
        "PersistentTuple((1, PersistentTuple((2, 'b'))))"


def test_repr_of_one_element_tuple(pool):
    assert repr(pool.new(PersistentTuple, [1])) == "PersistentTuple((1,))"


def test_repr_of_empty_tuple(pool):
    assert repr(pool.new(PersistentTuple)) == "PersistentTuple(())"


def test_new_from_generator(pool):
    assert pool.new(PersistentTuple, (i for i in range(3))) == (0, 1, 2)


def test_new_with_unsupported_element_raises_type_error(pool):
    with pytest.raises(TypeError):
        pool.new(PersistentTuple, [1, 2j])


def test_tuple_holding_a_list_shares_it(pool, reopen):
    l = pool.new(PersistentList, [1])
    pool.root = pool.new(PersistentDict, {"t": (l, "x"), "l": l})
    pool.root["t"][0].append(2)
    assert pool.root["l"] == [1, 2]
    p = reopen(pool)
    assert p.root["t"][0] is p.root["l"]
    assert p.root["t"] == ([1, 2], "x")


def test_tuple_holding_a_list_is_unhashable(pool):
    t = pool.new(PersistentTuple, [pool.new(PersistentList)])
    with pytest.raises(TypeError):
        hash(t)


def test_tuple_holding_a_list_is_not_a_key(pool):
    d = pool.new(PersistentDict)
    with pytest.raises(TypeError):
        d[(1, pool.new(PersistentList))] = 1
    assert len(d) == 0


def test_tuple_value_is_a_key_after_reopen(pool, reopen):
    pool.root = pool.new(PersistentDict, {(1, ("a", b"b")): "found"})
    p = reopen(pool)
    assert p.root[(1, ("a", b"b"))] == "found"
