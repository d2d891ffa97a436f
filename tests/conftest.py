"""Setup and helpers shared by the test modules (none of which imports another)."""
import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Importing the script sets this itself, and says so in a line; the tests know.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# On two workers (-n 2) over two cores, each worker's TensorFlow, and each script it starts,
# runs its ops on one thread: its own two pools of two would have the cores taken in turns
# (test_same_learning.py on two workers: 52 s so, 63 s without, on the EPYC). It changes
# float32 rounding only, which the tests allow for.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# The script lives at the top of the repository, not in a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import count_ones_lstm as col  # noqa: E402

try:
    import resource  # Unix's limits on a process, here to make a disk seem full
except ImportError:
    resource = None


def pytest_configure(config):
    # The TF1 cells warn that they are deprecated each time one is built; that is the point.
    config.addinivalue_line(
        "filterwarnings", "ignore:.*is deprecated and will be removed:UserWarning")
    config.addinivalue_line("markers", "long: one of the tests of ten seconds or more")


COLLECTED = []  # how many tests this session collected (before -k or --deselect drop some)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    COLLECTED.append(len(items))
    # The long tests first: on two workers (-n 2) each then takes some of them at the start,
    # and neither waits out a long test that the other began last.
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


# --- helpers the test modules share: runs, folders, edited copies of the script -----------

SCRIPT = Path(col.__file__).resolve()


def shipped(name):
    """A file of the repository as last committed, the one shipped: the checks of its layout
    (lines per function, sections per README) hold for it, whatever a learner's edit adds to
    the working copy. Outside a git checkout, the file as it is."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        committed = subprocess.run(["git", "show", f"HEAD:{name}"], cwd=SCRIPT.parent,
                                   capture_output=True, text=True, timeout=60)
        if committed.returncode == 0:
            return committed.stdout
    return (SCRIPT.parent / name).read_text(encoding="utf-8")


def run_in(directory):
    """The one run folder that runs made in a CHECKPOINT_DIR."""
    [folder] = [path for path in Path(directory).iterdir() if path.name.startswith("run-")]
    return folder


def record_in(directory):
    """The record of the one run saved in a CHECKPOINT_DIR."""
    return col.read_record(str(run_in(directory)))


def run_script(*args, cwd):
    """Run the script as a user would, in cwd (where its checkpoints/ then goes)."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def refused(argv, capsys, *words):
    """Run the script in-process with argv: it must stop with status 2, print nothing on
    stdout and one line on stderr holding each of words."""
    assert col.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and all(word in lines[0] for word in words), captured.err


# The speed settings that step aside: the tutorial's dynamic_rnn, batch loop and grading. Its
# graph builds in a quarter of the time, so tests whose subject is not the speed paths use it
# (test_same_learning.py checks that both ways learn the same).
PLAIN = ["--unroll", "dynamic", "--towers", "1", "--grading", "batches"]
# A run of seconds: 6-bit strings, 40 to train on in batches of 10, graded every 2 epochs;
# TINY_FAST at the default speed settings, TINY at the plain ones.
TINY_FAST = ["--seq-len", "6", "--num-examples", "40", "--batch-size", "10", "--eval-every", "2"]
TINY = TINY_FAST + PLAIN


def files_in(directory):
    """Every file in directory with its bytes and modification time, to see that none changed;
    but the lock file, which each run that takes the lock opens anew (filelock truncates it)."""
    return {path.relative_to(directory).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(Path(directory).rglob("*"))
            if path.is_file() and path.name != col.LOCK_FILE}


def edited_copy(tmp_path, *edits, name="count_ones_lstm.py"):
    """A copy of the script in tmp_path with each (old line start, new line) edit made to
    it; the line that starts with `old` is replaced whole (or removed, if new is None)."""
    lines = SCRIPT.read_text(encoding="utf-8").splitlines()
    for old, new in edits:
        [index] = [i for i, line in enumerate(lines) if line.startswith(old)]
        lines[index:index + 1] = [new] if new is not None else []
    tmp_path.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / name
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return copy


def run_copy(copy, *args):
    return subprocess.run([sys.executable, str(copy), *args], cwd=copy.parent,
                          capture_output=True, text=True, timeout=300)


def load_copy(copy):
    """The edited copy of the script imported as a module of its own, to run main() in this
    process (the copy's own code, read from its own file)."""
    spec = importlib.util.spec_from_file_location(f"copy_{copy.stem}", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_files_only(limit=4096):
    """In the child process: no file may grow past limit bytes, as on a disk that is full (a
    model's data file is about 30 KiB), and writing past that is an error, not a kill."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def removed_before_epoch(monkeypatch, folder, epoch):
    """Have `folder` removed (as a user might, mid-run) just before the run trains `epoch`:
    the script's train_epoch wrapped, for runs at the plain speed settings, in-process."""
    real, started = col.train_epoch, []

    def train_epoch(*args):
        started.append(1)
        if len(started) == epoch:
            shutil.rmtree(folder)
        return real(*args)
    monkeypatch.setattr(col, "train_epoch", train_epoch)
