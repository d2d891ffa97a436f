"""Teach an LSTM to count the ones in a binary string: the classic TF1 beginner tutorial,
runnable today.

Every string of SEQ_LEN bits (2**20 = 1,048,576 of them at the defaults) is generated
once and shuffled. The first NUM_EXAMPLES strings train a 24-unit LSTM with a softmax
over the possible counts 0..SEQ_LEN; all the others are kept aside as the test set. The
model is the tutorial's graph, written against TensorFlow's TF1 API (placeholders,
LSTMCell, dynamic_rnn, a Session) through tf.compat.v1, and trained on the CPU.

Run it:

    python count_ones_lstm.py                # the full run: 5000 epochs, 7 to 10 minutes
    python count_ones_lstm.py --epochs 50    # any setting below can be overridden
    python count_ones_lstm.py --help         # every setting, its default and meaning
    python count_ones_lstm.py --predict 01101001100101101001   # ask the saved model
    python count_ones_lstm.py --inspect 01101001100101101001   # watch it count, bit by bit

What you will see: one line per epoch (training loss and error, time per step, time
left), the error on the whole test set every EVAL_EVERY epochs, a last line in the
tutorial's shape `Epoch 5000 error 0.1%`, with the exact number of wrong strings, a table
of the test strings by their count of ones, and the model's probability of each count for
one sample string. The model is saved in CHECKPOINT_DIR as it trains; running the same
command again continues from there (--fresh starts over), and Ctrl-C stops at the end of
an epoch, saved.

Reading order: settings, data, the tutorial's model (build_model) and the readers' two
other framings beside it (TARGET, HEAD), training, grading, prediction; then a look inside
the cell (--inspect) and a counter set by hand; then the speed work that wraps the model
without changing it; then the command line, checkpoints, Ctrl-C, TensorBoard and main().
"""

import argparse
import ast
import contextlib
import errno
import fcntl
import io
import json
import os
import re
import signal
import sys
import time
import tokenize
import traceback
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


def unquoted_word(kind, error, trace):
    """While the settings block runs: a word without quotes there (CELL = gru) stops Python
    before main() can check anything; say so in one sentence, exit status 2, as main()
    does for any other bad setting. Any other error is reported as Python would."""
    frame = traceback.extract_tb(trace)[-1]
    if kind is NameError and frame.filename == __file__:
        print(f"count_ones_lstm.py: {frame.line!r} in the settings block needs quotes around "
              f"{error.name}, like \"{error.name}\".", file=sys.stderr, flush=True)
        os._exit(2)
    sys.__excepthook__(kind, error, trace)


sys.excepthook, previous_excepthook = unquoted_word, sys.excepthook
# --- settings: edit them here, or override one for a single run with --name value ---
# data
SEQ_LEN = 20  # bits per string; every one of the 2**SEQ_LEN strings is made (1 to 24)
MIN_LEN = 0  # if 1 or more, every string of MIN_LEN to SEQ_LEN bits is made (0: SEQ_LEN)
NUM_EXAMPLES = 10000  # strings the model trains on; all the others are the test set
VALIDATION_EXAMPLES = 0  # strings kept out of the test set to watch training on (0: none)
SEED = 0  # drives the shuffle and the initial weights, so a run can be repeated
# model
CELL = "lstm"  # "lstm" (the tutorial's), "gru", "rnn" (plain tanh), "handwired" (not trained)
NUM_HIDDEN = 24  # units in each cell (the size of its output and of its state)
NUM_LAYERS = 1  # cells stacked on each other; each layer reads the outputs of the one below
TARGET = "last"  # count taught after: "last" bit (the tutorial's), or "every" bit
HEAD = "softmax"  # "softmax": a probability per count (the tutorial's); "regression": a number
# training
BATCH_SIZE = 1000  # strings per Adam step; a last, smaller batch takes any remainder
LEARNING_RATE = 0.001  # Adam's step size (0.001 is Adam's own default, the tutorial's)
EPOCHS = 5000  # passes over the training strings
EVAL_EVERY = 500  # epochs between two measurements of the error on the whole test set
# saving, logging and prediction
CHECKPOINT_DIR = "checkpoints"  # where the model is saved and resumed from ("": never saved)
SAVE_EVERY = 100  # epochs between two saves; a run also saves at its end and on Ctrl-C
LOG_DIR = ""  # if set, TensorBoard logs (graph; loss and errors per epoch) are written here
SAMPLE = "10011011101001101110"  # string whose class probabilities are shown at the end
# speed: how fast a run goes and how much memory it takes, not what it learns
UNROLL = "static"  # "dynamic": the tutorial's dynamic_rnn; "static": one cell copy per bit
TOWERS = 2  # each batch is cut into this many parts run side by side (1: the whole batch)
STEPS_PER_RUN = 100  # Adam steps per session.run, looped in the graph (1: the tutorial's)
GRADING = "tree"  # "tree": strings share their prefixes' work; "batches": the tutorial's
EVAL_BATCH = 65536  # at most how many strings one grading run holds
# --- end of settings ---
sys.excepthook = previous_excepthook

# The kind of value each setting takes, whatever its line above says now. A constant of
# your own added to the block becomes an option too, of the kind its value has.
SETTING_KINDS = {
    "SEQ_LEN": int, "MIN_LEN": int, "NUM_EXAMPLES": int, "VALIDATION_EXAMPLES": int, "SEED": int,
    "CELL": str, "NUM_HIDDEN": int, "NUM_LAYERS": int, "TARGET": str, "HEAD": str,
    "BATCH_SIZE": int,
    "LEARNING_RATE": float, "EPOCHS": int, "EVAL_EVERY": int, "CHECKPOINT_DIR": str,
    "SAVE_EVERY": int, "LOG_DIR": str, "SAMPLE": str, "UNROLL": str, "TOWERS": int,
    "STEPS_PER_RUN": int, "GRADING": str, "EVAL_BATCH": int}
MAX_SEQ_LEN = 24  # 2**24 strings is the most this script will generate
CELLS = ("lstm", "gru", "rnn", "handwired")
TARGETS, HEADS = ("last", "every"), ("softmax", "regression")


class SettingError(ValueError):
    """A setting a user gave that the script cannot run with."""


class Stopped(Exception):
    """The run stopped before its end: by Ctrl-C or SIGTERM (exit status 130 or 143, as a
    shell reports either signal), or because it could not save or its loss blew up (1).
    The message says what is kept."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
# A string is kept as one number, its code: 4 bytes instead of the 164 its float bits and
# one-hot label take at 20 bits. A string of SEQ_LEN bits is the number it spells (most
# significant bit first); with MIN_LEN below SEQ_LEN, the strings of each shorter length L
# take the next range of codes, from length_offset(L), so that every string of every
# length has a code of its own. Only the batch being trained on (or asked about) is turned
# into bits and labels.

def length_offset(length, seq_len):
    """The first code of the strings `length` bits long: 0 for SEQ_LEN bits, then each
    shorter length's range right after the longer one's."""
    return 2 ** (seq_len + 1) - 2 ** (np.asarray(length, dtype=np.int64) + 1)


def all_strings(seq_len, seed, min_len=None):
    """Every string of min_len to seq_len bits (min_len: seq_len if not given) exactly
    once, as codes, shuffled by seed: int32 array of 2**(seq_len + 1) - 2**min_len codes
    (2**seq_len of them when every string is seq_len bits long)."""
    total = 2 ** (seq_len + 1) - 2 ** (min_len or seq_len)
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(total, dtype=np.int32))


def spelled(codes, seq_len):
    """(numbers, lengths) of the strings with these codes: what each spells and its bits."""
    codes = np.asarray(codes, dtype=np.int64)
    starts = length_offset(np.arange(seq_len - 1, 0, -1), seq_len)  # lengths seq_len - 1..1
    lengths = seq_len - np.searchsorted(starts, codes, side="right")  # starts passed
    return codes - length_offset(lengths, seq_len), lengths


def code_of(string, seq_len):
    """The code of a string of 0s and 1s."""
    return int(int(string, 2) + length_offset(len(string), seq_len))


def ones_in(codes, seq_len):
    """The number of ones in each string: its true count, the class to predict."""
    return np.bitwise_count(spelled(codes, seq_len)[0]).astype(np.int64)


def bits_and_labels(codes, seq_len):
    """Strings as codes -> what the tutorial feeds to `data` and `target`, and lengths.

    bits: float32 (n, seq_len, 1), one bit per time step, most significant bit first, a
    shorter string padded with zeros after its last bit; labels: float32 one-hot
    (n, seq_len + 1), a 1 at the string's number of ones; lengths: int32 (n,).
    """
    numbers, lengths = spelled(codes, seq_len)
    shifts = lengths[:, None] - 1 - np.arange(seq_len)            # high bit first
    bits = np.where(shifts >= 0, (numbers[:, None] >> np.maximum(shifts, 0)) & 1, 0)
    labels = np.eye(seq_len + 1, dtype=np.float32)[np.bitwise_count(numbers)]
    return bits.astype(np.float32)[:, :, None], labels, lengths.astype(np.int32)


def split(numbers, num_examples, validation_examples=0):
    """The first num_examples strings train, the next validation_examples are held out to
    watch training on, and all the rest are the test set: (train, validation, test)."""
    ends = [0, num_examples, num_examples + validation_examples, len(numbers)]
    return tuple(numbers[a:b] for a, b in zip(ends, ends[1:]))


# ---------------------------------------------------------------------------------------
# The tutorial's model
# ---------------------------------------------------------------------------------------

def make_cell(kind, num_hidden):
    """One layer's TF1 cell. Each step reads [input, previous output] side by side.

    lstm: kernel (inputs + hidden, 4 * hidden), bias (4 * hidden,): four gates; its state
          is (c, h), each (batch, hidden), and its output is h.
    gru:  a gates kernel (inputs + hidden, 2 * hidden) and a candidate kernel (inputs +
          hidden, hidden), each with a bias; its state is its output, (batch, hidden).
    rnn:  kernel (inputs + hidden, hidden), bias (hidden,): h = tanh([x, h] W + b).
    handwired: an LSTM whose weights set_handwired() writes, below.
    """
    if kind in ("lstm", "handwired"):
        return tf1.nn.rnn_cell.LSTMCell(num_hidden, state_is_tuple=True)
    if kind == "gru":
        return tf1.nn.rnn_cell.GRUCell(num_hidden)
    return tf1.nn.rnn_cell.BasicRNNCell(num_hidden)


def build_model(*, seq_len, num_hidden, cell_kind, num_layers, learning_rate, seed,
                min_len=None, unroll="dynamic", towers=1, optimizer=None, data=None,
                target=None, lengths=None, target_kind="last", head="softmax"):
    """The tutorial's graph, line for line, in its order; returns its tensors by name.

    data and target (and lengths, for strings shorter than seq_len) are placeholders made
    here unless given as tensors of the same shapes (as the training loop in the graph
    does). Calls in one graph share the variables; give them one `optimizer` to share
    Adam's state too. target_kind and head: see "Other framings" below."""
    num_classes = seq_len + 1  # a string holds 0, 1, ..., seq_len ones
    # The cells' kernels start Glorot-uniform, TF1's default, drawn from SEED alone, so that
    # the first weights are the same whatever else the graph holds.
    glorot = tf1.glorot_uniform_initializer(seed=seed)
    with tf1.variable_scope("model", reuse=tf1.AUTO_REUSE, initializer=glorot):
        if data is None:
            # (batch, SEQ_LEN, 1): one bit per time step
            data = tf1.placeholder(tf.float32, [None, seq_len, 1], name="data")
        if target is None:
            # (batch, SEQ_LEN + 1): one-hot, a 1 at the string's count of ones
            target = tf1.placeholder(tf.float32, [None, num_classes], name="target")
        if lengths is None and (min_len or seq_len) < seq_len:
            # (batch,): each string's own length; its bits after that are padding, zeros
            lengths = tf1.placeholder(tf.int32, [None], name="lengths")

        layers = [make_cell(cell_kind, num_hidden) for _ in range(num_layers)]
        cell = layers[0] if num_layers == 1 else tf1.nn.rnn_cell.MultiRNNCell(layers)

        if unroll == "dynamic" and towers == 1 and lengths is None:  # the tutorial's way
            # val (batch, SEQ_LEN, hidden): the output after each bit; state: after the last
            val, state = tf1.nn.dynamic_rnn(cell, data, dtype=tf.float32)
            outputs = val
            val = tf.transpose(val, [1, 0, 2])  # (SEQ_LEN, batch, hidden): time first
            last = tf.gather(val, seq_len - 1)  # (batch, hidden): after the last bit
        elif unroll == "dynamic" and towers == 1:  # the same for strings of mixed lengths:
            # val as above, but zeros after each string's own last bit, where the cell stops
            val, state = tf1.nn.dynamic_rnn(cell, data, sequence_length=lengths,
                                            dtype=tf.float32)
            ends = tf.stack([tf.range(tf.shape(val)[0]), lengths - 1], 1)  # (batch, 2)
            last, outputs = tf.gather_nd(val, ends), val  # (batch, hidden): after its end
        else:  # the same `last`, computed faster: see "Speed" below
            last, outputs = last_output_fast(cell, data, seq_len, unroll, towers, lengths,
                                             every=target_kind == "every")

        weight = tf1.get_variable(  # (hidden, classes), truncated normal like the tutorial's
            "weight", [num_hidden, num_classes if head == "softmax" else 1],  # regression: 1
            initializer=tf1.truncated_normal_initializer(seed=seed))
        bias = tf1.get_variable(  # (classes,), all 0.1
            "bias", weight.shape[1:], initializer=tf1.constant_initializer(0.1))
        if head == "softmax":  # (batch, classes): each row a probability for every count
            prediction = tf.nn.softmax(tf.matmul(last, weight) + bias)
        else:  # (batch,): one number, the count read as a quantity
            prediction = (tf.matmul(last, weight) + bias)[:, 0]

    if head == "softmax" and target_kind == "last":  # summed; the clip keeps log() finite
        cross_entropy = -tf.reduce_sum(target * tf1.log(tf.clip_by_value(prediction, 1e-10, 1.0)))
    else:  # squared error, or the loss at every bit: see "Other framings" below
        cross_entropy = other_loss(head, prediction, target, outputs, target_kind, data,
                                   lengths, weight, bias)
    optimizer = optimizer or tf1.train.AdamOptimizer(learning_rate)
    minimize = optimizer.minimize(cross_entropy)  # one Adam step on every variable

    if head == "softmax":  # (batch,) bool: the most probable count is not the true one
        mistakes = tf.not_equal(tf.argmax(target, 1), tf.argmax(prediction, 1))
    else:  # the number, rounded, is not the true count
        mistakes = tf.not_equal(tf.argmax(target, 1, output_type=tf.int32), rounded(prediction))
    error = tf.reduce_mean(tf.cast(mistakes, tf.float32))  # (): the share of strings wrong
    return SimpleNamespace(
        data=data, target=target, lengths=lengths, layers=layers, cell=cell, last=last,
        weight=weight, bias=bias, prediction=prediction, cross_entropy=cross_entropy,
        minimize=minimize, mistakes=mistakes, error=error, head=head)


# ---------------------------------------------------------------------------------------
# Other framings: TARGET "every" and HEAD "regression"
# ---------------------------------------------------------------------------------------
# Two proposals from the tutorial's readers. TARGET "every" asks for the running count
# after every bit, not only after the last, so each training string also teaches all of
# its prefixes; the loss is summed over the bits. HEAD "regression" makes the answer one
# number trained with squared error against the count, and reads it rounded to the nearest
# whole number. Either way the error reported is the tutorial's: whole strings, wrong or
# right, so that the runs compare directly.

def rounded(numbers):
    """The nearest whole number to each (halves round up), as int32: the regression head's
    count. NumPy's counterpart is counts_from()."""
    return tf.cast(tf.floor(numbers + 0.5), tf.int32)


def head_counts(outputs, weight, bias, head):
    """The head's count for cell outputs (..., hidden): int32 (...). The most probable
    count for the softmax (the largest logit), the rounded number for the regression."""
    scores = tf.tensordot(outputs, weight, 1) + bias  # (..., classes) or (..., 1)
    if head == "regression":
        return rounded(scores[..., 0])
    return tf.argmax(scores, -1, output_type=tf.int32)


def running_counts(data):
    """The ones seen up to and with each bit, (batch, seq_len, 1) -> (batch, seq_len): the
    count TARGET "every" asks for after each bit, read from the bits themselves."""
    return tf.cumsum(data[:, :, 0], axis=1)


def other_loss(head, prediction, target, outputs, target_kind, data, lengths, weight, bias):
    """The loss of the other framings, summed over the batch (and over the bits).

    "last": the last bit only, as the tutorial: (prediction - count)^2, the regression's
    squared error. "every": the head is applied to the outputs after every bit (batch,
    seq_len, hidden), against the running count there: the ones in data up to that bit
    (batch, seq_len). Bits after a string's length are padding and add nothing.
    """
    if target_kind == "last":
        count = tf.cast(tf.argmax(target, 1), tf.float32)  # (batch,)
        return tf.reduce_sum(tf.square(prediction - count))
    seq_len = outputs.shape[1]
    running = running_counts(data)  # (batch, seq_len): the target after each bit
    scores = tf.tensordot(outputs, weight, 1) + bias  # (batch, seq_len, classes or 1)
    if head == "regression":
        per_bit = tf.square(scores[:, :, 0] - running)
    else:
        labels = tf.one_hot(tf.cast(running, tf.int32), seq_len + 1)  # (batch, seq_len, classes)
        probabilities = tf.clip_by_value(tf.nn.softmax(scores), 1e-10, 1.0)
        per_bit = -tf.reduce_sum(labels * tf1.log(probabilities), 2)
    if lengths is not None:  # only the bits of each string count
        per_bit *= tf.sequence_mask(lengths, seq_len, tf.float32)
    return tf.reduce_sum(per_bit)


def counts_from(prediction, head):
    """The counts, int array (n,), from `prediction` values fetched from a session."""
    if head == "regression":
        return np.floor(prediction + np.float32(0.5)).astype(np.int64)
    return prediction.argmax(axis=1)


def build_graph(*, seq_len=SEQ_LEN, min_len=MIN_LEN, num_hidden=NUM_HIDDEN, cell_kind=CELL,
                num_layers=NUM_LAYERS, learning_rate=LEARNING_RATE, seed=SEED,
                unroll=UNROLL, towers=TOWERS, steps_per_run=STEPS_PER_RUN,
                grading=GRADING, eval_batch=EVAL_BATCH, target_kind=TARGET, head=HEAD,
                probe=False):
    """The tutorial's model in a tf.Graph of its own, with whatever the speed settings add
    beside it; returns the handles a run needs.

    net.model is build_model()'s tutorial graph, fed through its `data` and `target`
    placeholders: it answers questions, and trains when STEPS_PER_RUN is 1. net.loop (if
    STEPS_PER_RUN > 1) and net.tree (if GRADING is "tree") are the speed work below;
    net.probe (if probe) keeps the cells' state after every bit, for --inspect.
    """
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)
        min_len = min_len or seq_len  # 0: every string seq_len bits long
        shape = dict(seq_len=seq_len, min_len=min_len, num_hidden=num_hidden,
                     cell_kind=cell_kind, num_layers=num_layers, learning_rate=learning_rate,
                     seed=seed, optimizer=tf1.train.AdamOptimizer(learning_rate),
                     target_kind=target_kind, head=head)
        # The loop comes first, so that the variables are made inside it: TensorFlow then
        # reads them afresh at every step (made outside, they would be read once a run).
        loop = (build_training_loop(unroll=unroll, towers=towers, **shape)
                if steps_per_run > 1 else None)
        model = build_model(unroll=unroll, towers=towers, **shape)
        tree = (build_prefix_tree(model, seq_len, eval_batch, min_len)
                if grading == "tree" else None)
        probe = build_state_probe(model, seq_len) if probe else None
        init = tf1.global_variables_initializer()
        # Every variable, Adam's moments included, so that a run continued from a
        # checkpoint takes exactly the steps an uninterrupted run would have taken.
        saver = tf1.train.Saver(max_to_keep=None)
        # True while every weight (and Adam's moments) is a number: a save checks it first.
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(variable))
                                for variable in tf1.global_variables()])
    graph.finalize()  # from here on, adding a node by accident is an error
    return SimpleNamespace(graph=graph, model=model, loop=loop, tree=tree, probe=probe,
                           init=init, saver=saver, finite=finite, seq_len=seq_len,
                           min_len=min_len, steps_per_run=steps_per_run, eval_batch=eval_batch)


def new_session(net):
    """A Session on the graph with its variables initialised."""
    session = tf1.Session(graph=net.graph)
    session.run(net.init)
    return session


# ---------------------------------------------------------------------------------------
# Training: the tutorial's loop
# ---------------------------------------------------------------------------------------

def train_epoch(session, net, numbers, batch_size):
    """One pass over the training strings, in order, one Adam step per batch.

    Returns (loss per string, share of strings wrong, number of steps), each batch measured
    just before its step, so it costs nothing extra.
    """
    if net.loop is not None:  # the same steps, run inside the graph: see "Speed" below
        return train_epoch_in_graph(session, net, numbers, batch_size)
    model = net.model
    total_loss, total_wrong, steps = 0.0, 0, 0
    for start in range(0, len(numbers), batch_size):
        inp, out, lengths = bits_and_labels(numbers[start:start + batch_size], net.seq_len)
        _, loss, mistakes = session.run([model.minimize, model.cross_entropy, model.mistakes],
                                        feed(model, inp, out, lengths))
        total_loss += float(loss)
        total_wrong += int(mistakes.sum())
        steps += 1
    return total_loss / len(numbers), total_wrong / len(numbers), steps


# ---------------------------------------------------------------------------------------
# Grading and prediction
# ---------------------------------------------------------------------------------------

def predicted_counts(session, net, numbers):
    """The model's most probable count for each string given as a number: int array."""
    if net.tree is not None:  # every string at once, sharing prefixes: see "Speed" below
        return counts_by_tree(session, net)[numbers]
    counts = []  # the tutorial's way: feed the strings to `data`, EVAL_BATCH at a time
    for start in range(0, len(numbers), net.eval_batch):
        inp, _, lengths = bits_and_labels(numbers[start:start + net.eval_batch], net.seq_len)
        counts.append(counts_from(session.run(net.model.prediction,
                                              feed(net.model, inp, lengths=lengths)),
                                  net.model.head))
    return np.concatenate(counts)


def feed(model, inp, out=None, lengths=None):
    """The feed dict for the tutorial's placeholders: data, target if given, and lengths
    if the model reads strings of mixed lengths."""
    fed = {model.data: inp}
    if out is not None:
        fed[model.target] = out
    if model.lengths is not None:
        fed[model.lengths] = lengths
    return fed


def errors_by(key, counts, numbers, seq_len):
    """For each value 0..seq_len of key ("count": of ones; "bits": the length): how many
    of the strings have it, and how many of those the model counts wrong, from
    predicted_counts(..., numbers). The rare counts (all zeros, all ones) are where to look."""
    true = ones_in(numbers, seq_len)
    values = true if key == "count" else spelled(numbers, seq_len)[1].astype(np.int64)
    wrong = counts != true
    return (np.bincount(values, minlength=seq_len + 1),
            np.bincount(values[wrong], minlength=seq_len + 1))


def count_wrong(counts, numbers, seq_len):
    """How many of the strings the model counts wrong."""
    return int(np.sum(counts != ones_in(numbers, seq_len)))


def predict(session, net, strings):
    """The model's `prediction` for strings of 0s and 1s: the probability of each count,
    (len(strings), seq_len + 1), or with HEAD "regression" the number, (len(strings),)."""
    inp, _, lengths = bits_and_labels(np.array([code_of(s, net.seq_len) for s in strings]),
                                      net.seq_len)
    return session.run(net.model.prediction, feed(net.model, inp, lengths=lengths))


# ---------------------------------------------------------------------------------------
# Looking inside: what the cell's state does while it counts (--inspect)
# ---------------------------------------------------------------------------------------
# An LSTM can count because its cell state c is not squashed between steps: one unit of c
# can move up by a fixed step for each 1 and hold still for each 0, while its output h =
# o * tanh(c) stays within (-1, 1). A GRU's or plain RNN's state is its output, always
# within (-1, 1). build_state_probe() runs the model's own cells one bit at a time and
# keeps every state; find_counters() measures which units follow the running count.

def build_state_probe(model, seq_len):
    """The model's cells stepped bit by bit over `bits` (n, seq_len, 1), keeping what the
    tutorial's dynamic_rnn throws away: the state after every bit, for every layer.

    Returns parts: {name: (n, seq_len, hidden)}, named "c1", "h1" (layer 1's cell state
    and output; a GRU or plain RNN has only "h1"), "c2", ...; and guesses (n, seq_len):
    the most probable count if the string ended after each bit.
    """
    with tf.name_scope("probe"):
        bits = tf1.placeholder(tf.float32, [None, seq_len, 1], name="bits")
        state = tuple(layer.zero_state(tf.shape(bits)[0], tf.float32)
                      for layer in model.layers)
        steps = []  # per bit: the state tuple after it
        for t in range(seq_len):
            step_input, new_state = bits[:, t], []
            for layer, layer_state in zip(model.layers, state):
                step_input, layer_state = layer.call(step_input, layer_state)
                new_state.append(layer_state)
            state = tuple(new_state)
            steps.append(state)
        parts = {}
        for number in range(len(model.layers)):
            layer_steps = [step[number] for step in steps]
            if isinstance(layer_steps[0], tf1.nn.rnn_cell.LSTMStateTuple):
                parts[f"c{number + 1}"] = tf.stack([s.c for s in layer_steps], 1)
                parts[f"h{number + 1}"] = tf.stack([s.h for s in layer_steps], 1)
            else:
                parts[f"h{number + 1}"] = tf.stack(layer_steps, 1)
        outputs = tf.stack([output_of(step) for step in steps], 1)  # (n, seq_len, hidden)
        guesses = head_counts(outputs, model.weight, model.bias, model.head)  # (n, seq_len)
    return SimpleNamespace(bits=bits, parts=parts, guesses=guesses)


def states_along(session, net, numbers):
    """Run the probe on strings given as numbers: ({part: (n, seq_len, hidden)}, guesses
    (n, seq_len), running counts (n, seq_len): the ones seen up to and with each bit)."""
    inp, _, _ = bits_and_labels(np.asarray(numbers), net.seq_len)
    parts, guesses = session.run([net.probe.parts, net.probe.guesses],
                                 {net.probe.bits: inp})
    return parts, guesses, np.cumsum(inp[:, :, 0], axis=1)


def find_counters(parts, running):
    """How closely each unit of each part follows the running count, over every string and
    bit given. For each part, a SimpleNamespace of:
      correlation (hidden,): of the unit's value with the running count;
      step (hidden,): how much the unit moves per 1 read (the slope of the fitted line);
      exact (hidden,): the share of bits at which the fitted line, rounded, gives the
        running count exactly: 1.0 for a unit that counts cleanly;
      best: units, the best first; pair: the share the best unit and the one that adds
        most to it give together; together: the share all units of the part give."""
    target = running.reshape(-1)
    found = {}
    for name, values in parts.items():
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        spread = flat.std(axis=0)
        covariance = (flat - flat.mean(axis=0)).T @ (target - target.mean()) / len(target)
        moves = spread > 0
        correlation = np.divide(covariance, spread * target.std(), out=np.zeros_like(spread),
                                where=moves)
        step = covariance / target.var()  # the slope of the unit's value on the count
        exact = np.array([read_exactly(flat[:, [unit]], target) for unit in range(len(spread))])
        best = np.lexsort((-np.abs(correlation), -exact))  # by exact share, then correlation
        pair = max(read_exactly(flat[:, [best[0], other]], target)
                   for other in range(len(spread)))
        found[name] = SimpleNamespace(correlation=correlation, step=step, exact=exact,
                                      best=best, pair=pair,
                                      together=read_exactly(flat, target))
    return found


def read_exactly(columns, target):
    """The share of rows whose target a least-squares line (plane) on the columns, rounded
    to a whole number, gives exactly."""
    design = np.column_stack([columns, np.ones(len(target))])
    fitted = design @ np.linalg.lstsq(design, target, rcond=None)[0]
    return float(np.mean(np.round(fitted) == target))


HEAT = " .:-=+*#%@"  # from a unit's value at the lowest counts it sees to the highest


def heat(value, low, high, rising=True):
    """One character for value on the scale low..high (high..low if not rising, for a unit
    that falls as the count grows), so that a hotter character always means more ones."""
    if high <= low:
        return HEAT[0]
    share = np.clip((value - low) / (high - low), 0, 1)
    return HEAT[int((share if rising else 1 - share) * (len(HEAT) - 1) + 0.5)]


COUNTS_CLEANLY = 0.99  # a unit whose value alone gives the count at this share of bits


def describe_counters(found, sample_size, seq_len, at_end=None):
    """The finder's result in a line per part, and a verdict; at_end, if given, is
    find_counters() on the last bit alone, where the read-out looks."""
    lines = [f"Units that follow the running count, over {sample_size:,} strings x "
             f"{seq_len} bits (exact: how often a line through its value gives the count):"]
    for name, part in found.items():
        unit = part.best[0]
        lines.append(
            f"  {name}: unit {unit} correlation {part.correlation[unit]:+.3f}, "
            f"{part.step[unit]:+.3f} per 1, exact {part.exact[unit]:.1%}; best two units "
            f"{part.pair:.1%}; all {len(part.exact)} units {part.together:.1%}")
    name, part = max(found.items(), key=lambda item: item[1].exact[item[1].best[0]])
    if part.exact[part.best[0]] >= COUNTS_CLEANLY:
        lines.append(f"Unit {part.best[0]} of {name} is a counter: its value alone gives the "
                     f"running count at {part.exact[part.best[0]]:.1%} of bits.")
    else:
        name, part = max(found.items(), key=lambda item: item[1].together)
        lines.append(f"No single unit counts cleanly; all {len(part.exact)} units of {name} "
                     f"together give the running count at {part.together:.1%} of bits.")
    if at_end:
        lines.append("At the last bit alone: " + "; ".join(
            f"{name} unit {part.best[0]} exact {part.exact[part.best[0]]:.1%}, all "
            f"{len(part.exact)} units {part.together:.1%}" for name, part in at_end.items()))
    return lines


def inspection_rows(string, parts, guesses, found, ranges, shown=3):
    """The table --inspect prints for one string: a row per bit with the bit, the running
    count, the model's guess if the string ended there, and the c and h of the units that
    follow the count most closely (numbers, then one heat character each)."""
    columns = []  # (part name, unit)
    for name in found:
        if name.startswith("h") and f"c{name[1:]}" in found:
            units = found[f"c{name[1:]}"].best[:shown]  # the h of the same units as c
        else:
            units = found[name].best[:shown]
        columns += [(name, int(unit)) for unit in units]
    header = " bit ones guess " + "".join(f"{f'{name}[{unit}]':>9}" for name, unit in columns)
    rows = [header + "  heat"]
    running = 0
    for t, bit in enumerate(string):
        running += bit == "1"
        values = [parts[name][t, unit] for name, unit in columns]
        rows.append(f"{bit:>4} {running:4d} {guesses[t]:5d} "
                    + "".join(f"{value:9.3f}" for value in values) + "  "
                    + "".join(heat(value, *ranges[name][:, unit],
                                   rising=found[name].correlation[unit] >= 0)
                              for value, (name, unit) in zip(values, columns)))
    return rows


# ---------------------------------------------------------------------------------------
# A counter set by hand: CELL "handwired"
# ---------------------------------------------------------------------------------------
# An LSTMCell whose weights the script writes instead of training them, the plainest proof
# that one unit is enough to count. Unit 0's input, forget and output gates are held open
# (bias 30: the sigmoid is 1.0 in float32) and its candidate reads the bit alone, with
# tanh(candidate) = COUNTER_STEP for a 1 and 0 for a 0. So its c grows by COUNTER_STEP for
# each 1 and stays exactly as it was for each 0, and h = tanh(c) after k ones is the same
# h_k for every string with k ones. The other units stay at 0. The read-out gives count k
# the logit SHARPNESS * (2 h_k h - h_k^2), which is largest for the h_k nearest h.

COUNTER_STEP = 1 / 32  # c after k ones is k / 32: at most 0.75 at 24 bits, where tanh is not flat
SHARPNESS = 1e5  # makes the nearest count's probability 1.000; any value > 0 counts right


def handwired_weights(seq_len, num_hidden):
    """The values of (cell kernel, cell bias, weight, bias) for the hand-set counter."""
    kernel = np.zeros((1 + num_hidden, 4 * num_hidden), np.float32)  # gates i, j, f, o
    cell_bias = np.zeros(4 * num_hidden, np.float32)
    kernel[0, num_hidden] = np.arctanh(COUNTER_STEP)  # unit 0's candidate j reads the bit
    cell_bias[[0, 2 * num_hidden, 3 * num_hidden]] = 30.0  # its i, f and o always open
    centres = np.tanh(np.arange(seq_len + 1) * COUNTER_STEP)  # h_k: h after k ones
    weight = np.zeros((num_hidden, seq_len + 1), np.float32)
    weight[0] = 2 * SHARPNESS * centres
    bias = (-SHARPNESS * centres ** 2).astype(np.float32)
    return kernel, cell_bias, weight, bias


def set_handwired(session, net):
    """Write the hand-set counter's weights into the model's variables."""
    [cell] = net.model.layers
    values = handwired_weights(net.seq_len, cell.weights[0].shape[1] // 4)
    with net.graph.as_default():
        for variable, value in zip([*cell.weights, net.model.weight, net.model.bias],
                                   values, strict=True):
            variable.load(value, session)


# ---------------------------------------------------------------------------------------
# Speed: each piece wraps the tutorial's model and can be switched off by its setting
# ---------------------------------------------------------------------------------------
# Three ways the script goes faster than the tutorial, none changing what is computed but
# for float32 rounding (tests/test_same_learning.py checks it step by step):
# - UNROLL "static" and TOWERS: `last` from one copy of the cell per bit instead of
#   dynamic_rnn's loop, with the batch cut into parts that run on both cores at once.
# - STEPS_PER_RUN: the tutorial's batch loop moved into the graph, so that one
#   session.run takes many Adam steps, each a call of build_model on its batch.
# - GRADING "tree": strings that begin alike share the cell's work up to where they part.

def last_output_fast(cell, data, seq_len, unroll, towers, lengths=None, every=False):
    """build_model's `last`, (batch, seq_len, 1) -> (batch, hidden), computed faster; and
    if `every`, the outputs after each bit too, (batch, seq_len, hidden) (else None).

    The batch is cut into `towers` parts that share the cell's weights but no operation,
    so TensorFlow runs them side by side, forwards and backwards. "static" unrolls each
    part into one copy of the cell per bit: the same arithmetic as dynamic_rnn, with far
    less control flow for TensorFlow to run.
    """
    size = tf.shape(data)[0]
    bounds = [size * k // towers for k in range(towers + 1)]
    lasts, vals = [], []
    for a, b in zip(bounds, bounds[1:]):
        part = data[a:b]  # (part, seq_len, 1)
        part_lengths = None if lengths is None else lengths[a:b]  # (part,)
        if unroll == "static":
            bits = tf.unstack(part, num=seq_len, axis=1)  # seq_len x (part, 1), in order
            outputs, _ = tf1.nn.static_rnn(cell, bits, sequence_length=part_lengths,
                                           dtype=tf.float32)  # seq_len x (part, h)
            val = tf.stack(outputs, 1) if every or part_lengths is not None else None
        else:
            val, _ = tf1.nn.dynamic_rnn(cell, part, sequence_length=part_lengths,
                                        dtype=tf.float32)  # (part, seq_len, h)
            outputs = None
        vals.append(val)
        if part_lengths is None:
            lasts.append(outputs[-1] if unroll == "static" else val[:, -1])
        else:  # each string's output after its own last bit
            ends = tf.stack([tf.range(tf.shape(val)[0]), part_lengths - 1], 1)  # (part, 2)
            lasts.append(tf.gather_nd(val, ends))
    return tf.concat(lasts, 0), tf.concat(vals, 0) if every else None


def bits_and_labels_in_graph(codes, seq_len):
    """bits_and_labels() as TensorFlow operations: an int32 tensor of codes (n,) -> bits
    (n, seq_len, 1) and one-hot labels (n, seq_len + 1), both float32, and lengths (n,)."""
    starts = length_offset(np.arange(seq_len - 1, 0, -1), seq_len)  # lengths seq_len - 1..1
    shorter = tf.cast(codes[:, None] >= tf.constant(starts, tf.int32)[None, :], tf.int32)
    lengths = seq_len - tf.reduce_sum(shorter, 1)                          # (n,)
    numbers = codes - (2 ** (seq_len + 1) - tf.bitwise.left_shift(1, lengths + 1))
    shifts = lengths[:, None] - 1 - tf.range(seq_len)                      # high bit first
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(numbers[:, None],
                                                         tf.maximum(shifts, 0)), 1)
    bits = tf.where(shifts >= 0, bits, 0)                                  # padding: zeros
    counts = tf.cast(tf.raw_ops.PopulationCount(x=numbers), tf.int32)      # ones per string
    labels = tf.one_hot(counts, seq_len + 1, dtype=tf.float32)             # (n, seq_len + 1)
    return tf.cast(bits, tf.float32)[:, :, None], labels, lengths          # (n, seq_len, 1)


def build_training_loop(**model_settings):
    """The tutorial's batch loop as a tf.while_loop: each step cuts the next batch from
    `strings` (the training strings of one session.run, as numbers), makes its bits and
    labels, and runs build_model's `minimize` on them as `data` and `target`. A step starts
    only once the previous step's update is done, so it sees the new weights."""
    seq_len = model_settings["seq_len"]
    mixed = (model_settings["min_len"] or seq_len) < seq_len  # strings of several lengths
    with tf.name_scope("train"):
        strings = tf1.placeholder(tf.int32, [None], name="strings")  # (n,)
        batch_size = tf1.placeholder(tf.int32, [], name="batch_size")  # ()

        def step(number, losses, wrong):
            first = number * batch_size
            data, target, lengths = bits_and_labels_in_graph(
                strings[first:first + batch_size], seq_len)
            model = build_model(data=data, target=target,
                                lengths=lengths if mixed else None, **model_settings)
            with tf.control_dependencies([model.minimize]):
                return (number + 1, losses.write(number, model.cross_entropy),
                        wrong + tf.reduce_sum(tf.cast(model.mistakes, tf.int64)))

        num_steps = (tf.size(strings) + batch_size - 1) // batch_size  # the last may be short
        _, losses, wrong = tf1.while_loop(
            lambda number, *_: number < num_steps, step,
            [tf.constant(0), tf.TensorArray(tf.float32, size=num_steps),
             tf.constant(0, tf.int64)],
            parallel_iterations=1)  # one step at a time, each after the last one's update
    return SimpleNamespace(strings=strings, batch_size=batch_size,
                           step_losses=losses.stack(), wrong=wrong)  # (steps,), ()


def train_epoch_in_graph(session, net, numbers, batch_size):
    """train_epoch() with its batches looped in the graph, STEPS_PER_RUN per session.run."""
    total_loss, total_wrong, steps = 0.0, 0, 0
    chunk = batch_size * net.steps_per_run
    for start in range(0, len(numbers), chunk):
        losses, wrong = session.run([net.loop.step_losses, net.loop.wrong],
                                    {net.loop.strings: numbers[start:start + chunk],
                                     net.loop.batch_size: batch_size})
        for loss in losses:  # one by one, as the tutorial's loop adds them up
            total_loss += float(loss)
        total_wrong += int(wrong)
        steps += len(losses)
    return total_loss / len(numbers), total_wrong / len(numbers), steps


def output_of(state):
    """The top layer's output, read from a state tuple (one entry per layer): an LSTM's
    output is its h; a GRU's or plain RNN's output is its whole state."""
    top = state[-1]
    return top.h if isinstance(top, tf1.nn.rnn_cell.LSTMStateTuple) else top


def grow_prefixes(layers, state, levels):
    """Extend every prefix held in `state` by a 0 and by a 1, `levels` times over.

    layers: the cells, bottom first; state: a tuple of their states, each row one prefix.
    Returns the states after 0, 1, ..., levels more bits: entry j has prefixes * 2**j rows,
    row r belonging to prefix r // 2**j followed by the bits of r % 2**j, so rows come out
    in counting order.
    """
    states = [state]
    for _ in range(levels):
        state = tf.nest.map_structure(lambda part: tf.repeat(part, 2, axis=0), state)
        rows = tf.shape(tf.nest.flatten(state)[0])[0]
        step_input = tf.reshape(tf.tile([0.0, 1.0], [rows // 2]), [rows, 1])  # 0, 1, 0, 1...
        new_state = []
        for layer, layer_state in zip(layers, state):
            # layer.call is the cell's step alone, with the weights it already has
            step_input, layer_state = layer.call(step_input, layer_state)
            new_state.append(layer_state)
        state = tuple(new_state)
        states.append(state)
    return states


def build_prefix_tree(model, seq_len, eval_batch, min_len=None):
    """Grade every string as a tree of prefixes, about 2 cell steps per string instead of
    seq_len: the same cells and softmax as `model`, only the repeated work skipped. Each
    inner node is itself a shorter string, so strings of every length from min_len come
    out of the same tree. The first `top` bits are grown in one run; then each of those
    prefixes is grown to full length in a run of its own, 2**below <= eval_batch strings."""
    min_len = min_len or seq_len

    def counts_of(state):  # the model's count of each row's string
        return head_counts(output_of(state), model.weight, model.bias, model.head)

    with tf.name_scope("grading"):
        below = min(seq_len, eval_batch.bit_length() - 1)  # 2**below <= eval_batch
        top = seq_len - below
        start = tuple(layer.zero_state(1, tf.float32) for layer in model.layers)
        top_states = grow_prefixes(model.layers, start, top)  # depths 0..top
        prefix = tuple(  # one prefix's state, fed back in; (1, hidden) per part
            tf.nest.map_structure(
                lambda units: tf1.placeholder(tf.float32, [None, units]), layer.state_size)
            for layer in model.layers)
        leaf_states = grow_prefixes(model.layers, prefix, below)  # depths top..seq_len
        top_counts = {depth: counts_of(top_states[depth])  # (2**depth,) each
                      for depth in range(max(min_len, 1), top + 1)}
        leaf_counts = {top + j: counts_of(leaf_states[j])  # (2**j,) per prefix
                       for j in range(1, below + 1) if top + j >= min_len}
        leaf_outputs = output_of(leaf_states[-1])  # (2**below, hidden): `last` per string
    return SimpleNamespace(top=top, top_state=top_states[-1], prefix=prefix,
                           top_counts=top_counts, leaf_counts=leaf_counts,
                           leaf_outputs=leaf_outputs)


def each_prefix(session, net, fetch):
    """Run the top of the tree once, then `fetch` (tensors of the tree's lower part) for
    each of its prefixes in counting order: yields (prefix number, fetched values)."""
    tops = tf.nest.flatten(session.run(net.tree.top_state))  # one row per prefix
    slots = tf.nest.flatten(net.tree.prefix)
    for i in range(len(tops[0])):
        yield i, session.run(fetch, {slot: top[i:i + 1] for slot, top in zip(slots, tops)})


def for_every_string(session, net, fetch):
    """`fetch` (one of the tree's per-string tensors at full length) for all 2**seq_len
    strings, row n being the string that spells n."""
    return np.concatenate([values for _, values in each_prefix(session, net, fetch)])


def counts_by_tree(session, net):
    """The predicted count of every string of every length, indexed by its code."""
    tree, seq_len = net.tree, net.seq_len
    counts = np.zeros(2 ** (seq_len + 1) - 2 ** net.min_len, np.int32)
    for depth, values in session.run(tree.top_counts).items():
        counts[length_offset(depth, seq_len) + np.arange(2 ** depth)] = values
    for i, grown in each_prefix(session, net, tree.leaf_counts):  # prefix i, grown below
        for depth, values in grown.items():
            rows = 2 ** (depth - tree.top)
            counts[length_offset(depth, seq_len) + i * rows + np.arange(rows)] = values
    return counts


# ---------------------------------------------------------------------------------------
# The command line: made from the settings block, so that --help says what it says
# ---------------------------------------------------------------------------------------

BLOCK_START, BLOCK_END = "# --- settings:", "# --- end of settings ---"
OWN_OPTIONS = ("help", "fresh", "predict", "inspect")  # options that are not settings


def read_settings_block(path=__file__):
    """[(name, help text)] for each setting in the block at the top of the script, in order.

    Read with Python's own parser and tokenizer, so any way of writing a line counts:
    spacing, quotes, 5_000, a comment or none. Raises SettingError for a line of the block
    that is not a setting.
    """
    with open(path, encoding="utf-8") as source:
        text = source.read()
    lines = text.splitlines()
    try:
        first = next(n for n, line in enumerate(lines, 1) if line.startswith(BLOCK_START))
        last = next(n for n, line in enumerate(lines, 1) if line.startswith(BLOCK_END))
    except StopIteration:
        raise SettingError(f"The settings block of {os.path.basename(path)} has lost its "
                           f"first or last line ({BLOCK_START!r} ... {BLOCK_END!r}); "
                           "put it back.") from None
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(text).readline)
                if token.type == tokenize.COMMENT}
    found = []
    for node in ast.parse(text).body:
        if not first < node.lineno < last:
            continue
        targets = (node.targets if isinstance(node, ast.Assign) else [node.target]
                   if isinstance(node, ast.AnnAssign) and node.value is not None else [])
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            raise SettingError(f"Line {node.lineno} of the settings block, "
                               f"{lines[node.lineno - 1].strip()!r}, is not a setting "
                               "(NAME = value); fix it or move it out of the block.")
        found.append((targets[0].id, comments.get(node.end_lineno, "")))
    return found


def setting_kind(name, value):
    """The kind a setting's value must be: fixed for the script's own, else its value's."""
    kind = SETTING_KINDS.get(name, type(value))
    if kind not in (int, float, str):
        raise SettingError(f"{name} in the settings block is {value!r}, but a setting must "
                           "be a whole number, a number or text in quotes.")
    return kind


def check_kind(name, value, kind):
    """Raise SettingError unless value (from the settings block) is of kind."""
    fits = (type(value) is int if kind is int else
            type(value) in (int, float) if kind is float else isinstance(value, str))
    if not fits:
        wanted = {int: "a whole number", float: "a number",
                  str: "text in quotes, like \"lstm\""}[kind]
        raise SettingError(f"{name} is {value!r} in the settings block, but it must be "
                           f"{wanted}.")


def option_type(name, kind):
    """An argparse type that turns a command-line word into `kind`, or explains why not."""
    def convert(word):
        if kind is str:
            return word
        try:
            return kind(word)
        except ValueError:
            wanted = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(
                f"{name} must be {wanted}, got {word!r}") from None
    return convert


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one sentence, with exit status 2."""

    def error(self, message):
        raise SettingError(message[0].upper() + message[1:] + "; see --help for the options.")


def parse_settings(argv):
    """Turn command-line words into a settings namespace (attributes in lower case),
    starting from the values the settings block gives."""
    parser = OneLineParser(
        description="Train an LSTM to count the ones in binary strings (TF1 graph API).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        allow_abbrev=False)
    seen = {}
    for name, meaning in read_settings_block():
        option = name.lower().replace("_", "-")
        if option in OWN_OPTIONS or option in seen:
            clash = f"--{option}" if option in OWN_OPTIONS else seen[option]
            raise SettingError(f"{name} in the settings block would be the option "
                               f"--{option}, which {clash} already is; rename it.")
        seen[option] = name
        value = globals()[name]
        kind = setting_kind(name, value)
        check_kind(name, value, kind)
        parser.add_argument(
            "--" + option, dest=name.lower(), metavar=name, type=option_type(name, kind),
            default=kind(value), help=meaning or name)
    parser.add_argument(
        "--fresh", action="store_true",
        help="start training over, ignoring (and then replacing) the model in CHECKPOINT_DIR")
    parser.add_argument(
        "--predict", nargs="+", metavar="STRING",
        help="do not train: print the saved model's count for each string of 0s and 1s")
    parser.add_argument(
        "--inspect", nargs="+", metavar="STRING",
        help="do not train: find the saved model's units that follow the count, and show "
             "them bit by bit for each string")
    known, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse words an unknown option in its own way; say it in ours
        raise SettingError(f"Unknown option {unknown[0]!r}; see --help for the options.")
    missing = [name for name in SETTING_KINDS if not hasattr(known, name.lower())]
    if missing:
        raise SettingError(f"{missing[0]} is missing from the settings block; put its line "
                           "back.")
    return known


def check_settings(settings):
    """Raise SettingError, in one sentence, for the first setting that makes no sense."""
    if not 1 <= settings.seq_len <= MAX_SEQ_LEN:
        raise SettingError(f"SEQ_LEN is {settings.seq_len}, but it must be from 1 to "
                           f"{MAX_SEQ_LEN}.")
    if not 0 <= settings.min_len <= settings.seq_len:
        raise SettingError(f"MIN_LEN is {settings.min_len}, but it must be from 1 to SEQ_LEN "
                           f"({settings.seq_len}), or 0 for SEQ_LEN.")
    min_len = settings.min_len or settings.seq_len
    total = 2 ** (settings.seq_len + 1) - 2 ** min_len
    lengths = (f"length {settings.seq_len}" if min_len == settings.seq_len
               else f"lengths {min_len} to {settings.seq_len}")
    if not 1 <= settings.num_examples < total:
        raise SettingError(
            f"NUM_EXAMPLES is {settings.num_examples}, but it must be from 1 to {total - 1} "
            f"so that the {total} strings of {lengths} leave at least one test string.")
    if not 0 <= settings.validation_examples < total - settings.num_examples:
        raise SettingError(
            f"VALIDATION_EXAMPLES is {settings.validation_examples}, but it must be from 0 "
            f"to {total - settings.num_examples - 1} so that at least one test string is "
            "left.")
    if settings.seed < 0:
        raise SettingError(f"SEED is {settings.seed}, but it must be 0 or more.")
    for name in ("num_hidden", "num_layers", "epochs", "eval_every", "save_every",
                 "eval_batch", "towers", "steps_per_run"):
        if getattr(settings, name) < 1:
            raise SettingError(
                f"{name.upper()} is {getattr(settings, name)}, but it must be 1 or more.")
    if not 0 < settings.learning_rate < float("inf"):
        raise SettingError(f"LEARNING_RATE is {settings.learning_rate}, but it must be a "
                           "number more than 0.")
    if not 1 <= settings.batch_size <= settings.num_examples:
        raise SettingError(
            f"BATCH_SIZE is {settings.batch_size}, but it must be from 1 to NUM_EXAMPLES "
            f"({settings.num_examples}).")
    for name, allowed in (("cell", CELLS), ("target", TARGETS), ("head", HEADS),
                          ("unroll", ("static", "dynamic")), ("grading", ("tree", "batches"))):
        if getattr(settings, name) not in allowed:
            choices = " or ".join(", ".join(repr(a) for a in allowed).rsplit(", ", 1))
            raise SettingError(f"{name.upper()} is {getattr(settings, name)!r}, but it must "
                               f"be {choices}.")
    if settings.cell == "handwired" and settings.num_layers != 1:
        raise SettingError(f"CELL 'handwired' is one LSTM layer set by hand, so NUM_LAYERS "
                           f"must be 1, not {settings.num_layers}.")
    if settings.cell == "handwired" and settings.head != "softmax":
        raise SettingError("CELL 'handwired' sets a softmax read-out by hand, so HEAD must be "
                           f"'softmax', not {settings.head!r}.")
    if not settings.sample or set(settings.sample) - {"0", "1"}:
        raise SettingError(f"SAMPLE is {settings.sample!r}, but it must be a non-empty "
                           "string of 0s and 1s.")
    check_machine_limits(settings)


MAX_CELL_COPIES = 1000  # cell steps one graph may hold: about a minute of building here
GATES = {"lstm": 4, "handwired": 4, "gru": 3, "rnn": 1}  # weight blocks in each cell kind


def memory_of_machine():
    """Bytes of memory this process may use: the machine's, or its container's limit."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with contextlib.suppress(OSError, ValueError):  # "max" when there is no limit
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as limit:
            total = min(total, int(limit.read()))
    return total


def check_machine_limits(settings):
    """Raise SettingError, naming the limit, for settings that would take the machine down
    (a graph that takes many minutes to build, a model that does not fit in memory)."""
    cores = os.cpu_count() or 1
    if settings.towers > 4 * cores:
        raise SettingError(f"TOWERS is {settings.towers}, but this machine has {cores} cores "
                           f"and more than {4 * cores} parts (4 per core) only make the graph "
                           "bigger and slower to build.")
    static = settings.unroll == "static"
    copies = settings.towers * settings.num_layers * (settings.seq_len if static else 1)
    if copies > MAX_CELL_COPIES:
        raise SettingError(
            f"TOWERS {settings.towers} x NUM_LAYERS {settings.num_layers}"
            + (f" x SEQ_LEN {settings.seq_len} (UNROLL 'static')" if static else "")
            + f" is {copies:,} copies of the cell in one graph, more than the "
            f"{MAX_CELL_COPIES:,} this script builds (about a minute); use fewer.")
    hidden, gates = settings.num_hidden, GATES[settings.cell]
    weights = sum((inputs + hidden + 1) * gates * hidden  # each layer's kernel and bias
                  for inputs in [1] + [hidden] * (settings.num_layers - 1))
    # Weights and Adam's two moments, a gradient for each copy of the cell (dynamic_rnn
    # adds its up as it goes), and each copy's gates and state kept for the way back.
    gradients = settings.towers * settings.seq_len if static else 2
    training = (4 * weights * (3 + gradients)
                + 4 * settings.batch_size * settings.seq_len * settings.num_layers
                * (gates + 3) * hidden)
    grading = 4 * 2 * settings.eval_batch * settings.num_layers * (gates + 3) * hidden
    needed, available = max(training, grading), memory_of_machine()
    if needed > available:
        raise SettingError(
            f"NUM_HIDDEN {hidden} with NUM_LAYERS {settings.num_layers} makes {weights:,} "
            f"weights, which would take about {needed / 2**30:,.0f} GiB of memory to train "
            f"and grade, more than the {available / 2**30:.0f} GiB this machine has; use "
            "fewer units.")


def graph_for(settings, **changes):
    """build_graph() with the settings' values, some of them changed."""
    chosen = dict(
        seq_len=settings.seq_len, min_len=settings.min_len, num_hidden=settings.num_hidden,
        cell_kind=settings.cell,
        num_layers=settings.num_layers, learning_rate=settings.learning_rate,
        seed=settings.seed, unroll=settings.unroll, towers=settings.towers,
        steps_per_run=settings.steps_per_run, grading=settings.grading,
        eval_batch=settings.eval_batch, target_kind=settings.target, head=settings.head)
    chosen.update(changes)
    return build_graph(**chosen)


# ---------------------------------------------------------------------------------------
# Checkpoints: TensorFlow's own format, plus a small JSON file naming the settings that
# shaped the model and the epoch it reached.
# ---------------------------------------------------------------------------------------

# What a checkpoint must agree on to be continued: the model's shape, and the data split
# (another seed or size would put strings the model trained on into the test set).
SAVED_SETTINGS = ("SEQ_LEN", "MIN_LEN", "CELL", "NUM_HIDDEN", "NUM_LAYERS", "TARGET", "HEAD",
                  "SEED", "NUM_EXAMPLES", "VALIDATION_EXAMPLES")
CHECKPOINT_FILE = "count_ones_lstm.json"  # in CHECKPOINT_DIR: the settings and the epoch
LOCK_FILE = "count_ones_lstm.lock"  # in CHECKPOINT_DIR: held by the run training there
CHECKPOINT_FORMAT = 2  # 2: the variables under "model/" (1, unnumbered: "rnn/", "softmax/")
SAVED_FILE = re.compile(r"^model-\d+\.(index|data-\d+-of-\d+)$")  # what a save writes there


def read_checkpoint(directory):
    """The record of the model saved in directory, or None if there is none."""
    path = os.path.join(directory, CHECKPOINT_FILE)
    try:
        with open(path, encoding="utf-8") as record:
            saved = json.load(record)
        prefix = os.path.join(directory, saved["checkpoint"])
        saved["settings"].setdefault("MIN_LEN", saved["settings"]["SEQ_LEN"])  # before it
        saved["settings"].setdefault("TARGET", "last")  # and before these two
        saved["settings"].setdefault("HEAD", "softmax")
        complete = record_makes_sense(saved)
    except FileNotFoundError:
        return None
    except OSError as problem:
        raise SettingError(f"{path} cannot be read ({problem.strerror}).") from None
    except (ValueError, KeyError, TypeError, AttributeError):  # not the shape it should be
        complete = False
    if not complete:
        raise SettingError(f"{path} is not a checkpoint record this script wrote; move it "
                           f"away or give another --checkpoint-dir.")
    if saved.get("format") != CHECKPOINT_FORMAT:
        raise SettingError(f"The model saved in {directory}/ was written by an older version "
                           "of this script, whose variables have other names: give --fresh "
                           "to train a new one there, or another --checkpoint-dir.")
    if not os.path.exists(prefix + ".index"):
        raise SettingError(f"{path} names the checkpoint {prefix}, which is missing; give "
                           f"--fresh to start over.")
    saved["prefix"] = prefix
    return saved


def record_makes_sense(saved):
    """Whether a record read from JSON is whole: each saved setting of its kind and in its
    range, and an epoch that names its checkpoint."""
    shape = saved["settings"]
    if set(shape) < set(SAVED_SETTINGS) or type(saved["epoch"]) is not int:
        return False
    if any(type(shape[name]) is not SETTING_KINDS[name] for name in SAVED_SETTINGS):
        return False
    return (saved["epoch"] >= 0 and saved["checkpoint"] == f"model-{saved['epoch']}"
            and 1 <= shape["MIN_LEN"] <= shape["SEQ_LEN"] <= MAX_SEQ_LEN
            and shape["CELL"] in CELLS and shape["SEED"] >= 0
            and shape["TARGET"] in TARGETS and shape["HEAD"] in HEADS
            and min(shape["NUM_HIDDEN"], shape["NUM_LAYERS"], shape["NUM_EXAMPLES"]) >= 1
            and shape["VALIDATION_EXAMPLES"] >= 0)


def recorded(settings):
    """The settings a checkpoint depends on, as its record keeps them (MIN_LEN 0 as SEQ_LEN)."""
    values = {name: getattr(settings, name.lower()) for name in SAVED_SETTINGS}
    values["MIN_LEN"] = values["MIN_LEN"] or values["SEQ_LEN"]
    return values


def check_checkpoint(saved, settings, directory):
    """Raise SettingError, naming the setting, if settings differ from the saved model's."""
    for name, mine in recorded(settings).items():
        theirs = saved["settings"].get(name)
        if mine != theirs:
            raise SettingError(
                f"The model saved in {directory}/ has {name} {theirs!r}, not {mine!r}: give "
                f"--fresh to train a new one there, or another --checkpoint-dir.")


def save_checkpoint(session, net, directory, settings, epoch, lock=None):
    """Save every variable as of `epoch`; then point the record, and TensorFlow's own
    `checkpoint` file, at it and drop older saves.

    The record is replaced in one step, and only once the new save is whole; if writing
    fails before that (a full disk, a folder gone), what was written of the new save is
    removed and the error raised, so the record still names the previous save, intact.
    `lock`, the run's lock_folder(), tells whether the folder is still the one it locked.
    """
    name = f"model-{epoch}"
    path = os.path.join(directory, CHECKPOINT_FILE)
    temporary = f"{path}.{os.getpid()}.tmp"  # this process's own
    temporary_name = os.path.basename(temporary)
    record = {"format": CHECKPOINT_FORMAT, "checkpoint": name, "epoch": epoch,
              "settings": recorded(settings)}
    try:
        if not os.path.isdir(directory):  # removed during the run: the save would make it anew
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        net.saver.save(session, os.path.join(directory, "model"), global_step=epoch,
                       write_meta_graph=False, write_state=False)
        if lock and not os.path.samestat(os.fstat(lock.fileno()), os.stat(lock.name)):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))  # made anew
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=1)
        os.replace(temporary, path)  # the record changes in one step, never half-written
    except (OSError, ValueError, tf.errors.OpError) as problem:
        if not os.path.isdir(directory):  # removed during the run (TensorFlow's ValueError)
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)) from problem
        for left in os.listdir(directory):
            if left.startswith((name + ".", name + "_temp")) or left == temporary_name:
                os.remove(os.path.join(directory, left))
        raise
    # For TensorFlow's tools (tf.train.latest_checkpoint): the same save, named relative
    # to the folder, written to a temporary file and renamed like the record.
    prefix = os.path.join(directory, name)
    tf1.train.update_checkpoint_state(directory, prefix, all_model_checkpoint_paths=[prefix])
    for old in os.listdir(directory):
        if SAVED_FILE.match(old) and not old.startswith(name + "."):
            os.remove(os.path.join(directory, old))


def reason(problem):
    """The short cause of a failed write: 'No space left on device', not a page of it."""
    text = problem.strerror if isinstance(problem, OSError) else problem.message
    return (text or type(problem).__name__).strip().split("; ")[-1].split("\n")[0]


def kept_in(directory):
    """What is safely saved in directory now, read from disk: the end of a sentence."""
    if not directory:
        return "nothing is saved, as CHECKPOINT_DIR is empty"
    try:
        saved = read_checkpoint(directory)
        if saved:
            check_readable(saved, directory)
    except SettingError:
        saved = None
    if not saved:
        return f"no save is left in {directory}/"
    return f"the last save, epoch {saved['epoch']} in {directory}/, is kept as it was"


def damaged(saved, directory, problem):
    """The one sentence for a checkpoint whose files cannot be read."""
    return SettingError(
        f"The checkpoint {saved['prefix']} cannot be read ({type(problem).__name__}): it is "
        f"damaged or incomplete; give --fresh to train a new one in {directory}/, or another "
        "--checkpoint-dir.")


def check_readable(saved, directory):
    """Read every tensor of the saved model (TensorFlow checks each one's checksum), so
    that a damaged save is named before anything is built; raise SettingError if not."""
    try:
        reader = tf.train.load_checkpoint(saved["prefix"])
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as problem:  # the reader's kinds
        raise damaged(saved, directory, problem) from None


def restore(session, net, saved, directory):
    """Load the saved model into session, or raise SettingError, in one sentence, if its
    files are damaged or missing, or do not hold the variables its record describes.
    Nothing in the folder is changed either way."""
    try:
        stored = tf.train.load_checkpoint(saved["prefix"]).get_variable_to_shape_map()
        with net.graph.as_default():
            for variable in tf1.global_variables():
                name = variable.op.name
                if stored.get(name) != variable.shape.as_list():
                    raise SettingError(
                        f"The checkpoint {saved['prefix']} holds {name} as "
                        f"{stored.get(name, 'nothing')}, not the {variable.shape.as_list()} "
                        f"its record describes; give --fresh to train a new one in "
                        f"{directory}/, or another --checkpoint-dir.")
        net.saver.restore(session, saved["prefix"])
    except SettingError:
        raise
    except (tf.errors.OpError, ValueError, IndexError) as problem:
        raise damaged(saved, directory, problem) from None


def lock_folder(directory):
    """Hold a lock on directory until this process ends, however it ends (the operating
    system lets go of it), so that no second run trains into the same folder. Returns the
    open lock file; raises SettingError if another run holds the lock."""
    path = os.path.join(directory, LOCK_FILE)
    handle = open(path, "a", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise SettingError(f"Another run is training in {directory}/ (it holds {path}): wait "
                           "for it to end, or give another --checkpoint-dir.") from None
    return handle


def check_writable(name, directory):
    """Make directory if needed; raise SettingError if the script could not write there,
    so that a run never trains for minutes and then fails to save."""
    try:
        os.makedirs(directory, exist_ok=True)
        writable = os.access(directory, os.W_OK | os.X_OK)
    except OSError as problem:
        raise SettingError(f"{name} is {directory!r}, which cannot be made into a folder "
                           f"({problem.strerror}).") from None
    if not writable:
        raise SettingError(f"{name} is {directory!r}, a folder this script may not write in.")


# ---------------------------------------------------------------------------------------
# Ctrl-C and TensorBoard
# ---------------------------------------------------------------------------------------

class CtrlC:
    """While active, the first Ctrl-C (or SIGTERM, as a scheduler, `timeout` or a container
    stop sends) only asks training to stop after the current epoch, so that what is saved
    is a whole epoch; a second one stops at once. `pressed` names the signal, or is None."""

    NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}

    def __enter__(self):
        self.pressed = None
        self.previous = {number: signal.signal(number, self.press) for number in self.NAMES}
        return self

    def press(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = self.NAMES[signum]
        print(f"count_ones_lstm.py: {self.pressed}: stopping after this epoch "
              "(send it again to stop at once).", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)


class Scalars:
    """Per-epoch numbers for TensorBoard, written next to the graph in log_dir (or nowhere)."""

    def __init__(self, log_dir, graph, settings=None):
        self.writer = None
        if log_dir:
            with graph.as_default():  # TF1's writer refuses to start in eager mode
                self.writer = tf1.summary.FileWriter(log_dir, graph)
        if log_dir and settings:  # the run's settings, as a table in TensorBoard's Text tab
            table = "| setting | value |\n|---|---|\n" + "".join(
                f"| {name} | {getattr(settings, name.lower())!r} |\n" for name in SETTING_KINDS)
            with tf.Graph().as_default(), tf1.Session() as session:
                text = tf1.summary.text("settings", tf.constant(table))
                self.writer.add_summary(session.run(text))

    def add(self, epoch, **values):
        if self.writer:
            self.writer.add_summary(tf1.Summary(value=[
                tf1.Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()
            ]), epoch)

    def close(self):
        if self.writer:
            self.writer.close()


# ---------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------

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


def train_and_report(settings, saved=None, out=None, lock=None):
    """Make the data, train (from `saved`, a checkpoint record, if given), grade and report
    to out (stdout by default); returns the number of test strings counted wrong. Raises
    Stopped after a Ctrl-C, or if a save fails or the loss blows up. `lock`: the run's
    lock_folder(), if it holds one."""
    def say(line):
        print(line, file=out or sys.stdout, flush=True)

    started = time.perf_counter()
    seq_len, min_len = settings.seq_len, settings.min_len or settings.seq_len
    strings = all_strings(seq_len, settings.seed, min_len)
    train, valid, test = split(strings, settings.num_examples, settings.validation_examples)
    held_out = f", {len(valid):,} for validation" if len(valid) else ""
    bits = f"{seq_len}" if min_len == seq_len else f"{min_len} to {seq_len}"
    say(f"Data: {len(strings):,} strings of {bits} bits, {len(train):,} for training"
        f"{held_out} and {len(test):,} for testing ({time.perf_counter() - started:.2f}s)")

    # Training is watched on the validation strings if there are any, else on the test set
    # (the tutorial's way); either way the final error is the test set's.
    watched, watch = ("validation", valid) if len(valid) else ("test", test)
    net = graph_for(settings)
    epochs = 0 if settings.cell == "handwired" else settings.epochs  # set, not trained
    width = len(str(epochs))
    scalars = Scalars(settings.log_dir, net.graph, settings)
    with new_session(net) as session:
        first_epoch = 1
        if saved:
            restore(session, net, saved, settings.checkpoint_dir)
            first_epoch = saved["epoch"] + 1
            left = "nothing left to train" if first_epoch > epochs else f"on to epoch {epochs}"
            say(f"Continuing from epoch {saved['epoch']}, saved in {settings.checkpoint_dir}/ "
                f"({left}; --fresh starts over)")
        elif settings.cell == "handwired":
            set_handwired(session, net)
        last_saved = saved["epoch"] if saved else None
        directory = settings.checkpoint_dir

        def save(epoch):
            nonlocal last_saved
            if not directory or last_saved == epoch:
                return
            if not session.run(net.finite):  # never write NaN weights over a good model
                raise Stopped(f"The weights stopped being numbers at epoch {epoch} "
                              f"(LEARNING_RATE {settings.learning_rate:g} may be too large); "
                              f"nothing was saved: {kept_in(directory)}.", 1)
            try:
                save_checkpoint(session, net, directory, settings, epoch, lock)
            except (OSError, tf.errors.OpError) as problem:
                raise Stopped(f"Saving epoch {epoch} in {directory}/ failed "
                              f"({reason(problem)}); {kept_in(directory)} (fix that, then run "
                              "the same command to continue).", 1) from None
            last_saved = epoch

        step_times, training_time = [], 0.0  # training_time: this run's epochs, no grading
        epoch = first_epoch - 1  # the last finished epoch
        with CtrlC() as ctrl_c:
            while epoch < epochs and not ctrl_c.pressed:
                epoch_start = time.perf_counter()
                loss, error, steps = train_epoch(session, net, train, settings.batch_size)
                epoch += 1
                epoch_time = time.perf_counter() - epoch_start
                training_time += epoch_time
                step_times.append(epoch_time / steps)
                recent = step_times[1:][-50:] or step_times  # the first includes warm-up
                left = np.mean(recent) * steps * (epochs - epoch)
                say(f"Epoch {epoch:{width}d}/{epochs} loss {loss:#10.4g} "
                    f"train error {100 * error:5.1f}% step {1000 * epoch_time / steps:5.1f}ms "
                    f"left {duration(left)}")
                scalars.add(epoch, loss=loss, train_error=100 * error)
                if not np.isfinite(loss):  # diverged: stop before it is saved anywhere
                    raise Stopped(f"The loss became {loss} at epoch {epoch}: training "
                                  f"diverged (LEARNING_RATE {settings.learning_rate:g} may be "
                                  f"too large); {kept_in(directory)}.", 1)
                if epoch % settings.eval_every == 0 and (epoch != epochs or len(valid)):
                    wrong = count_wrong(predicted_counts(session, net, watch), watch, seq_len)
                    say(f"Epoch {epoch:{width}d}/{epochs} {watched} error "
                        f"{100 * wrong / len(watch):.3f}% ({wrong:,} of {len(watch):,} wrong) "
                        f"after {training_time:.1f}s of training")
                    scalars.add(epoch, **{f"{watched}_error": 100 * wrong / len(watch)})
                if epoch % settings.save_every == 0:
                    save(epoch)
            save(epoch)  # the end of training, or the epoch Ctrl-C let finish
        if ctrl_c.pressed:
            scalars.close()
            kept = (f"saved in {settings.checkpoint_dir}/; run the same command to continue"
                    if settings.checkpoint_dir else "not saved, as CHECKPOINT_DIR is empty")
            raise Stopped(f"stopped by {ctrl_c.pressed} after epoch {epoch} of {epochs}; "
                          f"{kept}.", 143 if ctrl_c.pressed == "SIGTERM" else 130)

        counts = predicted_counts(session, net, test)
        wrong = count_wrong(counts, test, seq_len)
        scalars.add(epoch, test_error=100 * wrong / len(test))
        scalars.close()
        say(f"Epoch {epoch} error {100 * wrong / len(test):.1f}% "
            f"({wrong:,} of {len(test):,} test strings wrong)")
        tables = [("count", "their true count of ones", range(seq_len + 1))]
        if min_len < seq_len:
            tables.append(("bits", "their length", range(min_len, seq_len + 1)))
        for key, title, rows in tables:
            say(f"Test strings by {title}:")
            say(f"  {key:>5} {'strings':>9} {'wrong':>7} {'error':>8}")
            totals, missed = errors_by(key, counts, test, seq_len)
            for value in rows:
                rate = (f"{100 * missed[value] / totals[value]:7.3f}%" if totals[value]
                        else "       -")
                say(f"  {value:5d} {totals[value]:9,d} {missed[value]:7,d} {rate}")

        sample = fit_sample(settings.sample, settings.seq_len)
        answer = predict(session, net, [sample])
        if settings.head == "softmax":
            say(f"Sample {sample}: probability of each count 0..{settings.seq_len}:")
            say("  " + " ".join(f"{p:.3f}" for p in answer[0]))
        else:
            say(f"Sample {sample}: the regression head outputs {answer[0]:.3f}")
        say(f"  predicted count {counts_from(answer, settings.head)[0]}, "
            f"true count {sample.count('1')}")
    say(f"Total time {duration(time.perf_counter() - started)}, of which training "
        f"{training_time:.1f}s")
    return wrong


def check_strings(strings, seq_len, min_len, directory, option="--predict"):
    """Raise SettingError, in one sentence, for the first string the model cannot read."""
    reads = (f"{seq_len}-bit strings" if min_len == seq_len
             else f"strings of {min_len} to {seq_len} bits")
    for string in strings:
        if not string:
            raise SettingError(f"{option} was given an empty string; give {reads} of 0s "
                               "and 1s.")
        if set(string) - {"0", "1"}:
            raise SettingError(f"{option} was given {string!r}, which is not made of 0s "
                               "and 1s only.")
        if not min_len <= len(string) <= seq_len:
            raise SettingError(f"{option} was given {string!r}, {len(string)} bits long, but "
                               f"the model saved in {directory}/ reads {reads}.")


@contextlib.contextmanager
def saved_model(settings, strings, option, **changes):
    """The model saved in CHECKPOINT_DIR, restored into a session, after checking that it
    exists and can read the strings: yields (net, session, saved record)."""
    directory = settings.checkpoint_dir
    saved = read_checkpoint(directory) if directory else None
    if saved is None:
        raise SettingError(f"{option} needs a trained model, but there is none in "
                           f"{directory or 'an empty CHECKPOINT_DIR'}/; train one first.")
    shape = saved["settings"]
    check_strings(strings, shape["SEQ_LEN"], shape["MIN_LEN"], directory, option)
    net = graph_for(settings, seq_len=shape["SEQ_LEN"], min_len=shape["MIN_LEN"],
                    num_hidden=shape["NUM_HIDDEN"],
                    cell_kind=shape["CELL"], num_layers=shape["NUM_LAYERS"],
                    target_kind=shape["TARGET"], head=shape["HEAD"], towers=1,
                    steps_per_run=1, grading="batches", **changes)
    with tf1.Session(graph=net.graph) as session:
        while True:  # a run training in the folder may have replaced the save meanwhile
            try:
                restore(session, net, saved, directory)
                break
            except SettingError:
                newer = read_checkpoint(directory)
                if newer is None or newer["prefix"] == saved["prefix"]:
                    raise
                saved = newer
        layers = "layer" if shape["NUM_LAYERS"] == 1 else "layers"
        print(f"Model saved in {directory}/ at epoch {saved['epoch']}: {shape['CELL']}, "
              f"{shape['NUM_LAYERS']} {layers} of {shape['NUM_HIDDEN']} units, "
              + (f"{shape['SEQ_LEN']}-bit strings" if shape["MIN_LEN"] == shape["SEQ_LEN"]
                 else f"strings of {shape['MIN_LEN']} to {shape['SEQ_LEN']} bits")
              + f", TARGET {shape['TARGET']}, HEAD {shape['HEAD']}")
        yield net, session, saved


def predict_saved(settings):
    """--predict: print the saved model's answer for each string, without training."""
    with saved_model(settings, settings.predict, "--predict") as (net, session, _):
        answers = predict(session, net, settings.predict)
    counts = counts_from(answers, net.model.head)
    for string, answer, count in zip(settings.predict, answers, counts):
        given = (f"probability {answer[count]:.3f}" if net.model.head == "softmax"
                 else f"output {answer:.3f}")
        print(f"{string} predicted count {count} ({given}), true count {string.count('1')}")


INSPECT_SAMPLE = 2000  # strings the unit finder measures (every bit of each)


def inspect_saved(settings):
    """--inspect: find the units that count, then show them bit by bit for each string."""
    with saved_model(settings, settings.inspect, "--inspect", probe=True) as (
            net, session, saved):
        answers = predict(session, net, settings.inspect)
        rng = np.random.default_rng(settings.seed)
        sample = rng.choice(2 ** net.seq_len, min(INSPECT_SAMPLE, 2 ** net.seq_len),
                            replace=False)
        parts, guesses, running = states_along(session, net, sample)
        asked = states_along(session, net, [code_of(s, net.seq_len)
                                            for s in settings.inspect])
    found = find_counters(parts, running)
    at_end = find_counters({name: values[:, -1:] for name, values in parts.items()},
                           running[:, -1:])
    ranges = {name: np.stack([values.min(axis=(0, 1)), values.max(axis=(0, 1))])
              for name, values in parts.items()}
    if not any(name.startswith("c") for name in parts):
        kind = {"gru": "GRU", "rnn": "plain RNN"}[saved["settings"]["CELL"]]
        print(f"A {kind} cell has no cell state c: its state is its output h.")
    for line in describe_counters(found, len(sample), net.seq_len, at_end):
        print(line)
    print(f"The model's guess, had each string ended there, is right at "
          f"{np.mean(guesses == running):.1%} of bits (at the last bit: "
          f"{np.mean(guesses[:, -1] == running[:, -1]):.1%}).")
    for number, string in enumerate(settings.inspect):
        string_parts = {name: values[number] for name, values in asked[0].items()}
        output = (f" (output {answers[number]:.3f})" if net.model.head == "regression"
                  else "")
        print(f"String {string}: true count {string.count('1')}, "
              f"predicted {asked[1][number][len(string) - 1]}{output}")
        for row in inspection_rows(string, string_parts, asked[1][number], found, ranges):
            print(row)


def main(argv=None):
    """Run the script with argv (the command line's words by default); returns the exit
    status: 0 done, 2 a setting it cannot run with, 130 stopped by Ctrl-C, 143 by SIGTERM."""
    lock = None
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
        check_settings(settings)
        settings.min_len = settings.min_len or settings.seq_len  # 0 means SEQ_LEN
        if settings.predict is not None:
            predict_saved(settings)
            return 0
        if settings.inspect is not None:
            inspect_saved(settings)
            return 0
        for name in ("CHECKPOINT_DIR", "LOG_DIR"):
            if getattr(settings, name.lower()):
                check_writable(name, getattr(settings, name.lower()))
        if settings.checkpoint_dir:  # one run per folder, before anything is read from it
            lock = lock_folder(settings.checkpoint_dir)
        saved = None
        if settings.checkpoint_dir and not settings.fresh:
            saved = read_checkpoint(settings.checkpoint_dir)
            if saved:
                check_checkpoint(saved, settings, settings.checkpoint_dir)
                check_readable(saved, settings.checkpoint_dir)
        train_and_report(settings, saved=saved, lock=lock)
    except SettingError as problem:
        print(f"count_ones_lstm.py: {problem}", file=sys.stderr)
        return 2
    except Stopped as stop:
        print(f"count_ones_lstm.py: {stop}", file=sys.stderr)
        return stop.status
    except KeyboardInterrupt:
        print("count_ones_lstm.py: stopped by Ctrl-C; a checkpoint saved earlier is kept.",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        if lock is not None:
            lock.close()  # the end of this run: another may train in the folder now
    return 0


if __name__ == "__main__":
    sys.exit(main())
