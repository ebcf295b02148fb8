"""The fast tier (make test-fast, -m "not slow") is decided by marks written on the slow tests and
modules, and a test that uses a slow fixture without the mark stops the collection."""
import subprocess
import sys

from conftest import REPO

UNMARKED = '''
import pytest


@pytest.fixture
def through_another(gray_session):
    return gray_session


def test_through_another_fixture(through_another):
    pass


@pytest.mark.slow
def test_marked(gray_session):
    pass


def test_plain():
    pass
'''


def collect(*args, env=None):
    result = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                            cwd=REPO, capture_output=True, text=True, env=env, timeout=120)
    return result.returncode, result.stdout + result.stderr


def test_the_fast_tiers_collection_accepts_every_test_and_leaves_out_the_marked_ones():
    code, out = collect("-m", "not slow")
    assert code == 0, out
    collected = [line for line in out.splitlines() if "::" in line]
    modules = {line.split("::")[0] for line in collected}
    # Whole modules marked slow stay out; the fast tests of a mixed module stay in.
    assert "tests/test_train.py" not in modules and "tests/test_faults.py" not in modules
    assert "tests/test_desktop.py" in modules and "tests/test_tiers.py" in modules
    assert not any("test_sessions_are_listed_with_their_data_size" in line for line in collected)  # uses gray_session


def test_a_test_using_a_slow_fixture_without_the_mark_stops_the_collection(tmp_path):
    (tmp_path / "test_unmarked.py").write_text(UNMARKED)
    # conftest.py as a plugin gives the file outside tests/ the suite's fixtures and collection hook.
    env = {"PYTHONPATH": str(REPO / "tests"), "PATH": ""}
    code, out = collect("-p", "conftest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(tmp_path),
                        str(tmp_path / "test_unmarked.py"), env=env)
    assert code != 0
    assert "test_unmarked.py::test_through_another_fixture (uses gray_session)" in out, out
    assert "test_marked" not in out.split("not marked slow")[1] and "test_plain" not in out.split("not marked slow")[1]
