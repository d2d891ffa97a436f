"""TARGET "every" and HEAD "regression", the readers' two other framings: their targets,
their rounding, what --predict and --inspect print. That they learn, that the speed settings
leave what they learn alone and that another framing is a run of its own are tested beside
the tutorial's framing, in the other modules."""

import numpy as np
import pytest

import count_ones_lstm as col
from conftest import TINY

tf, tf1 = col.tf, col.tf1


def test_every_asks_for_the_running_count_after_each_bit_exactly():
    bits = np.random.default_rng(0).integers(0, 2, (500, 20, 1)).astype(np.float32)
    with tf.Graph().as_default(), tf1.Session() as session:
        data = tf1.placeholder(tf.float32, [None, 20, 1])
        running = session.run(col.running_counts(data), {data: bits})
    assert running.shape == (500, 20)
    assert np.array_equal(running, np.cumsum(bits[:, :, 0], axis=1))  # whole numbers, exact
    assert np.array_equal(running[:, -1], bits.sum(axis=(1, 2)))  # the last is the count


@pytest.mark.parametrize("head", ["softmax", "regression"])
def test_every_teaches_each_prefix_as_if_it_were_a_string_of_its_own(head):
    # The loss of TARGET "every" on one string is the sum of TARGET "last"'s losses on each
    # of its prefixes, fed as strings of their own lengths; the same weights serve both.
    strings = ["1101001110", "0010111", "1"]
    prefixes = [s[:n] for s in strings for n in range(1, len(s) + 1)]
    with tf.Graph().as_default(), tf1.Session() as session:
        shape = dict(seq_len=10, min_len=1, num_hidden=6, cell="lstm", num_layers=1,
                     learning_rate=0.001, seed=3, head=head)
        every = col.build_model(col.Settings(target="every", **shape))
        with tf1.variable_scope(tf1.get_variable_scope(), reuse=tf1.AUTO_REUSE):  # Adam's too
            last = col.build_model(col.Settings(target="last", **shape))
        session.run(tf1.global_variables_initializer())

        def loss(model, group):
            inp, out, lengths = col.bits_and_labels([col.code_of(s, 10) for s in group], 10)
            return session.run(model.cross_entropy, col.feed(model, inp, out, lengths))

        assert loss(every, strings) == pytest.approx(loss(last, prefixes), rel=1e-5)
        assert loss(every, strings) > 1.5 * loss(last, strings)  # the prefixes do add


def test_the_regression_head_rounds_to_the_nearest_whole_count():
    values = np.array([-0.6, -0.4, 0.49, 0.5, 2.5, 2.51, 3.49999, 19.5, 20.7], np.float32)
    expected = [-1, 0, 0, 1, 3, 3, 3, 20, 21]  # halves go up, not to the even neighbour
    assert col.counts_from(values, "regression").tolist() == expected
    with tf.Graph().as_default(), tf1.Session() as session:
        assert session.run(col.rounded(tf.constant(values))).tolist() == expected


def test_a_regression_model_counts_its_number_rounded_in_every_grading():
    numbers = col.all_strings(7, seed=0)
    inputs, labels, _ = col.bits_and_labels(numbers, 7)
    tree = col.build_graph(seq_len=7, num_hidden=6, seed=1, head="regression")
    batches = col.build_graph(seq_len=7, num_hidden=6, seed=1, head="regression",
                              grading="batches", eval_batch=50)
    spread = np.random.default_rng(0).normal(0, 300, (6, 1)).astype(np.float32)
    with col.new_session(tree) as session, col.new_session(batches) as batch_session:
        for net, net_session in ((tree, session), (batches, batch_session)):
            with net.graph.as_default():  # a read-out whose numbers span several counts
                net.model.weight.load(spread, net_session)
                net.model.bias.load(np.array([7.0], np.float32), net_session)
        number = session.run(tree.model.prediction, {tree.model.data: inputs})
        by_tree = col.wrong_in(session, tree, numbers, say=pytest.fail)
        by_batches = col.wrong_in(batch_session, batches, numbers, say=pytest.fail)
        with tree.graph.as_default():  # then one that says 2.5 for every string
            tree.model.weight.load(np.zeros((6, 1), np.float32), session)
            tree.model.bias.load(np.array([2.5], np.float32), session)
        mistakes = session.run(tree.model.mistakes, col.feed(tree.model, inputs, labels))
        constant = col.wrong_in(session, tree, numbers, say=pytest.fail)
    assert number.shape == (128,) and len(np.unique(np.floor(number + 0.5))) > 5
    true = col.ones_in(numbers, 7)
    assert np.array_equal(by_tree, np.floor(number + np.float32(0.5)).astype(int) != true)
    assert np.array_equal(by_batches, by_tree)
    assert np.array_equal(constant, true != 3)  # 2.5 rounds up to 3 everywhere
    assert np.array_equal(mistakes, true != 3)


def test_predict_and_inspect_print_the_number_a_regression_model_outputs(tmp_path, capsys):
    where = TINY + ["--checkpoint-dir", str(tmp_path), "--head", "regression", "--target",
                    "every"]
    assert col.main(where + ["--epochs", "20", "--sample", "110"]) == 0
    out = capsys.readouterr().out
    assert "Sample 110110: the regression head outputs " in out
    assert col.main(where + ["--predict", "010110", "111111"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(", TARGET every, HEAD regression")
    for line, string, true in zip(lines[1:], ("010110", "111111"), (3, 6), strict=True):
        assert line.startswith(f"{string} predicted count ") and " (output " in line
        output = float(line.split("(output ")[1].split(")")[0])
        assert line.endswith(f"), true count {true}")
        assert f"predicted count {int(np.floor(output + 0.5))} " in line
    assert col.main(where + ["--inspect", "010110"]) == 0
    out = capsys.readouterr().out
    assert "String 010110: true count 3, predicted count " in out and " (output " in out
