"""The tests' way of running a script (script_processes.py): a process forked from one that has
imported TensorFlow behaves as `python SCRIPT ARGS` started from a shell would."""
import os
import subprocess
import time

import pytest

import script_processes

pytestmark = pytest.mark.slow  # starts real subprocesses and signals them


def test_a_forked_script_has_its_own_arguments_folder_environment_streams_and_exit_code(tmp_path):
    script = tmp_path / "show.py"
    script.write_text("import os, sys\n"
                      "print(sys.argv[1:], os.getcwd(), os.environ.get('ONLY_HERE'), sys.path[0])\n"
                      "print('tensorflow' in sys.modules, 'training' in sys.modules, file=sys.stderr)\n"
                      "sys.exit(3)\n")
    result = script_processes.run(script, ["a", "b c"], tmp_path, {"ONLY_HERE": "yes"}, timeout=120)
    assert result.returncode == 3, result.stderr
    assert result.stdout == f"['a', 'b c'] {tmp_path} yes {tmp_path}\n"
    # TensorFlow comes preloaded, the project's packages do not: each script imports them itself.
    assert result.stderr == "True False\n"
    assert "ONLY_HERE" not in os.environ


def test_an_uncaught_exception_and_an_exit_message_end_as_in_a_fresh_interpreter(tmp_path):
    crash, message = tmp_path / "crash.py", tmp_path / "message.py"
    crash.write_text("def inner():\n    raise ValueError('boom')\ninner()\n")
    message.write_text("import sys\nsys.exit('error: no such session')\n")
    crashed = script_processes.run(crash, [], tmp_path, {}, timeout=120)
    assert crashed.returncode == 1 and crashed.stderr.startswith("Traceback")
    assert "in inner" in crashed.stderr and crashed.stderr.endswith("ValueError: boom\n")
    said = script_processes.run(message, [], tmp_path, {}, timeout=120)
    assert (said.returncode, said.stdout, said.stderr) == (1, "", "error: no such session\n")


def test_each_child_draws_its_own_random_numbers(tmp_path):
    script = tmp_path / "draw.py"
    script.write_text("import random\nimport numpy\nprint(random.random(), numpy.random.random())\n")
    first, second = (script_processes.run(script, [], tmp_path, {}, timeout=120).stdout.split() for _ in range(2))
    assert first[0] != second[0] and first[1] != second[1]


def test_a_script_past_its_timeout_is_stopped_with_what_it_printed(tmp_path):
    script = tmp_path / "sleep.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired) as expired:
        script_processes.run(script, [], tmp_path, {}, timeout=5)
    assert expired.value.output == "started\n" and time.monotonic() - started < 30
