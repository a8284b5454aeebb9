"""One data model for both languages: a pool written by C++ reads in Python
and the other way round; `ferrite dump` decodes a Python pool."""
import os
import subprocess

import pytest

from ferrite.pmemobj import (PersistentDict, PersistentList, PersistentObject,
                             PersistentObjectPool, PersistentTuple)

BUILD = os.environ.get('FERRITE_BUILD_DIR')
needs_build = pytest.mark.skipif(not BUILD, reason='FERRITE_BUILD_DIR not set (run by meson test)')


class Point(object):
    """Stored by pickling (persist_via_pickle)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class Player(PersistentObject):
    def __init__(self, name):
        self.name = name
        self.score = 10


def tool(name):
    return os.path.join(BUILD, name)


@needs_build
def test_a_pool_written_by_cpp_reads_in_python(tmp_path):
    path = str(tmp_path / 'values.pool')
    subprocess.run([tool('tests/value_pool_fixture'), path], check=True, stdout=subprocess.DEVNULL)
    with PersistentObjectPool(path) as pool:
        root = pool.root
        assert isinstance(root, PersistentDict)
        assert root['none'] is None and root['yes'] is True
        assert root['int'] == -7 and root['float'] == 2.5
        assert root['short'] == 'hi' and root['long'] == 'a str too long for a cell'
        assert root['raw'] == b'\x00\x01ab'
        assert root['tuple'] == (1, 'x', 2.5) and root['one'] == (1,) and root['empty'] == ()
        assert root['frozen'] == frozenset({'a', 'b'})
        assert set(root['set']) == {3}
        assert root['nested']['guesses'] == [25]
        assert root['shared_a'] is root['shared_b']
        assert root[(1, 2)] == 'tuple key'
        assert root['self'] is root
        # A C++ class Python does not know loads as a PersistentObject.
        player = root['player']
        assert isinstance(player, PersistentObject)
        assert (player.name, player.score) == ('Ada', 10)
        # C++ codec bytes come back as (codec name, bytes).
        assert root['point'] == ('geo.Point', b'3,4')
        root['shared_a'].append(3)
    with PersistentObjectPool(path) as pool:
        assert pool.root['shared_b'] == [1, 2, 3]


@needs_build
def test_a_pool_written_by_python_reads_in_cpp(tmp_path):
    path = str(tmp_path / 'py.pool')
    with PersistentObjectPool(path, flag='x') as pool:
        with pool.transaction():
            root = pool.root = pool.new(PersistentDict)
            root['name'] = 'David'
            root['guesses'] = pool.new(PersistentList, [25, 40])
            root['big'] = 2 ** 70
            root['pos'] = (1, 2.5)
    out = subprocess.run([tool('tests/value_pool_reader'), path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    assert "'name': 'David'" in out
    assert "'guesses': [25, 40]" in out
    assert "'pos': (1, 2.5)" in out
    with PersistentObjectPool(path) as pool:
        written = pool.root['from_cpp']
        assert written == [1, 'two', (3,)]
        assert isinstance(written[2], PersistentTuple)


@needs_build
def test_ferrite_dump_decodes_a_python_pool(tmp_path):
    path = str(tmp_path / 'dump.pool')
    with PersistentObjectPool(path, flag='x') as pool:
        pool.persist_via_pickle(Point)
        with pool.transaction():
            root = pool.root = pool.new(PersistentDict)
            root['player'] = pool.new(Player, 'Ada')
            root['big'] = 2 ** 70
            root['where'] = Point(3, 4)
    out = subprocess.run([tool('tools/ferrite'), 'dump', path], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    assert 'test_interop.Player' in out          # the class by its name
    assert str(2 ** 70) in out                   # a big int as its number
    assert '<pickled Python object' in out       # a pickle shown as such
    with PersistentObjectPool(path) as pool:
        pool.persist_via_pickle(Point)
        assert pool.root['where'] == Point(3, 4)
        assert type(pool.root['player']) is Player
