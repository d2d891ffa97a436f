"""Issue 23's promise, "nothing a run writes destroys what it did not write, and every way a
run ends keeps its epochs", checked by doing to real runs what a fault probe did: files the
script did not write, paths TensorFlow reads as patterns, full disks and closed pipes, two
signals, killed runs' leftovers, records and special files where the script's own belong.
Each time the exit status, the sentence, and every file of the folder byte for byte."""

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
from conftest import (SCRIPT, TINY, files_in, record_in, refused, removed_before_epoch, resource,
                      run_in, run_script, small_files_only)

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


# --- 1. a run deletes only what it wrote ---------------------------------------------------

def test_a_users_copies_beside_a_save_stay_and_the_next_run_names_them(tmp_path, capsys,
                                                                        monkeypatch):
    # Probe 2, case 1: model-1.index.bak and model-1.notes.txt went with save 1. A save's own
    # files are only those TensorFlow writes for it.
    where = TINY + ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    real = col.save_checkpoint

    def copied_meanwhile(session, net, directory, settings, epoch, *rest):
        if epoch == 2:  # while the run trains, the user copies save 1 and writes a note
            for name in ("model-1.index", "model-1.data-00000-of-00001"):
                shutil.copy(Path(directory, name), Path(directory, name + ".bak"))
            Path(directory, "model-1.notes.txt").write_text("lr 0.001, looked fine")
        return real(session, net, directory, settings, epoch, *rest)

    monkeypatch.setattr(col, "save_checkpoint", copied_meanwhile)
    assert col.main(where + ["--epochs", "3"]) == 0
    monkeypatch.undo()
    folder = run_in(tmp_path)
    mine = ["model-1.data-00000-of-00001.bak", "model-1.index.bak", "model-1.notes.txt"]
    assert sorted(path.name for path in folder.glob("model-*")) == mine + [
        "model-3.data-00000-of-00001", "model-3.index"]  # save 1's own files went, not these
    capsys.readouterr()
    before = files_in(folder)
    refused(where + ["--epochs", "4"], capsys, f"{folder}{os.sep} holds {', '.join(mine)}, "
            "which this script did not write")
    assert files_in(folder) == before


@pytest.mark.parametrize("record", ["removed", "damaged"])
def test_a_model_without_a_readable_record_is_not_trained_over_and_fresh_sets_it_aside(
        record, trained, capsys):
    where, folder = trained
    path = folder / col.CHECKPOINT_FILE
    if record == "removed":  # or moved away, as the damaged record's sentence once advised
        path.unlink()
    else:
        path.write_text("{ half a record")
    before = tree(folder)
    sentence = (f"{folder}{os.sep} holds checkpoint, model-2.data-00000-of-00001, model-2.index, "
                "which this script did not write or has no record of; give --fresh (which "
                "moves what is there aside) or another --checkpoint-dir."
                if record == "removed" else f"{path} is not a checkpoint record this script "
                "wrote; give --fresh (which moves what is there aside)")
    refused(where + ["--epochs", "4"], capsys, sentence)
    assert tree(folder) == before
    assert col.main(where + ["--epochs", "3", "--fresh"]) == 0
    assert f"(what was there is now in before-fresh-1{os.sep})" in capsys.readouterr().out
    assert {name: data for name, data in tree(folder).items()
            if name.startswith("before-fresh-1/")} == {
        f"before-fresh-1/{name}": data for name, data in before.items()}
    assert record_in(folder.parent)["epoch"] == 3  # and the new run goes on as usual
    assert col.main(where + ["--epochs", "4"]) == 0
    assert sorted(name for name in tree(folder) if "/" not in name) == [
        "checkpoint", "count_ones_lstm.json", "model-4.data-00000-of-00001", "model-4.index"]


def test_another_programs_checkpoint_in_the_folder_is_left_as_it_was(trained, capsys):
    where, folder = trained
    with col.tf.Graph().as_default():
        col.tf1.get_variable("theirs", [3])
        saver = col.tf1.train.Saver()
        with col.tf1.Session() as session:
            session.run(col.tf1.global_variables_initializer())
            saver.save(session, str(folder / "model"), global_step=1000)
    before = tree(folder)
    refused(where + ["--epochs", "4"], capsys, f"{folder}{os.sep} holds model-1000.data-00000-"
            "of-00001, model-1000.index, model-1000.meta, which this script did not write")
    assert tree(folder) == before


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


@NEEDS_RLIMIT
def test_fresh_on_a_full_disk_keeps_the_old_save_aside(tmp_path, monkeypatch):
    args = TINY + ["--save-every", "1", "--checkpoint-dir", "saved"]
    monkeypatch.chdir(tmp_path)
    assert col.main(args + ["--epochs", "1"]) == 0
    folder = run_in(tmp_path / "saved")
    before = tree(folder)
    full = subprocess.run([sys.executable, str(SCRIPT), *args, "--epochs", "5", "--fresh"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files_only)  # its first save is epoch 1 again
    assert full.returncode == 1
    where = folder.relative_to(tmp_path)
    assert full.stderr.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 1 in {where}{os.sep} failed (File too large); "
        f"{where}{os.sep} holds no save (fix that, then run the same command to continue)."]
    assert tree(folder / "before-fresh-1") == before


# --- 3. every way a run ends keeps its finished epochs ----------------------------------------

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
    assert err.splitlines()[-1].startswith("count_ones_lstm.py: stopped by its output failing (No "
                                           "space left on device) after epoch 0 of 5; full")
    assert "Traceback" not in err and record_in(tmp_path / "full") is None


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


def test_what_a_killed_run_left_while_saving_is_cleaned_by_the_next_run(trained, capsys):
    where, folder = trained  # killed while saving epoch 3: what TensorFlow and the script wrote
    (folder / col.WRITES_FILE).write_text(json.dumps({"record": "model-2",
                                                       "names": ["model-2", "model-3"]}))
    for name in ("model-3.data-00000-of-00001.tempstate8041", "model-3.index.tempstate77",
                 "count_ones_lstm.json.4242.tmp", "checkpoint.4242.tmp"):
        (folder / name).write_bytes(b"half")
    assert col.main(where + ["--epochs", "4"]) == 0
    assert " from epoch 2 " in capsys.readouterr().out
    assert sorted(tree(folder)) == ["checkpoint", "count_ones_lstm.json",
                                    "model-4.data-00000-of-00001", "model-4.index"]


def test_a_list_of_saves_whose_record_is_lost_deletes_nothing(trained, capsys):
    where, folder = trained
    (folder / col.WRITES_FILE).write_text(json.dumps({"record": "model-2",
                                                       "names": ["model-2", "model-3"]}))
    (folder / col.CHECKPOINT_FILE).unlink()
    before = tree(folder)
    refused(where + ["--epochs", "4"], capsys, "holds checkpoint, model-2.data-00000-of-00001, "
            "model-2.index, which this script did not write or has no record of")
    assert tree(folder) == before


# --- 4. records and the folder's own files are inputs ------------------------------------------

@pytest.mark.parametrize("edit, sentence", [
    (lambda record: {**record, "format": 99}, "was written by a newer version of this script"),
    (lambda record: {**record, "format": 2}, "was written by an older version of this script"),
    (lambda record: {**record, "settings": {**record["settings"], "NUM_HIDDEN": 10**12}},
     "records settings no run can have (NUM_HIDDEN is 1000000000000, more than the "
     "2,147,483,647 it may be)"),
    (lambda record: {**record, "settings": {**record["settings"], "NUM_LAYERS": 2000}},
     "records settings no run can have (TOWERS 1 x NUM_LAYERS 2000 is 2,000 copies"),
    (lambda record: {**record, "settings": "[" * 30000 + "]" * 30000},
     "is not a checkpoint record this script wrote"),
    (lambda record: {**record, "epoch": "9" * 70000}, "is not a checkpoint record this script"),
])
def test_a_records_values_pass_the_command_lines_limits(edit, sentence, trained, capsys,
                                                        monkeypatch):
    where, folder = trained
    path = folder / col.CHECKPOINT_FILE
    text = json.dumps(edit(json.loads(path.read_text())))
    path.write_text(text.replace('"[[[', "[[[").replace(']]]"', "]]]"))  # nested, not a string
    before = tree(folder)
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
        refused(argv, capsys, sentence)
    assert tree(folder) == before


@pytest.mark.parametrize("where_, kind", [(col.LOCK_FILE, "folder"), (col.LOCK_FILE, "link"),
                                          (col.CHECKPOINT_FILE, "folder"),
                                          ("checkpoint", "folder")])
def test_a_folder_or_link_where_the_scripts_file_belongs_is_one_sentence(where_, kind, trained,
                                                                       capsys):
    where, folder = trained
    path = folder / where_
    path.unlink()
    if kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(folder / "nowhere")
    before = tree(folder)
    refused(where + ["--epochs", "3"], capsys, f"{path} is a {kind}, where this script keeps a "
            "file; move it away or give another --checkpoint-dir.")
    assert tree(folder) == before


@UNIX
@pytest.mark.parametrize("name", [col.LOCK_FILE, col.CHECKPOINT_FILE, "model-2.index"])
def test_a_fifo_where_the_scripts_file_belongs_is_refused_not_waited_on(name, tmp_path,
                                                                         capsys, monkeypatch):
    args = TINY + ["--checkpoint-dir", "saved"]
    monkeypatch.chdir(tmp_path)
    assert col.main(args + ["--epochs", "2"]) == 0
    capsys.readouterr()
    folder = run_in(tmp_path / "saved")
    (folder / name).unlink()
    os.mkfifo(folder / name)
    before = tree(folder)

    def waited(signum, frame):  # opening a FIFO waits for a writer: the alarm ends the wait
        raise TimeoutError(f"the script waited on the FIFO {name}")

    previous = signal.signal(signal.SIGALRM, waited)
    signal.alarm(60)
    try:
        refused(args + ["--epochs", "3"], capsys, f"count_ones_lstm.py: "
                f"{folder.relative_to(tmp_path) / name} is a FIFO, where this script keeps a "
                "file; move it away or give another --checkpoint-dir.")
        if name == col.LOCK_FILE:  # reading takes no lock
            assert col.main(args + ["--predict", "010110"]) == 0
        else:
            refused(args + ["--predict", "010110"], capsys, "is a FIFO, where this script keeps")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert tree(folder) == before


# --- 5. every sentence true; 9. no tracebacks ----------------------------------------------------

def test_tensorflows_checkpoint_file_names_the_save_relative_to_its_folder(trained, tmp_path):
    where, folder = trained  # an absolute CHECKPOINT_DIR
    assert (folder / "checkpoint").read_text() == ('model_checkpoint_path: "model-2"\n'
                                                   'all_model_checkpoint_paths: "model-2"\n')
    moved = tmp_path / "moved"
    folder.rename(moved)
    assert col.tf.train.latest_checkpoint(str(moved)) == str(moved / "model-2")


def test_predict_while_a_fresh_run_sets_the_save_aside_says_so(trained, capsys, monkeypatch):
    where, folder = trained
    real = col.restore

    def fresh_run_meanwhile(saved, session=None, net=None):
        if session is not None:
            col.check_folder(str(folder), None, fresh=True)  # what --fresh does first
        return real(saved, session, net)

    monkeypatch.setattr(col, "restore", fresh_run_meanwhile)
    refused(where + ["--predict", "010110"], capsys, f"The model in {folder}{os.sep} was moved "
            "away while it was read (by a --fresh run?); ask again once that run has saved.")


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
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    refused(TINY + ["--checkpoint-dir", "/proc"], capsys, "This run cannot write a file in "
            "/proc/run-", "/, its folder in CHECKPOINT_DIR (", "); give another --checkpoint-dir.")


# --- probe 2, case 5: a folder or output fault is one sentence, not a traceback ---------------

def test_a_checkpoint_dir_or_run_folder_that_is_a_file_is_one_sentence(trained, tmp_path,
                                                                        capsys):
    where, folder = trained
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for option in (["--epochs", "3"], ["--predict", "010110"], ["--inspect", "010110"]):
        refused(TINY + ["--checkpoint-dir", str(a_file)] + option, capsys,
                f"CHECKPOINT_DIR is {str(a_file)!r}, but it must be a folder, not a file.")
    shutil.rmtree(folder)
    folder.write_text("")  # a file where the run's folder belongs
    for option in (["--predict", "010110"], ["--inspect", "010110"]):
        refused(where + option, capsys, f"{folder} is a file, where this script keeps a folder; "
                "move it away or give another --checkpoint-dir.")
    refused(where + ["--epochs", "3"], capsys, f"This run cannot write a file in {folder}{os.sep}")
    assert folder.read_text() == ""


def test_folders_that_cannot_be_read_are_one_sentence_or_passed_over(trained, capsys,
                                                                      monkeypatch):
    # As root, as here, a folder's mode stops nothing: the system's refusals are stood in for.
    where, folder = trained
    lstat, listdir = os.lstat, os.listdir
    denied = PermissionError(13, "Permission denied")

    def lstat_unless_in_run(path, *args, **kwargs):  # the run's folder at mode 000
        if os.path.dirname(path) == str(folder):
            raise denied
        return lstat(path, *args, **kwargs)

    monkeypatch.setattr(col.os, "lstat", lstat_unless_in_run)
    refused(where + ["--predict", "010110"], capsys, f"{folder}{os.sep} cannot be read "
            "(Permission denied); let this script read it, or give another --checkpoint-dir.")
    monkeypatch.undo()

    def listdir_but_the_runs(path="."):  # CHECKPOINT_DIR at mode 333: others are not listed
        if str(path) == str(folder.parent):
            raise denied
        return listdir(path)

    monkeypatch.setattr(col.os, "listdir", listdir_but_the_runs)
    assert col.main(where + ["--epochs", "3", "--seed", "1"]) == 0  # a new run beside it
    assert capsys.readouterr().out.startswith("New run, saving in ")


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


def test_a_record_epoch_past_what_a_run_can_count_to_is_refused(trained, tmp_path, capsys):
    where, folder = trained
    record = folder / col.CHECKPOINT_FILE
    saved = json.loads(record.read_text())
    saved.update(epoch=2**63, checkpoint=f"model-{2**63}")
    record.write_text(json.dumps(saved))
    before = tree(folder)
    logs = ["--log-dir", str(tmp_path / "logs")]
    for option in (["--epochs", "3"], ["--predict", "010110"]):
        refused(where + logs + option, capsys, f"{record} is not a checkpoint record this "
                "script wrote; give --fresh")
    assert tree(folder) == before
