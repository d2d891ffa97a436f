"""Issue 20: the script runs where learners are, Windows and macOS as well as Linux. No
Windows machine is at hand, so these run it on this one in a Python made to lack what only
Unix has (fcntl, resource, os.sysconf), with Windows's own ways stood in for where the
script meets them: Ctrl-Break (SIGUSR1 plays it), a closed pipe that says EINVAL, and a file
another program holds open (PermissionError)."""

import errno
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import count_ones_lstm as col
from conftest import COLLECTED, SCRIPT, TINY, record_in, refused, run_in

AS_ON_WINDOWS = ("import os, runpy, signal, sys\n"
                 "sys.modules['fcntl'] = sys.modules['resource'] = None\n"
                 "del os.sysconf\n"
                 "signal.SIGBREAK = signal.SIGUSR1\n")
RUN = "sys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
CLOSED_PIPE = ("import errno, io\n"  # what writing to a pipe nobody reads gives on Windows
               "class ClosedPipe(io.TextIOWrapper):\n"
               "    def write(self, text):\n"
               "        raise OSError(errno.EINVAL, 'Invalid argument')\n")
# main() called once for each command line in the JSON list argv[2] ([argv, stdout closed?]),
# in the one process: [status, stdout, stderr] for each, as JSON on the process's stdout.
EACH_IN_ONE = ("import contextlib, json\n"
               "os.environ['TF_USE_LEGACY_KERAS'] = '1'  # as the script run as a script sets\n"
               "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
               "sys.path.insert(0, os.path.dirname(sys.argv[1]))\n"
               "import count_ones_lstm as col\n"
               "results = []\n"
               "for argv, closed in json.loads(sys.argv[2]):\n"
               "    out, err = io.StringIO(), io.StringIO()\n"
               "    if closed:\n"
               "        out = ClosedPipe(open(os.devnull, 'wb'))\n"
               "    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
               "        try:\n"
               "            status = col.main(argv)\n"
               "        except SystemExit as done:\n"
               "            status = done.code\n"
               "    results.append([status, '' if closed else out.getvalue(), err.getvalue()])\n"
               "print(json.dumps(results))\n")


def as_on_windows(*args, prelude=""):
    """The command that runs the script with args in a Python without fcntl, resource and
    os.sysconf; or, given a prelude, that code, with the script's path as sys.argv[1]."""
    if prelude:
        return [sys.executable, "-c", AS_ON_WINDOWS + prelude, str(SCRIPT), *args]
    return [sys.executable, "-c", AS_ON_WINDOWS + RUN, str(SCRIPT), *args]


def run(command, cwd):
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


SIMULATED = pytest.mark.skipif(not (hasattr(os, "sysconf") and hasattr(signal, "SIGUSR1")),
                               reason="stands Windows in on a Unix; on Windows every other "
                               "test runs the real thing")


@SIMULATED
@pytest.mark.long
def test_the_main_paths_run_in_a_python_without_fcntl_resource_and_sysconf(tmp_path):
    args = TINY + ["--save-every", "1", "--checkpoint-dir", "saved"]
    long = [*args, "--epochs", "3000", "--eval-every", "1000"]
    training = subprocess.Popen(as_on_windows(*long), cwd=tmp_path, text=True,  # as a user
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # runs it
    seen = []
    for line in training.stdout:
        seen.append(line)
        if line.startswith("Epoch    5/3000 loss"):
            break
    folder = run_in(tmp_path / "saved").relative_to(tmp_path)
    assert seen[0] == f"New run, saving in {folder}{os.sep}\n"
    # While it trains, five command lines in one other process (quicker, the same checks):
    # the lock held, and reading beside it; then the same with nobody reading the output.
    calls = [[["--help"], False], [long, False], [args + ["--predict", "010110"], False],
             [args + ["--help"], True], [args + ["--predict", "010110"], True]]
    together = run(as_on_windows(json.dumps(calls), prelude=CLOSED_PIPE + EACH_IN_ONE),
                   tmp_path)
    assert together.returncode == 0, together.stderr
    shown, busy, asked, *unread = json.loads(together.stdout.splitlines()[-1])
    assert shown[0] == 0 and "--seq-len" in shown[1] and shown[2] == ""
    assert busy[:2] == [2, ""] and busy[2].splitlines() == [
        f"count_ones_lstm.py: Another run is training in {folder}{os.sep} (it holds "
        f"{folder / 'count_ones_lstm.lock'}): wait for it to end, or give another "
        "--checkpoint-dir."]
    assert asked[0] == 0 and asked[2] == "", asked[2]
    assert asked[1].splitlines()[1].startswith("010110 predicted count ")
    assert unread == [[0, "", ""], [0, "", ""]]  # quiet, as on Linux
    assert training.poll() is None  # all of it while the run trained and saved every epoch

    training.send_signal(signal.SIGUSR1)  # Ctrl-Break, in this stand-in for Windows
    _, err = training.communicate(timeout=120)
    assert training.returncode == 130
    stop = re.search(r"stopped by Ctrl-Break after epoch (\d+) of 3000; saved in ", err)
    assert stop and all(line.startswith("count_ones_lstm.py: ") for line in err.splitlines()), \
        err  # its own lines, no warning
    stopped = int(stop.group(1))
    assert record_in(tmp_path / "saved")["epoch"] == stopped
    killed = subprocess.Popen(as_on_windows(*long), cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = killed.stdout.readline()  # it goes on: the run Ctrl-Break stopped let go of the lock
    assert first.startswith(f"Continuing the run saved in {folder}{os.sep} from epoch {stopped}")
    line = ""
    for line in killed.stdout:
        if line.startswith("Epoch "):
            break
    assert line.startswith(f"Epoch {stopped + 1:4d}/3000 loss"), line
    killed.kill()  # no word, no cleaning up: the lock it held is let go all the same
    killed.communicate(timeout=120)
    after = run(as_on_windows(*long[:-4], "--epochs", "1"), tmp_path)
    assert after.returncode == 0 and "nothing left to train" in after.stdout


@SIMULATED
@pytest.mark.long
def test_the_tests_collect_without_fcntl_resource_and_sysconf_and_say_why_one_skips(request):
    # One run there: every test collected (one selected, the rest deselected), and the one
    # that needs Unix's file size limit skips, saying why.
    skip = ("import pytest\nsys.exit(pytest.main(['-p', 'no:cacheprovider', '-p', 'no:xdist', "
            "'-rs', '-q', 'tests', '-k', 'full_disk_names']))\n")
    there = run([sys.executable, "-c", AS_ON_WINDOWS + skip], SCRIPT.parent)
    assert "needs Unix's RLIMIT_FSIZE" in there.stdout, there.stdout[-2000:]
    ran = re.search(r"^1 skipped, (\d+) deselected", there.stdout, re.MULTILINE)
    asked = [Path(request.config.invocation_params.dir, arg).resolve()
             for arg in request.config.args]
    if asked == [SCRIPT.parent / "tests"]:  # this session collected every test: its count
        counts = [str(COLLECTED[-1])]
    else:  # some of them asked for: a collect-only run of them all
        collect = ("import pytest\nsys.exit(pytest.main(['-p', 'no:cacheprovider', '-p', "
                   "'no:xdist', '--collect-only', '-q', 'tests']))\n")
        here = run([sys.executable, "-c", "import sys\n" + collect], SCRIPT.parent)
        counts = re.findall(r"^(\d+) tests collected", here.stdout, re.MULTILINE)
    assert ran and counts == [str(1 + int(ran.group(1)))]  # every test, not one lost


@pytest.mark.parametrize("prelude, environment, sentence", [
    ("sys.version_info = (3, 9, 6, 'final', 0); sys.version = '3.9.6 (default)'\n", {},
     "this is Python 3.9.6; TensorFlow 2.21 needs 3.10 to 3.13: make .venv with one"),
    ("sys.modules['tf_keras'] = None\n", {},
     "tf-keras is not installed in this Python ("),
    ("", {"TF_USE_LEGACY_KERAS": "0"},
     "TF_USE_LEGACY_KERAS is '0', but the TF1 cells need Keras 2 (tf-keras): unset it, or"),
])
def test_a_python_or_packages_it_cannot_run_on_are_one_sentence_naming_the_fix(
        prelude, environment, sentence, tmp_path):
    command = [sys.executable, "-c", "import os, runpy, sys\n" + prelude + RUN, str(SCRIPT)]
    stopped = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                             timeout=300, env={**os.environ, **environment})
    assert stopped.returncode == 1 and stopped.stdout == ""
    [line] = stopped.stderr.splitlines()
    assert line.startswith("count_ones_lstm.py: ") and sentence in line, line


@pytest.mark.long
def test_importing_it_changes_only_what_it_says(tmp_path):
    look = ("import os, warnings\n"  # TensorFlow's own packages add filters; it adds none
            "filters = list(warnings.filters)\n"
            "import count_ones_lstm as col\n"
            "ours = [kind for kind in warnings.filters if kind not in filters\n"
            "        and 'deprecated' in getattr(kind[1], 'pattern', '')]\n"
            "print(os.environ['TF_USE_LEGACY_KERAS'], 'TF_CPP_MIN_LOG_LEVEL' in os.environ,\n"
            "      len(ours), col.tf1.logging.get_verbosity())\n")
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("TF_")}
    imported = subprocess.run([sys.executable, "-c", look], cwd=SCRIPT.parent, text=True,
                              capture_output=True, timeout=300, env=environment)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.split() == ["1", "False", "0", str(col.tf1.logging.WARN)]
    assert imported.stderr.splitlines() == [
        "count_ones_lstm: set TF_USE_LEGACY_KERAS=1 in this Python, as its TF1 cells need "
        "tf-keras; so tf.keras, if not used yet, is Keras 2."]
    told = subprocess.run([sys.executable, "-c", look], cwd=SCRIPT.parent, text=True,
                          capture_output=True, timeout=300,
                          env={**environment, "TF_USE_LEGACY_KERAS": "1"})
    assert told.returncode == 0 and told.stderr == ""
    keras3 = subprocess.run(  # tf.keras used as Keras 3 first: it stays so, the cells work
        [sys.executable, "-c", "import tensorflow as tf; tf.keras.layers.Dense\n"
         "import count_ones_lstm as col\n"
         f"assert col.main({TINY + ['--epochs', '1', '--checkpoint-dir', '']}) == 0\n"
         "print(tf.keras.__name__)"], cwd=SCRIPT.parent, text=True,
        capture_output=True, timeout=300, env=environment)
    assert keras3.returncode == 0, keras3.stderr
    assert keras3.stdout.splitlines()[-1] == "keras._tf_keras.keras"


# --- what Windows refuses: a file another program holds open; a lock the disk cannot take --

def test_a_save_waits_while_a_reader_holds_the_record_and_a_held_record_is_one_sentence(
        tmp_path, capsys, monkeypatch):
    where = TINY + ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(where + ["--epochs", "2"]) == 0
    folder = run_in(tmp_path)
    refusals, replace = iter([True] * 5), os.replace
    held = PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    def replace_when_let(*paths):  # as Windows does while a --predict reads the record
        if next(refusals, False):
            raise held
        replace(*paths)

    monkeypatch.setattr(col.os, "replace", replace_when_let)
    assert col.main(where + ["--epochs", "4"]) == 0
    assert record_in(tmp_path)["epoch"] == 4 and next(refusals, "all") == "all"
    assert sorted(path.name for path in folder.glob("model-*")) == [
        "model-3.data-00000-of-00001", "model-3.index",
        "model-4.data-00000-of-00001", "model-4.index"]
    capsys.readouterr()

    monkeypatch.setattr(col.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(col.os, "replace", lambda *paths: (_ for _ in ()).throw(held))
    assert col.main(where + ["--epochs", "7"]) == 1  # held for good: one sentence, no loss
    assert capsys.readouterr().err.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 5 in {folder}{os.sep} failed (Permission denied); "
        f"the last save, epoch 4 in {folder}{os.sep}, is kept as it was (fix that, then run "
        "the same command to continue)."]
    assert record_in(tmp_path)["epoch"] == 4
    assert not list(folder.glob("*.tmp"))  # what it wrote of the record went again


def test_a_folder_that_cannot_be_locked_is_refused_in_one_sentence(tmp_path, capsys,
                                                                    monkeypatch):
    class NoLocks(col.filelock.FileLock):
        def acquire(self, *args, **kwargs):
            raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(col.filelock, "FileLock", NoLocks)
    refused(TINY + ["--checkpoint-dir", str(tmp_path)], capsys, "count_ones_lstm.lock cannot "
            "be locked (No locks available), so two runs could train there at once; give "
            "another --checkpoint-dir.")
    assert not list(tmp_path.glob("*/model-*"))
