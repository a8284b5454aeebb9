"""PersistentObject subclasses used by the in-process tests.

They live in a module of their own (importable as `persistent_classes`, the
tests' directory is on sys.path) so that a pool can find them again by module
and qualified name when it is reopened.
"""
from ferrite.pmemobj import PersistentObject


class Thing(PersistentObject):
    """A plain object: its attributes are whatever the test sets."""

    kind = "thing"          # a class attribute

    def double(self, x):
        return 2 * x


class Point(PersistentObject):
    def __init__(self, x, y=0):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)
