"""PersistentObjectPool: lifecycle, flags, errors, what can be stored and
what comes back after reopening."""
import decimal
import errno
import fractions
import gc as python_gc
import hashlib
import math
import os
import sys
import textwrap

import pytest

from ferrite import pmemobj
from ferrite.pmemobj import (MIN_POOL_SIZE, PersistentDict, PersistentFrozenSet,
                             PersistentList, PersistentObjectPool, PersistentSet,
                             PersistentTuple)
from persistent_classes import Thing

# docs/python.md: "A closed pool's objects raise ValueError too."
CLOSED_POOL_ERRORS = ValueError


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_pool(path, root):
    with pmemobj.create(path) as p:
        p.root = root


# --- the module ---------------------------------------------------------------

def test_min_pool_size_is_8_mib_as_under_nvm_pmemobj():
    assert MIN_POOL_SIZE == 8 * 1024 * 1024


def test_nvm_pmemobj_compatibility_package_has_the_same_api():
    import nvm.pmemobj
    for name in ["PersistentObjectPool", "create", "open", "MIN_POOL_SIZE",
                 "PersistentList", "PersistentDict", "PersistentSet",
                 "PersistentFrozenSet", "PersistentTuple", "PersistentObject"]:
        assert getattr(nvm.pmemobj, name) is getattr(pmemobj, name), name


def test_transaction_aborted_is_an_oserror():
    assert issubclass(pmemobj.TransactionAborted, OSError)


# --- flags --------------------------------------------------------------------

def test_flag_w_is_the_default_and_missing_file_raises(pool_path):
    with pytest.raises(FileNotFoundError):
        PersistentObjectPool(pool_path)
    assert not os.path.exists(pool_path)


def test_flag_w_missing_file_raises(pool_path):
    with pytest.raises(FileNotFoundError):
        PersistentObjectPool(pool_path, flag="w")
    assert not os.path.exists(pool_path)


def test_open_missing_file_raises(pool_path):
    with pytest.raises(FileNotFoundError) as info:
        pmemobj.open(pool_path)
    assert info.value.errno == errno.ENOENT
    assert not os.path.exists(pool_path)


def test_flag_w_opens_existing_pool_read_write(pool_path):
    make_pool(pool_path, 5)
    with PersistentObjectPool(pool_path, flag="w") as p:
        assert p.root == 5
        p.root = 6
    with pmemobj.open(pool_path) as p:
        assert p.root == 6


def test_flag_x_over_existing_pool_raises_and_keeps_it(pool_path):
    make_pool(pool_path, "kept")
    before = file_digest(pool_path)
    with pytest.raises(FileExistsError):
        PersistentObjectPool(pool_path, flag="x")
    assert file_digest(pool_path) == before
    with pmemobj.open(pool_path) as p:
        assert p.root == "kept"


def test_create_over_existing_file_raises_and_keeps_it(pool_path):
    with open(pool_path, "wb") as f:
        f.write(b"not a pool, but mine")
    with pytest.raises(FileExistsError) as info:
        pmemobj.create(pool_path)
    assert info.value.errno == errno.EEXIST
    with open(pool_path, "rb") as f:
        assert f.read() == b"not a pool, but mine"


def test_flag_c_creates_missing_pool(pool_path):
    with PersistentObjectPool(pool_path, flag="c") as p:
        assert p.root is None
        p.root = 10
    assert os.path.exists(pool_path)
    with pmemobj.open(pool_path) as p:
        assert p.root == 10


def test_flag_c_opens_existing_pool(pool_path):
    make_pool(pool_path, "old root")
    with PersistentObjectPool(pool_path, flag="c") as p:
        assert p.root == "old root"


def test_flag_c_does_not_overwrite_a_file_that_is_not_a_pool(pool_path):
    with open(pool_path, "wb") as f:
        f.write(b"x" * 4096)
    with pytest.raises(OSError):
        PersistentObjectPool(pool_path, flag="c")
    with open(pool_path, "rb") as f:
        assert f.read() == b"x" * 4096


@pytest.mark.parametrize("flag", ["q", "", "wx", "rw", "W", "a"])
def test_unknown_flag_raises_value_error(pool_path, flag):
    with pytest.raises(ValueError):
        PersistentObjectPool(pool_path, flag=flag)
    assert not os.path.exists(pool_path)


@pytest.mark.parametrize("flag", ["x", "c"])
def test_pool_size_below_minimum_raises_value_error(pool_path, flag):
    with pytest.raises(ValueError):
        PersistentObjectPool(pool_path, flag=flag, pool_size=MIN_POOL_SIZE - 1)


def test_create_below_minimum_raises_value_error(tmp_path):
    with pytest.raises(ValueError):
        pmemobj.create(str(tmp_path / "a.pmem"), MIN_POOL_SIZE - 1)
    with pytest.raises(ValueError):
        pmemobj.create(str(tmp_path / "b.pmem"), pool_size=1024)


def test_failed_create_below_minimum_leaves_no_file(pool_path):
    with pytest.raises(ValueError):
        pmemobj.create(pool_path, pool_size=1024)
    assert not os.path.exists(pool_path)


def test_pool_size_of_exactly_the_minimum_works(pool_path):
    with pmemobj.create(pool_path, pool_size=MIN_POOL_SIZE) as p:
        p.root = "ok"
    with pmemobj.open(pool_path) as p:
        assert p.root == "ok"


def test_pool_size_ignored_when_opening_an_existing_pool(pool_path):
    make_pool(pool_path, 1)
    with PersistentObjectPool(pool_path, flag="c", pool_size=1) as p:
        assert p.root == 1


def test_create_uses_mode(tmp_path):
    path = str(tmp_path / "private.pmem")
    old = os.umask(0)
    try:
        pmemobj.create(path, mode=0o600).close()
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o600


# --- flag 'r' -------------------------------------------------------------------

@pytest.fixture
def read_only_setup(pool_path):
    """A pool holding a list, a dict, a set and an object; its digest."""
    with pmemobj.create(pool_path) as p:
        p.root = p.new(PersistentDict)
        p.root["list"] = p.new(PersistentList, [1, 2])
        p.root["set"] = p.new(PersistentSet, [1])
        p.root["obj"] = p.new(Thing)
        p.root["obj"].a = 1
    return pool_path, file_digest(pool_path)


def test_flag_r_reads_work(read_only_setup):
    path, _ = read_only_setup
    with PersistentObjectPool(path, flag="r") as p:
        assert p.read_only is True
        assert p.root["list"] == [1, 2]
        assert p.root["set"] == {1}
        assert p.root["obj"].a == 1
        assert sorted(p.root.keys()) == ["list", "obj", "set"]


def test_readers_in_two_processes_share_a_pool(read_only_setup, run_python):
    path, _ = read_only_setup
    with PersistentObjectPool(path, flag="r") as p:
        result = run_python(textwrap.dedent("""
            import sys
            from ferrite import pmemobj
            with pmemobj.PersistentObjectPool(sys.argv[1], flag="r") as p:
                print(list(p.root["list"]))
            """), args=[path])
        assert result.returncode == 0, result.stderr
        assert result.stdout == "[1, 2]\n"
        assert p.root["list"] == [1, 2]


def test_flag_r_missing_file_raises(pool_path):
    with pytest.raises(FileNotFoundError):
        PersistentObjectPool(pool_path, flag="r")


WRITES = {
    "root": lambda p: setattr(p, "root", 1),
    "dict_set": lambda p: p.root.__setitem__("new", 1),
    "dict_del": lambda p: p.root.__delitem__("list"),
    "list_append": lambda p: p.root["list"].append(3),
    "list_setitem": lambda p: p.root["list"].__setitem__(0, 9),
    "list_clear": lambda p: p.root["list"].clear(),
    "set_add": lambda p: p.root["set"].add(2),
    "attribute": lambda p: setattr(p.root["obj"], "a", 2),
    "new": lambda p: p.new(PersistentList),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_flag_r_write_raises_and_file_is_unchanged(read_only_setup, write):
    path, digest = read_only_setup
    with PersistentObjectPool(path, flag="r") as p:
        with pytest.raises(OSError):
            WRITES[write](p)
        # The failed write is not visible either.
        assert p.root["list"] == [1, 2]
        assert p.root["set"] == {1}
        assert p.root["obj"].a == 1
    assert file_digest(path) == digest


def test_flag_r_open_and_close_leave_the_file_unchanged(read_only_setup):
    path, digest = read_only_setup
    p = PersistentObjectPool(path, flag="r")
    p.root["list"][0]
    p.close()
    assert file_digest(path) == digest


# --- create / open / close ------------------------------------------------------

def test_create_then_open(pool_path):
    p = pmemobj.create(pool_path)
    assert p.read_only is False
    p.close()
    p = pmemobj.open(pool_path)
    assert p.read_only is False
    p.close()


def test_filename_is_kept(pool, pool_path):
    assert pool.filename == pool_path


def test_closed_attribute(pool):
    assert pool.closed is False
    pool.close()
    assert pool.closed is True


def test_close_twice_is_fine(pool):
    pool.close()
    pool.close()
    assert pool.closed


def test_context_manager_returns_the_pool_and_closes_it(pool_path):
    p = pmemobj.create(pool_path)
    with p as entered:
        assert entered is p
    assert p.closed


def test_context_manager_closes_on_exception(pool_path):
    p = pmemobj.create(pool_path)
    with pytest.raises(KeyError):
        with p:
            raise KeyError("x")
    assert p.closed
    pmemobj.open(pool_path).close()   # and the file is free again


USES = {
    "root_get": lambda p, l: p.root,
    "root_set": lambda p, l: setattr(p, "root", 1),
    "new": lambda p, l: p.new(PersistentList),
    "transaction": lambda p, l: p.transaction().begin(),
    "gc": lambda p, l: p.gc(),
    "list_len": lambda p, l: len(l),
    "list_getitem": lambda p, l: l[0],
    "list_append": lambda p, l: l.append(1),
}


@pytest.mark.parametrize("use", sorted(USES))
def test_use_after_close_raises(pool, use):
    pool.root = pool.new(PersistentList, [1])
    l = pool.root
    pool.close()
    with pytest.raises(CLOSED_POOL_ERRORS):
        USES[use](pool, l)


def test_root_of_a_new_pool_is_none(pool):
    assert pool.root is None


def test_root_of_a_new_pool_is_none_after_reopen(pool, reopen):
    assert reopen(pool).root is None


def test_pool_can_be_reopened_after_close(pool, pool_path):
    pool.root = 1
    pool.close()
    for i in range(3):
        with pmemobj.open(pool_path) as p:
            assert p.root == 1 + i
            p.root = p.root + 1


# --- values -------------------------------------------------------------------

VALUES = {
    "zero": 0, "one": 1, "minus_one": -1,
    "int64_max": 2 ** 63 - 1, "int64_min": -2 ** 63,
    "int64_max_plus_one": 2 ** 63, "uint64_max_plus_one": 2 ** 64,
    "big": 2 ** 100, "big_negative": -2 ** 100, "huge": 7 ** 1000,
    "float": 10.5, "float_small": 5e-324, "float_max": sys.float_info.max,
    "inf": float("inf"), "minus_inf": float("-inf"), "float_negative": -1.25,
    "str": "abcde", "str_empty": "", "str_unicode": "abő ∑ 漢字 \U0001d11e",
    "str_nul": "a\x00b", "str_long": "xyz" * 10000, "str_surrogate_free_emoji": "🐍",
    "bytes": b"abc", "bytes_empty": b"", "bytes_all": bytes(range(256)),
    "bytes_long": b"\x00\xff" * 50000,
    "tuple_empty": (), "tuple_one": (1,), "tuple_mixed": (1, "a", 2.5, None, b"b", True),
    "tuple_nested": (1, (2, (3, ("four", ()))), (None,)),
    "frozenset_empty": frozenset(), "frozenset": frozenset({1, "a", b"b", 2.5, None}),
    "frozenset_of_tuples": frozenset({(1, 2), (3, (4,)), ()}),
    "tuple_with_frozenset": (frozenset({1, 2}), frozenset()),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_value_persists_across_reopen(pool, reopen, name):
    value = VALUES[name]
    pool.root = value
    assert pool.root == value
    p = reopen(pool)
    assert p.root == value


@pytest.mark.parametrize("name", [n for n in sorted(VALUES)
                                  if isinstance(VALUES[n], (int, float, str, bytes))])
def test_scalar_reads_back_with_its_exact_type(pool, reopen, name):
    pool.root = VALUES[name]
    p = reopen(pool)
    assert type(p.root) is type(VALUES[name])


@pytest.mark.parametrize("value", [None, True, False])
def test_singleton_persists_as_itself(pool, reopen, value):
    pool.root = value
    assert pool.root is value
    assert reopen(pool).root is value


def test_bool_is_not_read_back_as_int(pool, reopen):
    pool.root = (True, False, 1, 0)
    p = reopen(pool)
    assert [type(v) for v in p.root] == [bool, bool, int, int]


def test_nan_persists(pool, reopen):
    pool.root = float("nan")
    p = reopen(pool)
    assert isinstance(p.root, float) and math.isnan(p.root)


def test_negative_zero_keeps_its_sign(pool, reopen):
    pool.root = -0.0
    p = reopen(pool)
    assert p.root == 0.0 and math.copysign(1.0, p.root) == -1.0


def test_float_round_trips_bit_exactly(pool, reopen):
    values = (0.1, 1 / 3, 2.0 ** -1074, 1e308, -2.5e-300)
    pool.root = values
    p = reopen(pool)
    assert [v.hex() for v in p.root] == [v.hex() for v in values]


def test_tuple_reads_back_as_persistent_tuple(pool, reopen):
    pool.root = (1, (2, 3))
    p = reopen(pool)
    assert isinstance(p.root, PersistentTuple)
    assert isinstance(p.root[1], PersistentTuple)


def test_frozenset_reads_back_as_persistent_frozenset(pool, reopen):
    pool.root = frozenset({1, 2})
    p = reopen(pool)
    assert isinstance(p.root, PersistentFrozenSet)


def test_root_can_be_replaced_by_a_value_of_another_type(pool, reopen):
    pool.root = pool.new(PersistentList, [1])
    pool.root = "now a str"
    pool.root = (1, 2)
    pool.root = None
    pool.root = 3
    assert reopen(pool).root == 3


# --- files that are not pools, second writer --------------------------------

@pytest.mark.parametrize("content", [b"", b"hello\n", b"\x00" * MIN_POOL_SIZE,
                                     bytes(range(256)) * (MIN_POOL_SIZE // 256)],
                         ids=["empty", "text", "zeros", "bytes"])
def test_file_that_is_not_a_pool_raises_oserror(pool_path, content):
    with open(pool_path, "wb") as f:
        f.write(content)
    with pytest.raises(OSError):
        pmemobj.open(pool_path)
    with open(pool_path, "rb") as f:
        assert f.read() == content


def test_directory_is_not_a_pool(tmp_path):
    with pytest.raises(OSError):
        pmemobj.open(str(tmp_path))


def test_second_writer_in_same_process_raises(pool, pool_path):
    pool.root = 1
    with pytest.raises(OSError):
        pmemobj.open(pool_path)
    with pytest.raises(OSError):
        PersistentObjectPool(pool_path, flag="c")
    assert pool.root == 1          # the first pool still works
    pool.root = 2
    pool.close()
    with pmemobj.open(pool_path) as p:
        assert p.root == 2


def test_second_writer_in_another_process_raises(pool, pool_path, run_python):
    pool.root = "held"
    result = run_python(textwrap.dedent("""
        import sys
        from ferrite import pmemobj
        try:
            pmemobj.open(sys.argv[1])
        except OSError as e:
            print("OSError", e)
        else:
            print("opened")
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OSError"), result.stdout


def test_pool_held_by_another_process_cannot_be_opened(pool_path, tmp_path):
    import subprocess
    from conftest import child_env
    make_pool(pool_path, "theirs")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys
            from ferrite import pmemobj
            p = pmemobj.open(sys.argv[1])
            p.root = "mine"
            print("ready", flush=True)
            sys.stdin.readline()
            p.close()
            """), pool_path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(OSError):
            pmemobj.open(pool_path)
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with pmemobj.open(pool_path) as p:
        assert p.root == "mine"


# --- a full pool ------------------------------------------------------------------

def fill(pool, chunk=64 * 1024, limit=1000):
    """Append chunk-sized strings to pool.root until MemoryError; return how
    many were appended."""
    l = pool.root
    for i in range(limit):
        try:
            l.append("%08d" % i + "x" * chunk)
        except MemoryError:
            return i
    pytest.fail("no MemoryError after %d appends of %d bytes" % (limit, chunk))


def test_filling_the_pool_raises_memory_error(pool):
    pool.root = pool.new(PersistentList)
    n = fill(pool)
    assert 0 < n < MIN_POOL_SIZE // (64 * 1024) + 1
    assert len(pool.root) == n        # the failed append left nothing


def test_pool_is_usable_after_memory_error(pool, reopen):
    pool.root = pool.new(PersistentList)
    n = fill(pool)
    pool.root.pop()                 # frees one chunk
    pool.root.append("small")
    pool.root.append(12345)
    p = reopen(pool)
    assert len(p.root) == n + 1
    assert p.root[-2:] == ["small", 12345]
    for i, s in enumerate(p.root[:n - 1]):
        assert s.startswith("%08d" % i) and len(s) == 8 + 64 * 1024


def test_committed_data_survives_memory_error(pool, reopen):
    pool.root = pool.new(PersistentDict, {"before": "kept"})
    pool.root["list"] = pool.new(PersistentList)
    big = "y" * (64 * 1024)
    with pytest.raises(MemoryError):
        for i in range(1000):
            pool.root["list"].append(big)
    n = len(pool.root["list"])
    p = reopen(pool)
    assert p.root["before"] == "kept"
    assert len(p.root["list"]) == n
    assert all(s == big for s in p.root["list"])


def test_single_value_larger_than_the_pool_raises_memory_error(pool, reopen):
    pool.root = "before"
    with pytest.raises(MemoryError):
        pool.root = "z" * (2 * MIN_POOL_SIZE)
    assert pool.root == "before"
    pool.root = "after"
    assert reopen(pool).root == "after"


def test_memory_error_rolls_back_its_transaction(pool, reopen):
    pool.root = pool.new(PersistentList, ["a"])
    with pytest.raises(MemoryError):
        with pool.transaction():
            pool.root.append("b")
            pool.root[0] = "changed"
            for i in range(1000):
                pool.root.append("w" * (64 * 1024))
    assert pool.root == ["a"]
    p = reopen(pool)
    assert p.root == ["a"]


def test_memory_error_in_pool_new(pool):
    pool.root = 1
    with pytest.raises(MemoryError):
        pool.new(PersistentList, ["v" * (2 * MIN_POOL_SIZE)])
    assert pool.root == 1


# --- unsupported types, pickling ---------------------------------------------

class NotPersistent:
    pass


UNSUPPORTED = {
    "complex": 1j,
    "plain_instance": NotPersistent(),
    "object": object(),
    "bytearray": bytearray(b"ab"),
    "list": [1, 2],
    "dict": {"a": 1},
    "set": {1, 2},
    "decimal_unregistered": decimal.Decimal("1.5"),
    "function": len,
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_type_raises_type_error(pool, name):
    pool.root = "unchanged"
    value = UNSUPPORTED[name]
    with pytest.raises(TypeError) as info:
        pool.root = value
    assert "Don't know how to persist" in str(info.value)
    assert pool.root == "unchanged"


def test_type_error_names_the_type(pool):
    with pytest.raises(TypeError) as info:
        pool.root = NotPersistent()
    assert "NotPersistent" in str(info.value)
    with pytest.raises(TypeError) as info:
        pool.root = 2j
    assert "complex" in str(info.value)


@pytest.mark.parametrize("where", ["list_append", "dict_value", "new_list",
                                   "tuple", "frozenset", "attribute"])
def test_unsupported_type_inside_a_container_raises_type_error(pool, where):
    pool.root = pool.new(PersistentDict, {"l": pool.new(PersistentList, [1]),
                                          "o": pool.new(Thing)})
    actions = {
        "list_append": lambda: pool.root["l"].append(1j),
        "dict_value": lambda: pool.root.__setitem__("c", 1j),
        "new_list": lambda: pool.new(PersistentList, [1, 1j]),
        "tuple": lambda: pool.root.__setitem__("t", (1, (2, [3]))),
        "frozenset": lambda: pool.root.__setitem__("f", frozenset({1j})),
        "attribute": lambda: setattr(pool.root["o"], "c", 1j),
    }
    with pytest.raises(TypeError):
        actions[where]()
    assert sorted(pool.root.keys()) == ["l", "o"]
    assert pool.root["l"] == [1]
    assert not hasattr(pool.root["o"], "c")


def test_container_of_another_pool_cannot_be_stored(pool, tmp_path):
    with pmemobj.create(str(tmp_path / "other.pmem")) as other:
        foreign = other.new(PersistentList, [1])
        other.root = foreign
        with pytest.raises((TypeError, ValueError)):
            pool.root = foreign
        assert pool.root is None


def test_persist_via_pickle(pool, reopen):
    pool.persist_via_pickle(decimal.Decimal, fractions.Fraction)
    pool.root = pool.new(PersistentList, [decimal.Decimal("120.00075"),
                                          fractions.Fraction(2, 3)])
    assert pool.root[0] == decimal.Decimal("120.00075")
    p = reopen(pool)
    assert p.root == [decimal.Decimal("120.00075"), fractions.Fraction(2, 3)]
    assert type(p.root[0]) is decimal.Decimal
    assert type(p.root[1]) is fractions.Fraction


def test_persist_via_pickle_as_root(pool, reopen):
    pool.persist_via_pickle(decimal.Decimal)
    pool.root = decimal.Decimal("-0.5")
    p = reopen(pool)
    assert p.root == decimal.Decimal("-0.5") and type(p.root) is decimal.Decimal


def test_persist_via_pickle_only_for_the_named_types(pool):
    pool.persist_via_pickle(decimal.Decimal)
    with pytest.raises(TypeError):
        pool.root = fractions.Fraction(1, 3)
    assert pool.root is None


def test_pickled_value_reads_back_in_a_new_process(pool, pool_path, run_python):
    pool.persist_via_pickle(fractions.Fraction)
    pool.root = (fractions.Fraction(5, 7), 1)
    pool.close()
    result = run_python(textwrap.dedent("""
        import sys
        from ferrite import pmemobj
        with pmemobj.open(sys.argv[1]) as p:
            print(type(p.root[0]).__name__, p.root[0], p.root[1])
        """), args=[pool_path])
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Fraction 5/7 1\n"


def test_many_dropped_new_objects_leave_the_pool_usable(pool, reopen):
    for i in range(100):
        pool.new(PersistentList, [i])
    python_gc.collect()
    pool.root = pool.new(PersistentList, [1])
    assert pool.root == [1]
    assert reopen(pool).root == [1]


def test_reassigning_root_to_itself_keeps_it(pool, reopen):
    pool.root = pool.new(PersistentList, [1])
    pool.root = pool.root
    python_gc.collect()
    assert pool.root == [1]
    assert reopen(pool).root == [1]


@pytest.mark.parametrize("cls", [list, dict, set, tuple, int, object, NotPersistent],
                         ids=lambda c: c.__name__)
def test_new_of_a_class_that_is_not_persistent_raises_type_error(pool, cls):
    with pytest.raises(TypeError):
        pool.new(cls)


def test_debug_flag_is_accepted(pool_path):
    with PersistentObjectPool(pool_path, flag="x", debug=True) as p:
        p.root = 1
    with pmemobj.open(pool_path, debug=True) as p:
        assert p.root == 1
