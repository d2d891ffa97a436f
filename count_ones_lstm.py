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
    python count_ones_lstm.py --predict 01101001100101101001   # ask the saved model

What you will see: one line per epoch (training loss and error, time per step, time
left), the error on the whole test set every EVAL_EVERY epochs, a last line in the shape
`Epoch 5000 error 0.1% ...`, a table of the test strings by their count of ones, and the
model's class probabilities for one sample string. The model is saved in CHECKPOINT_DIR
as it trains; running the same command again continues from there (--fresh starts over),
and Ctrl-C stops at the end of an epoch, saved.
"""

import argparse
import contextlib
import json
import os
import re
import signal
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
CELL = "lstm"  # the recurrent cell: "lstm" (the tutorial's), "gru", or "rnn" (plain tanh)
NUM_HIDDEN = 24  # units in each cell (the size of its output and of its state)
NUM_LAYERS = 1  # cells stacked on each other; each layer reads the outputs of the one below
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
UNROLL = "static"  # "static": one copy of the cell per bit; "dynamic": the tutorial's loop
TOWERS = 2  # each batch is cut into this many parts that run side by side, one per core
EVAL_BATCH = 65536  # about how many strings one grading run holds
# --- end of settings ---

MAX_SEQ_LEN = 24  # 2**24 strings is the most this script will generate
STEPS_PER_RUN = 100  # training steps in one session.run at most (Ctrl-C waits for them)
CELLS = ("lstm", "gru", "rnn")
# What a checkpoint must agree on to be continued: the model's shape, and the data split
# (another seed or size would put strings the model trained on into the test set).
SAVED_SETTINGS = ("SEQ_LEN", "CELL", "NUM_HIDDEN", "NUM_LAYERS",
                  "SEED", "NUM_EXAMPLES", "VALIDATION_EXAMPLES")
CHECKPOINT_FILE = "count_ones_lstm.json"  # in CHECKPOINT_DIR: the settings and the epoch
SAVED_FILE = re.compile(r"^model-\d+\.(index|data-\d+-of-\d+)$")  # what a save writes there


class SettingError(ValueError):
    """A setting a user gave that the script cannot run with."""


class Stopped(Exception):
    """The run was stopped by Ctrl-C; the message says what was kept."""


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
        if kind in (int, float):
            try:
                return kind(word)
            except ValueError:
                wanted = "a whole number" if kind is int else "a number"
                raise argparse.ArgumentTypeError(
                    f"{name} must be {wanted}, got {word!r}") from None
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
    parser.add_argument(
        "--fresh", action="store_true",
        help="start training over, ignoring (and then replacing) the model in CHECKPOINT_DIR")
    parser.add_argument(
        "--predict", nargs="+", metavar="STRING",
        help="do not train: print the saved model's count for each string of 0s and 1s")
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
    for name in ("num_hidden", "num_layers", "epochs", "eval_every", "save_every",
                 "eval_batch", "towers"):
        if getattr(s, name) < 1:
            raise SettingError(
                f"{name.upper()} is {getattr(s, name)}, but it must be 1 or more.")
    if not 0 < s.learning_rate < float("inf"):
        raise SettingError(f"LEARNING_RATE is {s.learning_rate}, but it must be a number "
                           "more than 0.")
    if not 1 <= s.batch_size <= s.num_examples:
        raise SettingError(
            f"BATCH_SIZE is {s.batch_size}, but it must be from 1 to NUM_EXAMPLES "
            f"({s.num_examples}).")
    if s.cell not in CELLS:
        raise SettingError(f"CELL is {s.cell!r}, but it must be 'lstm', 'gru' or 'rnn'.")
    if s.unroll not in ("static", "dynamic"):
        raise SettingError(f"UNROLL is {s.unroll!r}, but it must be 'static' or 'dynamic'.")
    if not s.sample or set(s.sample) - {"0", "1"}:
        raise SettingError(
            f"SAMPLE is {s.sample!r}, but it must be a non-empty string of 0s and 1s.")


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------
# A string is kept as the number it spells (most significant bit first): 4 bytes instead
# of the 164 its float bits and one-hot label take at 20 bits. Only the batch being
# trained on (or asked about) is widened into bits and labels.

def all_strings(seq_len, seed):
    """Every string of seq_len bits exactly once, as the numbers they spell, shuffled by
    seed: int32 array of shape (2**seq_len,)."""
    rng = np.random.default_rng(seed)  # the same order as rng.permutation(2**seq_len)
    return rng.permutation(np.arange(2 ** seq_len, dtype=np.int32))


def ones_in(numbers):
    """The number of ones in each string: its true count, the class to predict."""
    return np.bitwise_count(numbers).astype(np.int64)


def widen(numbers, seq_len):
    """Strings as numbers -> (bits, labels); training does it in the graph (widen_in_graph).

    bits: float32 (n, seq_len, 1), one bit per time step, most significant bit first;
    labels: float32 one-hot (n, seq_len + 1), a 1 at the string's number of ones.
    """
    shifts = np.arange(seq_len - 1, -1, -1)                       # high bit first
    bits = ((numbers[:, None] >> shifts) & 1).astype(np.float32)  # (n, seq_len)
    labels = np.eye(seq_len + 1, dtype=np.float32)[ones_in(numbers)]  # (n, seq_len + 1)
    return bits[:, :, None], labels                               # (n, seq_len, 1)


def widen_in_graph(numbers, seq_len):
    """widen() as TensorFlow operations, for the training loop inside the graph: an int32
    tensor (n,) -> bits (n, seq_len, 1) and one-hot labels (n, seq_len + 1), both float32."""
    shifts = tf.range(seq_len - 1, -1, -1)                                  # high bit first
    bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(numbers[:, None], shifts), 1)
    counts = tf.cast(tf.raw_ops.PopulationCount(x=numbers), tf.int32)       # ones per string
    labels = tf.one_hot(counts, seq_len + 1, dtype=tf.float32)              # (n, seq_len + 1)
    return tf.cast(bits, tf.float32)[:, :, None], labels                    # (n, seq_len, 1)


def split(numbers, num_examples, validation_examples=0):
    """The first num_examples strings train, the next validation_examples are held out to
    watch training on, and all the rest are the test set: (train, validation, test)."""
    ends = [0, num_examples, num_examples + validation_examples, len(numbers)]
    return tuple(numbers[a:b] for a, b in zip(ends, ends[1:]))


# ---------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------

def make_cell(kind, num_hidden):
    """One layer's TF1 cell. Its weights take the initializer of the enclosing variable
    scope (build_model names Glorot-uniform, TF1's default, so that SEED fixes them).

    Each step reads [input, previous output] side by side: inputs + hidden numbers, where
    inputs is 1 (the bit) for the first layer and hidden for the layers above it.
    """
    cells = tf1.nn.rnn_cell
    if kind == "lstm":  # kernel (inputs + hidden, 4 * hidden), bias (4 * hidden,): 4 gates;
        # state (c, h), each (batch, hidden); the output is h
        return cells.LSTMCell(num_hidden, state_is_tuple=True)
    if kind == "gru":  # gates kernel (inputs + hidden, 2 * hidden), candidate kernel
        # (inputs + hidden, hidden), and a bias for each; state = output, (batch, hidden)
        return cells.GRUCell(num_hidden)
    # kernel (inputs + hidden, hidden), bias (hidden,): h = tanh([x, h] W + b)
    return cells.BasicRNNCell(num_hidden)


def last_output(cell, data, seq_len, unroll, scope):
    """The cell's output after the last bit of each string: (batch, seq_len, 1) -> (batch, hidden).

    Each string starts from a zero state; the final state is not needed, only the output.
    """
    if unroll == "dynamic":  # the tutorial's way: a TensorFlow loop over the bits
        val, _ = tf1.nn.dynamic_rnn(cell, data, dtype=tf.float32,
                                    scope=scope)  # (batch, seq_len, hidden)
        val = tf.transpose(val, [1, 0, 2])  # (seq_len, batch, hidden): time first
        return tf.gather(val, seq_len - 1)  # (batch, hidden): the step after the last bit
    # "static": the loop written out, one copy of the cell per bit. The same arithmetic,
    # with far less control flow for TensorFlow to run.
    bits = tf.unstack(data, num=seq_len, axis=1)  # seq_len tensors of (batch, 1), in order
    outputs, _ = tf1.nn.static_rnn(cell, bits, dtype=tf.float32,
                                   scope=scope)  # seq_len x (batch, hidden)
    return outputs[-1]  # (batch, hidden): the output after the last bit


def output_of(state):
    """The top layer's output, read from a state tuple (one entry per layer): an LSTM's
    output is its h; a GRU's or plain RNN's output is its whole state."""
    top = state[-1]
    return top.h if isinstance(top, tf1.nn.rnn_cell.LSTMStateTuple) else top


def grow_prefixes(layers, state, levels):
    """Extend every prefix held in `state` by a 0 and by a 1, `levels` times over.

    layers: the cells, bottom first; state: a tuple of their states, each row one prefix.
    Returns the state after each of the prefixes * 2**levels longer strings; row r belongs
    to prefix r // 2**levels followed by the bits of r % 2**levels, so rows come out in
    counting order.
    """
    for _ in range(levels):
        state = tf.nest.map_structure(lambda part: tf.repeat(part, 2, axis=0), state)
        rows = tf.shape(tf.nest.flatten(state)[0])[0]
        step_input = tf.reshape(tf.tile([0.0, 1.0], [rows // 2]), [rows, 1])  # 0, 1, 0, 1...
        new_state = []
        for layer, layer_state in zip(layers, state):
            # layer.call, the cell's step itself: through layer(...), tf-keras would put the
            # result inside dynamic_rnn's loop graph once the cell has run there (TF 2.21).
            step_input, layer_state = layer.call(step_input, layer_state)
            new_state.append(layer_state)
        state = tuple(new_state)
    return state


def build_model(seq_len=SEQ_LEN, num_hidden=NUM_HIDDEN, seed=SEED, unroll=UNROLL,
                towers=TOWERS, eval_batch=EVAL_BATCH, cell=CELL, num_layers=NUM_LAYERS,
                learning_rate=LEARNING_RATE):
    """Build the tutorial's graph in a graph of its own and return its handles."""
    num_classes = seq_len + 1  # a string can hold 0, 1, ..., seq_len ones
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)  # the initial weights follow SEED
        with tf.name_scope("data"):
            # Training: the strings of one run of steps, as the numbers they spell, (n,);
            # each step takes the next batch_size of them and widens them in the graph.
            strings = tf1.placeholder(tf.int32, [None], name="strings")
            # Asking: (batch, seq_len, 1) strings to classify, one bit per time step.
            data = tf1.placeholder(tf.float32, [None, seq_len, 1], name="bits")

        # Glorot-uniform is what TF1 gave the kernels by default; named here so that it is
        # drawn from the graph's seed (tf-keras would pick an unseeded one of its own).
        with tf1.variable_scope("rnn", initializer=tf1.glorot_uniform_initializer()) as scope:
            layers = [make_cell(cell, num_hidden) for _ in range(num_layers)]
            rnn = layers[0] if num_layers == 1 else tf1.nn.rnn_cell.MultiRNNCell(layers)
            # One step of the cell, never run, to make its weights here: made inside
            # static_rnn or dynamic_rnn, they would be read once into a cache, and the
            # training loop below would go on seeing those first values after each update.
            rnn(tf.zeros([1, 1]), rnn.zero_state(1, tf.float32))

            def last_outputs(bits):  # (batch, seq_len, 1) -> (batch, num_hidden)
                # The batch is cut into `towers` parts that share the cell's weights but no
                # operation until their last outputs are joined, so TensorFlow runs them
                # side by side, one per core, forwards and backwards.
                size = tf.shape(bits)[0]
                bounds = [size * k // towers for k in range(towers + 1)]
                return tf.concat([last_output(rnn, bits[a:b], seq_len, unroll, scope)
                                  for a, b in zip(bounds, bounds[1:])], 0)

            last = last_outputs(data)  # (batch, num_hidden)

        with tf1.variable_scope("softmax"):
            weight = tf.Variable(tf1.truncated_normal([num_hidden, num_classes]),
                                 name="weight")  # (hidden, classes)
            bias = tf.Variable(tf.constant(0.1, shape=[num_classes]), name="bias")  # (classes,)

            def classify(output):  # (rows, hidden) -> (rows, classes), each row sums to 1
                logits = tf.matmul(output, weight) + bias  # (rows, classes)
                return tf.nn.softmax(logits)

            prediction = classify(last)  # (batch, classes)

        # Grading every string at once: strings that begin alike share the cell's work up to
        # the bit where they part, so all 2**seq_len of them are run as a tree of prefixes,
        # about 2 cell steps per string instead of seq_len. It is the same cell with the same
        # weights; only the repeated work is skipped. The first seq_len - below bits are
        # grown in one run; then each of those prefixes is grown to full length in a run of
        # its own, 2**below <= eval_batch strings.
        with tf.name_scope("grading"):
            below = min(seq_len, max(eval_batch, 1).bit_length() - 1)  # 2**below <= eval_batch
            start = tuple(layer.zero_state(1, tf.float32) for layer in layers)
            top_state = grow_prefixes(layers, start, seq_len - below)
            prefix = tuple(  # one prefix's state, fed back in; (1, hidden) per part
                tf.nest.map_structure(
                    lambda units: tf1.placeholder(tf.float32, [None, units]), layer.state_size)
                for layer in layers)
            leaves = grow_prefixes(layers, prefix, below)  # (2**below, hidden) per part
            leaf_outputs = output_of(leaves)  # (2**below, hidden): as `last` for each string
            leaf_counts = tf.argmax(classify(leaf_outputs), 1, output_type=tf.int32)

        # Training: a TensorFlow loop takes one Adam step per batch of `strings`, in order,
        # so a whole epoch is one session.run instead of one per batch. Each step is the
        # tutorial's: the loss of its batch, its gradients, Adam's update; the next step
        # starts only once the update is done, so it sees the new weights.
        trainable = tf1.trainable_variables()  # the cells' kernels and biases; weight, bias
        with tf.name_scope("train"):
            batch_size = tf1.placeholder(tf.int32, [], name="batch_size")  # strings per step
            optimizer = tf1.train.AdamOptimizer(learning_rate)

            def step(number, losses, wrong):
                first = number * batch_size
                bits, target = widen_in_graph(strings[first:first + batch_size], seq_len)
                with tf.name_scope("loss"):
                    prediction = classify(last_outputs(bits))  # (batch, classes)
                    # Cross-entropy summed over the batch; the clip keeps log() finite at 0.
                    loss = -tf.reduce_sum(  # (): one number for the whole batch
                        target * tf1.log(tf.clip_by_value(prediction, 1e-10, 1.0)))
                    mistakes = tf.not_equal(tf.argmax(target, 1),
                                            tf.argmax(prediction, 1))  # (batch,)
                    num_wrong = tf.reduce_sum(tf.cast(mistakes, tf.int64))  # ()
                update = optimizer.minimize(loss, var_list=trainable)  # one Adam step
                with tf.control_dependencies([update]):
                    return number + 1, losses.write(number, loss), wrong + num_wrong

            num_steps = (tf.size(strings) + batch_size - 1) // batch_size  # last may be short
            _, losses, run_wrong = tf1.while_loop(
                lambda number, *_: number < num_steps, step,
                [tf.constant(0), tf.TensorArray(tf.float32, size=num_steps),
                 tf.constant(0, tf.int64)],
                parallel_iterations=1)  # steps never overlap: a step's reads of the weights
            # hang on no loop variable, and this keeps them after the previous update
            step_losses = losses.stack()  # (steps,): each batch's loss, before its step

        init = tf1.global_variables_initializer()
        # Every variable, Adam's moments included, so that a run continued from a
        # checkpoint takes exactly the steps an uninterrupted run would have taken.
        saver = tf1.train.Saver(max_to_keep=None)
    graph.finalize()  # from here on, adding a node by accident is an error
    return SimpleNamespace(
        graph=graph, seq_len=seq_len, strings=strings, batch_size=batch_size, data=data,
        last=last, prediction=prediction, step_losses=step_losses, run_wrong=run_wrong,
        trainable=trainable, init=init, saver=saver, top_state=top_state, prefix=prefix,
        leaf_outputs=leaf_outputs, leaf_counts=leaf_counts)


def new_session(model):
    """A Session on the model's graph with its variables initialised."""
    session = tf1.Session(graph=model.graph)
    session.run(model.init)
    return session


# ---------------------------------------------------------------------------------------
# Checkpoints: TensorFlow's own format, plus a small JSON file naming the settings that
# shaped the model and the epoch it reached.
# ---------------------------------------------------------------------------------------

def read_checkpoint(directory):
    """The record of the model saved in directory, or None if there is none."""
    path = os.path.join(directory, CHECKPOINT_FILE)
    try:
        with open(path, encoding="utf-8") as record:
            saved = json.load(record)
        prefix = os.path.join(directory, saved["checkpoint"])
        complete = (isinstance(saved["epoch"], int)
                    and set(SAVED_SETTINGS) <= set(saved["settings"]))
    except FileNotFoundError:
        return None
    except OSError as problem:
        raise SettingError(f"{path} cannot be read ({problem.strerror}).") from None
    except (ValueError, KeyError, TypeError):
        complete = False
    if not complete:
        raise SettingError(f"{path} is not a checkpoint record this script wrote; move it "
                           f"away or give another --checkpoint-dir.")
    if not os.path.exists(prefix + ".index"):
        raise SettingError(f"{path} names the checkpoint {prefix}, which is missing; give "
                           f"--fresh to start over.")
    saved["prefix"] = prefix
    return saved


def check_checkpoint(saved, settings, directory):
    """Raise SettingError, naming the setting, if settings differ from the saved model's."""
    for name in SAVED_SETTINGS:
        mine, theirs = getattr(settings, name.lower()), saved["settings"].get(name)
        if mine != theirs:
            raise SettingError(
                f"The model saved in {directory}/ has {name} {theirs!r}, not {mine!r}: give "
                f"--fresh to train a new one there, or another --checkpoint-dir.")


def save_checkpoint(session, model, directory, settings, epoch):
    """Save every variable as of `epoch`; then point the record at it and drop older ones."""
    os.makedirs(directory, exist_ok=True)
    name = f"model-{epoch}"
    model.saver.save(session, os.path.join(directory, "model"), global_step=epoch,
                     write_meta_graph=False, write_state=False)
    record = {"checkpoint": name, "epoch": epoch,
              "settings": {key: getattr(settings, key.lower()) for key in SAVED_SETTINGS}}
    path = os.path.join(directory, CHECKPOINT_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        json.dump(record, out, indent=1)
    os.replace(path + ".tmp", path)  # the record changes in one step, never half-written
    for old in os.listdir(directory):
        if SAVED_FILE.match(old) and not old.startswith(name + "."):
            os.remove(os.path.join(directory, old))


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
# Training and evaluation
# ---------------------------------------------------------------------------------------

def train_epoch(session, model, numbers, batch_size):
    """One pass over the training strings, in order, one Adam step per batch.

    The steps run in the graph's own loop, STEPS_PER_RUN batches per session.run (the whole
    epoch at the defaults). Returns (loss per string, share of strings wrong, number of
    steps), measured on each batch just before its step, so it costs nothing extra.
    """
    total_loss = 0.0
    total_wrong = 0
    steps = 0
    for start in range(0, len(numbers), batch_size * STEPS_PER_RUN):
        feed = {model.strings: numbers[start:start + batch_size * STEPS_PER_RUN],
                model.batch_size: batch_size}
        losses, wrong = session.run([model.step_losses, model.run_wrong], feed)
        for loss in losses:  # one by one, as a step-by-step loop would add them up
            total_loss += float(loss)
        total_wrong += int(wrong)
        steps += len(losses)
    return total_loss / len(numbers), total_wrong / len(numbers), steps


def for_every_string(session, model, fetch):
    """Run the prefix tree and return `fetch` (one of its per-string tensors) for all
    2**seq_len strings, row n being the string that spells n."""
    tops = tf.nest.flatten(session.run(model.top_state))  # one row per prefix
    slots = tf.nest.flatten(model.prefix)
    return np.concatenate([
        session.run(fetch, {slot: top[i:i + 1] for slot, top in zip(slots, tops)})
        for i in range(len(tops[0]))])


def predicted_counts(session, model):
    """The predicted count of ones for every string, indexed by the number it spells."""
    return for_every_string(session, model, model.leaf_counts)


def errors_by_count(predicted, numbers, seq_len):
    """For the strings given by the numbers they spell, and each true count 0..seq_len:
    (how many of the strings have it, how many of those get a wrong count from
    predicted_counts). Rare counts (all zeros, all ones) are where to look."""
    true = ones_in(numbers)
    wrong = predicted[numbers] != true
    return (np.bincount(true, minlength=seq_len + 1),
            np.bincount(true[wrong], minlength=seq_len + 1))


def count_wrong(predicted, numbers, seq_len):
    """How many of the strings (as for errors_by_count) get a wrong count."""
    return int(errors_by_count(predicted, numbers, seq_len)[1].sum())


def predict(session, model, strings):
    """Class probabilities, shape (len(strings), seq_len + 1), for strings of 0s and 1s."""
    inputs, _ = widen(np.array([int(s, 2) for s in strings]), model.seq_len)
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


class CtrlC:
    """While active, the first Ctrl-C only asks training to stop after the current epoch
    (so what is saved is a whole epoch); a second one stops at once."""

    def __enter__(self):
        self.pressed = False
        self.previous = signal.signal(signal.SIGINT, self.press)
        return self

    def press(self, signum, frame):
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        print("count_ones_lstm.py: Ctrl-C: stopping after this epoch "
              "(press it again to stop at once).", file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.previous)


class Scalars:
    """Per-epoch numbers for TensorBoard, written next to the graph in log_dir (or nowhere)."""

    def __init__(self, log_dir, graph):
        self.writer = None
        if log_dir:
            with graph.as_default():  # TF1's writer refuses to start in eager mode
                self.writer = tf1.summary.FileWriter(log_dir, graph)

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

def run(settings, saved=None, out=None):
    """Make the data, train (from `saved`, a checkpoint record, if given), report to out
    (stdout by default); returns the number of test strings got wrong. Raises Stopped after
    a Ctrl-C."""
    s = settings

    def say(line):
        print(line, file=out or sys.stdout, flush=True)

    started = time.perf_counter()
    train, valid, test = split(all_strings(s.seq_len, s.seed), s.num_examples,
                               s.validation_examples)
    held_out = f", {len(valid):,} for validation" if len(valid) else ""
    say(f"Data: {2 ** s.seq_len:,} strings of {s.seq_len} bits, {len(train):,} for training"
        f"{held_out} and {len(test):,} for testing ({time.perf_counter() - started:.2f}s)")

    # Training is watched on the validation strings if there are any, else on the test set
    # (the tutorial's way); either way the final error is the test set's.
    watched, watch = ("validation", valid) if len(valid) else ("test", test)
    model = build_model(s.seq_len, s.num_hidden, s.seed, s.unroll, s.towers, s.eval_batch,
                        s.cell, s.num_layers, s.learning_rate)
    width = len(str(s.epochs))
    scalars = Scalars(s.log_dir, model.graph)
    with new_session(model) as session:
        first_epoch = 1
        if saved:
            model.saver.restore(session, saved["prefix"])
            first_epoch = saved["epoch"] + 1
            left = ("nothing left to train" if first_epoch > s.epochs
                    else f"on to epoch {s.epochs}")
            say(f"Continuing from epoch {saved['epoch']}, saved in {s.checkpoint_dir}/ "
                f"({left}; --fresh starts over)")
        last_saved = saved["epoch"] if saved else None

        def save(epoch):
            nonlocal last_saved
            if s.checkpoint_dir and last_saved != epoch:
                save_checkpoint(session, model, s.checkpoint_dir, s, epoch)
                last_saved = epoch

        step_times = []
        epoch = first_epoch - 1  # the last finished epoch
        with CtrlC() as ctrl_c:
            while epoch < s.epochs and not ctrl_c.pressed:
                epoch_start = time.perf_counter()
                loss, error, steps = train_epoch(session, model, train, s.batch_size)
                epoch += 1
                epoch_time = time.perf_counter() - epoch_start
                step_times.append(epoch_time / steps)
                recent = step_times[1:][-50:] or step_times  # the first includes warm-up
                left = np.mean(recent) * steps * (s.epochs - epoch)
                say(f"Epoch {epoch:{width}d}/{s.epochs} loss {loss:#10.4g} "
                    f"train error {100 * error:5.1f}% step {1000 * epoch_time / steps:5.1f}ms "
                    f"left {duration(left)}")
                scalars.add(epoch, loss=loss, train_error=100 * error)
                if epoch % s.eval_every == 0 and (epoch != s.epochs or len(valid)):
                    wrong = count_wrong(predicted_counts(session, model), watch, s.seq_len)
                    say(f"Epoch {epoch:{width}d}/{s.epochs} {watched} error "
                        f"{100 * wrong / len(watch):.3f}% ({wrong:,} of {len(watch):,} wrong)")
                    scalars.add(epoch, **{f"{watched}_error": 100 * wrong / len(watch)})
                if epoch % s.save_every == 0:
                    save(epoch)
            save(epoch)  # the end of training, or the epoch Ctrl-C let finish
        if ctrl_c.pressed:
            scalars.close()
            kept = (f"saved in {s.checkpoint_dir}/; run the same command to continue"
                    if s.checkpoint_dir else "not saved, as CHECKPOINT_DIR is empty")
            raise Stopped(f"stopped by Ctrl-C after epoch {epoch} of {s.epochs}; {kept}.")

        predicted = predicted_counts(session, model)
        wrong = count_wrong(predicted, test, s.seq_len)
        scalars.add(epoch, test_error=100 * wrong / len(test))
        scalars.close()
        say(f"Epoch {epoch} error {100 * wrong / len(test):.1f}% "
            f"({wrong:,} of {len(test):,} test strings wrong)")
        say("Test strings by their true count of ones:")
        say(f"  {'count':>5} {'strings':>9} {'wrong':>7} {'error':>8}")
        for count, (total, missed) in enumerate(zip(*errors_by_count(
                predicted, test, s.seq_len))):
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


def check_strings(strings, seq_len, directory):
    """Raise SettingError, in one sentence, for the first string the saved model cannot read."""
    for string in strings:
        if not string:
            raise SettingError("--predict was given an empty string; give strings of "
                               f"{seq_len} 0s and 1s.")
        if set(string) - {"0", "1"}:
            raise SettingError(f"--predict was given {string!r}, which is not made of 0s "
                               "and 1s only.")
        if len(string) != seq_len:
            raise SettingError(f"--predict was given {string!r}, {len(string)} bits long, but "
                               f"the model saved in {directory}/ reads {seq_len}-bit strings.")


def predict_saved(settings):
    """--predict: print the saved model's answer for each string, without training."""
    directory = settings.checkpoint_dir
    saved = read_checkpoint(directory) if directory else None
    if saved is None:
        raise SettingError(f"--predict needs a trained model, but there is none in "
                           f"{directory or 'an empty CHECKPOINT_DIR'}/; train one first.")
    shape = saved["settings"]
    check_strings(settings.predict, shape["SEQ_LEN"], directory)
    model = build_model(seq_len=shape["SEQ_LEN"], num_hidden=shape["NUM_HIDDEN"],
                        cell=shape["CELL"], num_layers=shape["NUM_LAYERS"],
                        unroll=settings.unroll, towers=1, eval_batch=1)
    with tf1.Session(graph=model.graph) as session:
        model.saver.restore(session, saved["prefix"])
        probabilities = predict(session, model, settings.predict)
    layers = "layer" if shape["NUM_LAYERS"] == 1 else "layers"
    print(f"Model saved in {directory}/ at epoch {saved['epoch']}: {shape['CELL']}, "
          f"{shape['NUM_LAYERS']} {layers} of {shape['NUM_HIDDEN']} units, "
          f"{shape['SEQ_LEN']}-bit strings")
    for string, row in zip(settings.predict, probabilities):
        count = int(np.argmax(row))
        print(f"{string} predicted count {count} (probability {row[count]:.3f}), "
              f"true count {string.count('1')}")


def main(argv=None):
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv)
        check_settings(settings)
        if settings.predict is not None:
            predict_saved(settings)
            return 0
        saved = None
        if settings.checkpoint_dir and not settings.fresh:
            saved = read_checkpoint(settings.checkpoint_dir)
            if saved:
                check_checkpoint(saved, settings, settings.checkpoint_dir)
        for name in ("CHECKPOINT_DIR", "LOG_DIR"):
            if getattr(settings, name.lower()):
                check_writable(name, getattr(settings, name.lower()))
    except SettingError as problem:
        print(f"count_ones_lstm.py: {problem}", file=sys.stderr)
        return 2
    try:
        run(settings, saved=saved)
    except Stopped as stop:
        print(f"count_ones_lstm.py: {stop}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("count_ones_lstm.py: stopped by Ctrl-C; a checkpoint saved earlier is kept.",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
