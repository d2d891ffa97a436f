"""Issue 12's promise, "a saved model is never lost", checked by doing to a save what the
world does to one: two runs on one folder, SIGTERM, damaged and hand-edited files, a disk
that fills up, a run that diverges; each time the exit status, the one sentence, and the
folder's files byte for byte afterwards."""

import errno
import json
import os
import re
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

# --- one run per folder, SIGTERM, damaged saves ---------------------------------------------

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
    seen = []
    for line in first.stdout:
        seen.append(line)
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


@pytest.mark.parametrize("damage", ["truncate data", "flip data", "empty index", "delete data"])
def test_a_damaged_save_is_named_in_one_sentence_and_left_as_it_was(damage, tmp_path, capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path)]
    assert col.main(where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    folder = run_in(tmp_path)
    data = next(folder.glob("model-2.data-*"))
    index = folder / "model-2.index"
    if damage == "truncate data":
        data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
    elif damage == "flip data":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "empty index":
        index.write_bytes(b"")
    else:
        data.unlink()
    before = files_in(folder)
    for argv in (where + ["--epochs", "4"], where + ["--predict", "010110"]):
        refused(argv, capsys, f"The checkpoint {folder / 'model-2'} cannot be read (",
                "it is damaged or incomplete; give --fresh")
    assert files_in(folder) == before
    assert col.main(where + ["--epochs", "1", "--fresh"]) == 0  # --fresh gets past it


OTHER = "is the record of another run (--num-hidden 12), moved here by hand or edited"


@pytest.mark.parametrize("edit, sentence", [
    (lambda record: record.update(settings=[1, 2]), "is not a checkpoint record this script"),
    (lambda record: record.update(epoch=True), "is not a checkpoint record this script"),
    (lambda record: record.update(epoch=-3, checkpoint="model--3"), "is not a checkpoint"),
    (lambda record: record["settings"].update(NUM_LAYERS=0), "records settings no run can have "
     "(NUM_LAYERS is 0, but it must be 1 or more)"),
    (lambda record: record["settings"].update(NUM_HIDDEN="24"), "records settings no run can "
     "have (NUM_HIDDEN is '24', but it must be a whole number)"),
    (lambda record: record["settings"].update(CELL="lstm2"), "records settings no run can have "
     "(CELL is 'lstm2', but it must be"),
    (lambda record: record["settings"].update(NUM_HIDDEN=12), OTHER),
    (lambda record: record.update(checkpoint="model-7"), "is not a checkpoint record this"),
    (lambda record: record.update(epoch=7, checkpoint="model-7"), "which is missing"),
    (lambda record: record["gradings"].append([3, "test", 1, 2]), "is not a checkpoint record"),
    (lambda record: record.update(training_seconds="3s"), "is not a checkpoint record this"),
])
def test_a_hand_edited_record_is_named_in_one_sentence(edit, sentence, tmp_path, capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path)]
    assert col.main(where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    path = run_in(tmp_path) / "count_ones_lstm.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    before = files_in(path.parent)
    for argv in (where + ["--epochs", "3"], where + ["--predict", "010110"]):
        refused(argv, capsys, str(path), sentence)
    assert files_in(path.parent) == before


# --- saving fails safe ---------------------------------------------------------------------

@pytest.mark.skipif(resource is None, reason="needs Unix's RLIMIT_FSIZE to make a disk full")
def test_a_save_that_cannot_be_written_names_the_last_epoch_kept(tmp_path, capsys,
                                                                 monkeypatch):
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


def test_a_record_that_cannot_be_written_leaves_no_part_of_the_new_save(
        tmp_path, capsys, monkeypatch):
    # The disk fills up after TensorFlow wrote epoch 3's files, while the record is written:
    # those files go again, and the record still names epoch 2.
    where = ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    folder = run_in(tmp_path)
    before = files_in(folder)

    real = col.write_whole

    def full_disk(path, text):
        if path.endswith(col.CHECKPOINT_FILE):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, text)

    monkeypatch.setattr(col, "write_whole", full_disk)
    assert col.main(TINY + where + ["--epochs", "4"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 3 in {folder}{os.sep} failed (No space left on device); "
        f"the last save, epoch 2 in {folder}{os.sep}, is kept as it was (fix that, then run the "
        "same command to continue)."]
    assert files_in(folder) == before


@NOT_ON_WINDOWS
def test_a_folder_removed_during_the_run_stops_it_with_one_sentence(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)  # (the run's own process is not the subject: it runs here)
    removed_before_epoch(monkeypatch, tmp_path / "gone", 4)  # saved 1 to 3, if saving
    assert col.main(TINY + ["--epochs", "10", "--save-every", "1", "--checkpoint-dir",
                            "gone"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"count_ones_lstm\.py: Saving epoch 4 in (gone/run-\w+)/ failed \(No "
                        r"such file or directory\); \1/ holds no save \(fix that, then "
                        r"run the same command to continue\)\.", err.strip()), err


def test_a_diverging_run_stops_before_it_saves_and_the_good_model_stays(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    good = run_in(tmp_path)
    before = files_in(good)
    assert col.main(TINY + where + ["--epochs", "6", "--learning-rate", "1e38"]) == 1
    captured = capsys.readouterr()
    [diverged] = [path for path in tmp_path.iterdir() if path != good]
    loss = re.search(r"^Epoch 1/6 loss +(nan|inf) ", captured.out, re.MULTILINE)
    assert loss, captured.out
    assert captured.err.splitlines() == [
        f"count_ones_lstm.py: The loss became {loss.group(1)} at epoch 1: training diverged "
        f"(LEARNING_RATE 1e+38 may be too large); {diverged}{os.sep} holds no save."]
    assert files_in(good) == before
    assert not list(diverged.glob("model-*")) and not (diverged / "count_ones_lstm.json").exists()


def test_tensorflows_own_tools_find_the_newest_save(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path)]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    folder = run_in(tmp_path)
    assert col.tf.train.latest_checkpoint(str(folder)) == str(folder / "model-2")
    assert col.main(TINY + where + ["--epochs", "3"]) == 0
    assert col.tf.train.latest_checkpoint(str(folder)) == str(folder / "model-3")
    state = col.tf.train.get_checkpoint_state(str(folder))
    assert list(state.all_model_checkpoint_paths) == [str(folder / "model-3")]
    assert sorted(path.name for path in folder.glob("model-*")) == [
        "model-3.data-00000-of-00001", "model-3.index"]
    capsys.readouterr()


# --- limits, closed pipes --------------------------------------------------------------------

@pytest.mark.parametrize("argv, sentence", [
    (["--towers", "1000"], "TOWERS is 1000, but this machine has"),
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
