"""Time the script's training step against the tutorial's own graph, on the same data.

Run by hand (pytest does not collect it), from the top of the repository:

    .venv/bin/python tests/benchmark.py [--rounds 20]

Both graphs start from the same weights and train on the same batches. They take turns, one
epoch (NUM_EXAMPLES / BATCH_SIZE steps) each per round, so that whatever else the machine is
doing falls on both alike; the medians over the rounds and their ratio are printed. Then the
time to build the data, the time to grade the whole test set (the script's way and the
tutorial graph's way), and the peak resident memory of this process.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import count_ones_lstm as col  # noqa: E402
import tutorial_graph  # noqa: E402


def epoch_ms_per_step(train_epoch, session, model, numbers, batch_size):
    """Train one epoch with the given loop; return the mean milliseconds per step."""
    start = time.perf_counter()
    train_epoch(session, model, numbers, batch_size)
    steps = -(-len(numbers) // batch_size)
    return 1000 * (time.perf_counter() - start) / steps


def tutorial_count_wrong(session, model, numbers, chunk):
    """Grade the tutorial's way: feed the strings themselves, a chunk at a time."""
    wrong = 0
    for i in range(0, len(numbers), chunk):
        inputs, labels = col.widen(numbers[i:i + chunk], col.SEQ_LEN)
        wrong += int(session.run(model.num_wrong, {model.data: inputs, model.target: labels}))
    return wrong


def median_seconds(action, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="epochs timed for each graph")
    parser.add_argument("--eval-repeats", type=int, default=3, help="gradings timed")
    args = parser.parse_args()

    build_seconds = median_seconds(lambda: col.all_strings(col.SEQ_LEN, col.SEED), 3)
    train, _, test = col.split(col.all_strings(col.SEQ_LEN, col.SEED), col.NUM_EXAMPLES)

    ours = col.build_model()
    plain = tutorial_graph.build_tutorial_graph(col.SEQ_LEN, col.NUM_HIDDEN, col.SEED)
    our_session = col.new_session(ours)
    plain_session = col.new_session(plain)
    tutorial_graph.copy_weights(our_session, ours, plain_session, plain)

    # One untimed epoch each: the first runs of a graph pay for its optimisation.
    contenders = {  # name: (its training loop, session, model)
        "tutorial graph": (tutorial_graph.train_epoch, plain_session, plain),
        "count_ones_lstm": (col.train_epoch, our_session, ours)}
    for contender in contenders.values():
        epoch_ms_per_step(*contender, train, col.BATCH_SIZE)
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, contender in contenders.items():
            times[name].append(epoch_ms_per_step(*contender, train, col.BATCH_SIZE))

    print(f"training step, median of {args.rounds} alternating epochs of "
          f"{col.NUM_EXAMPLES // col.BATCH_SIZE} steps (batch {col.BATCH_SIZE}):")
    for name, values in times.items():
        print(f"  {name:16s} {np.median(values):6.2f} ms/step "
              f"(min {min(values):.2f}, max {max(values):.2f})")
    ratio = np.median(times["count_ones_lstm"]) / np.median(times["tutorial graph"])
    per_round = np.array(times["count_ones_lstm"]) / np.array(times["tutorial graph"])
    print(f"  ratio count_ones_lstm / tutorial graph: {ratio:.2f} of the medians; "
          f"{np.median(per_round):.2f} median of the rounds' own ratios "
          f"({np.mean(per_round <= 0.5):.0%} of rounds at or under 0.5)")

    print(f"data for 2**{col.SEQ_LEN} strings: {build_seconds:.2f} s (median of 3)")
    our_eval = median_seconds(
        lambda: col.count_wrong(col.predicted_counts(our_session, ours), test, col.SEQ_LEN),
        args.eval_repeats)
    plain_eval = median_seconds(
        lambda: tutorial_count_wrong(plain_session, plain, test, col.EVAL_BATCH),
        args.eval_repeats)
    print(f"grading {len(test):,} test strings, median of {args.eval_repeats}: "
          f"count_ones_lstm (prefix tree, at most {col.EVAL_BATCH} strings a run) "
          f"{our_eval:.2f} s, tutorial graph (chunks of {col.EVAL_BATCH}) {plain_eval:.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
