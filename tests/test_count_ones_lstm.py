"""The tutorial's claims, checked on the script as a user runs it."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import count_ones_lstm as col

SCRIPT = Path(col.__file__).resolve()


# --- data -------------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len", [1, 7, 20])
def test_every_string_appears_once_and_its_label_is_its_count_of_ones(seq_len):
    inputs, labels = col.all_strings(seq_len, seed=3)
    assert inputs.shape == (2 ** seq_len, seq_len, 1) and inputs.dtype == np.float32
    assert labels.shape == (2 ** seq_len, seq_len + 1) and labels.dtype == np.float32
    assert np.array_equal(np.sort(col.numbers_of(inputs)), np.arange(2 ** seq_len))
    assert set(np.unique(inputs)) <= {0.0, 1.0}
    assert np.all(labels.sum(axis=1) == 1) and set(np.unique(labels)) == {0.0, 1.0}
    popcounts = np.array([bin(n).count("1") for n in col.numbers_of(inputs)])
    assert np.array_equal(labels.argmax(axis=1), popcounts)


def test_the_shuffle_follows_the_seed():
    first, _ = col.all_strings(12, seed=5)
    again, _ = col.all_strings(12, seed=5)
    other, _ = col.all_strings(12, seed=6)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    # shuffled, not in counting order
    assert not np.array_equal(col.numbers_of(first), np.arange(2 ** 12))


def test_default_split_sizes_and_no_string_in_both_sets():
    inputs, labels = col.all_strings(col.SEQ_LEN, col.SEED)
    (train_x, train_y), validation, (test_x, test_y) = col.split(
        inputs, labels, col.NUM_EXAMPLES)
    assert len(train_x) == len(train_y) == 10_000
    assert len(test_x) == len(test_y) == 1_038_576
    assert len(validation[0]) == len(validation[1]) == 0  # the tutorial's two-way split
    assert not set(col.numbers_of(train_x)) & set(col.numbers_of(test_x))
    assert np.array_equal(train_y.argmax(1), train_x.sum(axis=(1, 2)))


def test_a_validation_split_takes_strings_from_the_test_set_only():
    inputs, labels = col.all_strings(12, seed=0)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = col.split(
        inputs, labels, 300, validation_examples=500)
    assert (len(train_x), len(valid_x), len(test_x)) == (300, 500, 4096 - 800)
    assert (len(train_y), len(valid_y), len(test_y)) == (300, 500, 4096 - 800)
    sets = [set(col.numbers_of(part)) for part in (train_x, valid_x, test_x)]
    assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    assert len(sets[0] | sets[1] | sets[2]) == 4096
    # the training strings are the same ones as without a validation split
    assert np.array_equal(train_x, col.split(inputs, labels, 300)[0][0])
    assert np.array_equal(valid_y.argmax(1), valid_x.sum(axis=(1, 2)))


# --- model ------------------------------------------------------------------------------

@pytest.mark.parametrize("unroll, towers", [("static", 1), ("static", 2), ("dynamic", 3)])
def test_graph_shapes_follow_the_settings(unroll, towers):
    model = col.build_model(seq_len=5, num_hidden=7, seed=0, unroll=unroll, towers=towers)
    assert model.data.shape.as_list() == [None, 5, 1]
    assert model.target.shape.as_list() == [None, 6]
    assert model.last.shape.as_list() == [None, 7]
    assert model.prediction.shape.as_list() == [None, 6]
    with col.new_session(model) as session:
        probabilities = col.predict(session, model, ["00000", "10110", "11111"])
    assert probabilities.shape == (3, 6)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("eval_batch", [1, 8, 1000])
def test_grading_by_prefix_tree_matches_feeding_every_string(eval_batch):
    inputs, labels = col.all_strings(7, seed=0)
    model = col.build_model(seq_len=7, num_hidden=6, seed=1, eval_batch=eval_batch)
    with col.new_session(model) as session:
        col.train_epoch(session, model, inputs[:64], labels[:64], 16)  # move off the start
        predicted = col.predicted_counts(session, model)
        direct = session.run(model.prediction, {model.data: inputs}).argmax(axis=1)
    numbers = col.numbers_of(inputs)
    assert predicted.shape == (2 ** 7,)
    assert np.array_equal(predicted[numbers], direct)
    expected_wrong = int(np.sum(direct != labels.argmax(axis=1)))
    assert col.count_wrong(predicted, numbers, labels) == expected_wrong
    assert 0 < expected_wrong < len(inputs)  # neither all right nor all wrong: a real check


def test_errors_by_count_adds_up_to_the_test_set_and_its_mistakes():
    labels = np.eye(4, dtype=np.float32)[[0, 1, 1, 2, 2, 2, 3]]  # true counts of 3-bit strings
    numbers = np.array([0, 1, 2, 3, 5, 6, 7])                      # ... which these spell
    predicted = np.zeros(8, dtype=np.int32)
    predicted[[0, 1, 2, 3, 5, 6, 7]] = [0, 1, 2, 2, 1, 2, 2]  # wrong for 2, 5 and 7
    totals, wrong = col.errors_by_count(predicted, numbers, labels)
    assert totals.tolist() == [1, 2, 3, 1]
    assert wrong.tolist() == [0, 1, 1, 1]
    assert wrong.sum() == col.count_wrong(predicted, numbers, labels)


def test_numbers_of_reads_bits_high_first():
    inputs = np.array([[[0], [0], [1]], [[1], [0], [0]], [[1], [1], [1]]], dtype=np.float32)
    assert col.numbers_of(inputs).tolist() == [1, 4, 7]


def test_same_seed_same_training_run():
    inputs, labels = col.all_strings(6, seed=0)

    def two_epochs(seed):
        model = col.build_model(seq_len=6, num_hidden=5, seed=seed)
        with col.new_session(model) as session:
            return [col.train_epoch(session, model, inputs[:40], labels[:40], 8)
                    for _ in range(2)]

    assert two_epochs(4) == two_epochs(4)
    assert two_epochs(4) != two_epochs(5)


def test_a_short_run_on_short_strings_really_learns():
    # 10-bit strings, 300 to train on, 724 held out. Runs made while writing this test ended
    # at 2.5% to 9.5% held-out error (seeds 0-3); guessing the most common count is wrong
    # 75% of the time, and the untrained model about 90%.
    inputs, labels = col.all_strings(10, seed=0)
    (train_x, train_y), _, (test_x, test_y) = col.split(inputs, labels, 300)
    test_numbers = col.numbers_of(test_x)
    model = col.build_model(seq_len=10, num_hidden=24, seed=0)
    with col.new_session(model) as session:
        before = col.count_wrong(col.predicted_counts(session, model), test_numbers, test_y)
        for _ in range(200):
            col.train_epoch(session, model, train_x, train_y, batch_size=20)
        after = col.count_wrong(col.predicted_counts(session, model), test_numbers, test_y)
    before, after = before / len(test_x), after / len(test_x)
    assert before > 0.6
    assert after < 0.25
    assert after < before / 3


# --- the script as a user runs it -------------------------------------------------------

def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          capture_output=True, text=True, timeout=300)


def test_the_script_prints_progress_the_final_line_and_the_sample():
    result = run_script("--seq-len", "6", "--num-examples", "40", "--batch-size", "10",
                        "--epochs", "4", "--eval-every", "2", "--sample", "101")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "64 strings of 6 bits, 40 for training and 24 for testing" in out
    for epoch in range(1, 5):
        assert re.search(rf"^Epoch {epoch}/4 loss +[\d.e+-]+ train error +\d+\.\d% "
                         rf"step +\d+\.\dms left \d+s$", out, re.MULTILINE), out
    # the test set is measured every 2 epochs, and after the last one in the final line
    assert re.search(r"^Epoch 2/4 test error \d+\.\d+% \(\d+ of 24 wrong\)$", out, re.MULTILINE)
    assert "Epoch 4/4 test error" not in out
    final = re.search(r"^Epoch 4 error (\d+\.\d)% \((\d+) of 24 test strings wrong\)$",
                      out, re.MULTILINE)
    assert final, out
    assert float(final.group(1)) == pytest.approx(100 * int(final.group(2)) / 24, abs=0.05)
    # the sample is fitted to 6 bits by repeating it
    assert "Sample 101101: probability of each count 0..6:" in out
    probabilities = [float(p) for p in out.split("0..6:\n")[1].splitlines()[0].split()]
    assert len(probabilities) == 7 and sum(probabilities) == pytest.approx(1, abs=0.01)
    predicted = re.search(r"predicted count (\d+), true count 4$", out, re.MULTILINE)
    assert predicted and int(predicted.group(1)) == int(np.argmax(probabilities))
    # the per-count table covers the test set and its mistakes exactly
    rows = re.findall(r"^ +(\d+) +(\d+) +(\d+) +(?:\d+\.\d+%|-)$", out, re.MULTILINE)
    assert [int(r[0]) for r in rows] == list(range(7))
    assert sum(int(r[1]) for r in rows) == 24
    assert sum(int(r[2]) for r in rows) == int(final.group(2))


def test_with_a_validation_split_training_is_watched_on_it_and_the_end_is_tested():
    result = run_script("--seq-len", "6", "--num-examples", "30", "--validation-examples",
                        "10", "--batch-size", "10", "--epochs", "2", "--eval-every", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "64 strings of 6 bits, 30 for training, 10 for validation and 24 for testing" in out
    for epoch in (1, 2):
        assert re.search(rf"^Epoch {epoch}/2 validation error \d+\.\d+% \(\d+ of 10 wrong\)$",
                         out, re.MULTILINE), out
    assert " test error" not in out
    assert re.search(r"^Epoch 2 error \d+\.\d% \(\d+ of 24 test strings wrong\)$", out,
                     re.MULTILINE)


def test_help_lists_every_setting_with_its_default_and_meaning():
    result = run_script("--help")
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for name, meaning in col.read_settings_block():
        assert f"--{name.lower().replace('_', '-')} {name}" in help_text
        assert " ".join(meaning.split()) in help_text
        assert f"(default: {getattr(col, name)})" in help_text


BAD_SETTINGS = [
    (["--batch-size", "10001"], "BATCH_SIZE is 10001, but it must be from 1 to NUM_EXAMPLES"),
    (["--batch-size", "0"], "BATCH_SIZE is 0"),
    (["--num-examples", "1048576"], "NUM_EXAMPLES is 1048576, but it must be from 1 to 1048575"),
    (["--seq-len", "4", "--num-examples", "16"], "NUM_EXAMPLES is 16"),
    (["--validation-examples", "1038576"], "VALIDATION_EXAMPLES is 1038576, but it must be "
                                           "from 0 to 1038575"),
    (["--validation-examples", "-1"], "VALIDATION_EXAMPLES is -1"),
    (["--num-hidden", "0"], "NUM_HIDDEN is 0, but it must be 1 or more"),
    (["--epochs", "-3"], "EPOCHS is -3, but it must be 1 or more"),
    (["--eval-every", "0"], "EVAL_EVERY is 0"),
    (["--seq-len", "25"], "SEQ_LEN is 25, but it must be from 1 to 24"),
    (["--seq-len", "0"], "SEQ_LEN is 0"),
    (["--seed", "-1"], "SEED is -1"),
    (["--unroll", "while"], "UNROLL is 'while', but it must be 'static' or 'dynamic'"),
    (["--towers", "0"], "TOWERS is 0, but it must be 1 or more"),
    (["--sample", "10a1"], "SAMPLE is '10a1', but it must be a non-empty string of 0s and 1s"),
    (["--epochs", "ten"], "EPOCHS must be a whole number, got 'ten'"),
    (["--epochs", "2.5"], "EPOCHS must be a whole number, got '2.5'"),
    (["--epoch", "5"], "Unknown option '--epoch'"),
    (["--epochs"], "expected one argument"),
]


@pytest.mark.parametrize("argv, sentence", BAD_SETTINGS)
def test_a_bad_setting_stops_with_one_sentence_and_status_2(argv, sentence, capsys, monkeypatch):
    monkeypatch.setattr(col, "build_model", lambda *a, **k: pytest.fail("graph was built"))
    assert col.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and sentence in lines[0], captured.err


@pytest.mark.parametrize("argv, sentence", [
    (["--num-examples", "0"], "NUM_EXAMPLES is 0"),
    (["--batch-size", "x"], "BATCH_SIZE must be a whole number, got 'x'"),
    (["--bogus"], "Unknown option '--bogus'"),
])
def test_bad_settings_from_the_terminal_exit_2_without_a_traceback(argv, sentence):
    result = run_script(*argv)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("count_ones_lstm.py: ") and sentence in lines[0]
