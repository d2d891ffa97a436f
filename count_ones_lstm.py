"""The classic TF1 tutorial's LSTM that learns to count the ones in binary strings, run on
today's TensorFlow (tf.compat.v1: placeholders, LSTMCell, dynamic_rnn, a Session), on the
CPU: all 2**SEQ_LEN strings, NUM_EXAMPLES to train on, the others to test.

    python count_ones_lstm.py                # the full run: 5000 epochs, several minutes
    python count_ones_lstm.py --epochs 50    # any setting below, changed for one run
    python count_ones_lstm.py --help         # every setting, its default and meaning
    python count_ones_lstm.py --predict 01101001100101101001   # ask the trained model
    python count_ones_lstm.py --inspect 01101001100101101001   # watch it count, bit by bit

Edited settings or code make a new run in a folder of its own; undone, the first run goes on.
"""
import sys  # first, so that a slip in the settings below (CELL = gru) is one sentence, status 2
if sys.version_info < (3, 10):  # TensorFlow 2.21 is made for Python 3.10 to 3.13 only
    sys.exit(f"count_ones_lstm.py: this is Python {sys.version.split()[0]}; TensorFlow 2.21 "
             "needs 3.10 to 3.13: make .venv with one (the README's Quick start).")


def settings_slip(kind, error, trace):
    """Report a mistake in the settings block in one sentence naming its line; exit 2."""
    hint = ""
    if kind is NameError:  # a word without quotes: CELL = gru
        hint = f"; text needs quotes, like \"{error.name}\""
    print(f"count_ones_lstm.py: line {trace.tb_lineno} of the settings: {error}{hint}",
          file=sys.stderr)
    sys.exit(2)


python_hook = sys.excepthook  # Python's own, put back after the settings block
sys.excepthook = settings_slip
# --- settings: edit them here, or change one for a single run with --name value ---
# data
SEQ_LEN = 20  # bits per string; every one of the 2**SEQ_LEN strings is made (1 to 24)
MIN_LEN = 0  # if 1 or more, every string of MIN_LEN to SEQ_LEN bits is made (0: SEQ_LEN)
NUM_EXAMPLES = 10000  # strings the model trains on; all the others are the test set
SAMPLING = "uniform"  # training strings: "uniform" (the tutorial's) or "counts", as many per count
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
CHECKPOINT_DIR = "checkpoints"  # each run saves in a folder of its own here ("": never saved)
SAVE_EVERY = 100  # epochs between two saves; a run also saves at its end and on Ctrl-C
LOG_DIR = ""  # if set, TensorBoard logs (graph; loss and errors per epoch) are written here
SAMPLE = "10011011101001101110"  # string whose probabilities are shown at each grading
# speed: how fast a run goes and how much memory it takes, not what it learns
UNROLL = "static"  # "dynamic": the tutorial's dynamic_rnn; "static": one cell copy per bit
TOWERS = 2  # each batch is cut into this many parts run side by side (1: the whole batch)
GRADING = "tree"  # "tree": strings share their prefixes' work; "batches": the tutorial's
EVAL_BATCH = 65536  # at most how many strings one grading run holds
# --- end of settings ---
sys.excepthook = python_hook
as_written = dict(globals())  # the block's values, before any later line of the same name

import argparse, ast, contextlib, difflib, errno, functools, hashlib, io, json  # noqa: E401, E402
import importlib.util, os, re, shutil, signal, stat, time, tokenize, warnings  # noqa: E401, E402
with tokenize.open(__file__) as this_file:  # read once, as Python read it a moment ago: the
    SOURCE = this_file.read()  # run's settings and its code's identity are this text's
from types import SimpleNamespace  # noqa: E402
pressed = []  # Ctrl-C while the packages load is noted: some of their code swallows it
if __name__ == "__main__":
    signal.signal(signal.SIGINT, lambda *_: pressed.append("Ctrl-C"))
for needed in ("numpy", "tensorflow", "tf_keras", "filelock", "tensorboard"):  # or a sentence
    if not importlib.util.find_spec(needed):
        sys.exit(f"count_ones_lstm.py: {needed.replace('_', '-')} is not installed in this "
                 f"Python ({sys.executable}); pip install -r requirements.txt installs it.")
# The TF1 cells (LSTMCell and friends) exist only in the legacy Keras 2 package, tf-keras;
# TensorFlow uses it instead of Keras 3 when this is set before tf.keras is first used.
if __name__ != "__main__" and "TF_USE_LEGACY_KERAS" not in os.environ:  # imported: say so
    print("count_ones_lstm: set TF_USE_LEGACY_KERAS=1 in this Python, as its TF1 cells need "
          "tf-keras; so tf.keras, if not used yet, is Keras 2.", file=sys.stderr)
if os.environ.setdefault("TF_USE_LEGACY_KERAS", "1") not in ("1", "true", "True"):
    sys.exit(f"count_ones_lstm.py: TF_USE_LEGACY_KERAS is {os.environ['TF_USE_LEGACY_KERAS']!r}"
             ", but the TF1 cells need Keras 2 (tf-keras): unset it, or set it to 1.")
if __name__ == "__main__":  # run as a script, not imported: no C++ log lines during the run,
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # and each op on one thread (the ops
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")  # are small; the towers still pair)
import numpy as np  # noqa: E402
with warnings.catch_warnings():  # with no fcntl (a Unix without it), it warns that it falls
    warnings.simplefilter("ignore")  # back on a marker file, which it clears if its run died
    import filelock  # noqa: E402
devnull = os.open(os.devnull, os.O_WRONLY)
while devnull <= 2:  # a stream the caller closed (`>&-`): /dev/null stands in, so that no file
    devnull = os.open(os.devnull, os.O_WRONLY)  # the run opens takes its number
saved_stderr = os.dup(2)  # TensorFlow's C++ side reports the absent GPU on stderr on import:
os.dup2(devnull, 2)  # stderr goes to /dev/null for as long as the import takes
try:
    import tensorflow as tf  # noqa: E402
finally:
    os.dup2(saved_stderr, 2)
    os.close(saved_stderr)
if pressed:  # nothing was read or written yet
    print("count_ones_lstm.py: stopped by Ctrl-C while the packages loaded.", file=sys.stderr)
    sys.exit(130)
tf1 = tf.compat.v1

# --- Data ------------------------------------------------------------------------------------
# A string is kept as its code, the number it spells (shorter ones, MIN_LEN, take the next
# codes, from length_offset). The training strings are turned into bits and labels once, the
# test strings a batch at a time.

def length_offset(length, seq_len):
    """The first code of the strings `length` bits long: 0 for SEQ_LEN, each shorter next."""
    return 2 ** (seq_len + 1) - 2 ** (np.asarray(length, dtype=np.int64) + 1)


def all_strings(seq_len, seed, min_len=None):
    """Every string of min_len (None: seq_len) to seq_len bits once, as int32 codes, shuffled."""
    if min_len is None:
        min_len = seq_len
    total = 2 ** (seq_len + 1) - 2 ** min_len
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
    """The tutorial's inputs for a batch of codes: `data` (n, seq_len, 1), high bit first;
    `target` (n, seq_len + 1), one-hot at the count of ones; each string's length (n,)."""
    numbers, lengths = spelled(codes, seq_len)
    shifts = lengths[:, None] - 1 - np.arange(seq_len)            # high bit first
    bits = np.where(shifts >= 0, (numbers[:, None] >> np.maximum(shifts, 0)) & 1, 0)
    labels = np.eye(seq_len + 1, dtype=np.float32)[np.bitwise_count(numbers)]
    return bits.astype(np.float32)[:, :, None], labels, lengths.astype(np.int32)


def split(numbers, num_examples, validation_examples=0, counts=None, seed=0):
    """Split the shuffled strings into (train, validation, test), in that order; given each
    string's count (SAMPLING "counts"), train on as many of each, a rare count's repeated."""
    if counts is None:
        ends = [0, num_examples, num_examples + validation_examples, len(numbers)]
        return tuple(numbers[a:b] for a, b in zip(ends, ends[1:]))
    share = num_examples // (counts.max() + 1)
    train = np.random.default_rng(seed).permutation(np.concatenate(
        [np.resize(numbers[counts == k][:share], share) for k in range(counts.max() + 1)]))
    rest = numbers[~np.isin(numbers, train)]
    return train, rest[:validation_examples], rest[validation_examples:]


# --- The tutorial's model --------------------------------------------------------------------

def make_cell(kind, num_hidden):
    """One layer's TF1 cell ("handwired": an LSTM whose weights set_handwired() writes)."""
    if kind in ("lstm", "handwired"):
        return tf1.nn.rnn_cell.LSTMCell(num_hidden, state_is_tuple=True)
    if kind == "gru":
        return tf1.nn.rnn_cell.GRUCell(num_hidden)
    return tf1.nn.rnn_cell.BasicRNNCell(num_hidden)


def build_model(settings, dynamic_rnn=tf1.nn.dynamic_rnn):
    """The tutorial's graph, line for line and in its order; returns its tensors by name. The
    speed settings may pass a stand-in for dynamic_rnn; every other line runs as written."""
    seq_len, num_hidden, head = settings.seq_len, settings.num_hidden, settings.head
    num_classes = seq_len + 1  # a string holds 0, 1, ..., seq_len ones
    # Glorot-uniform kernels (TF1's default) drawn from SEED alone, whatever else is built
    glorot = tf1.glorot_uniform_initializer(seed=settings.seed)
    with tf1.variable_scope("model", initializer=glorot):
        # (batch, SEQ_LEN, 1): one bit per time step
        data = tf1.placeholder(tf.float32, [None, seq_len, 1], name="data")
        # (batch, SEQ_LEN + 1): one-hot, a 1 at the string's count of ones
        target = tf1.placeholder(tf.float32, [None, num_classes], name="target")
        lengths = None
        if settings.min_len < seq_len:
            # (batch,): each string's own length; its bits after that are padding, zeros
            lengths = tf1.placeholder(tf.int32, [None], name="lengths")

        layers = [make_cell(settings.cell, num_hidden) for _ in range(settings.num_layers)]
        cell = layers[0] if settings.num_layers == 1 else tf1.nn.rnn_cell.MultiRNNCell(layers)

        # val (batch, SEQ_LEN, hidden): the output after each bit (zeros after a string's own
        # end, with lengths); state: the cell's state after the last bit
        val, state = dynamic_rnn(cell, data, sequence_length=lengths, dtype=tf.float32)
        val = tf.transpose(val, [1, 0, 2])  # (SEQ_LEN, batch, hidden): time first
        last = tf.gather(val, seq_len - 1)  # (batch, hidden): after the last bit
        if lengths is not None:  # strings of mixed lengths: after each one's own last bit
            last = tf.gather_nd(val, tf.stack([lengths - 1, tf.range(tf.shape(val)[1])], 1))

        weight = tf1.get_variable(  # (hidden, classes), truncated normal like the tutorial's
            "weight", [num_hidden, num_classes if head == "softmax" else 1],  # regression: 1
            initializer=tf1.truncated_normal_initializer(seed=settings.seed))
        bias = tf1.get_variable(  # (classes,), all 0.1
            "bias", weight.shape[1:], initializer=tf1.constant_initializer(0.1))
        if head == "softmax":  # (batch, classes): each row a probability for every count
            prediction = tf.nn.softmax(tf.matmul(last, weight) + bias, name="prediction")
        else:  # (batch,): one number, the count read as a quantity
            prediction = tf.identity((tf.matmul(last, weight) + bias)[:, 0], name="prediction")

    if head == "softmax" and settings.target == "last":  # summed; the clip keeps log() finite
        cross_entropy = -tf.reduce_sum(target * tf1.log(tf.clip_by_value(prediction, 1e-10, 1.0)))
    else:  # squared error, or the loss at every bit: see "Other framings" below
        cross_entropy = other_loss(settings, prediction, target, val, data, lengths, weight,
                                   bias)
    cross_entropy = tf.identity(cross_entropy, name="cross_entropy")  # named, for TensorBoard
    optimizer = tf1.train.AdamOptimizer(settings.learning_rate)
    minimize = optimizer.minimize(cross_entropy, name="minimize")  # an Adam step on each variable

    if head == "softmax":  # (batch,) bool: the most probable count is not the true one
        mistakes = tf.not_equal(tf.argmax(target, 1), tf.argmax(prediction, 1), name="mistakes")
    else:  # the number, rounded, is not the true count
        mistakes = tf.not_equal(tf.argmax(target, 1, output_type=tf.int32), rounded(prediction),
                                name="mistakes")
    error = tf.reduce_mean(tf.cast(mistakes, tf.float32), name="error")  # (): the share wrong
    return SimpleNamespace(
        data=data, target=target, lengths=lengths, layers=layers, cell=cell, last=last,
        weight=weight, bias=bias, prediction=prediction, cross_entropy=cross_entropy,
        minimize=minimize, mistakes=mistakes, error=error, head=head)


# --- Other framings: TARGET "every" and HEAD "regression" ------------------------------------
# Two of the tutorial's readers' proposals: the running count taught after every bit, and
# one number for an answer (squared error, read rounded). The error is still whole strings.

def rounded(numbers):
    """The nearest whole number to each (halves up), as int32: the regression head's count."""
    return tf.cast(tf.floor(numbers + 0.5), tf.int32)


def running_counts(data):
    """The ones seen up to and with each bit: (batch, seq_len, 1) -> (batch, seq_len)."""
    return tf.cumsum(data[:, :, 0], axis=1)


def other_loss(settings, prediction, target, val, data, lengths, weight, bias):
    """The other framings' loss, summed: squared error ("last"), or at every bit ("every")."""
    head = settings.head
    if settings.target == "last":
        count = tf.cast(tf.argmax(target, 1), tf.float32)  # (batch,)
        return tf.reduce_sum(tf.square(prediction - count))
    seq_len = settings.seq_len
    outputs = tf.transpose(val, [1, 0, 2])  # (batch, SEQ_LEN, hidden): batch first again
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


# --- The graph, and a session on it ----------------------------------------------------------

def build_graph(settings=None, probe=False, **changes):
    """The tutorial's model in a tf.Graph of its own, and the speed settings' work beside it;
    `notes`: a line for each speed setting that stepped aside for an edited line."""
    if settings is None:  # the block's, as they stand, with the changes
        settings = parse_settings([], **changes)
    settings = Settings(**{**vars(settings), **changes})
    notes = []
    rnn = tf1.nn.dynamic_rnn
    if settings.unroll != "dynamic" or settings.towers > 1:
        rnn = fast_rnn(settings.unroll, settings.towers, notes)
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(settings.seed)
        model = build_model(settings, rnn)
        tree, states = stepped_by_hand(model, settings, probe, notes)
        init = tf1.global_variables_initializer()
        # Every variable, Adam's moments too: a continued run steps as an unbroken one would.
        # The newest two saves are kept (see "Runs and checkpoints"), named relative to them.
        saver = tf1.train.Saver(max_to_keep=2, save_relative_paths=True)
        with tf.name_scope("checks"):  # True while every variable is a number: saves check it
            finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(variable))
                                    for variable in tf1.global_variables()
                                    if variable.dtype.base_dtype.is_floating])
    graph.finalize()  # from here on, adding a node by accident is an error
    return SimpleNamespace(graph=graph, model=model, tree=tree, probe=states, init=init,
                           saver=saver, finite=finite, settings=settings,
                           seq_len=settings.seq_len, notes=notes)


def new_session(net):
    """A Session on the graph with its variables initialised."""
    session = tf1.Session(graph=net.graph)
    session.run(net.init)
    return session


# --- Training: the tutorial's batch loop, and the epoch loop ---------------------------------

def train_epoch(session, net, inputs, batch_size):
    """One pass over the training strings' (bits, labels, lengths), an Adam step per batch:
    (the loss per string, the share of strings counted wrong, the number of steps)."""
    model = net.model
    bits, labels, lengths = inputs
    total_loss, total_wrong, steps = 0.0, 0, 0
    for start in range(0, len(bits), batch_size):
        inp, out = bits[start:start + batch_size], labels[start:start + batch_size]
        _, loss, mistakes = session.run(
            [model.minimize, model.cross_entropy, model.mistakes],
            feed(model, inp, out, lengths[start:start + batch_size]))
        total_loss += float(loss)
        total_wrong += int(mistakes.sum())
        steps += 1
    return total_loss / len(bits), total_wrong / len(bits), steps


def train(session, net, settings, data, run, log, say, ctrl_c):
    """The tutorial's epoch loop, on from the run's last save to EPOCHS: a line per epoch, a
    grading and a save every so often; after Ctrl-C, the epoch saved, Stopped raised."""
    epochs = 0 if settings.cell == "handwired" else settings.epochs  # set, not trained
    first_epoch = (run.last or 0) + 1
    width, step_times, training_time, epoch = len(str(epochs)), [], 0.0, first_epoch - 1
    with ctrl_c:
        while epoch < epochs and not ctrl_c.pressed:
            started = time.perf_counter()
            loss, error, steps = train_epoch(session, net, data.inputs, settings.batch_size)
            epoch += 1
            seconds = time.perf_counter() - started
            training_time += seconds
            step_times.append(seconds / steps)
            recent = step_times[1:][-50:] or step_times  # the first includes warm-up
            say(f"Epoch {epoch:{width}d}/{epochs} loss {loss:#10.4g} train error "
                f"{100 * error:5.1f}% step {1000 * seconds / steps:5.1f}ms left "
                f"{duration(np.mean(recent) * steps * (epochs - epoch))}")
            log.add(epoch, loss=loss, train_error=100 * error)
            if not np.isfinite(loss):  # diverged: stop before it is saved anywhere
                raise Stopped(f"The loss became {loss} at epoch {epoch}: training diverged "
                              f"(LEARNING_RATE {settings.learning_rate:g} may be too large); "
                              f"{what_is_kept(run.folder)}.", 1)
            if (epoch % settings.eval_every == 0 and not ctrl_c.pressed
                    and (epoch < epochs or data.watched != "test")):
                wrong = int(wrong_in(session, net, data.watch, say).sum())
                say(f"Epoch {epoch:{width}d}/{epochs} {data.watched} error "
                    f"{100 * wrong / len(data.watch):.3f}% ({wrong:,} of {len(data.watch):,} "
                    f"wrong) after {training_time:.1f}s of training; "
                    + sample_answer(session, net, settings.sample))
                log.graded(epoch, data.watched, wrong, len(data.watch))
            if epoch % settings.save_every == 0:
                save(session, net, run, epoch, log.gradings, training_time)
        if epoch >= first_epoch or not ctrl_c.pressed:  # the end, or the epoch Ctrl-C let finish
            save(session, net, run, epoch, log.gradings, training_time)
    if ctrl_c.pressed:
        kept = f"saved in {run.folder}{os.sep}; run the same command to continue"
        if run.last is None:  # nothing saved
            kept = what_is_kept(run.folder)
        raise Stopped(f"stopped by {ctrl_c.pressed} after epoch {epoch} of {epochs}; {kept}.",
                      ctrl_c.status)
    return epoch, training_time


def fit_sample(sample, seq_len):
    """The sample cut, or repeated, to seq_len bits, so any SEQ_LEN has one to show."""
    return (sample * (seq_len // len(sample) + 1))[:seq_len]


def sample_answer(session, net, sample):
    """The model's answer for the sample: the true answer's probability, or the number."""
    sample = fit_sample(sample, net.seq_len)
    answer = predict(session, net, [sample])[0]
    [true], word = true_answers([sample], net.seq_len)
    its = f"its {true} ones" if word == "count" else f"its class, {true}"
    if net.model.head == "softmax":
        return f"sample {sample}: probability {answer[true]:.3f} of {its}"
    return f"sample {sample}: outputs {answer:.3f} for {its}"


# --- Grading, prediction and the report ------------------------------------------------------

def wrong_in(session, net, numbers, say=print):
    """Which strings (codes) the model counts wrong, bool (n,): build_model's `mistakes`."""
    if net.tree is not None:  # every string at once, sharing prefixes: see "Speed" below
        wrong = wrong_by_tree(session, net, numbers[:TREE_CHECK])
        if wrong is not None:
            return wrong[numbers]
        say("Grading: the prefix tree's `last` or labels are not build_model's (an edit?), "
            "so it grades as GRADING \"batches\" does.")
        net.tree = None
    wrong = []  # the tutorial's way: feed the strings to `data`, EVAL_BATCH at a time
    for start in range(0, len(numbers), net.settings.eval_batch):
        inp, out, lengths = bits_and_labels(numbers[start:start + net.settings.eval_batch],
                                            net.seq_len)
        wrong.append(session.run(net.model.mistakes, feed(net.model, inp, out, lengths)))
    return np.concatenate(wrong)


def feed(model, inp, out=None, lengths=None):
    """The feed dict for the tutorial's placeholders: data, target if given, lengths if used."""
    fed = {model.data: inp}
    if out is not None:
        fed[model.target] = out
    if model.lengths is not None:
        fed[model.lengths] = lengths
    return fed


def errors_by(key, wrong, numbers, seq_len):
    """Per value of key ("count" of ones, "bits"): how many strings, and how many wrong."""
    values = (ones_in(numbers, seq_len) if key == "count"
              else spelled(numbers, seq_len)[1].astype(np.int64))
    return (np.bincount(values, minlength=seq_len + 1),
            np.bincount(values[wrong], minlength=seq_len + 1))


def predict(session, net, strings):
    """The model's `prediction` for strings of 0s and 1s (per class, or the number)."""
    inp, _, lengths = bits_and_labels(np.array([code_of(s, net.seq_len) for s in strings]),
                                      net.seq_len)
    return session.run(net.model.prediction, feed(net.model, inp, lengths=lengths))


def true_answers(strings, seq_len):
    """The class bits_and_labels() labels each string of 0s and 1s with, and what the classes
    are: "count" while there is one per count of ones (0 to seq_len), else "class"."""
    _, labels, _ = bits_and_labels(np.array([code_of(s, seq_len) for s in strings]), seq_len)
    if labels.shape[1] == seq_len + 1:
        return labels.argmax(axis=1), "count"
    return labels.argmax(axis=1), "class"


def report(session, net, settings, test, epoch, say, gradings=()):
    """Grade every test string; print the gradings' curve, the tutorial's last line, the
    errors by count and the sample's answer. Returns the number wrong."""
    seq_len = settings.seq_len
    wrong = wrong_in(session, net, test, say)
    points = [(at, 100 * wrong_then / of) for at, _, wrong_then, of in gradings]
    if epoch not in dict(points):  # the end, if it was not a grading
        points.append((epoch, 100 * wrong.mean()))
    if len(points) > 1:
        say("Error at each grading, log scale:")
        for line in curve(points):
            say(line)
    say(f"Epoch {epoch} error {100 * wrong.sum() / len(test):.1f}% "
        f"({wrong.sum():,} of {len(test):,} test strings wrong)")
    tables = [("count", "their true count of ones", range(seq_len + 1))]
    if settings.min_len < seq_len:
        tables.append(("bits", "their length", range(settings.min_len, seq_len + 1)))
    for key, title, rows in tables:
        say(f"Test strings by {title}:")
        say(f"  {key:>5} {'strings':>9} {'wrong':>7} {'error':>8}")
        totals, missed = errors_by(key, wrong, test, seq_len)
        for value in rows:
            rate = (f"{100 * missed[value] / totals[value]:7.3f}%" if totals[value]
                    else "       -")
            say(f"  {value:5d} {totals[value]:9,d} {missed[value]:7,d} {rate}")
    sample = fit_sample(settings.sample, seq_len)
    answer = predict(session, net, [sample])
    [true], word = true_answers([sample], seq_len)
    if settings.head == "softmax":
        say(f"Sample {sample}: probability of each {word} 0..{len(answer[0]) - 1}:")
        say("  " + " ".join(f"{p:.3f}" for p in answer[0]))
    else:
        say(f"Sample {sample}: the regression head outputs {answer[0]:.3f}")
    say(f"  predicted {word} {counts_from(answer, settings.head)[0]}, true {word} {true}")
    return int(wrong.sum())


# --- The run ---------------------------------------------------------------------------------

def make_data(settings, say):
    """The strings, split, with the training strings' bits and labels made once: the data a
    run trains on (`inputs`) and grades (`watch`: validation strings if any, else the test)."""
    started = time.perf_counter()
    seq_len, min_len = settings.seq_len, settings.min_len
    strings = all_strings(seq_len, settings.seed, min_len)
    counts = ones_in(strings, seq_len) if settings.sampling == "counts" else None
    train_set, valid, test = split(strings, settings.num_examples, settings.validation_examples,
                                   counts, settings.seed)
    data = SimpleNamespace(inputs=bits_and_labels(train_set, seq_len), test=test, watch=test,
                           watched="test")
    held_out = ""
    different = len(np.unique(train_set))  # fewer if SAMPLING "counts" repeated some
    if different < len(train_set):
        held_out += f" ({different:,} different)"
    if len(valid):  # training is watched on them; else, the tutorial's way, on the test set
        held_out += f", {len(valid):,} for validation"
        data.watch, data.watched = valid, "validation"
    bits = f"{seq_len}" if min_len == seq_len else f"{min_len} to {seq_len}"
    say(f"Data: {len(strings):,} strings of {bits} bits, {len(train_set):,} for training"
        f"{held_out} and {len(test):,} for testing ({time.perf_counter() - started:.2f}s)")
    return data


def train_and_report(settings, ctrl_c):
    """One run: build the graph, open its folder, make the data, train, grade and report (the
    number wrong), or raise Stopped; a stop signal (ctrl_c, main()'s) or an output that fails
    stops it after its epoch."""

    def say(line):
        try:
            print(line, flush=True)
        except OSError as problem:
            with contextlib.suppress(OSError, ValueError):
                os.dup2(devnull, sys.stdout.fileno())  # where the rest goes
            ctrl_c.press(f"its output failing ({reason(problem)})")

    started = time.perf_counter()
    net = build_graph(settings)  # before any folder: an edit that cannot build leaves none
    log_dir = log_folder(settings)  # TensorBoard's, if LOG_DIR is set
    with opened_run(settings) as run:  # the run's folder, locked, and what it holds
        say(run.heading)
        data = make_data(settings, say)
        for note in net.notes:
            say(note)
        log = Scalars(log_dir, net.graph, settings, (run.last or 0) + 1, run.saved)
        with new_session(net) as session:
            if run.saved:
                restore(run.saved, session, net)
            elif settings.cell == "handwired":
                set_handwired(session, net)
            try:
                epoch, training_time = train(session, net, settings, data, run, log, say,
                                             ctrl_c)
                wrong = report(session, net, settings, data.test, epoch, say, log.gradings)
                log.graded(epoch, "test", wrong, len(data.test))
                log.add(epoch, training_seconds=training_time)
                save(session, net, run, epoch, log.gradings, training_time)  # with this grading
            finally:
                log.write(close=True)
    say(f"Total time {duration(time.perf_counter() - started)}, of which training "
        f"{training_time:.1f}s")
    if ctrl_c.pressed:  # while it reported, after training
        raise Stopped(f"stopped by {ctrl_c.pressed} after training; "
                      f"{what_is_kept(run.folder)}.", 1)
    if run.folder:
        say(placing(settings, run.folder))
    return wrong


def main(argv=None):
    """Run the script with the command line argv (sys.argv's if None). Returns the exit
    status: 0, 2 for a setting it cannot run with, a stop signal's (STOPS), or 1."""
    folder = None  # the run's, while it trains
    for stream in (sys.stdout, sys.stderr):  # a character the output lacks is an escape (a
        if hasattr(stream, "reconfigure"):  # folder named 检查 on cp1252: \u68c0\u67e5)
            stream.reconfigure(errors="backslashreplace")
    tf1.logging.set_verbosity(tf1.logging.ERROR)  # no deprecation notices for the TF1 API
    warnings.filterwarnings("ignore", message=r".*is deprecated and will be removed")
    ctrl_c = CtrlC()  # the stop signals, until the end
    try:
        if argv is None:
            argv = sys.argv[1:]
        settings = parse_settings(argv)
        with constants_set_to(settings):  # every line below reads the run's values
            check_settings(settings)
            if settings.predict is not None:
                predict_saved(settings)
            elif settings.inspect is not None:
                inspect_saved(settings, log_folder(settings))
            elif settings.runs:
                list_runs(settings)
            else:
                if settings.checkpoint_dir:
                    folder = run_folder(settings)
                train_and_report(settings, ctrl_c)
    except SettingError as problem:
        complain(problem)
        return 2
    except Stopped as stop:
        complain(stop.args[0])
        return stop.args[1]
    except (KeyboardInterrupt, OSError) as problem:  # outside training: nothing half-written
        return stopped_by(problem, folder)
    finally:
        ctrl_c.close()
    return 0


# =============================================================================================
# Above: the tutorial's script. Below: the machinery it calls, in this order: speed, the
# saved model asked (--predict, --inspect), the hand-set cell, the command line, runs and
# checkpoints, comparing runs, Ctrl-C and logging, systems. None of it changes what is learned.
# =============================================================================================


# --- Speed: each piece wraps the tutorial's model; its setting switches it off ---------------
# None changes what is computed but for float32 rounding (tests/test_same_learning.py), nor
# skips a line of build_model or train_epoch: UNROLL and TOWERS stand in for the dynamic_rnn
# call alone; GRADING "tree" shares prefixes' work. Each checks itself and steps aside, in a
# line, where an edit leaves it standing in for something else.

def fast_rnn(unroll, towers, notes):
    """A stand-in for tf1.nn.dynamic_rnn, the same val and state faster: `towers` parts side
    by side, "static" unrolled. A call with other arguments (an edit) is dynamic_rnn's own."""
    def rnn(cell, data, *more, sequence_length=None, dtype=None, **named):
        if more or named or dtype != tf.float32:
            notes.append("Speed: build_model() calls dynamic_rnn with arguments UNROLL and "
                         "TOWERS do not stand in for (an edit?), so it runs as written.")
            return tf1.nn.dynamic_rnn(cell, data, *more, sequence_length=sequence_length,
                                      dtype=dtype, **named)
        size = tf.shape(data)[0]
        bounds = [size * k // towers for k in range(towers + 1)]
        vals, states = [], []  # per part: (SEQ_LEN, part, hidden), the state after it
        for a, b in zip(bounds, bounds[1:]):
            part = data[a:b]  # (part, SEQ_LEN, 1)
            lengths = None if sequence_length is None else sequence_length[a:b]  # (part,)
            if unroll == "static":  # SEQ_LEN x (part, 1) in, SEQ_LEN x (part, hidden) out
                outputs, state = tf1.nn.static_rnn(cell, tf.unstack(part, axis=1), dtype=dtype,
                                                   sequence_length=lengths)
                vals.append(tf.stack(outputs))
            else:
                val, state = tf1.nn.dynamic_rnn(cell, part, sequence_length=lengths,
                                                dtype=dtype, time_major=False)
                vals.append(tf.transpose(val, [1, 0, 2]))
            states.append(state)
        return (tf.transpose(tf.concat(vals, 1), [1, 0, 2]),  # (batch, SEQ_LEN, hidden)
                tf.nest.map_structure(lambda *parts: tf.concat(parts, 0), *states))
    return rnn


def stepped_by_hand(model, settings, probe, notes):
    """(the prefix tree if GRADING is "tree", the probe if asked), each stepping build_model's
    cells a bit at a time; where an edit leaves cells that cannot be stepped so, the tree
    steps aside (a line in notes) and --inspect is refused."""
    tree = states = None
    try:
        if settings.grading == "tree":
            tree = build_prefix_tree(model, settings)
        if probe:
            states = build_state_probe(model, settings.seq_len)
    except (ValueError, TypeError, AttributeError) as problem:  # cells or bits edited
        if probe:
            raise SettingError(f"--inspect steps build_model()'s cells by hand, which these "
                               f"cells do not allow ({reason(problem)}).") from None
        notes.append(f"Grading: build_model()'s cells cannot be stepped by hand "
                     f"({reason(problem)}), so it grades as GRADING \"batches\" does.")
    return tree, states


def step_layers(layers, inputs, state):
    """One bit, inputs (n, 1), through the cells from state: (the top output, the new state)."""
    new_state = []
    for layer, layer_state in zip(layers, state):
        inputs, layer_state = layer.call(inputs, layer_state)
        new_state.append(layer_state)
    return inputs, tuple(new_state)


def output_of(state):
    """The top layer's output in a state tuple: an LSTM's h, else its whole state."""
    top = state[-1]
    return top.h if isinstance(top, tf1.nn.rnn_cell.LSTMStateTuple) else top


def grow_prefixes(layers, state, levels):
    """Each prefix in `state` grown by 0 and 1, `levels` times: row r of step j: r // 2**j."""
    states = [state]
    for _ in range(levels):
        state = tf.nest.map_structure(lambda part: tf.repeat(part, 2, axis=0), state)
        rows = tf.shape(tf.nest.flatten(state)[0])[0]
        bits = tf.reshape(tf.tile([0.0, 1.0], [rows // 2]), [rows, 1])  # 0, 1, 0, 1...
        _, state = step_layers(layers, bits, state)
        states.append(state)
    return states


def build_prefix_tree(model, settings):
    """The cells over every string as a tree of prefixes, about 2 steps a string: each `last`."""
    seq_len, min_len = settings.seq_len, settings.min_len
    with tf.name_scope("grading"):
        below = min(seq_len, settings.eval_batch.bit_length() - 1)  # 2**below <= EVAL_BATCH
        top = seq_len - below
        start = tuple(layer.zero_state(1, tf.float32) for layer in model.layers)
        top_states = grow_prefixes(model.layers, start, top)  # depths 0..top
        prefix = tuple(  # one prefix's state, fed back in; (1, hidden) per part
            tf.nest.map_structure(
                lambda units: tf1.placeholder(tf.float32, [None, units]), layer.state_size)
            for layer in model.layers)
        leaf_states = grow_prefixes(model.layers, prefix, below)  # depths top..seq_len
        top_outputs = {depth: output_of(top_states[depth])  # (2**depth, hidden) each
                       for depth in range(max(min_len, 1), top + 1)}
        leaf_outputs = {top + j: output_of(leaf_states[j])  # (2**j, hidden) per prefix
                        for j in range(1, below + 1) if top + j >= min_len}
    return SimpleNamespace(top=top, top_state=top_states[-1], prefix=prefix,
                           top_outputs=top_outputs, leaf_outputs=leaf_outputs)


def each_prefix(session, net, fetch):
    """Run the tree's top once, then `fetch` for each of its prefixes: yields (i, values)."""
    tops = tf.nest.flatten(session.run(net.tree.top_state))  # one row per prefix
    slots = tf.nest.flatten(net.tree.prefix)
    for i in range(len(tops[0])):
        yield i, session.run(fetch, {slot: top[i:i + 1] for slot, top in zip(slots, tops)})


TREE_CHECK = 1000  # strings on which each grading by tree checks itself against build_model


def wrong_by_tree(session, net, sample):
    """wrong_in() for every string via the tree's `last`; None if that is not build_model's."""
    model, seq_len = net.model, net.seq_len
    wrong = np.zeros(2 ** (seq_len + 1) - 2 ** net.settings.min_len, bool)
    sample = np.sort(sample)
    sample_last = np.zeros((len(sample), net.settings.num_hidden), np.float32)

    def judge(blocks):  # [(depth, its first string, outputs (n, hidden))], in one run
        if not blocks:
            return
        codes = [length_offset(depth, seq_len) + first + np.arange(len(outputs))
                 for depth, first, outputs in blocks]  # each block's strings, in order
        for block, (_, _, outputs) in zip(codes, blocks):  # keep the sample's `last`
            a, b = np.searchsorted(sample, [block[0], block[-1] + 1])
            sample_last[a:b] = outputs[sample[a:b] - block[0]]
        codes = np.concatenate(codes)
        labels = np.eye(seq_len + 1, dtype=np.float32)[ones_in(codes, seq_len)]
        wrong[codes] = session.run(model.mistakes, {
            model.last: np.concatenate([outputs for _, _, outputs in blocks]),
            model.target: labels})

    try:
        judge([(depth, 0, out) for depth, out in session.run(net.tree.top_outputs).items()])
        for i, grown in each_prefix(session, net, net.tree.leaf_outputs):  # prefix i, below
            judge([(depth, i * len(out), out) for depth, out in grown.items()])
        inp, out, lengths = bits_and_labels(sample, seq_len)
        own, own_wrong = session.run([model.last, model.mistakes],
                                     feed(model, inp, out, lengths))
    except (ValueError, tf.errors.OpError):  # build_model's lines need more than `last`
        return None
    same = (np.allclose(own, sample_last, rtol=1e-4, atol=1e-5)  # and bits_and_labels'
            and np.array_equal(own_wrong, wrong[sample]))  # labels are ones_in()'s
    return wrong if same else None


# --- The saved model asked: --predict; --inspect, what the cell's state does as it counts ----
# An LSTM's cell state c is not squashed between steps, so a unit of c can step up for each
# 1 and hold for each 0; the probe keeps every state, find_counters() finds such units.

@contextlib.contextmanager
def saved_model(settings, option, probe=False):
    """For --predict and --inspect: the model saved for these settings, in a session."""
    folder = run_folder(settings)
    net = build_graph(settings, probe=probe, towers=1, grading="batches")
    with tf1.Session(graph=net.graph) as session:
        for attempt in range(5):  # a run training there deletes its older saves: the one the
            try:  # record named may go before it is read, and the record then names a newer
                saved = read_record(folder, settings)
                if saved:
                    restore(saved, session, net)
                break
            except SettingError:
                if attempt == 4:
                    raise
        if saved is None:
            others = other_runs(settings)
            advice = f"it keeps {others}; give a run's options to ask it." if others else (
                "train one first.")
            raise SettingError(f"{option} needs a model trained with these settings, but "
                               f"{settings.checkpoint_dir}{os.sep} has none; {advice}")
        cells = ", ".join(f"{type(layer).__name__}({layer.output_size})"  # as built: an
                          for layer in net.model.layers)  # edited make_cell() shows here
        print(f"Model saved in {folder}{os.sep} at epoch {saved['epoch']}: {cells}, "
              f"{readable(settings)}, TARGET {settings.target}, HEAD {settings.head}")
        yield net, session


def predict_saved(settings):
    """--predict: print the saved model's answer for each string, without training."""
    with saved_model(settings, "--predict") as (net, session):
        answers = predict(session, net, settings.predict)
    counts = counts_from(answers, net.model.head)
    trues, word = true_answers(settings.predict, net.seq_len)
    for string, answer, count, true in zip(settings.predict, answers, counts, trues):
        if net.model.head == "softmax":
            given = f"probability {answer[count]:.3f}"
        else:
            given = f"output {answer:.3f}"
        print(f"{string} predicted {word} {count} ({given}), true {word} {true}")


def build_state_probe(model, seq_len):
    """The cells stepped bit by bit on inputs shaped as `data`: parts {"c1", "h1", ...: (n,
    seq_len, hidden)}, the state after each bit, and `outputs`, the top layer's output."""
    with tf.name_scope("probe"):
        bits = tf1.placeholder(tf.float32, model.data.shape, name="bits")
        state = tuple(layer.zero_state(tf.shape(bits)[0], tf.float32)
                      for layer in model.layers)
        steps = []  # per bit: the state tuple after it
        for t in range(seq_len):
            _, state = step_layers(model.layers, bits[:, t], state)
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
    return SimpleNamespace(bits=bits, parts=parts, outputs=outputs)


def states_along(session, net, codes):
    """The probe run on strings given as codes: (parts, guesses); guesses (n, seq_len):
    build_model's answer with its `last` fed each bit's output, the count had the string
    ended there (None where `last` is not the cells' output: an edit)."""
    inp, _, _ = bits_and_labels(np.asarray(codes), net.seq_len)
    parts, outputs = session.run([net.probe.parts, net.probe.outputs], {net.probe.bits: inp})
    guesses = None
    with contextlib.suppress(ValueError, tf.errors.OpError):
        answers = session.run(net.model.prediction,
                              {net.model.last: outputs.reshape(-1, outputs.shape[-1])})
        guesses = counts_from(answers, net.model.head).reshape(outputs.shape[:2])
    return parts, guesses


def find_counters(parts, running):
    """Per part, how closely each unit follows the running count (best units first)."""
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
        found[name] = SimpleNamespace(correlation=correlation, step=step, exact=exact,
                                      best=best, together=read_exactly(flat, target))
    return found


def read_exactly(columns, target):
    """The share of rows whose target a least-squares line on the columns gives, rounded."""
    design = np.column_stack([columns, np.ones(len(target))])
    fitted = design @ np.linalg.lstsq(design, target, rcond=None)[0]
    return float(np.mean(np.round(fitted) == target))


HEAT = " .:-=+*#%@"  # from a unit's value at the lowest counts it sees to the highest
COUNTS_CLEANLY = 0.99  # a unit whose value alone gives the count at this share of bits
INSPECT_SAMPLE = 2000  # strings the unit finder measures (every bit of each)


def heat(value, low, high, rising=True):
    """One character for value on low..high (reversed if not rising), hotter for more ones."""
    if high <= low:
        return HEAT[0]
    share = np.clip((value - low) / (high - low), 0, 1)
    return HEAT[int((share if rising else 1 - share) * (len(HEAT) - 1) + 0.5)]


def describe_counters(found, sample_size, seq_len, at_end=None):
    """The finder's result, a line per part, and a verdict; at_end: the same at the last bit."""
    lines = [f"Units that follow the running count, over {sample_size:,} strings x "
             f"{seq_len} bits (exact: how often a line through its value gives the count):"]
    for name, part in found.items():
        unit = part.best[0]
        lines.append(
            f"  {name}: unit {unit} correlation {part.correlation[unit]:+.3f}, "
            f"{part.step[unit]:+.3f} per 1, exact {part.exact[unit]:.1%}; all "
            f"{len(part.exact)} units {part.together:.1%}")
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
    """--inspect's table for a string: per bit, the count, the guess, the best units' c, h."""
    columns = []  # (part, unit): h shows the same units as c, where it has as many
    for name, part in found.items():
        chosen = found.get(f"c{name[1:]}", part)
        if len(chosen.best) != len(part.best):  # (an LSTM with num_proj: h is narrower)
            chosen = part
        columns += [(name, int(unit)) for unit in chosen.best[:shown]]
    header = " bit ones guess " + "".join(f"{f'{name}[{unit}]':>9}" for name, unit in columns)
    rows = [header + "  heat"]
    running = 0
    for t, bit in enumerate(string):
        running += bit == "1"
        values = [parts[name][t, unit] for name, unit in columns]
        guess = "-" if guesses is None else guesses[t]
        rows.append(f"{bit:>4} {running:4d} {guess:>5} "
                    + "".join(f"{value:9.3f}" for value in values) + "  "
                    + "".join(heat(value, *ranges[name][:, unit],
                                   rising=found[name].correlation[unit] >= 0)
                              for value, (name, unit) in zip(values, columns)))
    return rows


def inspect_saved(settings, log=None):
    """--inspect: find the units that count, show them bit by bit (and log_states)."""
    with saved_model(settings, "--inspect", probe=True) as (net, session):
        answers = predict(session, net, settings.inspect)
        rng = np.random.default_rng(settings.seed)
        sample = rng.choice(2 ** net.seq_len, min(INSPECT_SAMPLE, 2 ** net.seq_len),
                            replace=False)
        parts, guesses = states_along(session, net, sample)  # SEQ_LEN bits each: codes too
        asked, asked_guesses = states_along(session, net, [code_of(s, net.seq_len)
                                                           for s in settings.inspect])
    bits = (sample[:, None] >> np.arange(net.seq_len - 1, -1, -1)) & 1  # high bit first
    running = np.cumsum(bits, axis=1)  # (n, seq_len): the ones so far
    found = find_counters(parts, running)
    at_end = find_counters({name: values[:, -1:] for name, values in parts.items()},
                           running[:, -1:])
    ranges = {name: np.stack([values.min(axis=(0, 1)), values.max(axis=(0, 1))])
              for name, values in parts.items()}
    if not any(name.startswith("c") for name in parts):
        print(f"A {type(net.model.layers[0]).__name__} has no cell state c: its state is its "
              "output h.")
    for line in describe_counters(found, len(sample), net.seq_len, at_end):
        print(line)
    trues, word = true_answers(settings.inspect, net.seq_len)  # another task's: its classes
    if guesses is None:
        print("build_model()'s `last` is not the cells' output (an edit?), so the guess had "
              "each string ended there is not shown (-).")
    elif word == "count":
        print(f"The model's guess, had each string ended there, is right at "
              f"{np.mean(guesses == running):.1%} of bits (at the last bit: "
              f"{np.mean(guesses[:, -1] == running[:, -1]):.1%}).")
    counts = counts_from(answers, net.model.head)
    for number, string in enumerate(settings.inspect):
        output = f" (output {answers[number]:.3f})" if net.model.head == "regression" else ""
        its_guesses = None if asked_guesses is None else asked_guesses[number]
        print(f"String {string}: true {word} {trues[number]}, predicted {word} "
              f"{counts[number]}{output}")
        for row in inspection_rows(string, {name: values[number] for name, values in
                                            asked.items()}, its_guesses, found, ranges):
            print(row)
    if log:
        log_states(log, settings.inspect, asked, found, ranges)


def log_states(folder, strings, parts, found, ranges, zoom=8):
    """Per string, pictures of each part of the state and the counting units' curves."""
    writer = Scalars(folder)
    for number, string in enumerate(strings):
        for name, values in parts.items():
            low, high = ranges[name][0].min(), ranges[name][1].max()
            shade = np.clip((values[number, :len(string)].T - low) / (high - low or 1), 0, 1)
            pixels = np.kron(np.uint8(255 * shade), np.ones((zoom, zoom), np.uint8))[..., None]
            writer.write(summary=tf1.Summary(value=[tf1.Summary.Value(
                tag=f"inspect {string}/{name}", image=tf1.Summary.Image(
                    height=pixels.shape[0], width=pixels.shape[1], colorspace=1,
                    encoded_image_string=tf.io.encode_png(pixels).numpy()))]))
        for bit in range(len(string)):
            traces = {"ones": string[:bit + 1].count("1"), **{
                f"{name}[{part.best[0]}]": parts[name][number, bit, part.best[0]]
                for name, part in found.items()}}
            writer.write(step=bit + 1, summary=tf1.Summary(value=[
                tf1.Summary.Value(tag=f"inspect {string}/{tag}", simple_value=value)
                for tag, value in traces.items()]))
    writer.write(close=True)


# --- A counter set by hand: CELL "handwired" -------------------------------------------------
# An LSTMCell with weights written, not trained: unit 0's gates held open (bias 30), its
# candidate COUNTER_STEP for a 1, so c grows by COUNTER_STEP per 1 and h = tanh(c) after k
# ones is h_k; count k's logit, SHARPNESS * (2 h_k h - h_k^2), is largest for h_k nearest h.

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


# --- The command line: made from the settings block, so --help says what it says -------------

class SettingError(ValueError):
    """A setting a user gave that the script cannot run with."""


class Stopped(Exception):
    """A run that stops early. Its two arguments: the sentence that says what is kept, and
    the exit status (a signal's, from STOPS: 130 after Ctrl-C; 1 for anything else)."""


class Settings(SimpleNamespace):
    """One run's settings, each under its name in lower case. Asking for one that the
    settings block no longer has raises a SettingError that says to put it back."""

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        raise SettingError(f"{name.upper()} is missing from the settings block; put it back.")


MAX_SEQ_LEN = 24  # 2**24 strings is the most this script will generate
CELLS = ("lstm", "gru", "rnn", "handwired")
TARGETS, HEADS, SAMPLINGS = ("last", "every"), ("softmax", "regression"), ("uniform", "counts")
BLOCK_START, BLOCK_END = "# --- settings:", "# --- end of settings ---"
# The settings a run may go on with, changed; every other one (yours too) shapes what it learns
CHANGEABLE = ("EPOCHS", "EVAL_EVERY", "CHECKPOINT_DIR", "SAVE_EVERY", "LOG_DIR", "SAMPLE",
              "UNROLL", "TOWERS", "GRADING", "EVAL_BATCH")
OWN_OPTIONS = ("help", "fresh", "predict", "inspect", "runs")  # options that are not settings
KINDS = {int: "a whole number", float: "a number", str: "text in quotes, like \"lstm\"",
         bool: "true or false"}
SWITCHED = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False,
            "off": False, "0": False}  # what --name word may say to a True or False setting


@functools.cache
def read_settings_block():
    """[(name, help text)] per setting of the block in SOURCE, read by Python's own parser; a
    name written twice is the later line's, as Python has it."""
    lines = SOURCE.splitlines()
    try:
        first = next(n for n, line in enumerate(lines, 1) if line.startswith(BLOCK_START))
        last = next(n for n, line in enumerate(lines, 1) if line.startswith(BLOCK_END))
    except StopIteration:
        raise SettingError(f"The settings block of {os.path.basename(__file__)} has lost its "
                           f"first or last line ({BLOCK_START!r} ... {BLOCK_END!r}); "
                           "put it back.") from None
    comments = {token.start[0]: token.string.lstrip("#").strip()
                for token in tokenize.generate_tokens(io.StringIO(SOURCE).readline)
                if token.type == tokenize.COMMENT}
    found = {}
    for node in ast.parse(SOURCE).body:
        if not first < node.lineno < last:
            continue
        targets = []  # NAME = value, or NAME: type = value
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            raise SettingError(f"Line {node.lineno} of the settings block, "
                               f"{lines[node.lineno - 1].strip()!r}, is not a setting "
                               "(NAME = value); fix it or move it out of the block.")
        found.pop(targets[0].id, None)  # (a name written again takes the later line's place)
        found[targets[0].id] = comments.get(node.end_lineno, "")
    return list(found.items())


def option_type(name, value):
    """An argparse type for a setting: a word becomes what the block's `value` is."""
    kind = type(value)
    if kind not in KINDS:
        raise SettingError(f"{name} in the settings block is {value!r}, but a setting must "
                           "be a number, text in quotes, or True or False.")

    def convert(word):
        if kind is str:
            return word
        if kind is bool and word.lower() in SWITCHED:
            return SWITCHED[word.lower()]
        for reading in (int, float):  # what the word says: 5_000 is an int, 1e3 a float
            with contextlib.suppress(ValueError):
                number = reading(word)
                if kind is int and reading is float and number.is_integer():
                    return int(number)  # 1e3 for a whole-number setting: 1000
                if kind is not bool:
                    return number
        raise argparse.ArgumentTypeError(f"{name} must be {KINDS[kind]}, got {word!r}")
    return convert


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one sentence, with exit status 2."""

    def error(self, message):
        raise SettingError(message[0].upper() + message[1:] + "; see --help for the options.")


def parse_settings(argv, **changes):
    """Command-line words (and changes) -> Settings; the block makes the options and defaults."""
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
        value = as_written[name]
        switch = dict(nargs="?", const=True, metavar="true/false") if isinstance(
            value, bool) else dict(metavar=name)  # --name alone means true
        parser.add_argument("--" + option, dest=name.lower(), type=option_type(name, value),
                            default=value, help=meaning or name, **switch)
    parser.add_argument("--fresh", action="store_true", help="start this run over at epoch 1; "
                        "its saves and record are moved into a folder there, before-fresh-N")
    parser.add_argument("--predict", nargs="+", metavar="STRING", help="do not train: print "
                        "the saved model's count for each string of 0s and 1s")
    parser.add_argument("--inspect", nargs="+", metavar="STRING", help="do not train: find "
                        "the saved model's units that follow the count, and show them bit by "
                        "bit for each string")
    parser.add_argument("--runs", action="store_true", help="do not train: list every run "
                        "kept in CHECKPOINT_DIR, best first, with what differs from these "
                        "settings and this code")
    known, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse words an unknown option in its own way; say it in ours
        raise SettingError(f"Unknown option {unknown[0]!r}; see --help for the options.")
    settings = Settings(**{**vars(known), **changes})
    if settings.min_len == 0:  # MIN_LEN 0: every string is SEQ_LEN bits long
        settings.min_len = settings.seq_len
    return settings


@contextlib.contextmanager
def constants_set_to(settings):
    """While a run lasts, each constant of the block holds the run's value (its --option),
    even one that a later line of the same name set otherwise."""
    names = [name for name, _ in read_settings_block()]
    before = {name: globals()[name] for name in names}
    globals().update({name: getattr(settings, name.lower()) for name in names})
    try:
        yield
    finally:
        globals().update(before)


def checked(settings, name, kind, fits=lambda value: True, wanted=""):
    """The setting `name`'s value, if it is of `kind` and fits; else SettingError saying so."""
    value = getattr(settings, name.lower())
    if type(value) is not kind and not (kind is float and type(value) is int):
        raise SettingError(f"{name} is {value!r}, but it must be {KINDS[kind]}.")
    if kind is int and abs(value) >= 2**31:
        raise SettingError(f"{name} is {value}, more than the {2**31 - 1:,} it may be.")
    if not fits(value):
        raise SettingError(f"{name} is {value!r}, but it must be {wanted}.")
    return value


def check_settings(settings):
    """Raise SettingError, in one sentence, for the first setting that cannot work."""
    check = functools.partial(checked, settings)
    seq_len = check("SEQ_LEN", int, lambda n: 1 <= n <= MAX_SEQ_LEN, f"from 1 to {MAX_SEQ_LEN}")
    min_len = check("MIN_LEN", int, lambda n: 1 <= n <= seq_len,
                    f"from 1 to SEQ_LEN ({seq_len}), or 0 for SEQ_LEN")
    total = 2 ** (seq_len + 1) - 2 ** min_len
    lengths = f"length {seq_len}" if min_len == seq_len else f"lengths {min_len} to {seq_len}"
    examples = check("NUM_EXAMPLES", int, lambda n: 1 <= n < total,
                     f"from 1 to {total - 1} so that the {total} strings of {lengths} leave at "
                     "least one test string")
    check("VALIDATION_EXAMPLES", int, lambda n: 0 <= n < total - examples,
          f"from 0 to {total - examples - 1} so that at least one test string is left")
    check("SEED", int, lambda n: n >= 0, "0 or more")
    for name in ("NUM_HIDDEN", "NUM_LAYERS", "EPOCHS", "EVAL_EVERY", "SAVE_EVERY", "EVAL_BATCH",
                 "TOWERS"):
        check(name, int, lambda n: n >= 1, "1 or more")
    check("LEARNING_RATE", float, lambda x: 0 < x < float("inf"), "a number more than 0")
    check("BATCH_SIZE", int, lambda n: 1 <= n <= examples, f"from 1 to NUM_EXAMPLES ({examples})")
    for name, allowed in (("CELL", CELLS), ("TARGET", TARGETS), ("HEAD", HEADS),
                          ("SAMPLING", SAMPLINGS),
                          ("UNROLL", ("static", "dynamic")), ("GRADING", ("tree", "batches"))):
        check(name, str, lambda word: word in allowed,
              " or ".join(", ".join(repr(a) for a in allowed).rsplit(", ", 1)))
    check("NUM_EXAMPLES", int, lambda n: settings.sampling != "counts" or n > seq_len,
          f"at least SEQ_LEN + 1 ({seq_len + 1}) with SAMPLING 'counts', one of each count")
    for name, one in (("NUM_LAYERS", 1), ("HEAD", "softmax")):
        check(name, type(one), lambda value: settings.cell != "handwired" or value == one,
              f"{one!r} for CELL 'handwired', one LSTM layer and read-out set by hand")
    check_places(settings)
    check_machine_limits(settings)


def check_places(settings):
    """SettingError for a SAMPLE, CHECKPOINT_DIR or LOG_DIR that cannot work."""
    checked(settings, "SAMPLE", str, lambda word: word and not set(word) - {"0", "1"},
            "a non-empty string of 0s and 1s")
    checked(settings, "CHECKPOINT_DIR", str, lambda path: not set("[*?") & set(path),
            "a path without [, * or ?, which TensorFlow's reader takes for a pattern")
    for name in ("CHECKPOINT_DIR", "LOG_DIR"):  # TensorFlow would write there, Python here
        checked(settings, name, str, lambda path: "://" not in path, "a folder on this "
                "computer, not one TensorFlow reaches through a file system of its own "
                "(ram://, gs://)")
    if settings.checkpoint_dir:  # a run folder holds a run's files only
        saves = os.path.abspath(settings.checkpoint_dir) + os.sep
        checked(settings, "LOG_DIR", str, lambda path: not path  # "": no logs
                or not (os.path.abspath(path) + os.sep).startswith(saves),
                f"outside CHECKPOINT_DIR ({settings.checkpoint_dir!r}), whose folders are "
                "runs' only")
    for option in ("predict", "inspect", "runs"):  # each reads the runs kept
        if getattr(settings, option) not in (None, False) and not settings.checkpoint_dir:
            raise SettingError(f"--{option} reads the runs kept in CHECKPOINT_DIR, but it is "
                               "empty; give --checkpoint-dir.")
    for option in ("predict", "inspect"):  # the strings to ask a saved model about
        for string in getattr(settings, option) or []:
            if set(string) - {"0", "1"} or not settings.min_len <= len(string) <= settings.seq_len:
                raise SettingError(f"--{option} was given {string!r}, but the model of these "
                                   f"settings reads {readable(settings)} of 0s and 1s.")


def readable(settings):
    """The strings a model of these settings reads: '20-bit strings', 'strings of 1 to 20 bits'."""
    if settings.min_len == settings.seq_len:
        return f"{settings.seq_len}-bit strings"
    return f"strings of {settings.min_len} to {settings.seq_len} bits"


# --- Runs and checkpoints --------------------------------------------------------------------
# A run's folder, CHECKPOINT_DIR/run-<digits of what shapes its learning>, holds TensorFlow's
# saves, the run's record and its lock. Four rules keep every save: TensorFlow's Saver deletes
# only its own saves, the newest two kept (its list is in the record); files are written whole;
# one run trains in a folder at a time; any fault is one sentence.
# The code that shapes what a run learns: these functions and the functions and constants they use
LEARNING_CODE = ("all_strings", "ones_in", "split", "bits_and_labels", "build_model",
                 "train_epoch", "handwired_weights")
CHECKPOINT_FILE = "count_ones_lstm.json"  # in a run's folder: its record
LOCK_FILE = "count_ones_lstm.lock"  # in a run's folder: held by the run training there
CHECKPOINT_FORMAT = 5  # 5: the record carries its own digest and its save's
FRESH = "give --fresh (which moves what is there aside) or another --checkpoint-dir"
DAMAGED = (ValueError, LookupError, TypeError, AttributeError, RecursionError)  # a bad record
DAMAGED_CODES = (tf.errors.UNKNOWN, tf.errors.DATA_LOSS)  # TensorFlow's reader on a bad save


class OtherRun(SettingError):
    """A run's folder that holds the record of another run (other settings or code)."""


@contextlib.contextmanager
def one_sentence(path, saving=None):
    """The one boundary between a run's files and the user: any fault with them is one sentence
    of the file and the system's reason (Stopped while saving); only DAMAGED ones get --fresh."""
    try:
        yield
    except SettingError:
        raise
    except (OSError, tf.errors.OpError, *DAMAGED) as problem:
        if saving is not None:
            raise Stopped(f"Saving epoch {saving} in {path}{os.sep} failed ({reason(problem)}); "
                          f"{what_is_kept(path)} (fix that, then run the same command to "
                          "continue).", 1) from None
        file = getattr(problem, "filename", None) or path
        damaged = getattr(problem, "error_code", 0) in DAMAGED_CODES
        if isinstance(problem, DAMAGED) and not isinstance(problem, UnicodeEncodeError):
            damaged = True  # (a path the system cannot spell is not damage)
        if damaged:
            raise SettingError(f"{file} cannot be read ({reason(problem)}): it is damaged or "
                               f"incomplete; {FRESH}.") from None
        raise SettingError(f"{file} cannot be used ({reason(problem)}); fix that, or give "
                           "another folder.") from None


def read_file(path, size=-1):
    """A run's file's bytes, at most size; a FIFO or device there is an error, not waited on."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a plain file", path)
    with open(path, "rb") as file:
        return file.read(size)


def write_whole(path, text):
    """Replace the file at path by text in one step: a temporary file, then os.replace."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
        for _ in range(30):  # for 3 s: Windows refuses while a reader holds the file open
            with contextlib.suppress(PermissionError):
                os.replace(temporary, path)
                return
            time.sleep(0.1)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):  # it failed: what it wrote goes
            os.remove(temporary)


def digest(node):
    """12 hex digits drawn from what code does: not from its comments, docstring or spacing."""
    text = ast.dump(node)
    if isinstance(node, ast.FunctionDef):  # its name, arguments and lines, not its docstring
        lines = node.body[1:] if ast.get_docstring(node) is not None else node.body
        text = node.name + ast.dump(node.args) + "".join(ast.dump(line) for line in lines)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def learning_code(lines=False):
    """{"name()" or "NAME": digest} of LEARNING_CODE and the functions and constants it uses;
    with lines, their code instead, as Python reads it (without comments or docstrings)."""
    block = {name for name, _ in read_settings_block()}
    named = {}
    for node in ast.parse(SOURCE).body:
        if isinstance(node, ast.FunctionDef):
            named[node.name] = node
        elif isinstance(node, ast.Assign):
            named.update({target.id: node for target in node.targets
                          if isinstance(target, ast.Name) and target.id not in block})
    found, waiting = {}, [name for name in LEARNING_CODE if name in named]
    while waiting:
        node = named[waiting.pop()]
        key = f"{node.name}()" if isinstance(node, ast.FunctionDef) else node.targets[0].id
        if key not in found:
            found[key] = digest(node)
            if lines:  # as Python reads it: the docstring, comments and spacing left out
                found[key] = ast.unparse(node)
            if lines and key.endswith("()") and ast.get_docstring(node) is not None:
                found[key] = ast.unparse(ast.FunctionDef(**{**vars(node), "body": node.body[1:]}))
            names = [part for part in ast.walk(node) if isinstance(part, ast.Name)]
            own = {part.id for part in names if not isinstance(part.ctx, ast.Load)}
            own.update(part.arg for part in ast.walk(node) if isinstance(part, ast.arg))
            waiting += ({part.id for part in names} - own) & named.keys()  # globals it reads
    return found


def learning_settings(settings):
    """The settings that shape learning (all but CHANGEABLE), as the block would write them."""
    values = {name.upper(): int(value) if type(value) is float and value.is_integer() else value
              for name, value in vars(settings).items()  # 1e3 is the run of 1000
              if name.upper() not in CHANGEABLE and name not in OWN_OPTIONS}
    if values["MIN_LEN"] == values["SEQ_LEN"]:  # every string SEQ_LEN long: MIN_LEN 0
        values["MIN_LEN"] = 0
    return values


def run_folder(settings):
    """CHECKPOINT_DIR/run-<8 hex digits drawn from learning_settings() and learning_code()>."""
    run = [learning_settings(settings), learning_code()]
    drawn = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()
    return os.path.join(settings.checkpoint_dir, f"run-{drawn[:8]}")


def record_digest(record):
    """The digest a record carries of itself, so that any edit of it shows."""
    kept = {key: value for key, value in record.items() if key not in ("digest", "prefix")}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def write_record(folder, settings, epoch, history):
    """Point the record at save model-`epoch` by its index's digest, with settings and code."""
    index = read_file(os.path.join(folder, f"model-{epoch}.index"))
    record = {"format": CHECKPOINT_FORMAT, "checkpoint": f"model-{epoch}", "epoch": epoch,
              "index": hashlib.sha256(index).hexdigest(), "settings": learning_settings(settings),
              "code": learning_code(), "lines": learning_code(lines=True),  # and its text
              **history}  # the Saver's saves, the gradings
    record["digest"] = record_digest(record)
    path = os.path.join(folder, CHECKPOINT_FILE)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(read_file(path)) == record:  # a run again with nothing new: untouched
            return
    write_whole(path, json.dumps(record, indent=1))


def read_record(folder, settings=None):
    """A run's record (or None): whole, this script's, its save's; given settings, theirs."""
    path = os.path.join(folder, CHECKPOINT_FILE)
    with one_sentence(path):
        try:
            saved = json.loads(read_file(path))
        except FileNotFoundError:
            return None
        if saved["format"] != CHECKPOINT_FORMAT:
            age = "a newer" if saved["format"] > CHECKPOINT_FORMAT else "an older"
            raise SettingError(f"The model saved in {folder}{os.sep} was written by {age} "
                               f"version of this script; {FRESH}.")
        if saved["digest"] != record_digest(saved):
            raise ValueError("it was changed after this script wrote it")
        saved["prefix"] = os.path.join(folder, saved["checkpoint"])
        files = [saved["prefix"] + part for part in (".index", ".data-00000-of-00001")]
        if not all(os.path.lexists(file) for file in files):
            raise ValueError(f"its save, {saved['checkpoint']}, is incomplete")
        if hashlib.sha256(read_file(files[0])).hexdigest() != saved["index"]:
            raise ValueError(f"{saved['checkpoint']} is not the save it was written with")
        read_file(files[1], 0)  # opened: the system's refusals said before TensorFlow's
    options, edited = differences(saved, settings) if settings else ([], [])
    if options or edited:
        raise OtherRun(f"{path} is the record of another run ({in_words(options, edited)}), "
                       "moved here by hand; move it back, or give another --checkpoint-dir.")
    return saved


def restore(saved, session=None, net=None):
    """Read every tensor of the save (checksums checked); given a session, load them there."""
    with one_sentence(saved["prefix"]):
        reader = tf.train.load_checkpoint(saved["prefix"])
        values = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
        if session is None:
            return
        for variable in net.graph.get_collection("variables"):
            name, shape = variable.op.name, variable.shape.as_list()
            if name not in values or list(values[name].shape) != shape:
                raise ValueError(f"it has no {name} of the shape {shape} its record describes")
            variable.load(values[name], session)
        net.saver.recover_last_checkpoints(  # its list of its saves, as the record keeps it
            [os.path.join(os.path.dirname(saved["prefix"]), name) for name in saved["saves"]])


def what_is_kept(folder):
    """What is safely saved in folder now, read from disk: the end of a sentence."""
    if not folder:
        return "nothing is saved, as CHECKPOINT_DIR is empty"
    with contextlib.suppress(SettingError):
        saved = read_record(folder)  # (its save's index checked against the record)
        if saved:
            return f"the last save, epoch {saved['epoch']} in {folder}{os.sep}, is kept as it was"
    return f"nothing is saved in {folder}{os.sep}"


def save(session, net, run, epoch, gradings=(), training_time=0.0):
    """Save epoch's weights (never NaN ones; once), then the record, with the run's history."""
    if not run.folder:
        return
    if run.last != epoch and not session.run(net.finite):  # never NaN over a good model
        raise Stopped(f"The weights stopped being numbers at epoch {epoch} (LEARNING_RATE "
                      f"{run.settings.learning_rate:g} may be too large); nothing was "
                      f"saved: {what_is_kept(run.folder)}.", 1)
    with one_sentence(run.folder, saving=epoch):
        if run.last != epoch:
            net.saver.save(session, os.path.join(run.folder, "model"), global_step=epoch,
                           write_meta_graph=False)
        write_record(run.folder, run.settings, epoch, {
            "saves": [os.path.basename(path) for path in net.saver.last_checkpoints],
            "gradings": gradings[-1000:],  # (the last 1,000: a small file)
            "training_seconds": round(run.seconds_before + training_time, 1)})
    run.last = epoch


@contextlib.contextmanager
def opened_run(settings):
    """The run's folder, made if new and locked while the run lasts, and the record it holds."""
    run = SimpleNamespace(settings=settings, folder=None, saved=None, last=None, seconds_before=0,
                          heading="New run, not saved (CHECKPOINT_DIR is empty)")
    if not settings.checkpoint_dir:
        yield run
        return
    run.folder = run_folder(settings)
    with one_sentence(run.folder):  # through TensorFlow's file system, which the saves take:
        new = not tf.io.gfile.exists(run.folder)  # a path it cannot reach fails now, not at a save
        if new:
            tf.io.gfile.makedirs(run.folder)
        mine, others = written_here(run.folder)
    if others and not mine:  # a folder this script did not make: nothing is written there
        raise SettingError(f"{run.folder}{os.sep} holds {few(others)} and nothing this script "
                           "wrote, so it is not a run's folder; give another --checkpoint-dir.")
    try:
        with locked(run.folder):
            try:  # the record as it is now, under the lock, and its save read whole
                run.saved = read_record(run.folder, settings)
                if run.saved and not settings.fresh:
                    restore(run.saved)
                    run.last, run.seconds_before = run.saved["epoch"], run.saved["training_seconds"]
            except OtherRun:  # refused even with --fresh, which would move that run aside
                raise
            except SettingError:  # --fresh moves a damaged run aside
                if not settings.fresh:
                    raise
            if settings.fresh:
                run.saved = None
            aside = check_folder(run.folder, mine, run.saved, settings.fresh)
            run.heading = first_line(settings, run.folder, run.saved, aside)
            yield run
    finally:
        with contextlib.suppress(OSError):  # a new run that wrote nothing but its lock leaves
            if new and not set(os.listdir(run.folder)) - {LOCK_FILE}:  # nothing, however it ended
                shutil.rmtree(run.folder)


@contextlib.contextmanager
def locked(folder):
    """The folder locked while the block runs, however the run ends: one run per folder."""
    path = os.path.join(folder, LOCK_FILE)
    with one_sentence(path):  # opened through a link, the lock would write where it points
        if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EEXIST, "not a plain file", path)
    lock = filelock.FileLock(path, timeout=0.2)  # time to clear a marker a killed run left
    try:
        held = lock.acquire()  # let go at the end of the block
    except filelock.Timeout:
        raise SettingError(f"Another run is training in {folder}{os.sep} (it holds {path}): "
                           "wait for it to end, or give another --checkpoint-dir.") from None
    except (OSError, NotImplementedError) as problem:  # a file system that refuses locks
        raise SettingError(f"{path} cannot be locked ({reason(problem)}), so two runs could "
                           "train there at once; give another --checkpoint-dir.") from None
    with held:
        yield


def written_here(folder):
    """([names of what this script wrote in folder], [the others]): its record and lock,
    TensorFlow's list of its saves (`checkpoint`) and the files of the saves listed there."""
    state = tf.train.get_checkpoint_state(folder)  # None, unless `checkpoint` is TensorFlow's
    own, saves = [CHECKPOINT_FILE, LOCK_FILE], []
    if state:
        own.append("checkpoint")
        saves = [os.path.basename(path) for path in state.all_model_checkpoint_paths]
    mine, others = [], []
    for name in sorted(tf.io.gfile.listdir(folder)):
        if name.startswith((".", "before-fresh-")):  # a system's, or set aside by --fresh
            continue
        if name in own or any(
                name == f"{save}.index" or name.startswith(f"{save}.data-") for save in saves):
            mine.append(name)
        else:
            others.append(name)
    return mine, others


def few(names):
    """The first three names, and '...' if there are more."""
    if len(names) > 3:
        return ", ".join(names[:3]) + " ..."
    return ", ".join(names)


def check_folder(folder, mine, saved, fresh=False):
    """--fresh moves what this script wrote in folder (not its lock) into before-fresh-N,
    returned; else saves with no record are refused, not trained over."""
    mine = [name for name in mine if name != LOCK_FILE]
    if mine and not saved and not fresh:
        raise SettingError(f"{folder}{os.sep} holds {few(mine)}, which this script has no "
                           f"record of; {FRESH}.")
    if fresh and mine:
        number = 1
        while os.path.lexists(os.path.join(folder, f"before-fresh-{number}")):
            number += 1
        with one_sentence(folder):
            os.mkdir(os.path.join(folder, f"before-fresh-{number}"))
            for name in mine:
                os.replace(os.path.join(folder, name),
                           os.path.join(folder, f"before-fresh-{number}", name))
        return f"before-fresh-{number}"


def first_line(settings, folder, saved, aside=None):
    """What a run says first: what it continues or that it is new, where it saves."""
    if saved:
        left = ("nothing left to train" if saved["epoch"] >= settings.epochs
                else f"on to epoch {settings.epochs}")
        return (f"Continuing the run saved in {folder}{os.sep} from epoch {saved['epoch']} "
                f"({left}; --fresh starts it over)")
    line = f"New run, saving in {folder}{os.sep}"
    if settings.fresh:
        line = f"Starting over (--fresh), saving in {folder}{os.sep}"
    if aside:
        line += f" (the run saved there before is now in {aside}{os.sep})"
    others = other_runs(settings)
    if others:
        line += f"; {settings.checkpoint_dir}{os.sep} keeps {others}"
    return line


# --- Compare runs: --runs, and the lines that tell two runs apart -------------------------

def differences(saved, settings):
    """([--option value or block edit per setting], [per function or constant that differs,
    its lines that do, as a diff marks them]): what makes the saved run not these settings'."""
    mine, theirs = learning_settings(settings), saved["settings"]
    options = []
    for name in [*mine, *(name for name in theirs if name not in mine)]:
        if name not in theirs:
            options.append(f"without {name} in the settings block")
        elif name not in mine:
            options.append(f"{name} = {theirs[name]!r} in the settings block")
        elif mine[name] != theirs[name]:
            options.append(f"--{name.lower().replace('_', '-')} {theirs[name]}")
    code, their_code = learning_code(), saved["code"]
    now, then = learning_code(lines=True), saved.get("lines", {})
    edits = []
    for name in sorted(name for name in {*code, *their_code}
                       if code.get(name) != their_code.get(name)):
        edits.append(f"{name} as you had it then")  # (a record from before the lines were kept)
        if name in then:
            edits[-1] = f"{name}: {changed_lines(now.get(name, ''), then[name])}"
    return options, edits


def changed_lines(now, then, shown=2):
    """Where the code `then` differs from `now`, as a diff says it: '- ' a line only now has,
    '+ ' one only then had; the first `shown`, each cut to its change, and how many more."""
    lines = [line for line in difflib.unified_diff(now.splitlines(), then.splitlines(),
                                                   lineterm="", n=0)
             if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    words = []
    for line in lines[:shown]:
        pairs = [kept[1:].strip() for kept in lines if kept[0] != line[0]]  # the other side's
        pair = pairs[0] if pairs else ""
        words.append(f"{line[0]} {around_change(line[1:].strip(), pair)}")
    if len(lines) > shown:
        words.append(f"and {len(lines) - shown} more")
    return " ".join(words)


def around_change(line, other, room=80):
    """line, if longer than room, cut to the room characters around where it leaves other."""
    if len(line) <= room:
        return line
    start = next((i for i, (a, b) in enumerate(zip(line, other)) if a != b), len(other))
    begin = max(0, min(start - 20, len(line) - room))
    cut = line[begin:begin + room]
    if begin:
        cut = "..." + cut
    if begin + room < len(line):
        cut += "..."
    return cut


def in_words(options, edits):
    """differences() as one phrase: '--learning-rate 0.01, build_model(): + ...'."""
    if options:
        edits = [" ".join(options), *edits]
    return ", ".join(edits)


def kept_runs(settings):
    """[(name, record, last grading, what is wrong)] per folder in CHECKPOINT_DIR, best first."""
    runs, names = [], []
    with contextlib.suppress(OSError):  # none, if CHECKPOINT_DIR cannot be listed
        names = os.listdir(settings.checkpoint_dir)
    for name in names:
        folder = os.path.join(settings.checkpoint_dir, name)
        if name.startswith(".") or not os.path.isdir(folder):
            continue
        saved, grading, problem = None, None, f"{folder}{os.sep} is not a folder this script made"
        if name.startswith("run-"):
            problem = f"{folder}{os.sep} holds no save yet (training, or stopped early)"
            try:
                saved = read_record(folder)
            except SettingError as error:
                problem = str(error).removesuffix(f"; {FRESH}.").rstrip(".")
        if saved:
            watched = [kept for kept in saved["gradings"] if kept[1] == "validation"]
            watched = watched or saved["gradings"]  # validation strings, if it watched some
            if watched:
                grading = watched[-1]
            problem = ""
        rank = (0, grading[2] / grading[3]) if grading else (1 if saved else 2, 0)
        runs.append((rank, name, saved, grading, problem))
    return [run[1:] for run in sorted(runs)]


def other_runs(settings):
    """The other runs saved in CHECKPOINT_DIR, nearest first: what differs, and their epochs."""
    runs, own = [], os.path.basename(run_folder(settings))
    for name, saved, _, _ in kept_runs(settings):
        if saved and name != own:
            options, edited = differences(saved, settings)
            runs.append((len(options) + len(edited), in_words(options, edited), saved["epoch"]))
    runs.sort()  # fewest differences first
    listed = "; ".join(f"{words} (epoch {epoch})" for _, words, epoch in runs[:3])
    more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
    return f"{len(runs)} other run{'s' if len(runs) > 1 else ''}: {listed}{more}" if runs else ""


def list_runs(settings):
    """--runs: a row per folder in CHECKPOINT_DIR, best first, with what differs from now."""
    with one_sentence(settings.checkpoint_dir), contextlib.suppress(FileNotFoundError):
        os.listdir(settings.checkpoint_dir)  # one it cannot list is said, not "no runs"
    where, runs = f"{settings.checkpoint_dir}{os.sep}", kept_runs(settings)
    if not runs:
        print(f"No runs are kept in {where} yet: each run of this script saves in a folder there.")
        return
    own = os.path.basename(run_folder(settings))
    rows = [("", "epoch", "error", "wrong", "training", "folder", "what differs from now")]
    for place, (name, saved, grading, problem) in enumerate(runs, 1):
        if problem:
            rows.append(("-", "-", "-", "-", "-", name, problem))
            continue
        error = wrong = "-"
        if grading:
            epoch, strings, wrong, of = grading
            error = f"{100 * wrong / of:.3f}%"
            wrong = f"{wrong:,} of {of:,} {strings}"
            if epoch != saved["epoch"]:  # (a run stopped between two gradings)
                wrong += f" at epoch {epoch}"
        words = in_words(*differences(saved, settings)) if name != own else (
            "nothing: these settings and this code")
        rows.append((str(place), str(saved["epoch"]), error, wrong,
                     duration(saved["training_seconds"]), name, words))
    print(f"Runs kept in {where}, best first (by the error at each one's last grading):")
    widths = [max(len(row[column]) for row in rows) for column in range(6)]
    for row in rows:  # numbers to the right, the folder to the left, then what differs
        shown = [text.rjust(width) for text, width in zip(row[:5], widths)]
        print("  ".join([*shown, row[5].ljust(widths[5]), row[6]]))


def placing(settings, folder):
    """After a finished run: one line saying where it stands among the runs kept beside it."""
    where = f"{settings.checkpoint_dir}{os.sep}"
    runs = [name for name, saved, _, _ in kept_runs(settings) if saved]
    if len(runs) == 1:
        return f"The first run kept in {where}; once there are more, --runs compares them."
    if os.path.basename(folder) not in runs:  # (its record was moved away meanwhile)
        return f"--runs lists the runs kept in {where}."
    place = runs.index(os.path.basename(folder)) + 1
    return (f"Number {place} of the {len(runs)} runs kept in {where} by the error at their "
            "last grading; --runs lists them.")


# --- Ctrl-C and logging ----------------------------------------------------------------------

def complain(text):
    """Say text on stderr, in the script's one line (on stdout if it is closed, or nowhere)."""
    with contextlib.suppress(OSError):
        print(f"count_ones_lstm.py: {text}", file=sys.stderr, flush=True)


def reason(problem):
    """The short cause of a fault in the system's own words: 'No space left on device'."""
    text = getattr(problem, "strerror", None) or getattr(problem, "message", None)
    if not text:  # one of this script's own ValueErrors, or another's kind and words
        text = f"{type(problem).__name__}: {problem}"
        if type(problem) is ValueError:
            text = str(problem)
    return text.strip().split("; ")[-1].split("\n")[0]


# The signals that stop a run, where the system has them: the words for each, and the status
# the run then exits with (128 + the signal's number on Unix; Windows's Ctrl-Break as Ctrl-C).
STOPS = {getattr(signal, name): (words, status) for name, words, status in (
    ("SIGINT", "Ctrl-C", 130), ("SIGBREAK", "Ctrl-Break", 130), ("SIGTERM", "SIGTERM", 143),
    ("SIGHUP", "SIGHUP (its terminal closed)", 129), ("SIGQUIT", "SIGQUIT", 131))
    if hasattr(signal, name)}


class CtrlC:
    """The stop signals (STOPS) from main()'s start to its end. Outside training the first ends
    the run at once (nothing is half-written then); during it (`with ctrl_c:`) the first, or
    press(why), stops training after the epoch, which is saved. Any later one changes nothing
    (in TensorFlow, it could abort): the run's last sentence and status are the first's."""

    pressed, status, training = None, 1, False  # status: the signal's, or 1 for press(why)

    def __init__(self):
        self.previous = {number: signal.signal(number, self.press) for number in STOPS}

    def press(self, signum, frame=None):  # a signal's number, or why it stops
        if self.pressed:
            return
        self.pressed, self.status = STOPS.get(signum, (signum, 1))
        if signum in STOPS and not self.training:
            raise KeyboardInterrupt(self.pressed, self.status)
        complain(f"{self.pressed}: stopping after this epoch, which is then saved.")

    def __enter__(self):
        self.training = True
        return self

    def __exit__(self, *exc):
        self.training = False

    def close(self):  # at main()'s end: the handlers it found
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def stopped_by(problem, folder):
    """Say in one sentence what stopped a run outside training and what is kept; return the
    exit status. A reader of the output that went away (`... | head`) stops it quietly, 0."""
    if isinstance(problem, KeyboardInterrupt):  # a stop signal's words and status, or Python's
        words, status = problem.args or ("Ctrl-C", 130)
    elif isinstance(problem, BrokenPipeError) or (  # Windows says EINVAL, naming no file
            problem.errno == errno.EINVAL and problem.filename is None):
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    else:
        words, status = f"its output failing ({reason(problem)})", 1  # stdout on a full disk
        if problem.filename:
            words = f"{problem.filename} failing ({reason(problem)})"
    kept = f"; {what_is_kept(folder)}" if folder else ""
    complain(f"stopped by {words}{kept}.")
    return status


class Scalars:
    """A run's numbers: its gradings [epoch, strings, wrong, of] (its record's too), and given a
    folder, all of them for TensorBoard; a write that fails stops the logging, not the run."""

    def __init__(self, folder, graph=None, settings=None, first_epoch=1, saved=None):
        self.gradings, self.file = [], None
        if saved:  # the record of the run it continues
            self.gradings = saved["gradings"]
        self.path = None  # no folder: nothing is written, the gradings are kept
        if folder:
            # to the microsecond: a run continued within the second keeps the earlier file
            self.path = os.path.join(folder, f"events.out.tfevents.{time.time():.6f}.py")
        self.write(file_version="brain.Event:2")
        if graph:
            self.write(graph_def=graph.as_graph_def().SerializeToString())
            self.write(step=first_epoch, session_log=tf1.SessionLog(status=tf1.SessionLog.START))
        if settings and folder:
            from tensorboard.plugins.hparams.summary_v2 import hparams_pb
            self.write(summary=tf1.Summary.FromString(hparams_pb({
                name.upper(): value for name, value in vars(settings).items()
                if name not in OWN_OPTIONS}).SerializeToString()))

    def write(self, close=False, **event):
        try:
            if self.file and not os.path.exists(self.path):
                raise FileNotFoundError(errno.ENOENT, "its folder was removed")
            if self.path:
                self.file = self.file or tf.io.TFRecordWriter(self.path)
                if event:
                    self.file.write(tf1.Event(wall_time=time.time(), **event).SerializeToString())
                if close:
                    self.file.close()
                else:
                    self.file.flush()
        except (OSError, tf.errors.OpError) as problem:
            complain(f"TensorBoard's log {self.path} cannot be written ({reason(problem)}); "
                     "logging stops here, the run goes on.")
            self.path = self.file = None

    def graded(self, epoch, strings, wrong, of):
        """A grading: `wrong` of the `of` test or validation strings (`strings`)."""
        self.gradings = [kept for kept in self.gradings if kept[:2] != [epoch, strings]]
        self.gradings.append([epoch, strings, wrong, of])
        self.add(epoch, **{f"{strings}_error": 100 * wrong / of})

    def add(self, epoch, **values):
        self.write(step=epoch, summary=tf1.Summary(value=[
            tf1.Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()]))


def log_folder(settings):
    """LOG_DIR/<options that make these settings from the block's>-<run digits>, made if need
    be; "" if LOG_DIR is empty (no logs)."""
    if not settings.log_dir:
        return ""
    block = learning_settings(parse_settings([]))
    changed = [f"{name.lower().replace('_', '-')}={value}"
               for name, value in learning_settings(settings).items() if value != block.get(name)]
    name = re.sub(r"[^\w.=,+-]+", "_", ",".join(changed))[:80] or "defaults"
    folder = os.path.join(settings.log_dir, f"{name}-{os.path.basename(run_folder(settings))[4:]}")
    with one_sentence(folder):
        os.makedirs(folder, exist_ok=True)
    return folder


def duration(seconds):
    """A short human reading of a time span: '42s', '3m05s', '1h02m'."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    if minutes:
        return f"{minutes}m{seconds:02d}s"
    return f"{seconds}s"


def curve(points, height=6, width=50):
    """A plain-text chart of (epoch, error in %) points on a log scale (0% at the bottom)."""
    epochs, errors = np.array(points, dtype=np.float64).T
    logs = np.log10(np.maximum(errors, min(errors[errors > 0], default=1) / 2))
    top, bottom = logs.max(), min(logs.min(), logs.max() - 1e-6)
    rows = np.round((top - logs) / (top - bottom) * (height - 1)).astype(int)
    grid = [[" "] * width for _ in range(height)]
    for row, epoch in zip(rows, epochs):
        grid[row][int(round(epoch / epochs.max() * (width - 1)))] = "*"
    return ([f"{10 ** (top - (top - bottom) * row / (height - 1)):9.3f}% |{''.join(line)}"
             for row, line in enumerate(grid)]
            + [f"{'':11}+{'-' * width}", f"{'':11}epoch 0{epochs.max():{width - 6}.0f}"])


# --- Systems: what this machine can take -----------------------------------------------------

MAX_CELL_COPIES = 1000  # cell steps one graph may hold: about a minute of building here
GATES = {"lstm": 4, "handwired": 4, "gru": 3, "rnn": 1}  # weight blocks in each cell kind


def memory_of_machine():
    """Bytes of memory this process may use (the machine's, or its container's), or None."""
    try:  # Linux, macOS
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows fills in a MEMORYSTATUSEX: 64
        import ctypes  # bytes that start with their own size; bytes 8 to 15 hold the total
        status = (ctypes.c_uint64 * 8)(64)
        total = None
        if hasattr(ctypes, "windll") and ctypes.windll.kernel32.GlobalMemoryStatusEx(status):
            total = status[1]
    with contextlib.suppress(OSError, ValueError):  # "max" when there is no limit
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as limit:
            total = min(total or 2**63, int(limit.read()))
    return total


def check_machine_limits(settings):
    """SettingError, naming the limit, for settings that would take the machine down."""
    copies = settings.towers * settings.num_layers
    product = f"TOWERS {settings.towers} x NUM_LAYERS {settings.num_layers}"
    gradients = 2  # per weight, besides Adam's two moments: dynamic_rnn's loop keeps one
    if settings.unroll == "static":  # a cell copy per bit, a gradient per copy
        copies *= settings.seq_len
        product += f" x SEQ_LEN {settings.seq_len} (UNROLL 'static')"
        gradients = settings.towers * settings.seq_len
    if copies > MAX_CELL_COPIES:
        raise SettingError(f"{product} is {copies:,} copies of the cell in one graph, more than "
                           f"the {MAX_CELL_COPIES:,} this script builds (about a minute); use "
                           "fewer.")
    hidden, gates = settings.num_hidden, GATES[settings.cell]
    weights = sum((inputs + hidden + 1) * gates * hidden  # each layer's kernel and bias
                  for inputs in [1] + [hidden] * (settings.num_layers - 1))
    kept = 4 * settings.num_layers * (gates + 3) * hidden  # bytes per string and bit: gates, state
    batch, grading = kept * settings.batch_size * settings.seq_len, kept * 2 * settings.eval_batch
    needed, available = max(4 * weights * (3 + gradients) + batch, grading), memory_of_machine()
    if available and needed > available:
        advice = "a smaller EVAL_BATCH" if grading == needed else "fewer units"
        if grading != needed and 2 * batch > needed:
            advice = "a smaller BATCH_SIZE"
        raise SettingError(
            f"NUM_HIDDEN {hidden} with NUM_LAYERS {settings.num_layers} makes {weights:,} "
            f"weights, which would take about {needed / 2**30:,.0f} GiB of memory to train "
            f"and grade, more than the {available / 2**30:.0f} GiB this machine has; use "
            f"{advice}.")


if __name__ == "__main__":
    status = main()
    for number in STOPS:  # it has ended and said how: a late signal cannot change that
        signal.signal(number, signal.SIG_IGN)
    sys.exit(status)
