"""The speed settings must not change what is learned: the script's fast graph and its plain
one (the tutorial's dynamic_rnn, transpose and gather, one session.run per batch) start from
the same weights and take the same Adam steps."""

import functools

import numpy as np
import pytest

import count_ones_lstm as col

PLAIN = dict(unroll="dynamic", towers=1, grading="batches")
# (training strings, strings graded, batch size, epochs): the defaults' first 20,000 test
# strings graded; every string of 2 to 7 bits, 200 of them trained on.
TRAIN, _, TEST = col.split(col.all_strings(col.SEQ_LEN, col.SEED), col.NUM_EXAMPLES)
DEFAULTS = (TRAIN, TEST[:20000], col.BATCH_SIZE, 4)
CODES = col.all_strings(7, seed=0, min_len=2)
MIXED = (CODES[:200], CODES, 20, 3)


def same_but_near_ties(our_epochs, plain_epochs, strings):
    """Whether two ways' epochs counted the same training strings wrong, but for at most one
    an epoch: a near-tie between two counts that float32 rounding may tip either way."""
    ours = np.array([error for _, error, _ in our_epochs]) * strings
    plain = np.array([error for _, error, _ in plain_epochs]) * strings
    return bool(np.all(np.abs(np.round(ours - plain)) <= 1))


def trainable_values(session, net):
    with net.graph.as_default():
        return session.run(col.tf1.trainable_variables())


@functools.cache
def plain_learning(mixed=False, **framing):
    """The plain graph's run that each fast one is held to, made once a process (every run of
    it is the same): its first weights, its epochs, its last weights and the strings it
    counts wrong. At the defaults, four epochs of 20-bit strings; mixed, three of every
    string of 2 to 7 bits, in the framing given."""
    lengths = dict(seq_len=7, min_len=2) if mixed else {}
    train, graded, batch_size, epochs = MIXED if mixed else DEFAULTS
    net = col.build_graph(**lengths, **framing, **PLAIN)
    inputs = col.bits_and_labels(train, net.seq_len)
    with col.new_session(net) as session:
        start = trainable_values(session, net)
        learned = [col.train_epoch(session, net, inputs, batch_size) for _ in range(epochs)]
        wrong = col.wrong_in(session, net, graded, say=pytest.fail)  # in batches: nothing said
        return start, learned, trainable_values(session, net), wrong


def fast_graph(**settings):
    """A graph at fast speed settings that kept every speed piece it was asked for."""
    net = col.build_graph(**settings)
    assert net.notes == []  # no piece stepped aside
    assert (net.tree is not None) == (net.settings.grading == "tree")
    return net


@pytest.mark.parametrize("fast", [
    dict(),  # the defaults: static unrolling, two towers, the tree
    dict(unroll="dynamic", towers=2),
    dict(unroll="static", towers=1)])
def test_from_the_same_seed_fast_and_plain_take_the_same_steps(fast):
    train, graded, batch_size, epochs = DEFAULTS  # four epochs of the tutorial's batches
    ours = fast_graph(**fast)
    inputs = col.bits_and_labels(train, ours.seq_len)
    with col.new_session(ours) as our_session:
        start = trainable_values(our_session, ours)
        our_epochs = [col.train_epoch(our_session, ours, inputs, batch_size)
                      for _ in range(epochs)]
        our_weights = trainable_values(our_session, ours)
        our_wrong = col.wrong_in(our_session, ours, graded, say=pytest.fail)  # the tree holds
    plain_start, plain_epochs, plain_weights, plain_wrong = plain_learning()
    for mine, theirs in zip(start, plain_start, strict=True):
        assert np.array_equal(mine, theirs)  # the first weights do not hang on speed

    our_losses = [loss for loss, _, _ in our_epochs]
    plain_losses = [loss for loss, _, _ in plain_epochs]
    assert [steps for _, _, steps in our_epochs] == [10] * 4
    assert plain_losses[-1] < 0.9 * plain_losses[0]  # they really move, so agreeing is news
    np.testing.assert_allclose(our_losses, plain_losses, rtol=1e-5)
    assert same_but_near_ties(our_epochs, plain_epochs, len(train))
    for mine, theirs, first in zip(our_weights, plain_weights, start, strict=True):
        assert not np.array_equal(mine, first)  # every variable was trained
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    assert np.sum(our_wrong != plain_wrong) <= 2  # float32 rounding on near-ties at most


def test_an_epoch_steps_every_batch_a_last_short_one_too_at_every_speed():
    # 25 strings in batches of 4: 7 Adam steps, the last on the one string left over
    train = col.all_strings(6, seed=2)[:25]
    inputs = col.bits_and_labels(train, 6)
    epochs = []
    for speed in (PLAIN, dict(grading="batches")):
        net = col.build_graph(seq_len=6, num_hidden=5, **speed)
        with col.new_session(net) as session:
            epochs.append(col.train_epoch(session, net, inputs, 4))
    (loss, error, steps), (fast_loss, fast_error, fast_steps) = epochs
    assert steps == fast_steps == 7
    assert fast_loss == pytest.approx(loss, rel=1e-5) and fast_error == error


FAST = [dict(), dict(unroll="dynamic", towers=2)]
OTHER_FRAMINGS = [dict(target="every"), dict(head="regression"),
                  dict(target="every", head="regression")]


@pytest.mark.parametrize("fast, framing", [
    *[(fast, {}) for fast in FAST + [dict(towers=1)]],
    *[(fast, framing) for fast in FAST for framing in OTHER_FRAMINGS]])  # TARGET, HEAD
def test_with_mixed_lengths_fast_and_plain_take_the_same_steps_and_grade_alike(fast, framing):
    train, codes, batch_size, epochs = MIXED
    ours = fast_graph(seq_len=7, min_len=2, **framing, **fast)
    inputs = col.bits_and_labels(train, 7)
    with col.new_session(ours) as our_session:
        our_epochs = [col.train_epoch(our_session, ours, inputs, batch_size)
                      for _ in range(epochs)]
        our_wrong = col.wrong_in(our_session, ours, codes, say=pytest.fail)
    _, plain_epochs, _, plain_wrong = plain_learning(True, **framing)
    np.testing.assert_allclose([loss for loss, _, _ in our_epochs],
                               [loss for loss, _, _ in plain_epochs], rtol=1e-4)
    assert plain_epochs[-1][0] < 0.95 * plain_epochs[0][0]
    assert same_but_near_ties(our_epochs, plain_epochs, len(train))
    assert np.sum(our_wrong != plain_wrong) <= 1  # the tree grades every length alike
