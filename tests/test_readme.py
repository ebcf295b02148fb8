"""The README's command lines, run as a reader would type them, in README order, at tiny size.

Which lines: every line of an indented or fenced code block in README.md that starts with
`python DCGAN_train.py`, `python generate_img.py` or `python compute_fid.py`, except usage
synopses (the script followed by `[`). `python app.py`, `make` and `python bench/...` lines are
not collected. Each command is one test case, named by its README line.

What changes between the README and the run, and nothing else does:
- Paths: every command runs in one sandbox folder laid out like the repository: `configs/` links
  to the repo's, each `data/NAME` folder a command trains on or reads with --real holds 8 small
  images, and `checkpoints/`, the default checkpoint root, starts empty. So `data/hands`,
  `checkpoints/training_2/generated` and `data/augmented/sneaker` are used as written and land in
  the sandbox. `python` is this interpreter and the script the repo's.
- Processes: each command runs in its own process, forked from one that has imported TensorFlow
  already (tests/script_processes.py); a TF_CONFIG cluster's workers are started as fresh
  interpreters, since each must bring up its own distributed runtime.
- Lines: a line ending in a backslash continues on the next one, as in a shell.
- Size: DCGAN_train.py commands get TINY and `--set max_images=8` appended (Fashion-MNIST, the
  default data, read from where `make test` installs it). compute_fid.py commands get
  `--weights random --inception-size 75 --num 8 --num-real 8` appended: the FID Inception
  weights cannot be downloaded here, so the values mean nothing beyond the pipeline having run,
  and a `--num` the README shows is overridden (argparse keeps the last value). A `--copies N`
  shown gets `--copies 8` after it: the copy check looks at the images FID measures, so it may
  not ask for more than --num.
- Epochs: the distinct epoch numbers of the README's DCGAN_train.py commands (EPOCHS and
  -r OFFSET), sorted, become 1, 2, 3, ... (10, 50, 100, 150, 200 -> 1, 2, 3, 4, 5), the same
  number everywhere it appears: a resume keeps its OFFSET below its EPOCHS and equal to the
  EPOCHS of the run it continues. An epoch of 8 images takes well under a second.
- Machines: `export NAME=VALUE` lines apply to the commands after them in their block. A command
  with a TF_CONFIG cluster runs as the README says, the same command once per worker, each with
  its own index and the workers' addresses replaced by free ports on 127.0.0.1.
- Sessions the README takes as given: a session that a generate_img.py or compute_fid.py command
  names and no earlier command trained is first trained by the README's first DCGAN_train.py
  command with that session number.

What must hold: exit code 0 from every process, and the output the command promises (the
checkpoint of its last epoch; NUM new img_*.png files and nothing else in its folder; the `FID:`
line (and the `KID:`, `precision:` ... `coverage:` and `copies:` lines asked for), or one table
row per session; for a conditional session, NUM images in each of its class
folders; with --balance, NUM less the class's training images). generate_img.py --reject-copies
gets `--weights random --inception-size 75`, as compute_fid.py does. A command whose README comment
starts with `refused:` must instead exit with code 2 and print the rest of that comment in its
error message.
"""
import csv
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import compute_fid
import DCGAN_train
import generate_img
import script_processes
from conftest import REPO, TINY, make_image_folder
from data import idx
from data import datasets
from generation.classes import class_folders

pytestmark = pytest.mark.slow  # runs the README's commands

SCRIPTS = ("DCGAN_train.py", "generate_img.py", "compute_fid.py")
TRAIN_SMALL = [*TINY, "--set", "max_images=8"]
FID_OFFLINE = ["--weights", "random", "--inception-size", "75", "--num", "8", "--num-real", "8"]
COPIES_OFFLINE = FID_OFFLINE[:4]  # generate_img.py --reject-copies: the same network, offline
TIMEOUT = 300
FLAGS = {"--strict", "-h", "--help"}  # DCGAN_train.py options that take no value
IMAGE_NAME = re.compile(r"img_\d{6,}\.png")


@dataclass
class Command:
    line: int  # in README.md, from 1
    text: str  # as written, without its comment
    script: str
    words: list  # the arguments after the script
    env: dict = field(default_factory=dict)  # from the export lines before it in its block
    refused: str = None  # the error text its comment promises, for an expected refusal

    @property
    def id(self):
        return f"README.md:{self.line} {self.text}"


def code_lines(markdown):
    """(line number, text, first line of its block) of every line in an indented or fenced code
    block, continuation lines joined."""
    lines, fenced, block, i = markdown.splitlines(), False, 0, 0
    while i < len(lines):
        raw, number = lines[i], i + 1
        i += 1
        if raw.strip().startswith("```"):
            fenced, block = not fenced, number
            continue
        if not fenced and not raw.startswith(("    ", "\t")):
            if raw.strip():  # prose ends an indented block
                block = number
            continue
        text = raw.strip()
        while text.endswith("\\") and i < len(lines):
            text = text[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        yield number, text, block


def extract_commands(markdown):
    commands, env, env_block = [], {}, None
    for number, line, block in code_lines(markdown):
        if block != env_block:  # exported variables live as long as their block
            env, env_block = {}, block
        if not line.startswith(("python ", "export ")):  # not shell: the Python example, the tree map
            continue
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            env.update(word.split("=", 1) for word in words[1:])
            continue
        if len(words) < 2 or words[1] not in SCRIPTS:
            continue
        if words[2:3] and words[2].startswith("["):  # a usage synopsis
            continue
        comment = re.search(r"(?:^|\s)#\s*(.*)$", line)
        text = line[:comment.start()].strip() if comment else line
        refused = comment.group(1)[len("refused:"):].strip() if comment and comment.group(1).startswith("refused:") else None
        commands.append(Command(number, text, words[1], words[2:], dict(env), refused))
    return commands


def epoch_positions(words):
    """({index into words: epoch number} of a DCGAN_train.py command's -r OFFSET and EPOCHS,
    indices of its positional arguments)."""
    found, positional, i = {}, [], 0
    while i < len(words):
        word = words[i]
        if word in ("-r", "--restore"):
            if words[i + 1:i + 2] and words[i + 1].isdigit():
                found[i + 1] = int(words[i + 1])
            i += 2
        elif word.startswith("-"):
            i += 1 if word in FLAGS or "=" in word else 2
        else:
            positional.append(i)
            i += 1
    if len(positional) == 2 and words[positional[1]].isdigit():  # else the script's refusal is the test's answer
        found[positional[1]] = int(words[positional[1]])
    return found, positional


def epoch_map(commands):
    numbers = {n for c in commands if c.script == "DCGAN_train.py" for n in epoch_positions(c.words)[0].values()}
    return {n: rank for rank, n in enumerate(sorted(numbers), 1)}


def scaled(words, epochs):
    words = list(words)
    for i, epoch in epoch_positions(words)[0].items():
        words[i] = str(epochs[epoch])
    return words


def data_folders(commands):
    """The data/NAME folders the commands read images from (not those they write)."""
    folders = set()
    for c in commands:
        for flag, value in zip(c.words, c.words[1:]):
            if flag in ("--data", "--real") and value.startswith("data/"):
                folders.add(value)
    return sorted(folders)


def parsed(command, words=None):
    """The command's arguments as its script reads them, or None when it would refuse them (its
    own run then says why)."""
    script = {"DCGAN_train.py": DCGAN_train, "generate_img.py": generate_img, "compute_fid.py": compute_fid}
    try:
        return script[command.script].parse_args(command.words if words is None else words)
    except SystemExit:
        return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COMMANDS = extract_commands((REPO / "README.md").read_text())


@dataclass
class Outcome:
    runs: list  # CompletedProcess of each process of the command (one per worker of a cluster)
    setup: list = field(default_factory=list)  # training runs for the sessions it names
    problems: list = field(default_factory=list)  # promised outputs that are missing


class Walkthrough:
    """The README's commands run once each, in order, in one sandbox; a test case asks for its
    own command, which first runs the ones before it (so `-k` on one case still works)."""

    def __init__(self, sandbox, commands):
        self.sandbox, self.commands = sandbox, commands
        self.epochs = epoch_map(commands)
        self.template = next(c for c in commands if c.script == "DCGAN_train.py" and "-r" not in c.words)
        self.outcomes = {}

    def outcome(self, command):
        for earlier in self.commands[:self.commands.index(command) + 1]:
            if earlier.line not in self.outcomes:
                self.outcomes[earlier.line] = self._run(earlier)
        return self.outcomes[command.line]

    def _process(self, script, words, env):
        argv = [sys.executable, str(REPO / script), *words]
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", **env)
        if "TF_CONFIG" not in env:
            return [script_processes.run(REPO / script, words, self.sandbox, env, TIMEOUT)]
        workers = [f"127.0.0.1:{free_port()}" for _ in json.loads(env["TF_CONFIG"])["cluster"]["worker"]]
        processes = [subprocess.Popen(argv, cwd=self.sandbox, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env=dict(env, TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                                                          "task": {"type": "worker", "index": i}})))
                     for i in range(len(workers))]
        try:
            outputs = [p.communicate(timeout=TIMEOUT) for p in processes]
            return [subprocess.CompletedProcess(argv, p.returncode, *out) for p, out in zip(processes, outputs)]
        finally:
            for p in processes:  # a worker left waiting for a dead peer would outlive the test
                if p.poll() is None:
                    p.kill()
                    p.wait()

    def _train(self, words, env):
        return self._process("DCGAN_train.py", scaled(words, self.epochs) + TRAIN_SMALL, env)

    def _run(self, command):
        if command.script == "DCGAN_train.py":
            return self._check_training(command, Outcome(self._train(command.words, command.env)))
        setup = [run for number in self._named_sessions(command) for run in self._train_missing(number)]
        if command.script == "generate_img.py":
            return self._run_generate(command, setup)
        copies = ["--copies", FID_OFFLINE[FID_OFFLINE.index("--num") + 1]] if "--copies" in command.words else []
        outcome = Outcome(self._process("compute_fid.py", command.words + FID_OFFLINE + copies, command.env), setup)
        return self._check_fid(command, outcome)

    def _named_sessions(self, command):
        args = parsed(command)
        if args is None:
            return []
        if command.script == "generate_img.py":
            return [int(args.training)] if args.training.isdigit() else []
        return args.sessions or ([args.fake] if isinstance(args.fake, int) else [])

    def _train_missing(self, number):
        if (self.sandbox / "checkpoints" / f"training_{number}").exists():
            return []
        words = list(self.template.words)
        words[epoch_positions(words)[1][0]] = str(number)
        return self._train(words, self.template.env)

    def _check_training(self, command, outcome):
        args = parsed(command, scaled(command.words, self.epochs))
        if command.refused is None and args is not None:
            checkpoint = self.sandbox / args.checkpoint_root / f"training_{args.session}" / f"ckpt-{args.epochs}.index"
            if not checkpoint.exists():
                outcome.problems.append(f"no checkpoint of the last epoch: {checkpoint}")
        return outcome

    def _run_generate(self, command, setup):
        args = parsed(command)
        if args is None:
            return Outcome(self._process("generate_img.py", command.words, command.env), setup)
        session = self.sandbox / args.checkpoint_root / f"training_{args.training}"
        out = self.sandbox / args.out if args.out else session / "generated"
        before = set(out.rglob("*")) if out.is_dir() else set()
        offline = COPIES_OFFLINE if args.reject_copies else []
        outcome = Outcome(self._process("generate_img.py", command.words + offline, command.env), setup)
        if command.refused is not None or not out.is_dir():
            return outcome
        new = [p for p in set(out.rglob("*")) - before if p.is_file()]
        strays = sorted(p.name for p in out.rglob("*") if p.is_file() and not IMAGE_NAME.fullmatch(p.name))
        if strays:
            outcome.problems.append(f"{out} holds files other than img_*.png: {strays[:5]}")
        stored = yaml.safe_load((session / "config.yaml").read_text()) if (session / "config.yaml").exists() else {}
        per_folder = {}
        for path in new:
            per_folder[path.parent] = per_folder.get(path.parent, 0) + 1
        classes = stored.get("class_names") if stored.get("conditional") else None
        if classes is not None and args.balance and not args.classes:  # NUM less each class's training images
            real = json.loads((session / "class_counts.json").read_text())
            expected = {out / folder: int(args.num) - real[name] for name, folder in zip(classes, class_folders(classes))
                        if real[name] < int(args.num)}
            if per_folder != expected:
                outcome.problems.append(f"new images per folder {self._relative(per_folder)}, not NUM less the "
                                        f"training images of each class, {self._relative(expected)}")
            return outcome
        expected = {out: int(args.num)} if classes is None else None
        if classes is None and per_folder != expected:
            outcome.problems.append(f"new images per folder {self._relative(per_folder)}, not {args.num} in {out}")
        wanted = len(set(args.classes)) if classes is not None and args.classes else len(classes or [])
        if classes is not None and (len(per_folder) != wanted or set(per_folder.values()) != {int(args.num)}):
            outcome.problems.append(f"new images per folder {self._relative(per_folder)}, not {args.num} in each of "
                                    f"{wanted} class folders")
        return outcome

    def _relative(self, per_folder):
        return {str(folder.relative_to(self.sandbox)): n for folder, n in sorted(per_folder.items())}

    def _check_fid(self, command, outcome):
        args = parsed(command)
        if command.refused is not None or args is None:
            return outcome
        stdout = outcome.runs[0].stdout
        if args.sessions:
            table = Path(f"{self.sandbox / (args.table or Path(args.checkpoint_root) / 'fid_sessions')}.csv")
            rows = list(csv.DictReader(table.open())) if table.exists() else []
            if sorted(int(r["session"]) for r in rows) != sorted(args.sessions):
                outcome.problems.append(f"{table} has sessions {[r['session'] for r in rows]}, not {args.sessions}")
        elif not re.search(r"^FID: [-+\d.e]+$", stdout, re.M):
            outcome.problems.append("no 'FID: <value>' line in the output")
        asked = ["KID"] * args.kid + ["precision", "recall", "density", "coverage"] * args.prdc + \
            ["copies"] * (args.copies is not None)
        missing = [name for name in asked if not re.search(rf"(^|\s){name}: ", stdout, re.M)]
        if missing:
            outcome.problems.append(f"no {', '.join(missing)} in the output")
        return outcome


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    if not any(idx.holds_idx(folder) for folder in idx.IDX_DIRS["fashion_mnist"]):
        pytest.fail("The README's default data set is Fashion-MNIST, not found in "
                    f"{', '.join(map(str, idx.IDX_DIRS['fashion_mnist']))}: make test installs it.")
    sandbox = tmp_path_factory.mktemp("readme")
    (sandbox / "configs").symlink_to(REPO / "configs")
    for folder in data_folders(COMMANDS):
        make_image_folder(sandbox / folder, count=8)
    return Walkthrough(sandbox, COMMANDS)


def report(run):
    return f"$ {shlex.join(map(str, run.args[1:]))}\nexit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command(walkthrough, command):
    outcome = walkthrough.outcome(command)
    for run in outcome.setup:
        assert run.returncode == 0, "training the session this command names failed:\n" + report(run)
    for run in outcome.runs:
        if command.refused is None:
            assert run.returncode == 0, report(run)
        else:
            assert run.returncode == 2 and command.refused in run.stderr, \
                f"expected the refusal '{command.refused}':\n" + report(run)
    assert not outcome.problems, "; ".join(outcome.problems) + "\n" + report(outcome.runs[0])


def test_the_readme_shows_each_script_and_the_folder_training_that_once_failed():
    assert {c.script for c in COMMANDS} == set(SCRIPTS)
    # Refused with "dataset 'folder' needs data_dir" when --data did not reach a config naming the dataset.
    assert "python DCGAN_train.py --config configs/image_folder_64.yaml --data data/hands 3 50" in \
        [c.text for c in COMMANDS]


def test_extraction_keeps_commands_and_their_exports_and_drops_the_rest():
    markdown = "\n".join([
        "Text `python DCGAN_train.py 1 1` inline is prose.",
        "",
        "    python DCGAN_train.py [-r OFFSET] SESSION EPOCHS",
        "    export TF_CONFIG='{\"a\": 1}'",
        "    python DCGAN_train.py -r 100 2 150   # resume",
        "    python app.py",
        "    make demo",
        "    python bench/bench_train.py",
        "",
        "Prose ends the block.",
        "",
        "```sh",
        "python compute_fid.py --real data/x  # refused: no such folder",
        "```",
        "    python DCGAN_train.py --data data/y \\",
        "        --strict 3 50",
    ])
    commands = extract_commands(markdown)
    assert [(c.line, c.text, c.env, c.refused) for c in commands] == [
        (5, "python DCGAN_train.py -r 100 2 150", {"TF_CONFIG": '{"a": 1}'}, None),
        (13, "python compute_fid.py --real data/x", {}, "no such folder"),
        (15, "python DCGAN_train.py --data data/y --strict 3 50", {}, None),
    ]
    epochs = epoch_map(commands)
    assert epochs == {50: 1, 100: 2, 150: 3}
    assert scaled(commands[0].words, epochs) == ["-r", "2", "2", "3"]
    assert scaled(commands[2].words, epochs) == ["--data", "data/y", "--strict", "3", "1"]
    assert data_folders(commands) == ["data/x", "data/y"]
