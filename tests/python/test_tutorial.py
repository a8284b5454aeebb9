"""The nvm.pmemobj tutorial's programs, copied verbatim into tutorial/, run as
a player would run them: separate processes in a scratch directory, the name
typed on stdin, the transcripts compared with the tutorial's.

The programs call random.randint; tutorial_runner.py forces its result
without editing them. guess_status is not run (its tutorial code has bugs:
`"  {}".guess`). guess2 ends with `if guesser.done: os.remove(pool_fn)`,
after the pool is closed and with pool_fn never imported, so its exit status
is not checked: only what it prints.
"""
import os
import random
import subprocess
import sys
import time

import pytest

from conftest import HERE, TUTORIAL_DIR, child_env

RUNNER = os.path.join(HERE, "tutorial_runner.py")
REFERENCE = "/work/shared/reference/nvm_pmemobj_tutorial.txt"
PROGRAMS = ["hello.py", "start_guessing.py", "guess.py", "guess_lib.py",
            "start_guessing2.py", "guess2.py"]


def run(script, args=(), stdin=None, cwd=None, number=None, timeout=60):
    cmd = [sys.executable, RUNNER]
    if number is not None:
        cmd += ["--number", str(number)]
    cmd += [os.path.join(TUTORIAL_DIR, script)] + [str(a) for a in args]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                          stdin=None if stdin is not None else subprocess.DEVNULL,
                          cwd=str(cwd), timeout=timeout, env=child_env(TUTORIAL_DIR))


def echoed(stdout, prompt, typed):
    """stdout as a terminal shows it: what was typed after the prompt."""
    assert prompt in stdout, stdout
    return stdout.replace(prompt, prompt + typed + "\n", 1)


def test_programs_are_the_tutorials_text():
    if not os.path.exists(REFERENCE):
        pytest.skip("no reference text at " + REFERENCE)
    with open(REFERENCE, encoding="utf-8") as f:
        reference = f.read()
    for name in PROGRAMS:
        with open(os.path.join(TUTORIAL_DIR, name), encoding="utf-8") as f:
            program = f.read()
        assert "\n" + program in reference, name


# --- hello ----------------------------------------------------------------------

HELLO_TRANSCRIPT = """\
> python hello.py
What is your name? David
Hello, David
> python hello.py
Hello, David
> python hello.py
Hello, David
"""


def test_hello_asks_once_then_remembers(tmp_path):
    transcript = ""
    for i in range(3):
        result = run("hello.py", stdin="David\n" if i == 0 else None, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        if i == 0:
            out = echoed(out, "What is your name? ", "David")
        transcript += "> python hello.py\n" + out
    assert transcript == HELLO_TRANSCRIPT
    assert os.path.exists(tmp_path / "hello_world.pmem")


# --- the first guessing game (a dict and a list) ------------------------------

GAME1_TRANSCRIPT = """\
> start_guessing
Hello, what is your name?  David
David, I've picked a number between 1 and 50.
Type 'guess' followed by your guess at the prompt.
> guess 25
Your guess is too low.
> guess 35
Your guess is too low.
> guess 45
Your guess is too high.
> guess 40
Your guess is too high.
> guess 38
Your guess is too high.
> guess 37
Your guess is too high.
> guess 36
You guessed my number in 7 tries, David.
"""

NAME_PROMPT = "Hello, what is your name?  "


def start_game1(tmp_path, number=36):
    result = run("start_guessing.py", stdin="David\n", cwd=tmp_path, number=number)
    assert result.returncode == 0, result.stderr
    return "> start_guessing\n" + echoed(result.stdout, NAME_PROMPT, "David")


def guess1(tmp_path, guess):
    result = run("guess.py", [guess], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return "> guess %s\n" % guess + result.stdout


def test_game1_transcript_matches_the_tutorial(tmp_path):
    transcript = start_game1(tmp_path)
    assert os.path.exists(tmp_path / "guessing_game.pmem")
    for g in [25, 35, 45, 40, 38, 37, 36]:
        transcript += guess1(tmp_path, g)
    assert transcript == GAME1_TRANSCRIPT
    assert not os.path.exists(tmp_path / "guessing_game.pmem")


def test_game1_lost_after_seven_wrong_guesses(tmp_path):
    start_game1(tmp_path)
    outputs = [guess1(tmp_path, g) for g in [1, 2, 3, 4, 5, 6, 50]]
    assert outputs[5] == "> guess 6\nYour guess is too low.\n"
    assert outputs[6] == ("> guess 50\nYour guess is too high.\nToo many guesses,"
                          " David!  The number I was thinking of was 36\n")
    assert not os.path.exists(tmp_path / "guessing_game.pmem")


def test_game1_repeated_guess(tmp_path):
    start_game1(tmp_path)
    guess1(tmp_path, 10)
    assert guess1(tmp_path, 10) == "> guess 10\nYou already tried 10\n"


def test_game1_start_during_a_game(tmp_path):
    start_game1(tmp_path)
    guess1(tmp_path, 10)
    result = run("start_guessing.py", stdin="Eve\n", cwd=tmp_path, number=5)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Are you already in the middle of a game?\n")
    # The game goes on with its number and its guesses.
    assert guess1(tmp_path, 36) == ("> guess 36\n"
                                    "You guessed my number in 2 tries, David.\n")


def test_game1_guess_without_a_game(tmp_path):
    result = run("guess.py", [10], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.endswith("Perhaps you need to run 'start_guessing' first?\n")
    assert not os.path.exists(tmp_path / "guessing_game.pmem")


def test_game1_guess_that_is_not_an_integer(tmp_path):
    start_game1(tmp_path)
    result = run("guess.py", ["ten"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == "Please specify an integer as your guess.\n"


# --- the second guessing game (guess_lib.Guesser) ---------------------------

def start_game2(tmp_path, number=36):
    result = run("start_guessing2.py", stdin="David\n", cwd=tmp_path, number=number)
    assert result.returncode == 0, result.stderr
    return echoed(result.stdout, NAME_PROMPT, "David")


def guess2(tmp_path, guess):
    return run("guess2.py", [guess], cwd=tmp_path).stdout


def test_game2_start(tmp_path):
    assert start_game2(tmp_path) == (
        "Hello, what is your name?  David\n"
        "David, I've picked a number between 1 and 50.\n"
        "Type 'guess' followed by your guess at the prompt.\n")
    assert os.path.exists(tmp_path / "guessing_game2.pmem")


def test_game2_played_to_a_win(tmp_path):
    start_game2(tmp_path)
    outputs = [guess2(tmp_path, g) for g in [25, 45, 36]]
    assert outputs == ["Your guess is too low.\n",
                       "Your guess is too high.\n",
                       "You guessed my number in 3 tries, David.\n"]


def test_game2_played_to_a_loss(tmp_path):
    start_game2(tmp_path)
    outputs = [guess2(tmp_path, g) for g in [10, 20, 30, 40, 45, 49, 1]]
    assert outputs == ["Your guess is too low.\n"] * 3 + \
        ["Your guess is too high.\n"] * 3 + \
        ["Your guess is too low.\n"
         "Too many guesses, David!  The number I was thinking of was 36\n"]


def test_game2_guess_outside_the_range(tmp_path):
    start_game2(tmp_path)
    result = run("guess2.py", [51], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ("Come now, David, a guess outside of the range I told"
                             " you won't get you anywhere\n")
    # Not counted as a guess.
    assert guess2(tmp_path, 36) == "You guessed my number in 1 tries, David.\n"


def test_game2_guess_that_is_not_an_integer(tmp_path):
    start_game2(tmp_path)
    result = run("guess2.py", ["x"], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("Please specify an integer; x is notvalid: ")


def test_game2_start_during_a_game(tmp_path):
    start_game2(tmp_path)
    result = run("start_guessing2.py", stdin="Eve\n", cwd=tmp_path, number=1)
    assert result.returncode == 1
    assert result.stdout.endswith(
        "There is already a game file.  Use the guess_status command"
        " to see details of the current game.\n")
    assert guess2(tmp_path, 36) == "You guessed my number in 1 tries, David.\n"


def test_game2_guess_without_a_game(tmp_path):
    result = run("guess2.py", [10], cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ("No game in progress.  Use 'start_guessing' to"
                             " start one.\n")


# --- guesses killed at random moments -------------------------------------------

KILL_NUMBER = 25


def read_game(path, previous):
    """Open the game's pool (recovering it), check the invariants the
    transaction in check_guess keeps, return the guesses."""
    from ferrite import pmemobj
    with pmemobj.open(path) as pool:
        game = pool.root
        guesses = list(game.guesses)
        assert all(type(g) is int and 1 <= g <= 50 for g in guesses), guesses
        assert guesses[:len(previous)] == previous, (previous, guesses)
        assert len(guesses) <= len(previous) + 1
        if guesses:
            last = guesses[-1]
            assert game.current_guess == last
            assert game.current_outcome == ("LOW" if last < KILL_NUMBER else "HIGH")
        else:
            assert not hasattr(game, "current_guess")
            assert not hasattr(game, "current_outcome")
        assert game.lost == (len(guesses) > 6)
        assert game.done == game.lost
    return guesses


def kill_guesses(tmp_path, monkeypatch, kills, seed):
    """Start a game, then run guess2 kills times, each killed (SIGKILL) at a
    random moment of its run; check the game after every kill."""
    monkeypatch.syspath_prepend(TUTORIAL_DIR)       # guess_lib, for Guesser
    path = str(tmp_path / "guessing_game2.pmem")
    start_game2(tmp_path, number=KILL_NUMBER)
    rng = random.Random(seed)
    choices = [g for g in range(1, 51) if g != KILL_NUMBER]
    guesses = read_game(path, [])

    def launch(g):
        return subprocess.Popen(
            [sys.executable, RUNNER, "--slow", "check_guess:0.01",
             os.path.join(TUTORIAL_DIR, "guess2.py"), str(g)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, cwd=str(tmp_path), env=child_env(TUTORIAL_DIR))

    # How long an uninterrupted guess takes.
    started = time.monotonic()
    for g in rng.sample(choices, 2):
        launch(g).communicate(timeout=60)
        guesses = read_game(path, guesses)
        assert guesses[-1] == g
    duration = (time.monotonic() - started) / 2

    inside = 0
    for i in range(kills):
        g = rng.choice(choices)
        process = launch(g)
        time.sleep(rng.uniform(0, duration * 1.1))
        process.kill()
        out, err = process.communicate(timeout=60)
        if "in check_guess" in err and not out:
            inside += 1
        before = guesses
        guesses = read_game(path, guesses)
        if out:                       # it finished its guess before the kill
            assert guesses == before + [g]
        elif len(guesses) > len(before):
            assert guesses[-1] == g
    return inside


def test_game2_guess_killed_at_random_moments(tmp_path, monkeypatch):
    inside = kill_guesses(tmp_path, monkeypatch, kills=30, seed=1818)
    # The kills did reach the transaction, not only the start-up.
    assert inside >= 3, inside


@pytest.mark.slow
def test_game2_guess_killed_many_times(tmp_path, monkeypatch):
    inside = kill_guesses(tmp_path, monkeypatch, kills=300, seed=18)
    assert inside >= 30, inside
