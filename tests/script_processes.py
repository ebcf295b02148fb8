"""The project's scripts run as processes forked from a server that has already imported TensorFlow.

Importing TensorFlow and Keras costs each script about 6 s of CPU before it does anything, and
the tests start a few hundred scripts. multiprocessing's forkserver imports the third-party
packages once per test worker; every script then runs in its own forked process, as `__main__`,
with its own argv, working folder, environment, stdout and stderr, and exit code. Importing
TensorFlow does not start its runtime (its threads and devices), so each child starts
its own, and can still split the CPU into logical devices. Only libraries are preloaded: the
project's own modules are imported afresh by each script, as from a shell. Python's and NumPy's
global random states are reseeded from the OS in each child, as in a fresh interpreter. Tests about
what the interpreter imports at start-up use a fresh interpreter.

This module must not import the project: the forkserver preloads it.
"""
import atexit
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import numpy

# What every script imports from outside the project, in the order a script would.
PRELOAD = ["numpy", "scipy.linalg", "PIL.Image", "yaml", "imageio", "matplotlib.figure", "tensorflow", "keras"]

_context = None


def _forkserver():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload([*PRELOAD, __name__])
    return _context


def _run_as_main(script, argv, cwd, env, stdout_path, stderr_path):
    """The forked child's body: become `python script argv...` and exit with its code."""
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [script, *argv]
    sys.path[0:0] = [str(Path(script).parent)]
    numpy.random.seed()  # the forkserver's state otherwise (Python's own random reseeds at fork)
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        if exit_.code is None:
            code = 0
        elif isinstance(exit_.code, int):
            code = exit_.code
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:  # what the interpreter prints for an uncaught exception
        traceback.print_exc()
        code = 1
    finally:
        threading._shutdown()  # an interpreter joins the script's threads, then runs its atexit hooks
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    raise SystemExit(code)


def run(script, args, cwd, env, timeout):
    """subprocess.run(python script args, capture_output=True, text=True), forked from the server."""
    with tempfile.TemporaryDirectory(prefix="script-output-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = _forkserver().Process(target=_run_as_main, args=(str(script), list(args), str(cwd), dict(env),
                                                                   str(out), str(err)))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise subprocess.TimeoutExpired([str(script), *args], timeout, out.read_text(), err.read_text())
        return subprocess.CompletedProcess([sys.executable, str(script), *args], process.exitcode,
                                           out.read_text(errors="replace"), err.read_text(errors="replace"))
