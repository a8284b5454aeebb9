"""Python threads: each runs its own transactions on a shared pool."""
import threading

from ferrite.pmemobj import PersistentDict, PersistentList


def test_threads_commit_their_own_transactions_on_one_pool(pool, reopen):
    pool.root = pool.new(PersistentDict)
    for t in range(4):
        pool.root[t] = pool.new(PersistentList)
    errors = []

    def work(t):
        try:
            mine = pool.root[t]
            for i in range(300):
                if i % 3:
                    mine.append(i)            # a transaction of its own
                else:
                    with pool.transaction():  # this thread's transaction
                        mine.append(i)
                        mine.append(-i)
        except Exception as e:  # reported below: a thread's failure fails the test
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    expected = []
    for i in range(300):
        expected += [i] if i % 3 else [i, -i]
    p = reopen(pool)
    for t in range(4):
        assert list(p.root[t]) == expected


def test_a_transaction_belongs_to_the_thread_that_began_it(pool):
    pool.root = pool.new(PersistentList)
    t = pool.transaction()
    t.begin()
    pool.root.append(1)
    seen = []

    def other():
        try:
            t.commit()  # not this thread's transaction
        except RuntimeError as e:
            seen.append(e)

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert len(seen) == 1
    t.commit()
    assert list(pool.root) == [1]
