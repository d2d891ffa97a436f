"""The fourth rule, "a fault becomes one sentence, with the system's own reason", checked by
doing to real runs what three fault probes did: damaged saves, records edited by hand or
another run's save copied in, FIFOs and folders where files belong, folders that cannot be
read or written, paths TensorFlow reads as patterns, full disks and closed pipes, two
signals. Each time the exit status, the sentence, and every file of the folder byte for byte;
--fresh is offered only for a file that is damaged, never for one the system refused."""

import errno
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import count_ones_lstm as col
from conftest import (SCRIPT, TINY, record_in, refused, removed_before_epoch, resource, run_in,
                      small_files_only)

UNIX = pytest.mark.skipif(sys.platform == "win32", reason="Unix signals, FIFOs and /dev/full")
NEEDS_RLIMIT = pytest.mark.skipif(resource is None, reason="needs RLIMIT_FSIZE for a full disk")


def tree(directory):
    """Every file below directory (but the lock, which each run opens anew) and its bytes."""
    return {path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(Path(directory).rglob("*"))
            if path.is_file() and not path.is_symlink() and path.name != col.LOCK_FILE}


@pytest.fixture
def trained(tmp_path, capsys):
    """A tiny model saved at epoch 2: (the options that run it there, its run's folder)."""
    where = TINY + ["--save-every", "1", "--checkpoint-dir", str(tmp_path / "saved")]
    assert col.main(where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    return where, run_in(tmp_path / "saved")


def start(*args, cwd, **streams):
    """The script started as a user would, its output read line by line."""
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=cwd, text=True,
                            **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **streams})


@pytest.mark.parametrize("name", ["ck[1]", "a*b", "what?"])
def test_a_folder_name_tensorflows_reader_takes_for_a_pattern_is_refused_before_training(
        name, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    refused(TINY + ["--checkpoint-dir", str(tmp_path / name)], capsys, "CHECKPOINT_DIR is",
            "but it must be a path without [, * or ?, which TensorFlow's reader takes for a "
            "pattern.")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, path", [("--checkpoint-dir", "ram://ck"),
                                          ("--checkpoint-dir", "gs://bucket/ck"),
                                          ("--log-dir", "ram://logs")])
def test_a_folder_tensorflow_would_reach_through_its_own_file_system_is_refused(
        option, path, tmp_path, capsys, monkeypatch):
    # Probe 2, case 2: TensorFlow wrote ram://ck's weights in memory, the record went to
    # ./ram:/ck/ on disk; the next run found no save. gs:// ended in a traceback.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    for more in (["--epochs", "1"], ["--predict", "010101"]):
        refused(TINY + [option, path] + more, capsys, f"{option[2:].upper().replace('-', '_')} "
                f"is {path!r}, but it must be a folder on this computer, not one TensorFlow "
                "reaches through a file system of its own (ram://, gs://).")
    assert list(tmp_path.iterdir()) == []


# --- a stopped run keeps its finished epochs, and says so ----------------------------------------

@UNIX
def test_a_closed_pipe_saves_the_last_epoch_and_says_so(tmp_path):
    run = start(*TINY, "--epochs", "3000", "--save-every", "100", "--eval-every", "1000",
                "--checkpoint-dir", "piped", cwd=tmp_path)
    shown = [run.stdout.readline() for _ in range(30)]  # as `| head -n 30`
    run.stdout.close()
    err = run.stderr.read()
    assert run.wait(timeout=120) == 1
    last = max(int(n) for n in re.findall(r"^Epoch +(\d+)/3000 loss", "".join(shown), re.M))
    stop = re.fullmatch(r"count_ones_lstm\.py: its output failing \(Broken pipe\): stopping "
                        r"after this epoch, which is then saved\.\ncount_ones_lstm\.py: stopped "
                        r"by its output failing \(Broken pipe\) after epoch (\d+) of 3000; saved "
                        r"in piped/run-\w+/; run the same command to continue\.\n", err)
    assert stop, err
    assert record_in(tmp_path / "piped")["epoch"] == int(stop.group(1)) >= last


@NEEDS_RLIMIT
@pytest.mark.long
def test_a_full_stdout_saves_the_last_epoch_and_says_so(tmp_path):
    with open(tmp_path / "out.txt", "w") as out:  # 40 KiB fill up at about epoch 500; a save
        run = start(*TINY, "--epochs", "3000", "--save-every", "100", "--eval-every", "1000",
                    "--checkpoint-dir", "full", cwd=tmp_path, stdout=out,  # takes 30 KiB
                    preexec_fn=lambda: small_files_only(40960))
        err = run.communicate(timeout=300)[1]
    assert run.returncode == 1
    stop = re.search(r"stopped by its output failing \(File too large\) after epoch (\d+) of "
                     r"3000; saved in full/run-\w+/; run the same command to continue\.$", err)
    assert stop, err
    assert record_in(tmp_path / "full")["epoch"] == int(stop.group(1)) > 100
    assert f"Epoch {int(stop.group(1)) - 1:4d}/3000 loss" in (tmp_path / "out.txt").read_text()


@UNIX
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_stdout_full_from_the_start_trains_nothing_and_says_so(tmp_path):
    with open("/dev/full", "w") as full:
        run = start(*TINY, "--epochs", "5", "--checkpoint-dir", "full", cwd=tmp_path,
                    stdout=full)
        err = run.communicate(timeout=300)[1]
    assert run.returncode == 1
    assert re.fullmatch(r"count_ones_lstm\.py: stopped by its output failing \(No space left on "
                        r"device\) after epoch 0 of 5; nothing is saved in full/run-\w+/\.",
                        err.splitlines()[-1]), err
    assert "Traceback" not in err and list((tmp_path / "full").iterdir()) == []  # nor a folder


@NEEDS_RLIMIT
def test_a_log_that_cannot_be_written_stops_logging_not_training(tmp_path):
    run = start(*TINY, "--epochs", "4", "--checkpoint-dir", "saved", "--log-dir", "logs",
                cwd=tmp_path, preexec_fn=lambda: small_files_only(65536))  # the graph is more
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert re.fullmatch(r"count_ones_lstm\.py: TensorBoard's log logs/\S+/events\.out\.tfevents"
                        r"\.\d+\.\d+\.py cannot be written \(File too large\); logging stops here, "
                        r"the run goes on\.\n", err), err
    assert "Epoch 4 error" in out and record_in(tmp_path / "saved")["epoch"] == 4


@UNIX
def test_a_log_folder_removed_during_the_run_stops_logging_not_training(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)  # (the run's own process is not the subject: it runs here)
    removed_before_epoch(monkeypatch, tmp_path / "logs", 4)  # saved 1 to 3, if saving
    assert col.main([*TINY, "--epochs", "10", "--eval-every", "1000", "--checkpoint-dir",
                     "saved", "--log-dir", "logs"]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"count_ones_lstm\.py: TensorBoard's log logs/\S+ cannot be written "
                        r"\(its folder was removed\); logging stops here, the run goes on\.\n",
                        err), err
    assert record_in(tmp_path / "saved")["epoch"] == 10 and not (tmp_path / "logs").exists()


# main() run once for each command line read from stdin (a JSON list a line), in one process,
# as the script runs it once: between runs the stop signals are ignored, as the script ignores
# them once main() has returned. After each run a line: "done", its status, its stderr (JSON).
RUNS_MAIN = ("import contextlib, io, json, os, signal, sys\n"
             "os.environ['TF_USE_LEGACY_KERAS'] = '1'  # as the script run as a script sets\n"
             "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
             "sys.path.insert(0, os.path.dirname(sys.argv[1]))\n"
             "import count_ones_lstm as col\n"
             "for number in col.STOPS:\n"
             "    signal.signal(number, signal.SIG_IGN)\n"
             "for line in sys.stdin:\n"
             "    err = io.StringIO()\n"
             "    with contextlib.redirect_stderr(err):\n"
             "        status = col.main(json.loads(line))\n"
             "    print('done', status, json.dumps(err.getvalue()), flush=True)\n")


@UNIX
@pytest.mark.long
def test_a_second_signal_still_ends_in_the_saved_epoch(tmp_path):
    # Each run gets its signals after epoch 5; six runs in one process, which the signals
    # reach as a terminal's would (one process, not six: a sixth of the start-up time).
    cases = [([signal.SIGTERM] * 2, 0.02, 143, "SIGTERM"),
             ([signal.SIGINT] * 2, 0.02, 130, "Ctrl-C"),
             ([signal.SIGHUP] * 2, 0.02, 129, r"SIGHUP \(its terminal closed\)"),
             ([signal.SIGQUIT] * 2, 0.02, 131, "SIGQUIT"),
             ([signal.SIGINT, signal.SIGTERM], 0.2, 130, "Ctrl-C"),  # the first names it
             ([signal.SIGINT, signal.SIGTERM] * 20, 0, 130, "Ctrl-C")]  # a burst: the same
    runs = subprocess.Popen([sys.executable, "-c", RUNS_MAIN, str(SCRIPT)], cwd=tmp_path,
                            text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    for case, (sent, pause, status, name) in enumerate(cases):
        runs.stdin.write(json.dumps([*TINY, "--epochs", "3000", "--eval-every", "1000",
                                     "--save-every", "1000", "--checkpoint-dir",
                                     f"twice{case}"]) + "\n")
        runs.stdin.flush()
        for line in runs.stdout:
            if line.startswith("Epoch    5/3000 loss"):
                break
        for number in sent:
            runs.send_signal(number)
            time.sleep(pause)
        line = ""
        for line in runs.stdout:
            if line.startswith("done "):
                break
        _, returned, err = line.split(" ", 2)
        err = json.loads(err)
        assert int(returned) == status, (name, err)
        stop = re.search(rf"count_ones_lstm\.py: stopped by {name} after epoch (\d+) of 3000; "
                         rf"saved in twice{case}/run-\w+/; run the same command to "
                         r"continue\.\n$", err)
        assert stop and "Traceback" not in err, err
        folder = run_in(tmp_path / f"twice{case}")
        assert record_in(tmp_path / f"twice{case}")["epoch"] == int(stop.group(1))
        assert sorted(tree(folder)) == ["checkpoint", "count_ones_lstm.json",
                                        f"model-{stop.group(1)}.data-00000-of-00001",
                                        f"model-{stop.group(1)}.index"]
    runs.stdin.close()
    assert runs.wait(timeout=60) == 0, runs.stderr.read()
    assert sorted(path.name for path in tmp_path.iterdir()) == [  # no core file
        f"twice{case}" for case in range(len(cases))]


# --- a run's files: whatever is wrong with them is one sentence -----------------------------

@pytest.mark.parametrize("damage", ["truncate data", "flip data", "delete data"])
def test_a_damaged_save_is_named_in_one_sentence_and_left_as_it_was(damage, trained, capsys):
    where, folder = trained
    data = folder / "model-2.data-00000-of-00001"
    if damage == "truncate data":
        data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
    elif damage == "flip data":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    else:
        data.unlink()
    before = tree(folder)
    named = folder / ("count_ones_lstm.json" if damage == "delete data" else "model-2")
    for argv in (where + ["--epochs", "4"], where + ["--predict", "010110"]):
        refused(argv, capsys, f"{named} cannot be read (", "): it is damaged or incomplete; "
                "give --fresh")
    assert tree(folder) == before
    assert col.main(where + ["--epochs", "1", "--fresh"]) == 0  # --fresh gets past it


@pytest.mark.parametrize("edit", [
    lambda record: record["settings"].update(NUM_HIDDEN=12),
    lambda record: record["settings"].update(NUM_HIDDEN=10**12),
    lambda record: record.update(settings="[" * 30000 + "]" * 30000),
    lambda record: record.update(epoch=2**63, checkpoint=f"model-{2**63}"),
    lambda record: record.update(epoch="9" * 70000),
    lambda record: record.update(checkpoint="model-7"),
    lambda record: record["gradings"].append([3, "test", 1, 2]),
    lambda record: record.update(training_seconds="3s"),
    lambda record: record.pop("digest"),
])
def test_a_record_edited_by_hand_is_one_sentence_and_nothing_trains(edit, trained, capsys,
                                                                    monkeypatch):
    # Not a check per field: the record carries a digest of itself, and any edit shows.
    where, folder = trained
    path = folder / col.CHECKPOINT_FILE
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record).replace('"[[[', "[[[").replace(']]]"', "]]]"))
    before = tree(folder)
    monkeypatch.setattr(col, "train", lambda *a, **k: pytest.fail("it trained"))
    for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
        refused(argv, capsys, f"{path} cannot be read (", "): it is damaged or incomplete; "
                "give --fresh (which moves what is there aside) or another --checkpoint-dir.")
    assert tree(folder) == before


@pytest.mark.parametrize("format, age", [(99, "a newer"), (4, "an older")])
def test_a_record_of_another_version_of_the_script_is_one_sentence(format, age, trained,
                                                                   capsys):
    where, folder = trained
    path = folder / col.CHECKPOINT_FILE
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": format}))
    before = tree(folder)
    refused(where + ["--epochs", "3"], capsys, f"The model saved in {folder}{os.sep} was "
            f"written by {age} version of this script; give --fresh")
    assert tree(folder) == before


def test_a_save_copied_in_from_another_run_is_not_the_records(trained, tmp_path, capsys,
                                                              monkeypatch):
    # The same shapes, another seed: its index holds other checksums than the record names.
    where, folder = trained
    other = TINY + ["--save-every", "1", "--checkpoint-dir", str(tmp_path / "other")]
    assert col.main(other + ["--epochs", "2", "--seed", "1"]) == 0
    for name in ("model-2.index", "model-2.data-00000-of-00001"):
        shutil.copy(run_in(tmp_path / "other") / name, folder / name)
    capsys.readouterr()
    before = tree(folder)
    monkeypatch.setattr(col, "train", lambda *a, **k: pytest.fail("it trained"))
    for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
        refused(argv, capsys, f"{folder / col.CHECKPOINT_FILE} cannot be read (model-2 is not "
                "the save it was written with): it is damaged or incomplete; give --fresh")
    assert tree(folder) == before


@UNIX
@pytest.mark.parametrize("name", [col.CHECKPOINT_FILE, "model-2.index"])
def test_a_fifo_or_folder_where_a_file_belongs_is_refused_not_waited_on(name, trained, capsys):
    where, folder = trained
    for kind in ("fifo", "folder"):
        (folder / name).unlink()  # the file, then the FIFO
        if kind == "fifo":
            os.mkfifo(folder / name)
        else:
            (folder / name).mkdir()
        before = tree(folder)

        def waited(signum, frame):  # opening a FIFO waits for a writer: the alarm ends it
            raise TimeoutError(f"the script waited on the FIFO {name}")

        previous = signal.signal(signal.SIGALRM, waited)
        signal.alarm(60)
        try:
            for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
                refused(argv, capsys, f"{folder / name} cannot be used (not a plain file); "
                        "fix that, or give another folder.")
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        assert tree(folder) == before


def test_the_systems_reason_is_said_and_a_healthy_save_is_not_offered_fresh(trained, capsys,
                                                                           monkeypatch):
    # As root, as here, a file's mode stops nothing: the system's refusals are stood in for.
    where, folder = trained
    stat = os.stat

    def denied(path, *args, **kwargs):  # the record at mode 000
        if str(path).endswith(col.CHECKPOINT_FILE):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return stat(path, *args, **kwargs)

    monkeypatch.setattr(col.os, "stat", denied)
    refused(where + ["--predict", "010110"], capsys, f"{folder / col.CHECKPOINT_FILE} cannot be "
            "used (Permission denied); fix that, or give another folder.")
    monkeypatch.undo()

    def too_many(path, *args, **kwargs):  # out of file handles (`ulimit -n`), reading the save
        if "model-2" in str(path):
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), path)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(col, "open", too_many, raising=False)  # read_file's
    before = tree(folder)
    for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
        refused(argv, capsys, f"{folder / 'model-2.index'} cannot be used (Too many open files); "
                "fix that, or give another folder.")
    assert tree(folder) == before


@pytest.mark.parametrize("argv, sentence", [
    (["--eval-batch", "1000000000"], "GiB this machine has; use a smaller EVAL_BATCH."),
    (["--epochs", str(10**400)], "EPOCHS is 1000"),
    (["--seed", str(2**40)], "SEED is 1099511627776, more than the 2,147,483,647 it may be."),
])
def test_a_refusal_names_the_setting_to_change(argv, sentence, capsys, monkeypatch):
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    refused(TINY + argv, capsys, sentence)


@UNIX
def test_with_stdout_and_stderr_closed_the_run_trains_and_saves(tmp_path):
    command = " ".join([sys.executable, str(SCRIPT), *TINY, "--epochs", "3",
                        "--checkpoint-dir", "closed"])
    run = subprocess.run(["sh", "-c", f"exec {command} >&- 2>&-"], cwd=tmp_path, timeout=300)
    assert run.returncode == 0
    assert record_in(tmp_path / "closed")["epoch"] == 3


@UNIX
def test_ctrl_c_while_tensorflow_loads_is_one_sentence(tmp_path):
    # Python's -X importtime says on stderr when each import is done: Ctrl-C is sent as soon
    # as NumPy is in, so it falls while filelock and TensorFlow still load, every time.
    run = subprocess.Popen([sys.executable, "-X", "importtime", str(SCRIPT), *TINY, "--epochs",
                            "3"], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    for line in run.stderr:
        if line.rstrip().endswith("| numpy"):
            break
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130 and out == ""
    said = [line for line in err.splitlines() if not line.startswith("import time:")]
    assert said == ["count_ones_lstm.py: stopped by Ctrl-C while the packages loaded."], err


@UNIX
@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_checkpoint_dir_no_file_can_be_written_in_is_refused(capsys, monkeypatch):
    monkeypatch.setattr(col, "train", lambda *a, **k: pytest.fail("it trained"))
    refused(TINY + ["--checkpoint-dir", "/proc"], capsys, "/proc/run-", " cannot be used (",
            "); fix that, or give another folder.")


def test_a_checkpoint_dir_or_run_folder_that_is_a_file_is_one_sentence(trained, tmp_path,
                                                                        capsys):
    # No check of its own: the system's refusal, said as any other (before training).
    where, folder = trained
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    shutil.rmtree(folder)
    folder.write_text("")  # a file where the run's folder belongs
    for options in (TINY + ["--checkpoint-dir", str(a_file)], where):
        for option in (["--epochs", "3"], ["--predict", "010110"], ["--inspect", "010110"]):
            refused(options + option, capsys, " cannot be used (", "); fix that, or give "
                    "another folder.")
    refused(TINY + ["--checkpoint-dir", str(a_file), "--runs"], capsys,  # (its words: the system's)
            f"{a_file} cannot be used (", "); fix that, or give another folder.")
    assert folder.read_text() == "" and a_file.read_text() == ""


def test_a_checkpoint_dir_that_cannot_be_listed_is_passed_over(trained, capsys, monkeypatch):
    where, folder = trained
    listdir = os.listdir

    def listdir_but_the_runs(path="."):  # CHECKPOINT_DIR at mode 333: others are not listed
        if str(path) == str(folder.parent):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return listdir(path)

    monkeypatch.setattr(col.os, "listdir", listdir_but_the_runs)
    assert col.main(where + ["--epochs", "3", "--seed", "1"]) == 0  # a new run beside it
    assert capsys.readouterr().out.startswith("New run, saving in ")
    refused(where + ["--runs"], capsys, f"{folder.parent} cannot be used (Permission denied); "
            "fix that, or give another folder.")  # listing them is what --runs is asked


@UNIX
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_predict_and_inspect_onto_a_full_device_are_one_sentence(trained, tmp_path):
    where, _ = trained
    for option in ("--predict", "--inspect"):
        with open("/dev/full", "w") as full:
            run = start(*where, option, "010110", cwd=tmp_path, stdout=full)
            err = run.communicate(timeout=300)[1]
        assert (run.returncode, err) == (1, "count_ones_lstm.py: stopped by its output failing "
                                            "(No space left on device).\n")


def test_a_folder_name_the_output_cannot_encode_is_written_escaped(tmp_path, monkeypatch):
    # As a Windows redirect is: cp1252, with no Chinese in it (here the streams of this
    # process, as PYTHONIOENCODING=cp1252 would make them).
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="cp1252") for _ in range(2))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.chdir(tmp_path)
    assert col.main(TINY + ["--checkpoint-dir", "检查", "--epochs", "1"]) == 0
    out.flush()
    err.flush()
    assert err.buffer.getvalue() == b""
    assert out.buffer.getvalue().startswith(
        b"New run, saving in \\u68c0\\u67e5" + os.sep.encode() + b"run-")


def test_a_script_saved_with_a_byte_order_mark_runs(tmp_path):
    # Some Windows editors start a file with one; Python runs such a file, and so must the
    # script's own reading of itself (its settings block and its code).
    copy = tmp_path / "count_ones_lstm.py"
    copy.write_bytes(b"\xef\xbb\xbf" + SCRIPT.read_bytes())
    shown = subprocess.run([sys.executable, str(copy), "--help"], capture_output=True,
                           text=True, timeout=300)
    assert shown.returncode == 0 and "--seq-len SEQ_LEN" in shown.stdout, shown.stderr
