"""Time the script's fast settings against its plain ones: the tutorial's graph and loop.

Run by hand (pytest does not collect it), from the top of the repository:

    .venv/bin/python tests/benchmark.py [--rounds 30]

"plain" is build_graph() with UNROLL dynamic, TOWERS 1 and GRADING batches: the tutorial's
dynamic_rnn, transpose and gather, and the test set fed in chunks. "fast" is the defaults.
Both run the script's own batch loop, train_epoch(): one session.run of `minimize` per batch,
fed through `data` and `target` from the bits and labels made once. Both start from the same
weights (the same SEED) and train on the same batches, taking turns, one epoch each per
round, so that whatever else the machine is doing falls on both alike; the medians over the
rounds and their ratio are printed. Then the time to make the data, the time to grade the
whole test set each way, and the peak resident memory of this process.

What made the fast settings fast, measured while they were written (ratios of the plain
step): static unrolling alone 0.85 to 0.91; with the batch in two towers, one per core,
0.48 to 0.57. Tried and not kept: four towers, XLA, the fused BlockLSTM op, hand-written
LSTM steps, other thread settings, TF1's own control flow, make_callable, and the batch loop
inside the graph (tf.while_loop, 8 to 12% of a step, at the cost of a second copy of the
model and a loop on screen that was not the one that ran).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # as the script, run as a script, sets

import numpy as np  # noqa: E402

import count_ones_lstm as col  # noqa: E402

PLAIN = dict(unroll="dynamic", towers=1, grading="batches")


def ms_per_step(session, net, inputs, batch_size):
    """Train one epoch; return the mean milliseconds per step."""
    start = time.perf_counter()
    _, _, steps = col.train_epoch(session, net, inputs, batch_size)
    return 1000 * (time.perf_counter() - start) / steps


def median_seconds(action, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="epochs timed for each")
    parser.add_argument("--eval-repeats", type=int, default=3, help="gradings timed")
    args = parser.parse_args()

    build_seconds = median_seconds(lambda: col.all_strings(col.SEQ_LEN, col.SEED), 3)
    train, _, test = col.split(col.all_strings(col.SEQ_LEN, col.SEED), col.NUM_EXAMPLES)
    train = col.bits_and_labels(train, col.SEQ_LEN)  # as a run makes them, once
    nets = {"plain (tutorial)": col.build_graph(**PLAIN), "fast (defaults)": col.build_graph()}
    sessions = {name: col.new_session(net) for name, net in nets.items()}

    for name, net in nets.items():  # one untimed epoch each: a graph's first runs warm up
        ms_per_step(sessions[name], net, train, col.BATCH_SIZE)
    times = {name: [] for name in nets}
    for _ in range(args.rounds):
        for name, net in nets.items():
            times[name].append(ms_per_step(sessions[name], net, train, col.BATCH_SIZE))

    print(f"training step, median of {args.rounds} alternating epochs of "
          f"{col.NUM_EXAMPLES // col.BATCH_SIZE} steps (batch {col.BATCH_SIZE}):")
    for name, values in times.items():
        print(f"  {name:17s} {np.median(values):6.2f} ms/step "
              f"(min {min(values):.2f}, max {max(values):.2f})")
    plain, fast = (np.array(values) for values in times.values())
    print(f"  ratio fast / plain: {np.median(fast) / np.median(plain):.2f} of the medians; "
          f"{np.median(fast / plain):.2f} median of the rounds' own ratios "
          f"({np.mean(fast / plain <= 0.5):.0%} of rounds at or under 0.5)")

    print(f"data for 2**{col.SEQ_LEN} strings: {build_seconds:.2f} s (median of 3)")
    grading = {name: median_seconds(
        lambda: col.wrong_in(sessions[name], net, test), args.eval_repeats)
        for name, net in nets.items()}
    print(f"grading {len(test):,} test strings, median of {args.eval_repeats}: "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in grading.items()))
    try:
        import resource  # Unix only: Windows has no getrusage
    except ImportError:
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
