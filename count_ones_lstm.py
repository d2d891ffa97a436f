"""Teach an LSTM to count the ones in a binary string.

Every string of SEQ_LEN bits (2**20 = 1,048,576 of them at the defaults) is generated
once and shuffled. The first NUM_EXAMPLES strings train a 24-unit LSTM with a softmax
over the possible counts 0..SEQ_LEN; all the others are kept aside as the test set. The
model is written against TensorFlow's TF1-style graph API (placeholders, an LSTMCell, a
Session), run here through tf.compat.v1 on the CPU.

Run it:

    python count_ones_lstm.py                # the full run: 5000 epochs
    python count_ones_lstm.py --epochs 50    # any setting below can be overridden
    python count_ones_lstm.py --help         # every setting, its default and meaning

What you will see: one line per epoch (training loss and error, time per step, time
left), the error on the whole test set every EVAL_EVERY epochs, a last line in the shape
`Epoch 5000 error 0.1% ...`, and the model's class probabilities for one sample string.
"""

import argparse
import contextlib
import os
import re
import sys
import time
import warnings
from types import SimpleNamespace


@contextlib.contextmanager
def stderr_silenced():
    """Send whatever C++ code writes to stderr (file descriptor 2) to /dev/null for a while."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# The TF1 cells (LSTMCell and friends) exist only in the legacy Keras 2 package, tf-keras;
# TensorFlow uses it instead of Keras 3 when this is set before its first import.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no C++ log lines during the run

import numpy as np

with stderr_silenced():  # on import, TensorFlow's C++ side reports the absent GPU
    import tensorflow as tf

tf1 = tf.compat.v1
tf1.logging.set_verbosity(tf1.logging.ERROR)  # no deprecation notices for the TF1 API
warnings.filterwarnings("ignore", message=r".*is deprecated and will be removed")

# --- settings: edit them here, or override one for a single run with --name value ---
# data
SEQ_LEN = 20  # bits per string; every one of the 2**SEQ_LEN strings is made (1 to 24)
NUM_EXAMPLES = 10000  # strings the model trains on; all the others are the test set
VALIDATION_EXAMPLES = 0  # strings kept out of the test set to watch training on (0: none)
SEED = 0  # drives the shuffle and the initial weights, so a run can be repeated
# model
NUM_HIDDEN = 24  # units in the LSTM cell (the size of its output and its state)
# training
BATCH_SIZE = 1000  # strings per Adam step; a last, smaller batch takes any remainder
EPOCHS = 5000  # passes over the training strings
EVAL_EVERY = 500  # epochs between two measurements of the error on the whole test set
# prediction
SAMPLE = "10011011101001101110"  # string whose class probabilities are shown at the end
# speed: how fast a run goes and how much memory it takes, not what it learns
UNROLL = "static"  # "static": one copy of the cell per bit; "dynamic": the tutorial's loop
TOWERS = 2  # each batch is cut into this many parts that run side by side, one per core
EVAL_BATCH = 65536  # about how many strings one grading run holds
# --- end of settings ---

MAX_SEQ_LEN = 24  # 2**24 strings is the most this script will generate


class SettingError(ValueError):
    """A setting a user gave that the script cannot run with."""


# ---------------------------------------------------------------------------------------
# Settings and the command line
# ---------------------------------------------------------------------------------------

def read_settings_block(path=__file__):
    """Return (name, help text) for each line of the settings block in this file.

    The command line is built from this, so `--help` says exactly what the comments say.
    """
    with open(path, encoding="utf-8") as source:
        text = source.read()
    block = text.split("# --- settings:", 1)[1].split("# --- end of settings ---", 1)[0]
    line = re.compile(r"^([A-Z][A-Z0-9_]*) = .*?  # (.+)$", re.MULTILINE)
    return line.findall(block)


def option_type(name, kind):
    """An argparse type that turns a command-line word into `kind`, or explains why not."""
    def convert(word):
        if kind is int:
            try:
                return int(word)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{name} must be a whole number, got {word!r}") from None
        return kind(word)
    return convert


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one sentence, with exit status 2."""

    def error(self, message):
        raise SettingError(message[0].upper() + message[1:] + "; see --help for the options.")


def parse_settings(argv):
    """Turn command-line words into a settings namespace, starting from the defaults."""
    parser = OneLineParser(
        description="Train an LSTM to count the ones in binary strings (TF1 graph API).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False)
    for name, meaning in read_settings_block():
        default = globals()[name]
        parser.add_argument(
            "--" + name.lower().replace("_", "-"), dest=name.lower(), metavar=name,
            type=option_type(name, type(default)), default=default, help=meaning)
    # argparse words an unknown option in its own way; say it in ours.
    known, unknown = parser.parse_known_args(argv)
    if unknown:
        raise SettingError(
            f"Unknown option {unknown[0]!r}; see --help for the options.")
    return known


def check_settings(settings):
    """Raise SettingError, in one sentence, for the first setting that makes no sense."""
    s = settings
    if not 1 <= s.seq_len <= MAX_SEQ_LEN:
        raise SettingError(f"SEQ_LEN is {s.seq_len}, but it must be from 1 to {MAX_SEQ_LEN}.")
    total = 2 ** s.seq_len
    if not 1 <= s.num_examples < total:
        raise SettingError(
            f"NUM_EXAMPLES is {s.num_examples}, but it must be from 1 to {total - 1} so that "
            f"the {total} strings of length {s.seq_len} leave at least one test string.")
    if not 0 <= s.validation_examples < total - s.num_examples:
        raise SettingError(
            f"VALIDATION_EXAMPLES is {s.validation_examples}, but it must be from 0 to "
            f"{total - s.num_examples - 1} so that at least one test string is left.")
    if s.seed < 0:
        raise SettingError(f"SEED is {s.seed}, but it must be 0 or more.")
    for name in ("num_hidden", "epochs", "eval_every", "eval_batch", "towers"):
        if getattr(s, name) < 1:
            raise SettingError(
                f"{name.upper()} is {getattr(s, name)}, but it must be 1 or more.")
    if not 1 <= s.batch_size <= s.num_examples:
        raise SettingError(
            f"BATCH_SIZE is {s.batch_size}, but it must be from 1 to NUM_EXAMPLES "
            f"({s.num_examples}).")
    if s.unroll not in ("static", "dynamic"):
        raise SettingError(f"UNROLL is {s.unroll!r}, but it must be 'static' or 'dynamic'.")
    if not s.sample or set(s.sample) - {"0", "1"}:
        raise SettingError(
            f"SAMPLE is {s.sample!r}, but it must be a non-empty string of 0s and 1s.")


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

def all_strings(seq_len, seed):
    """Every string of seq_len bits exactly once, in an order shuffled by seed.

    Returns (inputs, labels): inputs float32 of shape (2**seq_len, seq_len, 1), one bit
    per time step, most significant bit first; labels float32 one-hot of shape
    (2**seq_len, seq_len + 1), a 1 at the index equal to the string's number of ones.
    """
    numbers = np.random.default_rng(seed).permutation(2 ** seq_len)
    shifts = np.arange(seq_len - 1, -1, -1)                     # high bit first
    bits = ((numbers[:, None] >> shifts) & 1).astype(np.float32)  # (N, seq_len)
    counts = bits.sum(axis=1).astype(np.int64)                    # (N,) ones per string
    labels = np.eye(seq_len + 1, dtype=np.float32)[counts]        # (N, seq_len + 1)
    return bits[:, :, None], labels                               # (N, seq_len, 1)


def split(inputs, labels, num_examples, validation_examples=0):
    """The first num_examples strings train, the next validation_examples are held out to
    watch training on, and all the rest are the test set: (train, validation, test)."""
    ends = [0, num_examples, num_examples + validation_examples, len(inputs)]
    return tuple((inputs[a:b], labels[a:b]) for a, b in zip(ends, ends[1:]))


def bits_of(string):
    """'0110' -> float32 array of shape (1, 4, 1), ready to feed as one string."""
    return np.array([int(c) for c in string], dtype=np.float32).reshape(1, -1, 1)


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------

def last_output(cell, data, seq_len, unroll):
    """The cell's output after the last bit of each string: (batch, seq_len, 1) -> (batch, hidden).

    Each string starts from a zero state; the final state is not needed, only the output.
    """
    if unroll == "dynamic":  # the tutorial's way: a TensorFlow loop over the bits
        val, _ = tf1.nn.dynamic_rnn(cell, data, dtype=tf.float32)  # (batch, seq_len, hidden)
        val = tf.transpose(val, [1, 0, 2])  # (seq_len, batch, hidden): time first
        return tf.gather(val, seq_len - 1)  # (batch, hidden): the step after the last bit
    # "static": the loop written out, one copy of the cell per bit. The same arithmetic,
    # with far less control flow for TensorFlow to run.
    bits = tf.unstack(data, num=seq_len, axis=1)  # seq_len tensors of (batch, 1), in order
    outputs, _ = tf1.nn.static_rnn(cell, bits, dtype=tf.float32)  # seq_len x (batch, hidden)
    return outputs[-1]


def grow_prefixes(cell, state, levels):
    """Extend every prefix held in `state` by a 0 and by a 1, `levels` times over.

    state: an LSTMStateTuple of (prefixes, hidden) tensors. Returns the state after each of
    the prefixes * 2**levels longer strings; row r belongs to prefix r // 2**levels followed
    by the bits of r % 2**levels, so rows come out in counting order.
    """
    for _ in range(levels):
        state = tf1.nn.rnn_cell.LSTMStateTuple(tf.repeat(state.c, 2, axis=0),
                                               tf.repeat(state.h, 2, axis=0))
        rows = tf.shape(state.h)[0]
        bit = tf.reshape(tf.tile([0.0, 1.0], [rows // 2]), [rows, 1])  # (rows, 1): 0, 1, 0, 1...
        # cell.call, the cell's step itself: through cell(...), tf-keras would put the
        # result inside dynamic_rnn's loop graph once the cell has run there (TF 2.21).
        _, state = cell.call(bit, state)
    return state


def build_model(seq_len=SEQ_LEN, num_hidden=NUM_HIDDEN, seed=SEED, unroll=UNROLL,
                towers=TOWERS, eval_batch=EVAL_BATCH):
    """Build the tutorial's graph in a graph of its own and return its handles."""
    num_classes = seq_len + 1  # a string can hold 0, 1, ..., seq_len ones
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)  # the initial weights follow SEED
        data = tf1.placeholder(tf.float32, [None, seq_len, 1], name="data")  # (batch, seq_len, 1)
        target = tf1.placeholder(tf.float32, [None, num_classes], name="target")  # (batch, classes)

        # Glorot-uniform is what TF1 gave the kernel by default; named here so that it is
        # drawn from the graph's seed (tf-keras would pick an unseeded one of its own).
        cell = tf1.nn.rnn_cell.LSTMCell(num_hidden, state_is_tuple=True,
                                        initializer=tf1.glorot_uniform_initializer())
        # The batch is cut into `towers` parts that share the cell's weights but no operation
        # until their last outputs are joined, so TensorFlow runs them side by side, one per
        # core, forwards and backwards.
        size = tf.shape(data)[0]
        bounds = [size * k // towers for k in range(towers + 1)]
        last = tf.concat([last_output(cell, data[a:b], seq_len, unroll)
                          for a, b in zip(bounds, bounds[1:])], 0)  # (batch, num_hidden)

        weight = tf.Variable(tf1.truncated_normal([num_hidden, num_classes]))  # (hidden, classes)
        bias = tf.Variable(tf.constant(0.1, shape=[num_classes]))  # (classes,)

        def classify(output):  # (rows, hidden) -> (rows, classes), each row sums to 1
            return tf.nn.softmax(tf.matmul(output, weight) + bias)

        prediction = classify(last)  # (batch, classes)

        # Cross-entropy summed over the batch; the clip keeps log() finite at 0.
        loss = -tf.reduce_sum(target * tf1.log(tf.clip_by_value(prediction, 1e-10, 1.0)))
        minimize = tf1.train.AdamOptimizer().minimize(loss)

        mistakes = tf.not_equal(tf.argmax(target, 1), tf.argmax(prediction, 1))  # (batch,)
        num_wrong = tf.reduce_sum(tf.cast(mistakes, tf.int64))  # strings wrong; / batch = error
        trainable = tf1.trainable_variables()  # the cell's kernel and bias; weight, bias

        # Grading every string at once: strings that begin alike share the cell's work up to
        # the bit where they part, so all 2**seq_len of them are run as a tree of prefixes,
        # about 2 cell steps per string instead of seq_len. It is the same cell with the same
        # weights; only the repeated work is skipped. The first seq_len - below bits are
        # grown in one run; then each of those prefixes is grown to full length in a run of
        # its own, 2**below <= eval_batch strings.
        below = min(seq_len, max(eval_batch, 1).bit_length() - 1)  # 2**below <= eval_batch
        top_state = grow_prefixes(cell, cell.zero_state(1, tf.float32), seq_len - below)
        prefix = tf1.nn.rnn_cell.LSTMStateTuple(
            tf1.placeholder(tf.float32, [None, num_hidden], name="prefix_c"),
            tf1.placeholder(tf.float32, [None, num_hidden], name="prefix_h"))
        leaves = grow_prefixes(cell, prefix, below)  # (2**below, hidden) per prefix fed
        leaf_counts = tf.argmax(classify(leaves.h), 1, output_type=tf.int32)
        init = tf1.global_variables_initializer()
    graph.finalize()  # from here on, adding a node by accident is an error
    return SimpleNamespace(
        graph=graph, data=data, target=target, last=last, prediction=prediction, loss=loss,
        minimize=minimize, num_wrong=num_wrong, trainable=trainable, init=init,
        top_state=top_state, prefix=prefix, leaf_counts=leaf_counts)


def new_session(model):
    """A Session on the model's graph with its variables initialised."""
    session = tf1.Session(graph=model.graph)
    session.run(model.init)
    return session


# ---------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------

def train_epoch(session, model, inputs, labels, batch_size):
    """One pass over the training strings, in order, one Adam step per batch.

    Returns (loss per string, share of strings wrong, number of steps), measured on each
    batch just before its step, so it costs nothing extra.
    """
    total_loss = 0.0
    total_wrong = 0
    steps = 0
    for start in range(0, len(inputs), batch_size):
        feed = {model.data: inputs[start:start + batch_size],
                model.target: labels[start:start + batch_size]}
        _, loss, wrong = session.run([model.minimize, model.loss, model.num_wrong], feed)
        total_loss += loss
        total_wrong += wrong
        steps += 1
    return total_loss / len(inputs), total_wrong / len(inputs), steps


def predicted_counts(session, model):
    """The predicted count of ones for every string, indexed by the number it spells."""
    top_c, top_h = session.run(model.top_state)
    return np.concatenate([
        session.run(model.leaf_counts, {model.prefix.c: top_c[i:i + 1],
                                        model.prefix.h: top_h[i:i + 1]})
        for i in range(len(top_c))])


def numbers_of(inputs):
    """(N, seq_len, 1) bits -> the N integers they spell, most significant bit first."""
    bits = inputs[:, :, 0].astype(np.int64)
    return bits @ (1 << np.arange(bits.shape[1] - 1, -1, -1))


def errors_by_count(predicted, numbers, labels):
    """For strings given by the numbers they spell and their one-hot labels, and each true
    count 0..seq_len: (how many of the strings have it, how many of those get a wrong count
    from predicted_counts). Rare counts (all zeros, all ones) are where to look."""
    true = labels.argmax(axis=1)
    wrong = predicted[numbers] != true
    size = labels.shape[1]
    return np.bincount(true, minlength=size), np.bincount(true[wrong], minlength=size)


def count_wrong(predicted, numbers, labels):
    """How many of the strings (as for errors_by_count) get a wrong count."""
    return int(errors_by_count(predicted, numbers, labels)[1].sum())


def predict(session, model, strings):
    """Class probabilities, shape (len(strings), seq_len + 1), for strings of 0s and 1s."""
    inputs = np.concatenate([bits_of(s) for s in strings])
    return session.run(model.prediction, {model.data: inputs})


def duration(seconds):
    """A short human reading of a time span: '42s', '3m05s', '1h02m'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def fit_sample(sample, seq_len):
    """The sample cut, or repeated, to seq_len bits, so any SEQ_LEN has one to show."""
    return (sample * (seq_len // len(sample) + 1))[:seq_len]


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

def run(settings, out=sys.stdout):
    """Make the data, train, report; returns the number of test strings got wrong."""
    s = settings

    def say(line):
        print(line, file=out, flush=True)

    started = time.perf_counter()
    inputs, labels = all_strings(s.seq_len, s.seed)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = split(
        inputs, labels, s.num_examples, s.validation_examples)
    held_out = f", {len(valid_x):,} for validation" if len(valid_x) else ""
    say(f"Data: {len(inputs):,} strings of {s.seq_len} bits, {len(train_x):,} for training"
        f"{held_out} and {len(test_x):,} for testing ({time.perf_counter() - started:.2f}s)")

    # Training is watched on the validation strings if there are any, else on the test set
    # (the tutorial's way); either way the final error is the test set's.
    watched, watch_x, watch_y = (("validation", valid_x, valid_y) if len(valid_x)
                                 else ("test", test_x, test_y))
    watch_numbers = numbers_of(watch_x)
    test_numbers = numbers_of(test_x)  # where each string sits in predicted_counts()
    model = build_model(s.seq_len, s.num_hidden, s.seed, s.unroll, s.towers, s.eval_batch)
    width = len(str(s.epochs))
    with new_session(model) as session:
        step_times = []
        for epoch in range(1, s.epochs + 1):
            epoch_start = time.perf_counter()
            loss, error, steps = train_epoch(session, model, train_x, train_y, s.batch_size)
            epoch_time = time.perf_counter() - epoch_start
            step_times.append(epoch_time / steps)
            recent = step_times[1:][-50:] or step_times  # the first epoch includes warm-up
            left = np.mean(recent) * steps * (s.epochs - epoch)
            say(f"Epoch {epoch:{width}d}/{s.epochs} loss {loss:#10.4g} "
                f"train error {100 * error:5.1f}% step {1000 * epoch_time / steps:5.1f}ms "
                f"left {duration(left)}")
            if epoch % s.eval_every == 0 and (epoch != s.epochs or len(valid_x)):
                wrong = count_wrong(predicted_counts(session, model), watch_numbers, watch_y)
                say(f"Epoch {epoch:{width}d}/{s.epochs} {watched} error "
                    f"{100 * wrong / len(watch_y):.3f}% ({wrong:,} of {len(watch_y):,} wrong)")

        predicted = predicted_counts(session, model)
        wrong = count_wrong(predicted, test_numbers, test_y)
        say(f"Epoch {s.epochs} error {100 * wrong / len(test_x):.1f}% "
            f"({wrong:,} of {len(test_x):,} test strings wrong)")
        say("Test strings by their true count of ones:")
        say(f"  {'count':>5} {'strings':>9} {'wrong':>7} {'error':>8}")
        for count, (total, missed) in enumerate(zip(*errors_by_count(
                predicted, test_numbers, test_y))):
            rate = f"{100 * missed / total:7.3f}%" if total else "       -"
            say(f"  {count:5d} {total:9,d} {missed:7,d} {rate}")

        sample = fit_sample(s.sample, s.seq_len)
        probabilities = predict(session, model, [sample])[0]
        say(f"Sample {sample}: probability of each count 0..{s.seq_len}:")
        say("  " + " ".join(f"{p:.3f}" for p in probabilities))
        say(f"  predicted count {int(np.argmax(probabilities))}, "
            f"true count {sample.count('1')}")
    say(f"Total time {duration(time.perf_counter() - started)}")
    return wrong


def main(argv=None):
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
        check_settings(settings)
    except SettingError as problem:
        print(f"count_ones_lstm.py: {problem}", file=sys.stderr)
        return 2
    try:
        run(settings)
    except KeyboardInterrupt:
        print("count_ones_lstm.py: stopped by Ctrl-C; nothing is saved.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
