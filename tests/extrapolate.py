"""How far past SEQ_LEN does a regression model keep counting? A measurement, run by hand:

    .venv/bin/python tests/extrapolate.py runs/last-regression/run-<its digits>

A regression head's weights do not depend on the string length (one number out, whatever
SEQ_LEN was), so the saved model can be rebuilt for longer strings and fed them as they are.
For each length it draws STRINGS strings three ways: with 3 to 18 ones (the counts the
default seed's training strings cover), with 0 to 20 ones (at most SEQ_LEN, the rare counts
included), each count equally often; and plain random bits, whose counts go past 20 as the
strings grow. It prints the share counted exactly right, and for random bits the mean
distance from the true count.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import count_ones_lstm as col  # noqa: E402  (the script sits one folder up)

STRINGS = 10000


DRAWS = {"3 to 18 ones": (3, 18), "0 to 20 ones": (0, 20), "random bits": None}


def random_strings(rng, length, count, ones_range=None):
    """count strings of `length` bits, (count, length, 1) float32: random bits, or with
    ones_range (low, high) given, k ones at random places for k drawn evenly from it."""
    if ones_range is None:
        return rng.integers(0, 2, (count, length, 1)).astype(np.float32)
    ones = rng.integers(ones_range[0], ones_range[1] + 1, count)
    order = rng.random((count, length)).argsort(axis=1)  # a random ranking of the places
    return (order < ones[:, None]).astype(np.float32)[:, :, None]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run's folder, in CHECKPOINT_DIR")
    parser.add_argument("--lengths", type=int, nargs="+", default=[20, 24, 30, 40, 100])
    args = parser.parse_args()
    saved = col.read_record(args.run)
    shape = saved["settings"]
    if shape["HEAD"] != "regression":
        sys.exit(f"extrapolate.py: the model in {args.run}/ has a softmax head, "
                 "whose classes stop at SEQ_LEN; train one with --head regression.")
    rng = np.random.default_rng(0)
    print(f"Model: {args.run}/ at epoch {saved['epoch']}, trained on "
          f"{shape['SEQ_LEN']}-bit strings, TARGET {shape['TARGET']}")
    print(f"{'bits':>5}" + "".join(f"{name:>14}" for name in DRAWS) + "  mean |error|")
    for length in args.lengths:
        net = col.build_graph(seq_len=length, num_hidden=shape["NUM_HIDDEN"],
                              cell=shape["CELL"], num_layers=shape["NUM_LAYERS"],
                              target=shape["TARGET"], head="regression",
                              unroll="dynamic", towers=1, grading="batches")
        with col.tf1.Session(graph=net.graph) as session:
            net.saver.restore(session, saved["prefix"])
            row = f"{length:5d}"
            for ones_range in DRAWS.values():
                bits = random_strings(rng, length, STRINGS, ones_range)
                number = session.run(net.model.prediction, {net.model.data: bits})
                true = bits.sum(axis=(1, 2))
                row += f"{np.mean(col.counts_from(number, 'regression') == true):14.2%}"
            print(row + f"{np.mean(abs(number - true)):14.3f}")


if __name__ == "__main__":
    main()
