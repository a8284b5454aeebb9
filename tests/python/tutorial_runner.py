"""Runs one of the tutorial's programs unchanged, as __main__, with two test
controls the programs themselves do not have:

    tutorial_runner.py [--number N] [--slow FUNCTION:SECONDS] SCRIPT [ARGS...]

--number N   random.randint(a, b) returns N (a <= N <= b is checked), so the
             guessing games pick a known number;
--slow F:S   every line executed in a function named F sleeps S seconds and
             first writes "in F" to stderr, which widens the window a kill
             test aims at (the transaction in Guesser.check_guess) and shows
             whether a kill landed inside it.
"""
import argparse
import random
import runpy
import sys
import time


def force_randint(number):
    def randint(a, b):
        assert a <= number <= b, (a, number, b)
        return number
    random.randint = randint


def slow_down(function, seconds):
    def local_trace(frame, event, arg):
        if event == "line":
            sys.stderr.write("in %s\n" % function)
            sys.stderr.flush()
            time.sleep(seconds)
        return local_trace

    def global_trace(frame, event, arg):
        if event == "call" and frame.f_code.co_name == function:
            return local_trace
        return None

    sys.settrace(global_trace)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--number", type=int)
    parser.add_argument("--slow")
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if options.number is not None:
        force_randint(options.number)
    if options.slow:
        function, seconds = options.slow.split(":")
        slow_down(function, float(seconds))
    sys.argv = [options.script] + options.args
    runpy.run_path(options.script, run_name="__main__")


if __name__ == "__main__":
    main()
