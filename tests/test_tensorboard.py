"""Issue 21: every run its own curve in TensorBoard, the tutorial's names in its graph, the
settings beside the results, and the curve at the end of a run in the terminal. Read back
with TensorBoard's own event reader, and once through its real server."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
from tensorboard.plugins.hparams import plugin_data_pb2

import count_ones_lstm as col
from conftest import TINY, TINY_FAST

NAMES = ["model/data", "model/target", "model/weight", "model/bias", "model/prediction",
         "cross_entropy", "minimize", "mistakes", "error"]  # the tutorial's, in its graph


def read_logs(directory):
    """TensorBoard's reader over every run in directory: (multiplexer, sorted run names)."""
    logs = EventMultiplexer()
    logs.AddRunsFromDirectory(str(directory))
    logs.Reload()
    return logs, sorted(logs.Runs())


def steps(logs, run, tag):
    return [event.step for event in logs.Scalars(run, tag)]


def hparams(logs, run):
    [content] = logs.PluginRunToTagToContent("hparams")[run].values()
    start = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in
            start.hparams.items()}


def test_two_runs_into_one_log_dir_are_two_curves_with_their_settings(tmp_path, capsys):
    where = ["--log-dir", str(tmp_path / "logs"), "--checkpoint-dir", str(tmp_path / "saved")]
    assert col.main(TINY_FAST + where + ["--epochs", "4", "--validation-examples", "5"]) == 0
    assert col.main(TINY_FAST + where + ["--epochs", "4", "--learning-rate", "0.01"]) == 0
    capsys.readouterr()
    logs, runs = read_logs(tmp_path / "logs")
    assert [run.rsplit("-", 1)[0] for run in runs] == [  # TINY_FAST, against the settings block
        "seq-len=6,num-examples=40,batch-size=10,learning-rate=0.01",
        "seq-len=6,num-examples=40,validation-examples=5,batch-size=10"]
    assert {run.rsplit("-", 1)[1] for run in runs} == {  # the run folders' digits
        path.name[4:] for path in (tmp_path / "saved").iterdir()}
    tuned, watched = runs
    for run in runs:
        assert steps(logs, run, "loss") == steps(logs, run, "train_error") == [1, 2, 3, 4]
        assert steps(logs, run, "test_error") == ([2, 4] if run == tuned else [4])
        assert steps(logs, run, "training_seconds") == [4]
        losses = [event.value for event in logs.Scalars(run, "loss")]
        assert losses[-1] < losses[0]
    assert steps(logs, watched, "validation_error") == [2, 4]  # every EVAL_EVERY epochs
    assert hparams(logs, tuned)["LEARNING_RATE"] == pytest.approx(0.01)
    assert hparams(logs, watched)["LEARNING_RATE"] == pytest.approx(0.001)
    assert hparams(logs, watched)["VALIDATION_EXAMPLES"] == 5
    assert hparams(logs, watched)["CELL"] == "lstm"
    assert len(hparams(logs, watched)) == len(col.read_settings_block())

    nodes = [node.name for node in logs.Graph(tuned).node]
    assert set(NAMES) <= set(nodes)
    groups = {name.split("/")[0] for name in nodes}
    assert {"model", "grading", "checks", "save", "gradients"} <= groups
    assert len(groups) < 30  # was 69: IsFinite, All_14, Const_13, ...


def test_a_continued_run_adds_to_its_own_curve_and_fresh_starts_it_again(tmp_path, capsys):
    where = ["--log-dir", str(tmp_path / "logs"), "--checkpoint-dir", str(tmp_path / "saved")]
    assert col.main(TINY + where + ["--epochs", "3"]) == 0
    assert col.main(TINY + where + ["--epochs", "5"]) == 0  # as after Ctrl-C: it continues
    logs, [run] = read_logs(tmp_path / "logs")
    assert steps(logs, run, "loss") == [1, 2, 3, 4, 5]
    first = [event.value for event in logs.Scalars(run, "loss")]
    assert col.main(TINY + where + ["--epochs", "2", "--fresh"]) == 0
    capsys.readouterr()
    logs, [again] = read_logs(tmp_path / "logs")
    assert again == run and steps(logs, run, "loss") == [1, 2]  # the old points are dropped
    assert [event.value for event in logs.Scalars(run, "loss")] == first[:2]  # same seed


def test_a_run_ends_with_its_curve_above_the_tables(capsys):
    assert col.main(TINY + ["--epochs", "8", "--checkpoint-dir="]) == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("Error at each grading, log scale:")
    chart = lines[start + 1:lines.index("Test strings by their true count of ones:")]
    rows = [line for line in chart if "% |" in line]
    assert len(rows) >= 4 and sum(row.count("*") for row in rows) == 4  # epochs 2, 4, 6, 8
    assert chart[-1].startswith("Epoch 8 error ")
    assert col.curve([(1, 0.0), (2, 0.0)])  # nothing wrong at all: still a chart


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_tensorboards_own_server_serves_the_runs_scalars(tmp_path, capsys):
    assert col.main(TINY + ["--epochs", "3", "--checkpoint-dir=", "--log-dir",
                            str(tmp_path)]) == 0
    capsys.readouterr()
    logs, [run] = read_logs(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path), "--host",
         "127.0.0.1", "--port", str(port), "--load_fast=false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        address = (f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run="
                   f"{urllib.request.quote(run)}&tag=loss")
        for _ in range(120):
            try:
                with urllib.request.urlopen(address, timeout=5) as answer:
                    served = json.load(answer)
                if served:
                    break
            except OSError:  # not listening yet, or not read the logs yet
                pass
            time.sleep(0.5)
        assert [[step, value] for _, step, value in served] == [
            [event.step, pytest.approx(event.value)] for event in logs.Scalars(run, "loss")]
        asked = urllib.request.Request(  # what the HParams tab asks for: settings and results
            f"http://127.0.0.1:{port}/data/plugin/hparams/experiment",
            data=b'{"experimentName": ""}', headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(asked, timeout=30) as answer:
            experiment = json.load(answer)
        assert {info["name"] for info in experiment["hparamInfos"]} >= {"LEARNING_RATE", "CELL"}
        assert {"test_error", "training_seconds"} <= {
            info["name"]["tag"] for info in experiment["metricInfos"]}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_inspect_with_a_log_dir_draws_the_cells_state_and_the_counting_units(tmp_path, capsys):
    where = ["--checkpoint-dir", str(tmp_path / "saved"), "--log-dir", str(tmp_path / "logs")]
    assert col.main(TINY + where + ["--epochs", "3"]) == 0
    assert col.main(TINY + where + ["--inspect", "011011", "111000"]) == 0
    capsys.readouterr()
    logs, [run] = read_logs(tmp_path / "logs")
    tags = logs.Runs()[run]
    assert sorted(tags["images"]) == ["inspect 011011/c1", "inspect 011011/h1",
                                      "inspect 111000/c1", "inspect 111000/h1"]
    [picture] = logs.Images(run, "inspect 011011/c1")
    assert (picture.height, picture.width) == (24 * 8, 6 * 8)  # a row per unit, a column per bit
    assert picture.encoded_image_string.startswith(b"\x89PNG")
    ones = [event.value for event in logs.Scalars(run, "inspect 111000/ones")]
    assert ones == [1, 2, 3, 3, 3, 3]
    units = [tag for tag in tags["scalars"] if tag.startswith("inspect 111000/c1[")]
    assert len(units) == 1 and steps(logs, run, units[0]) == [1, 2, 3, 4, 5, 6]
    assert steps(logs, run, "loss") == [1, 2, 3]  # the run's own curve, beside them


# The variables a save holds, by name (as in one saved by the default run at commit 2381578):
# TensorBoard's names for the graph's parts changed around them, never theirs.
SAVED_BEFORE = ["beta1_power", "beta2_power", "model/bias", "model/bias/Adam",
                "model/bias/Adam_1", "model/rnn/lstm_cell/bias", "model/rnn/lstm_cell/bias/Adam",
                "model/rnn/lstm_cell/bias/Adam_1", "model/rnn/lstm_cell/kernel",
                "model/rnn/lstm_cell/kernel/Adam", "model/rnn/lstm_cell/kernel/Adam_1",
                "model/weight", "model/weight/Adam", "model/weight/Adam_1"]


@pytest.mark.parametrize("changes", [{}, {"unroll": "dynamic", "towers": 1,
                                          "grading": "batches"}])
def test_a_save_keeps_its_names_and_loads_at_every_speed_setting(changes, tmp_path):
    # UNROLL, TOWERS and GRADING may change between two parts of one run: a
    # save of the plain graph, trained a step, loads into each, every variable as it was.
    plain = col.build_graph(seq_len=6, num_hidden=5, unroll="dynamic", towers=1,
                            grading="batches")
    net = col.build_graph(seq_len=6, num_hidden=5, **changes)
    for graph in (plain, net):
        names = sorted(variable.op.name for variable in graph.graph.get_collection("variables"))
        assert names == SAVED_BEFORE
    with col.new_session(plain) as session:
        inputs = col.bits_and_labels(col.all_strings(6, seed=0)[:20], 6)
        col.train_epoch(session, plain, inputs, 10)
        prefix = plain.saver.save(session, str(tmp_path / "model"), global_step=1,
                                  write_meta_graph=False, write_state=False)
        saved = {variable.op.name: value for variable, value in zip(
            plain.graph.get_collection("variables"),
            session.run(plain.graph.get_collection("variables")))}
    with col.tf1.Session(graph=net.graph) as session:
        net.saver.restore(session, prefix)
        variables = net.graph.get_collection("variables")
        for variable, value in zip(variables, session.run(variables), strict=True):
            assert np.array_equal(value, saved[variable.op.name]), variable.op.name
    assert saved["beta1_power"] != np.float32(1.0)  # Adam stepped: its state is in the save
