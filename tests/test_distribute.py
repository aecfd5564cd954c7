"""tf.distribute: RBM and DBN training under MirroredStrategy and MultiWorkerMirroredStrategy.

TensorFlow's devices must be configured before it starts, so the distributed runs
happen in fresh interpreters running this file as a script (``python
test_distribute.py mirrored OUT`` or ``... worker INDEX PORTS OUT``); the tests
compare the arrays they save. The negative phase is mean-field (no sampling
noise), so a distributed step and a single-device step on the same global batch
must give the same weights up to float rounding.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

N_FEATURES = 64


# ------------------------------------------------------------ distributed side
def _data():
    from sklearn.datasets import load_digits

    return (load_digits().data[:128] / 16.0).astype("float32")


def _kernel_initializer():
    import keras

    return keras.initializers.RandomNormal(stddev=0.1, seed=1)


def _weights(model):
    """Weights by path inside the model (e.g. ``rbm_0/kernel``)."""
    return {v.path.split("/", 1)[1]: np.asarray(v.numpy()) for v in model.weights}


def _rbm(strategy, **kwargs):
    """A mean-field RBM built and compiled in ``strategy``'s scope."""
    import keras

    from keras_dbn import RBM

    with strategy.scope():
        rbm = RBM(
            16,
            negative_phase="mean_field",
            kernel_initializer=_kernel_initializer(),
            seed=0,
            **kwargs,
        )
        rbm.build((None, N_FEATURES))
        rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
    return rbm


def _start_chains(strategy, rbm, starts):
    """Sets each replica's persistent chains to its own slice ``starts[replica]``."""
    import tensorflow as tf

    @tf.function
    def start_chains():
        def assign():
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            rbm.persistent_chains.assign(tf.gather(starts, replica))

        strategy.run(assign)

    start_chains()


def _dbn_run(strategy, x, y):
    """Greedy pretraining then fine-tuning of a DBN 64-32-16-10 (mean-field CD)."""
    import keras
    import tensorflow as tf

    from keras_dbn import DBN

    with strategy.scope():
        dbn = DBN([32, 16], output_units=10, seed=0)
        dbn.build((None, N_FEATURES))
        for rbm in (
            dbn.rbms + dbn.generative
        ):  # DBN has no negative_phase option: set it on each RBM
            rbm.negative_phase = "mean_field"
        keras.utils.set_random_seed(2)  # the same initial weights under both strategies
        generative = [
            v for rbm in dbn.generative for v in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias)
        ]
        for variable in dbn.trainable_weights + generative:
            variable.assign(keras.random.normal(variable.shape, stddev=0.1, seed=3))
        dbn.compile(keras.optimizers.SGD(0.5, momentum=0.9), "sparse_categorical_crossentropy")
    batches = tf.data.Dataset.from_tensor_slices(x).batch(32)  # the same batches in the same order
    dbn.pretrain(batches, epochs=1, optimizer=keras.optimizers.SGD(0.1), verbose=0)
    pretrained = _weights(dbn)
    dbn.fit(x, y, epochs=2, batch_size=32, shuffle=False, verbose=0)
    return pretrained, _weights(dbn)


def mirrored_checks(out):
    """Runs each check on one device and under a 2-replica MirroredStrategy; saves the arrays."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras

    from keras_dbn import RBM

    x = _data()
    y = (np.arange(len(x)) % 10).astype("int32")
    strategies = {
        "single": tf.distribute.get_strategy(),
        "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
    }
    results = {}
    for name, strategy in strategies.items():
        # CD: one step on a global batch of 32, then three more (momentum at work).
        rbm = _rbm(strategy)
        results[f"{name}/cd/initial"] = _weights(rbm)
        rbm.fit(x[:32], epochs=1, batch_size=32, verbose=0)
        results[f"{name}/cd/step1"] = _weights(rbm)
        rbm.fit(x[32:], epochs=1, batch_size=32, shuffle=False, verbose=0)
        results[f"{name}/cd/step4"] = _weights(rbm)

        # PCD: 8 chains per replica, started at different examples on each replica;
        # on one device, 16 chains started at the same 16 examples.
        replicas = strategy.num_replicas_in_sync
        rbm = _rbm(strategy, persistent=True, num_chains=16 // replicas)
        starts = tf.constant(x[-16:].reshape(replicas, 16 // replicas, N_FEATURES))
        _start_chains(strategy, rbm, starts)
        # A first fit starts the chains at training examples: mark the RBM as trained
        # (SGD's update does not depend on the step count) to keep these starts.
        rbm.optimizer.iterations.assign(1)
        rbm.fit(x[:64], epochs=1, batch_size=32, shuffle=False, verbose=0)
        weights = _weights(rbm)
        del weights["persistent_chains"]
        results[f"{name}/pcd/weights"] = weights
        chains = strategy.experimental_local_results(rbm.persistent_chains.value)
        results[f"{name}/pcd/chains"] = {"all": np.concatenate([c.numpy() for c in chains])}

        results[f"{name}/dbn/pretrained"], results[f"{name}/dbn/fine_tuned"] = _dbn_run(
            strategy, x, y
        )

    # An RBM created and compiled in the strategy's scope but built by `fit` (from the data).
    for name, strategy in strategies.items():
        with strategy.scope():
            rbm = RBM(
                16, negative_phase="mean_field", kernel_initializer=_kernel_initializer(), seed=0
            )
            rbm.compile(keras.optimizers.SGD(0.1, momentum=0.9))
        try:
            rbm.fit(x, epochs=1, batch_size=32, shuffle=False, verbose=0)
            results[f"{name}/lazy"] = _weights(rbm)
        except Exception as error:  # reported by the test
            results[f"{name}/lazy"] = {"error": np.array(f"{type(error).__name__}: {error}"[:2000])}

    # Gibbs-sampled PCD: does each replica run chains of its own?
    keras.utils.set_random_seed(0)
    strategy = strategies["mirrored"]
    with strategy.scope():
        rbm = RBM(16, persistent=True, num_chains=8, seed=0)
        rbm.build((None, N_FEATURES))
        rbm.compile(keras.optimizers.SGD(0.1))
    rbm.fit(x, epochs=2, batch_size=32, verbose=0)
    chains = strategy.experimental_local_results(rbm.persistent_chains.value)
    results["mirrored/gibbs_pcd/chains"] = {str(i): c.numpy() for i, c in enumerate(chains)}
    np.savez(
        out,
        **{
            f"{group}/{key}": value
            for group, arrays in results.items()
            for key, value in arrays.items()
        },
    )


def multi_worker(index, ports, out):
    """One worker of a two-worker MultiWorkerMirroredStrategy cluster on localhost.

    Keras 3.15's ``fit`` fails under MultiWorkerMirroredStrategy for every model (it
    reduces scalar logs along axis 0: tensorflow/tensorflow#72388), so the worker
    runs the RBM's own ``train_step`` in a distributed loop.
    """
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"localhost:{port}" for port in ports]},
            "task": {"type": "worker", "index": index},
        }
    )
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    rbm = _rbm(strategy)
    with strategy.scope():
        rbm.optimizer.build(rbm.trainable_variables)
    # Every worker reads the same global batches of 32; tf.distribute gives each its half.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = tf.data.Dataset.from_tensor_slices(_data()).batch(32).with_options(options)
    batches = strategy.experimental_distribute_dataset(dataset)

    @tf.function
    def train_step(batch):
        logs = strategy.run(rbm.train_step, args=(batch,))
        return strategy.reduce("MEAN", logs["reconstruction_error"], axis=None)

    errors = [float(train_step(batch)) for _ in range(2) for batch in batches]
    assert all(np.isfinite(errors))
    np.savez(out, replicas=strategy.num_replicas_in_sync, steps=len(errors), **_weights(rbm))


# ----------------------------------------------------------------- the tests
def _run_script(*args):
    return subprocess.Popen(
        [sys.executable, __file__, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def _wait(process, timeout=300):
    try:
        output, _ = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:  # timed out, or this test failed: end our script
            process.kill()
            process.wait()
    assert process.returncode == 0, output[-3000:]


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirrored") / "results.npz"
    _wait(_run_script("mirrored", out))
    with np.load(out) as arrays:
        return dict(arrays)


def _group(results, prefix):
    return {
        key[len(prefix) + 1 :]: value
        for key, value in results.items()
        if key.startswith(prefix + "/")
    }


def _assert_same_weights(results, name, atol=1e-6):
    single, mirrored = _group(results, f"single/{name}"), _group(results, f"mirrored/{name}")
    assert sorted(single) == sorted(mirrored) and single
    for key in single:
        np.testing.assert_allclose(mirrored[key], single[key], atol=atol, err_msg=key)


def test_mirrored_rbm_step_matches_single_device_step(mirrored):
    """CD statistics are averaged over replicas: same update as one device on the global batch."""
    _assert_same_weights(mirrored, "cd/initial", atol=0)
    _assert_same_weights(mirrored, "cd/step1")
    _assert_same_weights(mirrored, "cd/step4")
    initial, step1 = _group(mirrored, "single/cd/initial"), _group(mirrored, "single/cd/step1")
    assert all(
        np.abs(step1[k] - initial[k]).max() > 1e-3 for k in initial
    )  # the step did move them


def test_mirrored_pcd_keeps_chains_per_replica(mirrored):
    """Replica r continues its own chains; together they act as one device's 16 chains."""
    _assert_same_weights(mirrored, "pcd/weights")
    _assert_same_weights(mirrored, "pcd/chains")


def test_mirrored_rbm_built_by_fit_trains_like_single_device(mirrored):
    """Variables created when `fit` builds the model belong to the model's strategy."""
    assert "mirrored/lazy/error" not in mirrored, str(mirrored.get("mirrored/lazy/error"))
    _assert_same_weights(mirrored, "lazy")


def test_mirrored_gibbs_pcd_chains_differ_between_replicas(mirrored):
    """With sampling, replicas draw their own noise: their chains are not copies of each other."""
    first, second = mirrored["mirrored/gibbs_pcd/chains/0"], mirrored["mirrored/gibbs_pcd/chains/1"]
    assert first.shape == second.shape == (8, N_FEATURES)
    assert np.mean(first != second) > 0.1


def test_mirrored_dbn_pretraining_and_fine_tuning_match_single_device(mirrored):
    _assert_same_weights(mirrored, "dbn/pretrained")
    _assert_same_weights(mirrored, "dbn/fine_tuned", atol=1e-5)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_workers_end_with_identical_weights(tmp_path):
    ports = ",".join(map(str, _free_ports(2)))
    workers = [_run_script("worker", i, ports, tmp_path / f"worker{i}.npz") for i in range(2)]
    try:
        for worker in workers:
            _wait(worker)
    finally:  # a worker whose peer failed would wait for it forever
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    first, second = (dict(np.load(tmp_path / f"worker{i}.npz")) for i in range(2))
    assert first["replicas"] == second["replicas"] == 2 and first["steps"] == 8
    assert sorted(first) == sorted(second)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    # And the same weights as one device fit on the same global batches.
    import tensorflow as tf

    rbm = _rbm(tf.distribute.get_strategy())
    rbm.fit(_data(), epochs=2, batch_size=32, shuffle=False, verbose=0)
    for key, value in _weights(rbm).items():
        np.testing.assert_allclose(first[key], value, atol=1e-6, err_msg=key)


if __name__ == "__main__":
    if sys.argv[1] == "mirrored":
        mirrored_checks(sys.argv[2])
    else:
        multi_worker(int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4])
