"""--runs, the table that compares the runs kept in CHECKPOINT_DIR, and the line that places
a finished run among them: checked against what each run printed at its end."""

import json
import os
import re
from types import SimpleNamespace

import count_ones_lstm as col
from conftest import TINY, refused, run_in

# The tutorial's last line, with the number wrong: "Epoch 3 error 41.7% (10 of 24 test ...)"
LAST_LINE = re.compile(r"^Epoch (\d+) error [\d.]+% \(([\d,]+) of ([\d,]+) test strings wrong\)$",
                       re.MULTILINE)
TRAINING = re.compile(r"^Total time \S+, of which training ([\d.]+)s$", re.MULTILINE)


def train(argv, capsys):
    """Run the script in-process; (its epoch, number wrong, test strings, seconds of training,
    last line) as it printed them at its end."""
    assert col.main(argv) == 0
    out = capsys.readouterr().out
    [(epoch, wrong, of)] = LAST_LINE.findall(out)
    [seconds] = TRAINING.findall(out)
    return (int(epoch), int(wrong.replace(",", "")), int(of.replace(",", "")), float(seconds),
            out.splitlines()[-1])


def table(argv, capsys):
    """--runs's rows, each split into its columns (two spaces or more apart), header first."""
    assert col.main(argv + ["--runs"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    first, *rows = captured.out.splitlines()
    return first, [re.split(r"\s{2,}", row.strip()) for row in rows]


def test_runs_lists_each_run_best_first_as_it_ended(tmp_path, capsys, monkeypatch):
    where = TINY + ["--checkpoint-dir", str(tmp_path)]
    runs = {}  # the option that makes each run differ -> what it printed
    for change, epochs in ((["--learning-rate", "0.02"], "6"), (["--num-hidden", "4"], "2"),
                           ([], "4")):
        runs[" ".join(change)] = train(where + change + ["--epochs", epochs], capsys)
    # each finished run's last line places it among those kept so far, as --runs would
    assert runs["--learning-rate 0.02"][4] == (
        f"The first run kept in {tmp_path}{os.sep}; once there are more, --runs compares them.")
    for change in ("--num-hidden 4", ""):
        assert re.fullmatch(rf"Number [123] of the {2 + (change == '')} runs kept in "
                            rf"{re.escape(str(tmp_path) + os.sep)} by the error at their "
                            "last grading; --runs lists them.", runs[change][4])

    monkeypatch.setattr(col, "build_graph", lambda *a, **k: 0 / 0)  # --runs builds nothing
    monkeypatch.setattr(col.tf.train, "load_checkpoint", lambda *a, **k: 0 / 0)  # reads no save
    first, rows = table(where, capsys)
    assert first == (f"Runs kept in {tmp_path}{os.sep}, best first (by the error at each "
                     "one's last grading):")
    header, rows = rows[0], rows[1:]
    assert header == ["epoch", "error", "wrong", "training", "folder", "what differs from now"]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    by_change = {row[6].replace("nothing: these settings and this code", ""): row for row in rows}
    assert by_change.keys() == runs.keys()  # the current run marked, the others by their option
    for change, (epoch, wrong, of, seconds, _) in runs.items():
        row = by_change[change]
        assert row[1:4] == [str(epoch), f"{100 * wrong / of:.3f}%", f"{wrong:,} of {of:,} test"]
        assert row[4] == col.duration(seconds)
        assert row[5].startswith("run-")
    errors = [float(row[2].rstrip("%")) for row in rows]
    assert errors == sorted(errors)  # best first
    place = [row[6] for row in rows].index("nothing: these settings and this code") + 1
    assert runs[""][4].startswith(f"Number {place} of the 3 runs kept")


def test_a_record_keeps_every_grading_and_the_training_time_across_continuations(tmp_path,
                                                                                capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path)]
    _, wrong, of, first_seconds, _ = train(where + ["--epochs", "4"], capsys)
    record = json.loads((run_in(tmp_path) / col.CHECKPOINT_FILE).read_text())
    assert record["gradings"][-1] == [4, "test", wrong, of]
    assert [grading[:2] for grading in record["gradings"]] == [[2, "test"], [4, "test"]]
    assert record["training_seconds"] == round(first_seconds, 1)
    _, wrong, of, seconds, _ = train(where + ["--epochs", "6"], capsys)  # continued
    record = json.loads((run_in(tmp_path) / col.CHECKPOINT_FILE).read_text())
    assert [grading[:2] for grading in record["gradings"]] == [[2, "test"], [4, "test"],
                                                               [6, "test"]]
    assert record["gradings"][-1] == [6, "test", wrong, of]
    assert abs(record["training_seconds"] - (first_seconds + seconds)) < 0.2
    # a run with validation strings is listed by its last validation grading
    validation = ["--validation-examples", "8", "--epochs", "2"]
    train(where + validation, capsys)
    _, rows = table(where + validation, capsys)
    [row] = [row for row in rows if row[-1] == "nothing: these settings and this code"]
    record = col.read_record(str(tmp_path / row[5]))
    assert [grading[:2] for grading in record["gradings"]] == [[2, "validation"], [2, "test"]]
    grading = record["gradings"][0]
    assert row[2:4] == [f"{100 * grading[2] / 8:.3f}%", f"{grading[2]:,} of 8 validation"]


def test_folders_it_cannot_read_are_a_row_each_and_a_run_not_graded_shows_what_it_has(
        tmp_path, capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path)]
    for hidden in ("4", "6", "8"):
        train(where + ["--num-hidden", hidden, "--epochs", "2"], capsys)
    folders = {json.loads((path / col.CHECKPOINT_FILE).read_text())["settings"]["NUM_HIDDEN"]:
               path for path in tmp_path.iterdir()}
    (folders[4] / col.CHECKPOINT_FILE).write_text("{not json")  # damaged
    edited = json.loads((folders[6] / col.CHECKPOINT_FILE).read_text())
    edited["gradings"] = []  # edited by hand
    (folders[6] / col.CHECKPOINT_FILE).write_text(json.dumps(edited))
    newer = {**json.loads((folders[8] / col.CHECKPOINT_FILE).read_text()), "format": 99}
    (tmp_path / "run-0000beef").mkdir()
    (tmp_path / "run-0000beef" / col.CHECKPOINT_FILE).write_text(json.dumps(newer))
    (tmp_path / "run-0000cafe").mkdir()  # a run that has not saved yet: its lock alone
    (tmp_path / "run-0000cafe" / col.LOCK_FILE).write_text("")
    (tmp_path / "my notes").mkdir()
    settings = col.parse_settings(where + ["--num-hidden", "5"])  # saved, never graded
    net = col.build_graph(settings)
    run = SimpleNamespace(settings=settings, folder=col.run_folder(settings), last=None,
                          seconds_before=0)
    os.makedirs(run.folder)
    with col.new_session(net) as session:
        col.save(session, net, run, 0)
    _, rows = table(where + ["--num-hidden", "8"], capsys)
    rows = rows[1:]
    assert [row[:2] for row in rows] == [["1", "2"], ["2", "0"], *[["-", "-"]] * 5]
    assert rows[0][5:] == [folders[8].name, "nothing: these settings and this code"]
    assert rows[1][2:] == ["-", "-", "0s", os.path.basename(run.folder), "--num-hidden 5"]
    assert dict(row[5:] for row in rows[2:]) == {  # each named, by name
        "my notes": f"{tmp_path / 'my notes'}{os.sep} is not a folder this script made",
        folders[4].name: f"{folders[4] / col.CHECKPOINT_FILE} cannot be read (JSONDecodeError: "
                         "Expecting property name enclosed in double quotes: line 1 column 2 "
                         "(char 1)): it is damaged or incomplete",
        folders[6].name: f"{folders[6] / col.CHECKPOINT_FILE} cannot be read (it was changed "
                         "after this script wrote it): it is damaged or incomplete",
        "run-0000beef": f"The model saved in {tmp_path / 'run-0000beef'}{os.sep} was written by "
                        "a newer version of this script",
        "run-0000cafe": f"{tmp_path / 'run-0000cafe'}{os.sep} holds no save yet (training, or "
                        "stopped early)"}


def test_no_runs_is_one_line(tmp_path, capsys):
    for folder in (tmp_path, tmp_path / "not made yet"):
        first, rows = table(TINY + ["--checkpoint-dir", str(folder)], capsys)
        assert (first, rows) == (f"No runs are kept in {folder}{os.sep} yet: each run of this "
                                 "script saves in a folder there.", [])
    assert not (tmp_path / "not made yet").exists()
    refused(TINY + ["--checkpoint-dir", "", "--runs"], capsys, "--runs reads the runs kept in "
            "CHECKPOINT_DIR, but it is empty; give --checkpoint-dir.")


def test_a_hand_set_counter_is_kept_at_epoch_0_with_its_grading(tmp_path, capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path), "--cell", "handwired"]
    epoch, wrong, of, _, _ = train(where, capsys)  # set by hand: nothing trained
    assert epoch == 0 and col.read_record(str(run_in(tmp_path)))["gradings"] == [
        [0, "test", wrong, of]]
    _, rows = table(where, capsys)
    assert rows[1][1:4] == ["0", f"{100 * wrong / of:.3f}%", f"{wrong:,} of {of:,} test"]
