"""The tree: commands on top, one package per job below, imports pointing one way."""
import ast
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPTS = {"DCGAN_train.py", "generate_img.py", "compute_fid.py", "evaluate_augmentation.py", "app.py"}
# A package may import its own modules and those of packages ranked strictly lower.
RANK = {"utils": 0, "models": 1, "data": 1, "metrics": 2, "training": 3, "generation": 3, "desktop": 4}
SCRIPT_RANK = 5
# Networks and losses stay pure Keras: nothing of ours outside models/.
ONLY_ITSELF = {"models"}
OURS = set(RANK) | {name[:-3] for name in SCRIPTS}


def tracked_python_files():
    listing = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / line for line in listing.stdout.split()]


def library_files():
    return [path for path in tracked_python_files()
            if path.parent == REPO or path.relative_to(REPO).parts[0] in RANK]


def imported_packages(path):
    """The top-level names of ours that a file imports (at module level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names & OURS


def test_the_top_level_holds_only_the_commands_and_the_app():
    top = {path.name for path in tracked_python_files() if path.parent == REPO}
    assert top <= SCRIPTS, f"library modules at the top level: {sorted(top - SCRIPTS)}"
    assert {"DCGAN_train.py", "generate_img.py", "compute_fid.py", "app.py"} <= top


def test_every_package_is_in_the_layer_table():
    packages = {path.relative_to(REPO).parts[0] for path in tracked_python_files() if path.parent != REPO}
    assert packages - {"tests", "bench"} <= set(RANK), "a new package needs a rank in RANK"


@pytest.mark.parametrize("path", library_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_imports_point_down_the_layers(path):
    parts = path.relative_to(REPO).parts
    package = parts[0] if len(parts) > 1 else None
    rank = SCRIPT_RANK if package is None else RANK[package]
    for name in imported_packages(path):
        assert name not in {n[:-3] for n in SCRIPTS}, f"{path.name} imports the script {name}"
        if package in ONLY_ITSELF:
            assert name == package, f"{package}/ must import nothing of ours outside itself, but imports {name}"
        elif name != package:
            assert RANK[name] < rank, f"{'/'.join(parts)} (rank {rank}) imports {name} (rank {RANK[name]})"


def test_the_layer_check_sees_a_violation(tmp_path):
    upward = tmp_path / "bad.py"
    upward.write_text("def f():\n    from training import loop\n")
    assert imported_packages(upward) == {"training"}


@pytest.mark.parametrize("module", ["desktop.summaries", "desktop.commands", "desktop.jobs", "desktop.progress",
                                    "desktop.images", "app", "training.plan", "training.sessions", "training.config"])
def test_checking_forms_and_listing_sessions_loads_no_tensorflow(module):
    code = f"import sys, {module}; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
