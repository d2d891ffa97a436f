"""The script's faster graph must learn exactly what the tutorial's graph learns."""

import numpy as np
import pytest

import count_ones_lstm as col
from tutorial_graph import build_tutorial_graph, copy_weights


@pytest.mark.parametrize("unroll", ["static", "dynamic"])
def test_from_the_same_start_both_graphs_give_the_same_losses_step_by_step(unroll):
    train, _, _ = col.split(col.all_strings(col.SEQ_LEN, col.SEED), col.NUM_EXAMPLES)
    train_x, train_y = col.widen(train, col.SEQ_LEN)
    ours = col.build_model(unroll=unroll)  # otherwise the defaults, TOWERS included
    plain = build_tutorial_graph(col.SEQ_LEN, col.NUM_HIDDEN, col.SEED)
    with col.new_session(ours) as our_session, col.new_session(plain) as plain_session:
        copy_weights(our_session, ours, plain_session, plain)
        our_losses, plain_losses = [], []
        for step in range(40):  # four epochs of the tutorial's batches, in its order
            first = step * col.BATCH_SIZE % col.NUM_EXAMPLES
            batch = slice(first, first + col.BATCH_SIZE)
            for session, model, losses in ((our_session, ours, our_losses),
                                           (plain_session, plain, plain_losses)):
                _, loss = session.run([model.minimize, model.loss],
                                      {model.data: train_x[batch], model.target: train_y[batch]})
                losses.append(loss)
        our_weights = our_session.run(ours.trainable)
        plain_weights = plain_session.run(plain.trainable)

    # the losses really move (so agreeing is not trivial) ...
    assert plain_losses[-1] < 0.9 * plain_losses[0]
    # ... and agree to float32 rounding, step by step, as do the trained weights
    np.testing.assert_allclose(our_losses, plain_losses, rtol=1e-5)
    for mine, theirs in zip(our_weights, plain_weights, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
