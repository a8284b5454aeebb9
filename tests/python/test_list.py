"""PersistentList: every operation compared with a Python list holding the
same content; persistence, nesting, sharing and identity."""
import gc as python_gc
import random

import pytest

from ferrite.pmemobj import PersistentDict, PersistentList, PersistentTuple
from semantics import assert_same_outcome, operation_params

CONTENT = [3, "a", None, 2.5, b"x", 3, (1, 2), -7, True]


def iadd(l):
    l += [9, 10]
    return l


def imul(l):
    l *= 2
    return l


def pop_empty(l):
    l.clear()
    return l.pop()


# Each operation is applied to a fresh persistent list and a fresh Python
# list with CONTENT; results (or exception types) and final contents must match.
OPERATIONS = {
    "len": len,
    "getitem_first": lambda l: l[0],
    "getitem_last": lambda l: l[len(l) - 1],
    "getitem_negative": lambda l: l[-1],
    "getitem_most_negative": lambda l: l[-len(l)],
    "getitem_past_end": lambda l: l[len(l)],
    "getitem_before_start": lambda l: l[-len(l) - 1],
    "getitem_huge_index": lambda l: l[2 ** 70],
    "getitem_str_index": lambda l: l["a"],
    "getitem_float_index": lambda l: l[1.0],
    "slice_all": lambda l: l[:],
    "slice_middle": lambda l: l[1:4],
    "slice_step": lambda l: l[::2],
    "slice_reverse": lambda l: l[::-1],
    "slice_negative": lambda l: l[-3:],
    "slice_negative_step": lambda l: l[6:1:-2],
    "slice_past_end": lambda l: l[5:100],
    "slice_empty": lambda l: l[100:],
    "slice_step_zero": lambda l: l[::0],
    "setitem": lambda l: l.__setitem__(1, "b"),
    "setitem_negative": lambda l: l.__setitem__(-1, False),
    "setitem_past_end": lambda l: l.__setitem__(len(l), 1),
    "setitem_container": lambda l: l.__setitem__(0, (1, (2,))),
    "delitem_first": lambda l: l.__delitem__(0),
    "delitem_negative": lambda l: l.__delitem__(-2),
    "delitem_past_end": lambda l: l.__delitem__(len(l)),
    "append": lambda l: l.append("new"),
    "append_none": lambda l: l.append(None),
    "extend_list": lambda l: l.extend([1, 2, "three"]),
    "extend_generator": lambda l: l.extend(i * i for i in range(4)),
    "extend_tuple": lambda l: l.extend((7, 8)),
    "extend_self": lambda l: l.extend(l),
    "extend_empty": lambda l: l.extend([]),
    "extend_not_iterable": lambda l: l.extend(5),
    "insert_front": lambda l: l.insert(0, "f"),
    "insert_middle": lambda l: l.insert(3, "m"),
    "insert_end": lambda l: l.insert(len(l), "e"),
    "insert_past_end": lambda l: l.insert(100, "p"),
    "insert_negative": lambda l: l.insert(-1, "n"),
    "insert_very_negative": lambda l: l.insert(-100, "v"),
    "pop": lambda l: l.pop(),
    "pop_first": lambda l: l.pop(0),
    "pop_negative": lambda l: l.pop(-2),
    "pop_past_end": lambda l: l.pop(len(l)),
    "pop_empty": pop_empty,
    "remove_first_of_two": lambda l: l.remove(3),
    "remove_tuple": lambda l: l.remove((1, 2)),
    "remove_absent": lambda l: l.remove("zz"),
    "index": lambda l: l.index("a"),
    "index_second_with_start": lambda l: l.index(3, 1),
    "index_absent_in_range": lambda l: l.index(3, 1, 5),
    "index_absent": lambda l: l.index("zz"),
    "index_tuple": lambda l: l.index((1, 2)),
    "index_equal_number": lambda l: l.index(2.5),
    "count_two": lambda l: l.count(3),
    "count_none": lambda l: l.count("zz"),
    "count_equal_numbers": lambda l: l.count(1),      # True == 1
    "clear": lambda l: l.clear(),
    "reverse": lambda l: l.reverse(),
    "contains": lambda l: "a" in l,
    "contains_tuple": lambda l: (1, 2) in l,
    "contains_none": lambda l: None in l,
    "not_contains": lambda l: "zz" not in l,
    "iter": lambda l: list(iter(l)),
    "reversed": lambda l: list(reversed(l)),
    "enumerate": lambda l: list(enumerate(l)),
    "add_list": lambda l: l + [1, 2],
    "add_tuple": lambda l: l + (1, 2),
    "mul": lambda l: l * 2,
    "mul_zero": lambda l: l * 0,
    "mul_negative": lambda l: l * -1,
    "rmul": lambda l: 2 * l,
    "mul_str": lambda l: l * "a",
    "iadd": iadd,
    "imul": imul,
    "bool": bool,
    "bool_empty": lambda l: (l.clear(), bool(l))[1],
    "eq_same": lambda l: l == list(CONTENT),
    "eq_shorter": lambda l: l == CONTENT[:-1],
    "ne_other": lambda l: l != [1],
    "eq_tuple": lambda l: l == tuple(CONTENT),
    "hash": hash,
}


@pytest.fixture
def pair(pool):
    pool.root = pool.new(PersistentList, CONTENT)
    return pool.root, list(CONTENT)


@pytest.mark.parametrize("name", operation_params(OPERATIONS))
def test_operation_matches_python_list(pair, name):
    persistent, plain = pair
    assert_same_outcome(OPERATIONS[name], persistent, plain)
    assert list(persistent) == plain


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_result_persists(pair, pool, reopen, name):
    persistent, plain = pair
    try:
        OPERATIONS[name](persistent)
    except Exception:
        pass
    try:
        OPERATIONS[name](plain)
    except Exception:
        pass
    assert reopen(pool).root == plain


def test_new_empty(pool):
    l = pool.new(PersistentList)
    assert len(l) == 0 and l == [] and list(l) == []


def test_new_from_generator(pool):
    assert pool.new(PersistentList, (i * 2 for i in range(5))) == [0, 2, 4, 6, 8]


def test_new_from_string_iterates_characters(pool):
    assert pool.new(PersistentList, "abc") == ["a", "b", "c"]


def test_new_from_non_iterable_raises_type_error(pool):
    with pytest.raises(TypeError):
        pool.new(PersistentList, 5)


def test_repr_is_nvm_pmemobjs(pool):
    # nvm.pmemobj's form: the class name around the list's repr.
    l = pool.new(PersistentList, [1, "a", None, (2,)])
    assert repr(l) == "PersistentList([1, 'a', None, PersistentTuple((2,))])"
    assert str(l) == repr(l)


def test_repr_of_empty(pool):
    assert repr(pool.new(PersistentList)) == "PersistentList([])"


def test_repr_of_a_list_containing_itself(pool):
    # nvm.pmemobj (reprlib.recursive_repr) wrote "..." for the recursion.
    l = pool.new(PersistentList, [1])
    l.append(l)
    text = repr(l)
    assert text.startswith("PersistentList([1, ") and text.endswith("])")
    assert "..." in text and len(text) < 100


def test_sort(pool):
    l = pool.new(PersistentList, [5, 1, 4, 1, 3])
    l.sort()
    assert l == [1, 1, 3, 4, 5]


def test_sort_with_key_and_reverse(pool):
    l = pool.new(PersistentList, ["bb", "a", "ccc"])
    l.sort(key=len, reverse=True)
    assert l == ["ccc", "bb", "a"]


def test_eq_between_persistent_lists(pool):
    a = pool.new(PersistentList, [1, 2])
    assert a == pool.new(PersistentList, [1, 2])
    assert a != pool.new(PersistentList, [2, 1])


def test_iadd_keeps_identity(pool):
    pool.root = l = pool.new(PersistentList, [1])
    before = l
    l += [2]
    assert l is before and pool.root is before and l == [1, 2]


def test_extend_with_unsupported_element_changes_nothing(pool):
    pool.root = pool.new(PersistentList, [1])
    with pytest.raises(TypeError):
        pool.root.extend([2, 3, 4j])
    assert pool.root == [1]


def test_insert_unsupported_element_changes_nothing(pool):
    pool.root = pool.new(PersistentList, [1])
    with pytest.raises(TypeError):
        pool.root.insert(0, [2])        # a plain list
    assert pool.root == [1]


def test_large_list_persists(pool, reopen):
    pool.root = pool.new(PersistentList)
    pool.root.extend(range(20000))
    p = reopen(pool)
    assert len(p.root) == 20000
    assert p.root[12345] == 12345
    assert list(p.root) == list(range(20000))


def test_random_operations_match_python_list_after_reopen(pool, reopen):
    rng = random.Random(18)
    pool.root = pool.new(PersistentList)
    plain = []
    for _ in range(300):
        op = rng.randrange(5)
        value = rng.choice([rng.randrange(100), str(rng.randrange(10)), None])
        if op == 0 or not plain:
            pool.root.append(value), plain.append(value)
        elif op == 1:
            i = rng.randrange(-len(plain), len(plain))
            assert pool.root.pop(i) == plain.pop(i)
        elif op == 2:
            i = rng.randrange(-len(plain) - 2, len(plain) + 2)
            pool.root.insert(i, value), plain.insert(i, value)
        elif op == 3:
            i = rng.randrange(len(plain))
            pool.root[i] = value
            plain[i] = value
        else:
            i = rng.randrange(len(plain))
            del pool.root[i]
            del plain[i]
    assert pool.root == plain
    assert reopen(pool).root == plain


def test_nesting_list_in_dict_in_list(pool, reopen):
    inner = pool.new(PersistentList, [1, 2])
    middle = pool.new(PersistentDict, {"inner": inner})
    pool.root = pool.new(PersistentList, ["head", middle])
    pool.root[1]["inner"].append(3)
    p = reopen(pool)
    assert p.root == ["head", {"inner": [1, 2, 3]}]
    assert isinstance(p.root[1], PersistentDict)
    assert isinstance(p.root[1]["inner"], PersistentList)
    p.root[1]["inner"].append(4)
    assert p.root[1]["inner"] == [1, 2, 3, 4]


def test_shared_list_is_one_object(pool, reopen):
    shared = pool.new(PersistentList, [1])
    pool.root = pool.new(PersistentDict, {"a": shared, "b": shared})
    pool.root["a"].append(2)
    assert pool.root["b"] == [1, 2]
    assert pool.root["a"] is pool.root["b"]
    p = reopen(pool)
    assert p.root["a"] is p.root["b"]
    p.root["b"].append(3)
    assert p.root["a"] == [1, 2, 3]


def test_shared_list_survives_removal_of_one_reference(pool, reopen):
    shared = pool.new(PersistentList, [1])
    pool.root = pool.new(PersistentList, [shared, shared])
    del shared
    del pool.root[0]
    python_gc.collect()
    p = reopen(pool)
    assert p.root == [[1]]


def test_identity_of_items(pool):
    pool.root = pool.new(PersistentList, [pool.new(PersistentList)])
    assert pool.root is pool.root
    assert pool.root[0] is pool.root[0]


def test_identity_after_reopen(pool, reopen):
    pool.root = pool.new(PersistentList, [pool.new(PersistentDict)])
    p = reopen(pool)
    assert p.root is p.root
    assert p.root[0] is p.root[0]
    assert p.root[0] is next(iter(p.root))


def test_list_containing_itself(pool, reopen):
    pool.root = l = pool.new(PersistentList, [1])
    l.append(l)
    assert l[1] is l
    p = reopen(pool)
    assert p.root[1] is p.root
    assert p.root[1][0] == 1


def test_tuple_element_reads_back_as_persistent_tuple(pool):
    pool.root = pool.new(PersistentList, [(1, 2)])
    assert isinstance(pool.root[0], PersistentTuple)
    assert pool.root[0] == (1, 2)


@pytest.fixture
def holding_a_list(pool):
    """[PersistentList([1]), 2] and the plain [[1], 2]"""
    pool.root = pool.new(PersistentList, [pool.new(PersistentList, [1]), 2])
    return pool.root, [[1], 2]


def test_contains_an_equal_plain_list(holding_a_list):
    persistent, plain = holding_a_list
    assert ([1] in persistent) is ([1] in plain) is True


def test_index_of_an_equal_plain_list(holding_a_list):
    persistent, plain = holding_a_list
    assert persistent.index([1]) == plain.index([1]) == 0


def test_count_of_an_equal_plain_list(holding_a_list):
    persistent, plain = holding_a_list
    assert persistent.count([1]) == plain.count([1]) == 1


def test_remove_an_equal_plain_list(holding_a_list, pool, reopen):
    persistent, plain = holding_a_list
    persistent.remove([1])
    plain.remove([1])
    assert persistent == plain == [2]
    assert reopen(pool).root == [2]


def test_remove_a_container_element(pool, reopen):
    inner = pool.new(PersistentList, ["in"])
    pool.root = pool.new(PersistentList, [1, inner, (2, 3)])
    pool.root.remove(inner)
    pool.root.remove((2, 3))
    assert pool.root == [1]
    assert reopen(pool).root == [1]


def test_popped_container_stays_usable_while_held(pool, reopen):
    pool.root = pool.new(PersistentList, [pool.new(PersistentList, [1]), (2, 3)])
    t = pool.root.pop()
    l = pool.root.pop()
    python_gc.collect()
    assert t == (2, 3)
    l.append(2)
    pool.root.append(l)
    pool.root.append(t)
    assert reopen(pool).root == [[1, 2], (2, 3)]


def test_reassigning_an_item_to_itself_keeps_it(pool, reopen):
    pool.root = pool.new(PersistentList, [pool.new(PersistentList, [1]), (2,)])
    pool.root[0] = pool.root[0]
    pool.root[1] = pool.root[1]
    python_gc.collect()
    assert reopen(pool).root == [[1], (2,)]
