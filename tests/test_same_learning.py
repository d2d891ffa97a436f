"""The script's faster graph must learn exactly what the tutorial's graph learns."""

import numpy as np
import pytest

import count_ones_lstm as col
import tutorial_graph


@pytest.mark.parametrize("unroll", ["static", "dynamic"])
def test_from_the_same_start_both_graphs_give_the_same_losses_step_by_step(unroll):
    train, _, _ = col.split(col.all_strings(col.SEQ_LEN, col.SEED), col.NUM_EXAMPLES)
    ours = col.build_model(unroll=unroll)  # otherwise the defaults, TOWERS included
    plain = tutorial_graph.build_tutorial_graph(col.SEQ_LEN, col.NUM_HIDDEN, col.SEED)
    with col.new_session(ours) as our_session, col.new_session(plain) as plain_session:
        tutorial_graph.copy_weights(our_session, ours, plain_session, plain)
        our_losses, plain_losses = [], []
        for _ in range(4):  # four epochs of the tutorial's batches, in its order: 40 steps
            # the script's own training loop, inside its graph: one session.run per epoch
            feed = {ours.strings: train, ours.batch_size: col.BATCH_SIZE}
            our_losses.extend(our_session.run(ours.step_losses, feed))
            # the tutorial's: one session.run per batch, fed its bits and labels
            plain_losses.extend(tutorial_graph.train_epoch(
                plain_session, plain, train, col.BATCH_SIZE)[0])
        our_weights = our_session.run(ours.trainable)
        plain_weights = plain_session.run(plain.trainable)

    assert len(our_losses) == len(plain_losses) == 40
    # the losses really move (so agreeing is not trivial) ...
    assert plain_losses[-1] < 0.9 * plain_losses[0]
    # ... and agree to float32 rounding, step by step, as do the trained weights
    np.testing.assert_allclose(our_losses, plain_losses, rtol=1e-5)
    for mine, theirs in zip(our_weights, plain_weights, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)


def test_train_epoch_adds_up_the_losses_of_its_steps_and_counts_them(monkeypatch):
    # 25 strings in batches of 4, at most 3 steps per session.run: runs of 3, 3 and 1 steps,
    # the last step on the one string left over
    monkeypatch.setattr(col, "STEPS_PER_RUN", 3)
    train = col.all_strings(6, seed=2)[:25]
    model = col.build_model(seq_len=6, num_hidden=5)
    plain = tutorial_graph.build_tutorial_graph(6, 5, col.SEED)
    with col.new_session(model) as session, col.new_session(plain) as plain_session:
        tutorial_graph.copy_weights(session, model, plain_session, plain)
        loss, error, steps = col.train_epoch(session, model, train, 4)
        plain_losses, plain_wrong = tutorial_graph.train_epoch(plain_session, plain, train, 4)
    assert steps == len(plain_losses) == 7
    assert loss == pytest.approx(sum(plain_losses) / 25, rel=1e-5)
    assert error == sum(plain_wrong) / 25
