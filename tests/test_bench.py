"""The benchmark script: its side-by-side comparison, and one real scaled-down run."""
import re
import sys

import pytest

from conftest import REPO, run_script

sys.path.insert(0, str(REPO / "bench"))
import bench  # noqa: E402
import runs  # noqa: E402

pytestmark = pytest.mark.slow  # runs the benchmarks at a tiny size


def test_side_by_side_alternates_and_compares_each_sides_fastest_epoch():
    calls = []
    project_rounds = iter([[4.0, 2.0], [2.5, 3.0]])
    plain_rounds = iter([[2.2, 5.0], [2.0, 2.4]])

    def project():
        calls.append("project")
        return next(project_rounds)

    def plain():
        calls.append("plain")
        return next(plain_rounds)

    result = bench._side_by_side(project, plain, rounds=2, images=100)
    assert calls == ["project", "plain", "project", "plain"]
    assert result["project_ips"] == pytest.approx(100 / 2.0)
    assert result["plain_ips"] == pytest.approx(100 / 2.0)
    assert result["ratio"] == pytest.approx(1.0)
    assert result["ratio_median"] == pytest.approx(2.3 / 2.75)  # medians of the four epochs of each side
    assert result["epochs_each"] == 4


def test_train_benchmark_prints_its_summary_line():
    out = run_script("bench/bench.py", "train", "--train-images", "512", "--epochs", "2", "--rounds", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("train "))
    values = dict(re.findall(r"(\w+)=(\S+)", line))
    assert values["images"] == "512" and values["batch"] == "64" and values["epochs_each"] == "1"
    assert float(values["project_ips"]) > 0 and float(values["plain_ips"]) > 0
    # Both sides train the same networks on the same images, so a side that timed no work, or
    # several times the work, lands far outside these bounds. They are wide because the project's
    # epoch also draws a grid and writes metrics and a checkpoint, a fixed cost that dominates
    # 8 steps: the ratio measured 0.38-0.56 alone, and 4 steps gave 0.31 beside the rest of the suite.
    assert 0.2 < float(values["ratio"]) < 3.0


def test_a_benchmark_session_keeps_its_grids_metrics_and_plot(tmp_path):
    session = tmp_path / "training_1"
    (session / "images").mkdir(parents=True)
    for path, text in ((session / "images" / "image_at_epoch_0001.png", "grid"),
                       (session / "metrics.csv", "epoch,r_t\n1,0.5\n"), (session / "losses.png", "plot")):
        path.write_text(text)
    runs.copy_outputs(session, tmp_path / "kept")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["image_at_epoch_0001.png", "losses.png",
                                                                      "metrics.csv"]
    assert (tmp_path / "kept" / "metrics.csv").read_text() == "epoch,r_t\n1,0.5\n"


def test_the_gpu_check_is_a_valid_script_that_stays_in_the_checkout():
    import subprocess
    script = REPO / "bench" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)  # it cannot run without a GPU; it must parse
    text = script.read_text()
    for step in ("tensorflow[and-cuda]", "list_physical_devices('GPU')", "make test-fast",
                 "mixed_float16", "jit_compile", 'print(f"gpu size='):
        assert step in text, step
    # every path it writes is relative to the checkout it cds into
    assert 'cd "$(dirname "$0")/.."' in text and "/tmp" not in text and "$HOME" not in text
