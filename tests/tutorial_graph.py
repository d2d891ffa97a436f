"""The tutorial's graph ported line for line, as the yardstick for count_ones_lstm.py.

The benchmark times the script's training step against this one, and the equivalence test
checks that both learn the same from the same start. Nothing here is tuned for speed: it is
what a reader gets by fixing only the names that moved (tf.compat.v1, tf-keras's cells).
"""

from types import SimpleNamespace

import count_ones_lstm  # sets TF_USE_LEGACY_KERAS before TensorFlow loads
import tensorflow as tf

tf1 = tf.compat.v1


def build_tutorial_graph(seq_len=20, num_hidden=24, seed=0):
    num_classes = seq_len + 1
    graph = tf.Graph()
    with graph.as_default():
        tf1.set_random_seed(seed)
        data = tf1.placeholder(tf.float32, [None, seq_len, 1])
        target = tf1.placeholder(tf.float32, [None, num_classes])
        cell = tf1.nn.rnn_cell.LSTMCell(num_hidden, state_is_tuple=True,
                                        initializer=tf1.glorot_uniform_initializer())
        val, _ = tf1.nn.dynamic_rnn(cell, data, dtype=tf.float32)
        val = tf.transpose(val, [1, 0, 2])
        last = tf.gather(val, int(val.get_shape()[0]) - 1)
        weight = tf.Variable(tf1.truncated_normal([num_hidden, num_classes]))
        bias = tf.Variable(tf.constant(0.1, shape=[num_classes]))
        prediction = tf.nn.softmax(tf.matmul(last, weight) + bias)
        loss = -tf.reduce_sum(target * tf1.log(tf.clip_by_value(prediction, 1e-10, 1.0)))
        minimize = tf1.train.AdamOptimizer().minimize(loss)
        mistakes = tf.not_equal(tf.argmax(target, 1), tf.argmax(prediction, 1))
        num_wrong = tf.reduce_sum(tf.cast(mistakes, tf.int64))
        init = tf1.global_variables_initializer()
        trainable = tf1.trainable_variables()  # kernel, bias of the cell; weight, bias
    return SimpleNamespace(graph=graph, seq_len=seq_len, data=data, target=target,
                           prediction=prediction,
                           loss=loss, minimize=minimize, num_wrong=num_wrong, init=init,
                           trainable=trainable)


def train_epoch(session, model, numbers, batch_size):
    """The tutorial's training loop: for each batch in order, its bits and labels fed to one
    session.run of an Adam step. Returns each batch's loss and number of wrongly counted
    strings, both measured just before its step."""
    losses, wrong = [], []
    for start in range(0, len(numbers), batch_size):
        bits, labels = count_ones_lstm.widen(numbers[start:start + batch_size], model.seq_len)
        _, loss, batch_wrong = session.run([model.minimize, model.loss, model.num_wrong],
                                           {model.data: bits, model.target: labels})
        losses.append(loss)
        wrong.append(batch_wrong)
    return losses, wrong


def copy_weights(source_session, source_model, target_session, target_model):
    """Give the target graph the source's trainable values: cell kernel and bias, weight, bias."""
    values = source_session.run(source_model.trainable)
    with target_model.graph.as_default():
        for variable, value in zip(target_model.trainable, values, strict=True):
            assert variable.shape == value.shape, (variable, value.shape)
            variable.load(value, target_session)
