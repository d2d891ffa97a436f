"""The rules that keep every save, each checked on real runs by doing to a run's folder what
the world does to one: a user's files and another program's save beside the run's, a record
lost, a disk that fills up, a folder removed, two runs on one folder, SIGTERM. Each time the
exit status, the one sentence, and the folder's files byte for byte afterwards.

1. TensorFlow's Saver deletes only the saves on its list (kept in the record), the newest two.
2. Every file is written whole: a failed write leaves the last save and its record as they were.
3. One run trains in a folder at a time.
4. The script writes only in a folder it made, and there only what it wrote."""

import errno
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

import count_ones_lstm as col
from conftest import (PLAIN, SCRIPT, TINY, files_in, record_in, refused, removed_before_epoch,
                      resource, run_in, small_files_only)

NOT_ON_WINDOWS = pytest.mark.skipif(sys.platform == "win32", reason="Windows has no SIGTERM to send "
                                "(it kills), and no folder can be removed while a run has a "
                                "file open in it")
NEEDS_RLIMIT = pytest.mark.skipif(resource is None,
                                  reason="needs Unix's RLIMIT_FSIZE to make a disk full")


def saves_in(folder):
    """TensorFlow's files of the saves in folder (a user's copies beside them aside)."""
    return sorted(path.name for path in folder.glob("model-[0-9]*")
                  if path.name.endswith((".index", ".data-00000-of-00001")))


@pytest.fixture
def trained(tmp_path, capsys):
    """A tiny model saved at epochs 1 and 2: (the options that run it on, its folder)."""
    where = TINY + ["--save-every", "1", "--checkpoint-dir", str(tmp_path / "saved")]
    assert col.main(where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    return where, run_in(tmp_path / "saved")


# --- 1. the Saver deletes only its own saves ---------------------------------------------------

def test_the_saver_keeps_its_newest_two_saves_and_touches_nothing_else(trained, tmp_path, capsys):
    where, folder = trained
    assert saves_in(folder) == ["model-1.data-00000-of-00001", "model-1.index",
                                "model-2.data-00000-of-00001", "model-2.index"]
    for name in ("model-1.index", "model-1.data-00000-of-00001"):  # a user's copies, a note
        shutil.copy(folder / name, folder / (name + ".bak"))
    (folder / "model-1.notes.txt").write_text("lr 0.001, looked fine")
    with col.tf.Graph().as_default():  # another program's save, with its own list
        col.tf1.get_variable("theirs", [3])
        with col.tf1.Session() as session:
            session.run(col.tf1.global_variables_initializer())
            col.tf1.train.Saver().save(session, str(folder / "model"), global_step=1000)
    theirs = {name: data for name, (data, _) in files_in(folder).items()
              if name.startswith("model-1000") or name.endswith((".bak", ".txt"))}
    assert len(theirs) == 6
    assert col.main(where + ["--epochs", "5"]) == 0
    assert " from epoch 2 " in capsys.readouterr().out
    assert {name: data for name, (data, _) in files_in(folder).items() if name in theirs} == theirs
    assert [name for name in saves_in(folder) if name not in theirs] == [
        "model-4.data-00000-of-00001", "model-4.index", "model-5.data-00000-of-00001",
        "model-5.index"]
    assert record_in(folder.parent)["saves"] == ["model-4", "model-5"]
    # TensorFlow's own tools find the newest save, by names relative to the folder
    assert (folder / "checkpoint").read_text() == (
        'model_checkpoint_path: "model-5"\nall_model_checkpoint_paths: "model-4"\n'
        'all_model_checkpoint_paths: "model-5"\n')
    moved = folder.rename(tmp_path / "moved")
    assert col.tf.train.latest_checkpoint(str(moved)) == str(moved / "model-5")


@pytest.mark.parametrize("record", ["removed", "damaged"])
def test_saves_without_a_readable_record_are_not_trained_over_and_fresh_sets_them_aside(
        record, trained, capsys):
    where, folder = trained
    path = folder / col.CHECKPOINT_FILE
    if record == "removed":  # or moved away by hand
        path.unlink()
        sentence = (f"{folder}{os.sep} holds checkpoint, model-1.data-00000-of-00001, "
                    "model-1.index ..., which this script has no record of; give --fresh "
                    "(which moves what is there aside) or another --checkpoint-dir.")
    else:
        path.write_text("{ half a record")
        sentence = (f"{path} cannot be read (JSONDecodeError: Expecting property name enclosed "
                    "in double quotes: line 1 column 3 (char 2)): it is damaged or incomplete; "
                    "give --fresh")
    before = files_in(folder)
    refused(where + ["--epochs", "4"], capsys, sentence)
    assert files_in(folder) == before
    assert col.main(where + ["--epochs", "3", "--fresh"]) == 0
    assert (f"(the run saved there before is now in before-fresh-1{os.sep})"
            in capsys.readouterr().out)
    assert {name: data for name, data in files_in(folder).items()
            if name.startswith("before-fresh-1/")} == {
        f"before-fresh-1/{name}": data for name, data in before.items()}
    assert col.main(where + ["--epochs", "4"]) == 0  # and the new run goes on as usual
    assert sorted(name for name in files_in(folder) if "/" not in name) == [
        "checkpoint", "count_ones_lstm.json", "model-3.data-00000-of-00001", "model-3.index",
        "model-4.data-00000-of-00001", "model-4.index"]


def test_what_a_killed_run_was_writing_is_left_as_it_is_and_never_read(trained, capsys):
    # Killed (SIGKILL) while saving epoch 3: TensorFlow's half-written files and the record's
    # temporary file stay where they are (no name pattern says whose they are), unread.
    where, folder = trained
    left = {"model-3.data-00000-of-00001.tempstate8041": b"half",
            "count_ones_lstm.json.4242.tmp": b"{half"}
    for name, data in left.items():
        (folder / name).write_bytes(data)
    assert col.main(where + ["--epochs", "4"]) == 0
    assert " from epoch 2 " in capsys.readouterr().out
    assert {name: (folder / name).read_bytes() for name in left} == left
    assert record_in(folder.parent)["epoch"] == 4


# --- 2. every file is written whole ------------------------------------------------------------

@NEEDS_RLIMIT
def test_a_save_on_a_full_disk_names_the_last_epoch_kept(tmp_path, capsys, monkeypatch):
    # The run on a full disk is a process of its own (its file size limit is its own).
    args = TINY + ["--save-every", "1", "--checkpoint-dir", "saved"]
    monkeypatch.chdir(tmp_path)
    assert col.main(args + ["--epochs", "2"]) == 0
    folder = run_in(tmp_path / "saved")
    before = files_in(folder)
    full = subprocess.run([sys.executable, str(SCRIPT), *args, "--epochs", "4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files_only)
    assert full.returncode == 1
    where = folder.relative_to(tmp_path)
    assert full.stderr.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 3 in {where}{os.sep} failed (File too large); the last "
        f"save, epoch 2 in {where}{os.sep}, is kept as it was (fix that, then run the same command to "
        "continue)."]
    assert files_in(folder) == before  # nothing of epoch 3 left behind
    capsys.readouterr()
    assert col.main(args + ["--epochs", "4"]) == 0  # room again: it continues
    assert " from epoch 2 " in capsys.readouterr().out.splitlines()[0]


def test_a_record_that_cannot_be_written_stays_as_it_was(tmp_path, capsys, monkeypatch):
    # The disk fills up after TensorFlow wrote epoch 3's save, as the record is replaced: the
    # record still names epoch 2, whose save is whole (the Saver keeps two), and what was
    # written of the new record goes.
    where = TINY + ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    folder = run_in(tmp_path)
    record = (folder / col.CHECKPOINT_FILE).read_bytes()
    replace = os.replace

    def full_disk(source, target):
        if str(target).endswith(col.CHECKPOINT_FILE):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        replace(source, target)

    monkeypatch.setattr(col.os, "replace", full_disk)
    assert col.main(where + ["--epochs", "4"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 3 in {folder}{os.sep} failed (No space left on device); "
        f"the last save, epoch 2 in {folder}{os.sep}, is kept as it was (fix that, then run the "
        "same command to continue)."]
    assert (folder / col.CHECKPOINT_FILE).read_bytes() == record
    assert "model-2.index" in saves_in(folder) and not list(folder.glob("*.tmp"))
    monkeypatch.undo()
    assert col.main(where + ["--epochs", "4"]) == 0  # it goes on from the save recorded
    assert " from epoch 2 " in capsys.readouterr().out


@NOT_ON_WINDOWS
def test_a_folder_removed_during_the_run_stops_it_with_one_sentence(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)  # (the run's own process is not the subject: it runs here)
    removed_before_epoch(monkeypatch, tmp_path / "gone", 4)  # saved 1 to 3, if saving
    assert col.main(TINY + ["--epochs", "10", "--save-every", "1", "--checkpoint-dir",
                            "gone"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"count_ones_lstm\.py: Saving epoch 4 in (gone/run-\w+)/ failed \(.*"
                        r"(doesn't exist|No such file or directory).*\); nothing is saved in "
                        r"\1/ \(fix that, then run the same command to continue\)\.",
                        err.strip()), err


@NEEDS_RLIMIT
def test_fresh_on_a_full_disk_keeps_the_old_save_aside(tmp_path, monkeypatch):
    args = TINY + ["--save-every", "1", "--checkpoint-dir", "saved"]
    monkeypatch.chdir(tmp_path)
    assert col.main(args + ["--epochs", "1"]) == 0
    folder = run_in(tmp_path / "saved")
    before = files_in(folder)
    full = subprocess.run([sys.executable, str(SCRIPT), *args, "--epochs", "5", "--fresh"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files_only)  # its first save is epoch 1 again
    assert full.returncode == 1
    where = folder.relative_to(tmp_path)
    assert full.stderr.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 1 in {where}{os.sep} failed (File too large); "
        f"nothing is saved in {where}{os.sep} (fix that, then run the same command to "
        "continue)."]
    assert files_in(folder / "before-fresh-1") == before


def test_a_diverging_run_stops_before_it_saves_and_the_good_model_stays(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    good = run_in(tmp_path)
    before = files_in(good)
    diverging = TINY + where + ["--epochs", "6", "--learning-rate", "1e38"]
    assert col.main(diverging) == 1
    captured = capsys.readouterr()
    loss = re.search(r"^Epoch 1/6 loss +(nan|inf) ", captured.out, re.MULTILINE)
    assert loss, captured.out
    diverged = col.run_folder(col.parse_settings(diverging))
    assert captured.err.splitlines() == [
        f"count_ones_lstm.py: The loss became {loss.group(1)} at epoch 1: training diverged "
        f"(LEARNING_RATE 1e+38 may be too large); nothing is saved in {diverged}{os.sep}."]
    assert files_in(good) == before
    assert list(tmp_path.iterdir()) == [good]  # a new run that saved nothing leaves no folder


def test_a_finished_run_run_again_keeps_its_files_byte_for_byte(tmp_path):
    # Nothing left to train: it grades and reports again, and its record, the same (its keys in
    # another order: Python orders a set of names differently in each process), stays as it is.
    args = [sys.executable, str(SCRIPT), *TINY, "--epochs", "2", "--checkpoint-dir", "ck"]
    before = None
    for hash_seed in ("1", "2"):
        done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert done.returncode == 0, done.stderr
        before = before or files_in(run_in(tmp_path / "ck"))
        assert files_in(run_in(tmp_path / "ck")) == before
    assert "(nothing left to train;" in done.stdout


# --- 3. one run per folder -------------------------------------------------------------------

@NOT_ON_WINDOWS
@pytest.mark.long
def test_one_run_per_folder_predict_beside_it_and_sigterm_saves_the_epoch(tmp_path, capsys,
                                                                          monkeypatch):
    # The training run is a process of its own, as in a terminal; the others run in this one.
    # At the plain speed settings, whose graph builds faster (the Ctrl-C test stops a run at
    # the defaults).
    monkeypatch.chdir(tmp_path)
    args = ["--seq-len", "8", "--num-examples", "100", "--batch-size", "20", "--epochs", "3000",
            "--eval-every", "1000", "--save-every", "1", "--checkpoint-dir", "shared", *PLAIN]
    first = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in first.stdout:
        if line.startswith("Epoch    5/3000 loss"):
            break
    assert col.main(args) == 2
    second = capsys.readouterr()
    assert second.out == ""
    folder = run_in(tmp_path / "shared").relative_to(tmp_path)
    assert second.err.splitlines() == [
        f"count_ones_lstm.py: Another run is training in {folder}{os.sep} (it holds "
        f"{folder}{os.sep}count_ones_lstm.lock): wait for it to end, or give another "
        "--checkpoint-dir."]
    assert col.main(args + ["--predict", "10110111"]) == 0  # reading beside the training run
    assert capsys.readouterr().out.splitlines()[1].startswith("10110111 predicted count ")
    assert first.poll() is None  # it answered while the run trains and saves every epoch
    first.send_signal(signal.SIGTERM)  # what a scheduler, `timeout` or a container sends
    rest, err = first.communicate(timeout=120)
    assert first.returncode == 143
    stop = re.search(rf"stopped by SIGTERM after epoch (\d+) of 3000; saved in {folder}/; run "
                     r"the same command to continue\.$", err.strip())
    assert stop, err
    assert record_in(tmp_path / "shared")["epoch"] == int(stop.group(1))
    assert not list((tmp_path / folder).glob("*.tmp"))
    assert col.main(args + ["--epochs", "1"]) == 0
    assert "nothing left to train" in capsys.readouterr().out  # the lock let go


def test_predict_reads_the_newer_save_when_a_run_beside_deletes_the_one_it_named(
        trained, capsys, monkeypatch):
    # --predict takes no lock: between its reading the record and the save it names, the
    # run training there saves twice more and its Saver deletes that save.
    where, folder = trained
    real, named = col.restore, []

    def restore(saved, session=None, net=None):
        named.append(saved["checkpoint"])
        if len(named) == 1:  # --predict's first reading: the run beside saves 3 and 4
            monkeypatch.setattr(col, "restore", real)
            assert col.main(where + ["--epochs", "4"]) == 0
            monkeypatch.setattr(col, "restore", restore)
        return real(saved, session, net)
    monkeypatch.setattr(col, "restore", restore)
    assert col.main(where + ["--predict", "010110"]) == 0
    assert named == ["model-2", "model-4"] and not (folder / "model-2.index").exists()
    assert "at epoch 4:" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["folder", "link", "fifo"])
def test_a_lock_that_is_not_a_plain_file_is_refused_and_nothing_is_written(kind, trained,
                                                                            tmp_path, capsys):
    where, folder = trained
    lock = folder / col.LOCK_FILE
    lock.unlink()
    outside = tmp_path / "outside.txt"  # where a link would have the lock write
    outside.write_text("mine")
    if kind == "folder":
        lock.mkdir()
    elif kind == "link":
        lock.symlink_to(outside)
    else:
        if not hasattr(os, "mkfifo"):
            pytest.skip("no FIFOs here")
        os.mkfifo(lock)
    before = files_in(folder)
    refused(where + ["--epochs", "3"], capsys, f"{lock} cannot be used (not a plain file); fix "
            "that, or give another folder.")
    assert files_in(folder) == before and outside.read_text() == "mine"
    assert col.main(where + ["--predict", "010110"]) == 0  # reading takes no lock


# --- 4. the script writes only in a folder it made, and there only what it wrote ---------------

@pytest.mark.parametrize("fresh", [[], ["--fresh"]])
def test_a_folder_the_script_did_not_make_is_refused_and_nothing_is_written(fresh, tmp_path,
                                                                            capsys):
    # A run's folder name that leads to a user's folder (a link here, or made by hand): it
    # holds nothing the script wrote, so the script writes nothing there, lock included.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "a.txt").write_text("x")
    (precious / "checkpoint.1.tmp").write_text("y")  # named like a leftover, and still theirs
    (precious / "checkpoint").write_text("z")  # named like TensorFlow's list, and not one
    where = TINY + ["--checkpoint-dir", str(tmp_path / "ck")]
    folder = col.run_folder(col.parse_settings(where))
    os.makedirs(tmp_path / "ck")
    if hasattr(os, "symlink") and sys.platform != "win32":
        os.symlink(precious, folder)
    else:
        precious = shutil.move(precious, folder)
    before = files_in(precious)
    refused(where + fresh, capsys, f"{folder}{os.sep} holds a.txt, checkpoint, checkpoint.1.tmp "
            "and nothing this script wrote, so it is not a run's folder; give another "
            "--checkpoint-dir.")
    assert files_in(precious) == before and sorted(os.listdir(precious)) == [
        "a.txt", "checkpoint", "checkpoint.1.tmp"]


@pytest.mark.skipif(sys.platform == "win32", reason="a C locale's file names are Unix's")
def test_a_folder_tensorflow_cannot_spell_is_found_before_training_not_called_damaged(
        tmp_path, capsys):
    # In a C locale without UTF-8 mode, Python carries a non-ASCII name as it came, but
    # TensorFlow cannot encode it: a run saved there before (in UTF-8) cannot be reached, and
    # is not damaged; a new run there stops before its first epoch.
    where = TINY + ["--checkpoint-dir", str(tmp_path / "prüfung"), "--epochs", "1"]
    assert col.main(where) == 0
    capsys.readouterr()
    before = files_in(tmp_path / "prüfung")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}
    for more in ([], ["--seed", "1"]):  # the run saved before, and a new one
        result = subprocess.run([sys.executable, str(SCRIPT), *where, *more], env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 2 and " loss " not in result.stdout, result.stderr
        assert re.fullmatch(r"count_ones_lstm.py: .*run-[0-9a-f]{8} cannot be used \("
                            r"UnicodeEncodeError: .*\); fix that, or give another folder.\n",
                            result.stderr), result.stderr
    assert files_in(tmp_path / "prüfung") == before


# --- limits, closed pipes --------------------------------------------------------------------

@pytest.mark.parametrize("argv, sentence", [
    (["--towers", "1000"], "TOWERS 1000 x NUM_LAYERS 1 x SEQ_LEN 20 (UNROLL 'static') is "
                           "20,000 copies of the cell in one graph, more than the 1,000"),
    (["--num-layers", "30"], "is 1,200 copies of the cell in one graph, more than the 1,000"),
    (["--num-hidden", "100000"], "NUM_HIDDEN 100000 with NUM_LAYERS 1 makes 40,000,800,000 "
                                 "weights, which would take about"),
])
def test_settings_that_would_take_the_machine_down_are_refused_before_building(
        argv, sentence, capsys, monkeypatch):
    monkeypatch.setattr(col, "build_graph", lambda *a, **k: pytest.fail("graph was built"))
    refused(argv, capsys, sentence)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A folder holding a model of 6-bit strings trained for 2 epochs."""
    directory = tmp_path_factory.mktemp("small")
    assert col.main(TINY + ["--epochs", "2", "--checkpoint-dir", str(directory)]) == 0
    return directory


@pytest.mark.parametrize("argv", [["--predict"] + ["010110"] * 2000,
                                  ["--inspect", "010110", "111000"], ["--help"]])
def test_a_reader_that_goes_away_gets_no_traceback(argv, small_model):
    run = subprocess.Popen([sys.executable, str(SCRIPT), *TINY, *argv,
                            "--checkpoint-dir", str(small_model)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.close()  # as `| head -0` would: nobody reads what it prints
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 0
    assert err == ""
