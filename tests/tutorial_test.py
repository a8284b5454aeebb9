#!/usr/bin/env python3
"""End-to-end test of the tutorial's programs (docs/tutorial.md), driven as a
player would: separate processes in a scratch directory, names typed on stdin,
games played to the end, starts interrupted, guesses killed with SIGKILL.

Usage: tutorial_test.py BUILD/examples [SOURCE_ROOT [FERRITE]]

With SOURCE_ROOT, also checks that every line of docs/tutorial.md's C++
snippets is in the examples' sources (the snippets stay in sync).

Checks visits (typed structs with ferrite::p<T> fields) over four runs, and,
for hello and both versions of the guessing game (dict and list: *_dict;
Guesser class: no suffix):
- hello asks a name once and remembers it;
- a whole game over several processes, with status after every guess;
- the messages for no game in progress, a game already in progress, a bad
  guess and an interrupted start (the pool exists, its root is still None);
- a guess killed at random moments, and (Guesser) killed inside its
  transaction through the test hook FERRITE_TUTORIAL_PAUSE_IN_GUESS: the
  recorded guesses are always the completed ones, or those plus the killed
  one, never a torn state; and the game goes on.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXAMPLES = os.path.abspath(sys.argv[1])
SOURCE_ROOT = sys.argv[2] if len(sys.argv) > 2 else None
FERRITE = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
        if detail:
            print("  " + detail.replace("\n", "\n  "))


def run(cwd, program, *args, stdin="", env=None):
    """Runs an example to completion; returns (exit status, stdout)."""
    p = subprocess.run([os.path.join(EXAMPLES, program), *map(str, args)], cwd=cwd,
                       input=stdin, capture_output=True, text=True, timeout=30, env=env)
    return p.returncode, p.stdout + p.stderr


class game:
    """One version of the guessing game: its commands and its pool file."""

    def __init__(self, suffix, pool):
        self.start, self.guess, self.status = (c + suffix for c in
                                               ("start_guessing", "guess", "guess_status"))
        self.pool = pool

    def guesses(self, cwd):
        """The guesses status reports, or None when there is no game."""
        rc, out = run(cwd, self.status)
        if "No guesses yet" in out:
            return []
        m = re.search(r"Guesses so far \((\d+) of 7\): ([\d, ]+)", out)
        if rc != 0 or not m:
            return None
        listed = [int(g) for g in m.group(2).split(", ")]
        check(int(m.group(1)) == len(listed), f"{self.status}: count matches the list", out)
        return listed


DICT = game("_dict", "guessing_game.pool")
GUESSER = game("", "guessing_game2.pool")


def test_hello(d):
    rc, out = run(d, "hello", stdin="Ada\n")
    check(rc == 0 and "What's your name?" in out and "Hello, Ada!" in out,
          "hello: first run asks the name and greets", out)
    check(os.path.exists(os.path.join(d, "hello_world.pool")), "hello: pool in the current directory")
    rc, out = run(d, "hello")
    check(rc == 0 and "name?" not in out and out.strip() == "Hello, Ada!",
          "hello: second run remembers the name", out)
    e = tempfile.mkdtemp(dir=d)
    rc, out = run(e, "hello", stdin="")
    check(rc == 1 and "No name given" in out, "hello: no name at end of input", out)
    rc, out = run(e, "hello", stdin="Bo\n")
    check(rc == 0 and "What's your name?" in out and "Hello, Bo!" in out,
          "hello: asks again after no name was given", out)


def test_visits(d):
    """visits: typed structs with ferrite::p<T> fields (the tutorial's
    "Typed structs" section). Each run counts itself; a name signs the book."""
    e = tempfile.mkdtemp(dir=d)
    expected = [
        ((), "Run 1. Nobody has signed yet: sign with 'visits NAME'."),
        (("Ada",), "Run 2. Signatures (1), latest first: Ada. The first was Ada."),
        (("Grace",), "Run 3. Signatures (2), latest first: Grace, Ada. The first was Ada."),
        ((), "Run 4. Signatures (2), latest first: Grace, Ada. The first was Ada."),
    ]
    for args, want in expected:
        rc, out = run(e, "visits", *args)
        check(rc == 0 and out.strip() == want, f"visits {' '.join(args)}: {want}", out)
    if FERRITE:
        p = subprocess.run([FERRITE, "dump", os.path.join(e, "visits.pool")],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and "runs: 4" in p.stdout and "signed_count: 2" in p.stdout,
              "ferrite dump visits.pool: p<T> fields decode as their inner type",
              p.stdout + p.stderr)


def test_no_game(d, g):
    for cmd, args in ((g.status, []), (g.guess, [10])):
        rc, out = run(d, cmd, *args)
        check(rc == 1 and f"No game in progress. Start one with '{g.start}'." in out,
              f"{cmd}: no game in progress", out)


def start(d, g, name="Ada"):
    rc, out = run(d, g.start, stdin=name + "\n")
    check(rc == 0 and f"{name}, I'm thinking of a number between 1 and 50." in out,
          f"{g.start}: starts a game", out)


def test_whole_game(d, g):
    test_no_game(d, g)
    start(d, g)
    rc, out = run(d, g.start, stdin="Bo\n")
    check(rc == 1 and "A game is already in progress" in out, f"{g.start}: game in progress", out)
    check(g.guesses(d) == [], f"{g.status}: no guesses yet")
    rc, out = run(d, g.guess, "twelve")
    check(rc == 1 and "one whole number" in out, f"{g.guess}: not a number", out)
    if g is GUESSER:
        rc, out = run(d, g.guess, 51)
        check(rc == 1 and "between 1 and 50" in out, "guess: outside the range", out)
    check(g.guesses(d) == [], f"{g.guess}: a rejected guess is not recorded")
    # Bisection finds the number within 6 guesses, each in a new process.
    lo, hi, made = 1, 50, []
    while True:
        n = (lo + hi) // 2
        rc, out = run(d, g.guess, n)
        made.append(n)
        check(rc == 0, f"{g.guess} {n}", out)
        if "Right!" in out:
            check(f"in {len(made)} guesses, Ada." in out, f"{g.guess}: counts the guesses", out)
            break
        if f"{n} is too low." in out:
            lo = n + 1
        elif f"{n} is too high." in out:
            hi = n - 1
        else:
            check(False, f"{g.guess}: too low / too high / right", out)
            break
        check(g.guesses(d) == made, f"{g.status}: lists the guesses made", str(made))
        if len(made) > 6:
            check(False, f"{g.guess}: bisection should win within 6 guesses")
            break
    check(not os.path.exists(os.path.join(d, g.pool)), f"{g.guess}: a won game's file is removed")
    test_no_game(d, g)

    # A lost game: the same wrong guess seven times.
    while True:
        start(d, g, "Cy")
        rc, out = run(d, g.guess, 25)
        if "Right!" not in out:
            break
    for i in range(2, 8):
        rc, out = run(d, g.guess, 25)
        check(rc == 0 and "You already guessed 25." in out, f"{g.guess}: a repeated guess", out)
    check("That was your last guess, Cy. My number was" in out, f"{g.guess}: the game is lost", out)
    test_no_game(d, g)


def test_interrupted_start(d, g, checker):
    """Kills start at its name prompt: the pool exists, the game does not."""
    p = subprocess.Popen([os.path.join(EXAMPLES, g.start)], cwd=d, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    prompt = p.stdout.read(len("Hello! What's your name? "))
    check("name?" in prompt, f"{g.start}: asks the name", prompt)
    check(os.path.exists(os.path.join(d, g.pool)), f"{g.start}: the pool exists at the prompt")
    p.kill()
    p.wait()
    rc, out = run(d, checker, *([10] if checker == g.guess else []))
    check(rc == 1 and f"The last '{g.start}' was interrupted" in out
          and f"Run '{g.start}' again." in out, f"{checker}: an interrupted start", out)
    test_no_game(d, g)
    start(d, g)
    check(g.guesses(d) == [], f"{g.start}: works again after an interrupted start")
    os.remove(os.path.join(d, g.pool))


def ensure_game(d, g):
    listed = g.guesses(d)
    if listed is None:
        start(d, g)
        listed = g.guesses(d)
    return listed


def test_random_kills(d, g, rounds, deadline):
    """Kills guesses after a random short delay; state is never torn."""
    killed = completed = recorded = 0
    for _ in range(rounds):
        if time.monotonic() > deadline:
            break
        before = ensure_game(d, g)
        n = random.randint(1, 50)
        p = subprocess.Popen([os.path.join(EXAMPLES, g.guess), str(n)], cwd=d,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(random.uniform(0, 0.05))
        p.send_signal(signal.SIGKILL)
        out = p.communicate()[0]
        if p.returncode == -signal.SIGKILL:
            killed += 1
        else:
            completed += 1
        after = g.guesses(d)
        if after is None:
            # Only a guess that ended the game may remove it.
            check("Right!" in out or "last guess" in out or "game is over" in out,
                  f"{g.guess}: the game disappeared after a kill", out + run(d, g.status)[1])
            continue
        if p.returncode == 0:
            check(after == before + [n], f"{g.guess}: a completed guess is recorded once",
                  f"{before} -> {after}: {out}")
        else:
            check(after in (before, before + [n]), f"{g.guess} killed: no torn state",
                  f"{before} -> {after} (guessed {n}): {out}")
            recorded += after == before + [n]
    check(killed > 0 and completed + killed > 0, f"{g.guess}: some guesses were killed",
          f"{killed} killed, {completed} completed")
    print(f"{g.guess}: {killed} guesses killed ({recorded} of them already recorded), "
          f"{completed} completed")


def test_kill_inside_transaction(d):
    """guess killed inside check_guess's transaction: nothing of it remains."""
    g = GUESSER
    start(d, g)
    rc, out = run(d, g.guess, 1)  # 1 is low or right: the game goes on unless right
    if "Right!" in out:
        start(d, g)
    before = g.guesses(d)
    env = dict(os.environ, FERRITE_TUTORIAL_PAUSE_IN_GUESS="30")
    p = subprocess.Popen([os.path.join(EXAMPLES, g.guess), "2"], cwd=d, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marker = p.stderr.readline()
    check("paused inside the transaction" in marker, "guess: the test hook pauses", marker)
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(g.guesses(d) == before, "guess killed inside its transaction: nothing recorded",
          str(before))
    rc, out = run(d, g.guess, 2)
    check(rc == 0, "guess: the game goes on after the kill", out)
    if "Right!" not in out:
        check(g.guesses(d) == before + [2], "guess: the next guess is recorded")
        os.remove(os.path.join(d, g.pool))


def test_snippets_in_sync(root):
    sources = ""
    for where, _, files in os.walk(os.path.join(root, "examples")):
        for f in files:
            if f.endswith((".cc", ".h")):
                sources += open(os.path.join(where, f)).read()
    lines = {line.strip() for line in sources.splitlines()}
    doc = open(os.path.join(root, "docs", "tutorial.md")).read()
    for block in re.findall(r"```cpp\n(.*?)```", doc, re.S):
        for line in block.splitlines():
            check(not line.strip() or line.strip() in lines,
                  "docs/tutorial.md: a snippet line not in examples/", line)


def test_copy(d, g):
    """`ferrite copy` of a game in progress (and of hello's pool): the copy,
    under the pool's name in another directory, goes on where the original
    stands, and the original is untouched."""
    src, dst = os.path.join(d, "copy_src"), os.path.join(d, "copy_dst")
    os.makedirs(src)
    os.makedirs(dst)
    for _ in range(5):  # a game with two guesses made and not yet won
        if os.path.exists(os.path.join(src, g.pool)):
            os.remove(os.path.join(src, g.pool))
        start(src, g)
        for n in (10, 40):
            if "Right!" in run(src, g.guess, n)[1]:
                break
        else:
            break
    made = g.guesses(src)
    check(made == [10, 40], f"{g.start}: a game with two guesses for the copy", str(made))
    before = open(os.path.join(src, g.pool), "rb").read()
    p = subprocess.run([FERRITE, "copy", os.path.join(src, g.pool), os.path.join(dst, g.pool)],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"ferrite copy {g.pool}", p.stdout + p.stderr)
    check(open(os.path.join(src, g.pool), "rb").read() == before, "ferrite copy: source bytes unchanged")
    check(run(dst, g.status)[1] == run(src, g.status)[1], f"{g.status}: the copy shows the same game")
    rc, out = run(dst, g.guess, 25)
    check(rc == 0, f"{g.guess}: a guess in the copy", out)
    if "Right!" not in out:
        check(g.guesses(dst) == [10, 40, 25], f"{g.status}: the copy records its guess")
    check(g.guesses(src) == [10, 40], f"{g.status}: the original is unchanged")
    shutil.rmtree(src)
    shutil.rmtree(dst)


def test_copy_hello(d):
    src, dst = os.path.join(d, "hello_src"), os.path.join(d, "hello_dst")
    os.makedirs(src)
    os.makedirs(dst)
    run(src, "hello", stdin="Grace\n")
    p = subprocess.run([FERRITE, "copy", os.path.join(src, "hello_world.pool"),
                        os.path.join(dst, "hello_world.pool")], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, "ferrite copy hello_world.pool", p.stdout + p.stderr)
    rc, out = run(dst, "hello")
    check(rc == 0 and "Grace" in out, "hello: the copy remembers the name", out)


def main():
    random.seed(int(os.environ.get("TUTORIAL_TEST_SEED", time.time_ns())))
    deadline = time.monotonic() + 12
    if SOURCE_ROOT:
        test_snippets_in_sync(SOURCE_ROOT)
    with tempfile.TemporaryDirectory() as d:
        test_hello(d)
        test_visits(d)
        for g in (DICT, GUESSER):
            test_whole_game(d, g)
            test_interrupted_start(d, g, g.guess)
            test_interrupted_start(d, g, g.status)
        test_kill_inside_transaction(d)
        test_random_kills(d, GUESSER, 60, deadline)
        test_random_kills(d, DICT, 40, deadline + 3)
        if FERRITE:  # after the kills: their deadline counts from the start
            test_copy_hello(d)
            for g in (DICT, GUESSER):
                test_copy(d, g)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
