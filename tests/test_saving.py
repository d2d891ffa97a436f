"""Issue 12's promise, "a saved model is never lost", checked by doing to a save what the
world does to one: two runs on one folder, SIGTERM, damaged and hand-edited files, a disk
that fills up, a run that diverges; each time the exit status, the one sentence, and the
folder's files byte for byte afterwards."""

import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys

import pytest

import count_ones_lstm as col
from test_count_ones_lstm import SCRIPT, TINY, files_in, refused, run_script

# --- one run per folder, SIGTERM, damaged saves ---------------------------------------------

def test_one_run_per_folder_predict_beside_it_and_sigterm_saves_the_epoch(tmp_path):
    args = ["--seq-len", "8", "--num-examples", "100", "--batch-size", "20", "--epochs", "3000",
            "--eval-every", "1000", "--save-every", "1", "--checkpoint-dir", "shared"]
    first = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in first.stdout:
        seen.append(line)
        if line.startswith("Epoch    5/3000 loss"):
            break
    second = run_script(*args, cwd=tmp_path)
    assert second.returncode == 2 and second.stdout == ""
    assert second.stderr.splitlines() == [
        "count_ones_lstm.py: Another run is training in shared/ (it holds "
        "shared/count_ones_lstm.lock): wait for it to end, or give another --checkpoint-dir."]
    asked = run_script("--predict", "10110111", "--checkpoint-dir", "shared", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr  # reading beside the training run
    assert asked.stdout.splitlines()[1].startswith("10110111 predicted count ")
    first.send_signal(signal.SIGTERM)  # what a scheduler, `timeout` or a container sends
    rest, err = first.communicate(timeout=120)
    assert first.returncode == 143
    stop = re.search(r"stopped by SIGTERM after epoch (\d+) of 3000; saved in shared/; run "
                     r"the same command to continue\.$", err.strip())
    assert stop, err
    assert col.read_checkpoint(str(tmp_path / "shared"))["epoch"] == int(stop.group(1))
    assert not list((tmp_path / "shared").glob("*.tmp"))
    again = run_script(*args[:-2], "--epochs", "1", "--checkpoint-dir", "shared", cwd=tmp_path)
    assert again.returncode == 0 and "nothing left to train" in again.stdout  # lock let go


@pytest.mark.parametrize("damage", ["truncate data", "flip data", "empty index", "delete data"])
def test_a_damaged_save_is_named_in_one_sentence_and_left_as_it_was(damage, tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path)]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    data = next(tmp_path.glob("model-2.data-*"))
    index = tmp_path / "model-2.index"
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
    before = files_in(tmp_path)
    for argv in (TINY + where + ["--epochs", "4"], ["--predict", "010110"] + where):
        refused(argv, capsys, f"The checkpoint {tmp_path / 'model-2'} cannot be read (",
                "it is damaged or incomplete; give --fresh")
    assert files_in(tmp_path) == before
    assert col.main(TINY + where + ["--epochs", "1", "--fresh"]) == 0  # --fresh gets past it


@pytest.mark.parametrize("edit", [
    lambda record: record.update(settings=[1, 2]),
    lambda record: record.update(epoch=True),
    lambda record: record.update(epoch=-3, checkpoint="model--3"),
    lambda record: record["settings"].update(NUM_LAYERS=0),
    lambda record: record["settings"].update(NUM_HIDDEN="24"),
    lambda record: record["settings"].update(CELL="lstm2"),
    lambda record: record.update(checkpoint="model-7"),
])
def test_a_hand_edited_record_is_named_in_one_sentence(edit, tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path)]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    path = tmp_path / "count_ones_lstm.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    before = files_in(tmp_path)
    for argv in (TINY + where + ["--epochs", "3"], ["--predict", "010110"] + where):
        refused(argv, capsys, f"{path} is not a checkpoint record this script wrote")
    assert files_in(tmp_path) == before


@pytest.mark.parametrize("name, value", [("NUM_HIDDEN", 12), ("SEQ_LEN", 7)])
def test_a_record_that_no_longer_fits_its_checkpoint_is_refused(name, value, tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path)]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    path = tmp_path / "count_ones_lstm.json"
    record = json.loads(path.read_text())
    record["settings"][name] = value
    record["settings"]["MIN_LEN"] = record["settings"]["SEQ_LEN"]
    path.write_text(json.dumps(record))
    strings = ["0101101"] if name == "SEQ_LEN" else ["010110"]
    refused(["--predict", *strings] + where, capsys, "its record describes; give --fresh")


# --- saving fails safe ---------------------------------------------------------------------

def small_files_only():
    """In the child process: no file may grow past 4 KiB, as on a disk that is full (a
    model's data file is about 30 KiB), and writing past that is an error, not a kill."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_save_that_cannot_be_written_names_the_last_epoch_kept(tmp_path):
    args = TINY + ["--save-every", "1", "--checkpoint-dir", "saved"]
    assert run_script(*args, "--epochs", "2", cwd=tmp_path).returncode == 0
    before = files_in(tmp_path / "saved")
    full = subprocess.run([sys.executable, str(SCRIPT), *args, "--epochs", "4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files_only)
    assert full.returncode == 1
    assert full.stderr.splitlines() == [
        "count_ones_lstm.py: Saving epoch 3 in saved/ failed (File too large); the last save, "
        "epoch 2 in saved/, is kept as it was (fix that, then run the same command to "
        "continue)."]
    assert files_in(tmp_path / "saved") == before  # nothing of epoch 3 left behind
    again = run_script(*args, "--epochs", "4", cwd=tmp_path)  # room again: it continues
    assert again.returncode == 0 and "Continuing from epoch 2" in again.stdout


def test_a_record_that_cannot_be_written_leaves_no_part_of_the_new_save(
        tmp_path, capsys, monkeypatch):
    # The disk fills up after TensorFlow wrote epoch 3's files, while the record is written:
    # those files go again, and the record still names epoch 2.
    where = ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    before = files_in(tmp_path)

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(col.json, "dump", full_disk)
    assert col.main(TINY + where + ["--epochs", "4"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"count_ones_lstm.py: Saving epoch 3 in {tmp_path}/ failed (No space left on device); "
        f"the last save, epoch 2 in {tmp_path}/, is kept as it was (fix that, then run the "
        "same command to continue)."]
    assert files_in(tmp_path) == before


def test_a_folder_removed_during_the_run_stops_it_with_one_sentence(tmp_path):
    args = ["--seq-len", "8", "--num-examples", "100", "--batch-size", "20", "--epochs", "3000",
            "--eval-every", "1000", "--save-every", "1", "--checkpoint-dir", "gone"]
    run = subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in run.stdout:
        if line.startswith("Epoch    3/3000 loss"):
            break
    while (tmp_path / "gone").exists():  # the run may write into it while it goes
        subprocess.run(["rm", "-rf", str(tmp_path / "gone")], check=False)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1
    assert re.fullmatch(r"count_ones_lstm\.py: Saving epoch \d+ in gone/ failed \(No such "
                        r"file or directory\); no save is left in gone/ \(fix that, then run "
                        r"the same command to continue\)\.", err.strip()), err


def test_a_diverging_run_stops_before_it_saves_over_the_good_model(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path), "--save-every", "1"]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    capsys.readouterr()
    before = files_in(tmp_path)
    assert col.main(TINY + where + ["--epochs", "6", "--learning-rate", "1e38"]) == 1
    captured = capsys.readouterr()
    assert re.search(r"^Epoch 3/6 loss +nan ", captured.out, re.MULTILINE), captured.out
    assert captured.err.splitlines() == [
        "count_ones_lstm.py: The loss became nan at epoch 3: training diverged (LEARNING_RATE "
        f"1e+38 may be too large); the last save, epoch 2 in {tmp_path}/, is kept as it was."]
    assert files_in(tmp_path) == before


def test_tensorflows_own_tools_find_the_newest_save(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path)]
    assert col.main(TINY + where + ["--epochs", "2"]) == 0
    assert col.tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-2")
    assert col.main(TINY + where + ["--epochs", "3"]) == 0
    assert col.tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model-3")
    state = col.tf.train.get_checkpoint_state(str(tmp_path))
    assert list(state.all_model_checkpoint_paths) == [str(tmp_path / "model-3")]
    assert sorted(path.name for path in tmp_path.glob("model-*")) == [
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
    run = subprocess.Popen([sys.executable, str(SCRIPT), *argv,
                            "--checkpoint-dir", str(small_model)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run.stdout.close()  # as `| head -0` would: nobody reads what it prints
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 0
    assert err == ""
