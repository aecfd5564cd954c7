"""The greedy layer-wise loop (`keras_dbn.pretraining`), on RBMs that belong to no DBN."""

import keras
import numpy as np
import pytest

from keras_dbn import RBM, pretraining


def _stack(x):
    rbms = [RBM(6, seed=0), RBM(4, seed=1)]
    rbms[1](rbms[0](x))
    return rbms


def _layer_input(rbms, x):
    """The upward means, as a DBN computes them; the calls are recorded."""
    calls = []

    def layer_input(i):
        calls.append(i)
        return x if i == 0 else rbms[i - 1].predict(layer_input(i - 1), verbose=0)

    return layer_input, calls


def test_each_rbm_fits_in_turn_on_the_input_it_is_given(capsys):
    x = (np.random.default_rng(0).random((60, 10)) < 0.5).astype("float32")
    rbms = _stack(x)
    layer_input, calls = _layer_input(rbms, x)
    optimizers = [keras.optimizers.SGD(0.1), keras.optimizers.Adam(1e-3)]
    histories = pretraining.pretrain_greedily(
        rbms, layer_input, [2, 3], optimizers, batch_size=20, verbose=1
    )
    assert [len(h.history["reconstruction_error"]) for h in histories] == [2, 3]
    assert [type(rbm.optimizer) for rbm in rbms] == [keras.optimizers.SGD, keras.optimizers.Adam]
    assert all(rbm.optimizer not in optimizers for rbm in rbms)  # copies
    assert calls[0] == 0 and 1 in calls
    printed = capsys.readouterr().out
    assert "Pretraining RBM 1/2: 6 hidden units" in printed
    assert "Pretraining RBM 2/2: 4 hidden units" in printed


def test_finished_layers_are_kept_and_skipped_with_a_backup(tmp_path):
    x = (np.random.default_rng(0).random((60, 10)) < 0.5).astype("float32")
    rbms = _stack(x)
    layer_input, _ = _layer_input(rbms, x)
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    pretraining.pretrain_greedily(
        rbms, layer_input, 1, [None, None], batch_size=20, callbacks=[backup], verbose=0
    )
    for rbm in rbms:
        assert (tmp_path / "backup" / rbm.name / "completed.weights.h5").exists()
    again = [RBM(6, seed=5), RBM(4, seed=6)]  # other weights, the same folders by name
    renamed = [
        RBM.from_config({**rbm.get_config(), "name": old.name}) for rbm, old in zip(again, rbms)
    ]
    renamed[1](renamed[0](x))
    layer_input, calls = _layer_input(renamed, x)
    histories = pretraining.pretrain_greedily(
        renamed,
        layer_input,
        1,
        None,
        batch_size=20,
        callbacks=[backup],
        verbose=0,
    )
    assert calls == []  # nothing computed: both layers restored
    assert [len(h.history["reconstruction_error"]) for h in histories] == [1, 1]
    for rbm, restored in zip(rbms, renamed):
        for a, b in zip(rbm.get_weights(), restored.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_per_layer_values_and_fresh_optimizers():
    assert pretraining.per_layer(3, 2, "epochs") == [3, 3]
    assert pretraining.per_layer([1, 2], 2, "epochs") == [1, 2]
    with pytest.raises(ValueError, match="`epochs` has 3 entries for 2 RBMs"):
        pretraining.per_layer([1, 2, 3], 2, "epochs")
    sgd = pretraining.fresh_optimizer(None)
    assert isinstance(sgd, keras.optimizers.SGD) and float(sgd.momentum) == 0.9
    assert isinstance(pretraining.fresh_optimizer("adam"), keras.optimizers.Adam)
    original = keras.optimizers.SGD(0.05, momentum=0.5, weight_decay=1e-3)
    original.exclude_from_weight_decay(var_names=["bias"])
    copy = pretraining.fresh_optimizer(original)
    assert copy is not original and copy.get_config() == original.get_config()
    rbm = RBM(3, seed=0)
    rbm.build((None, 4))
    assert not copy._use_weight_decay(rbm.hidden_bias) and copy._use_weight_decay(rbm.kernel)


@pytest.mark.parametrize("excluded", [[], ["bias"]])
def test_weight_decay_of_the_optimizer_applies_in_one_step(excluded):
    """One step of SGD(lr, weight_decay=wd): w1 = w0 - lr * (wd * w0 + g), so against the same
    step without decay each decayed variable moves by -lr * wd * w0 and the others not at all."""
    x = (np.random.default_rng(0).random((20, 10)) < 0.5).astype("float32")
    lr, wd, results = 0.1, 0.05, []
    for weight_decay in (None, wd):
        rbms, rng = _stack(x), np.random.default_rng(1)
        for variable in rbms[0].rule_variables():  # biases too: zeros would not show decay
            variable.assign(rng.normal(0, 0.5, variable.shape).astype("float32"))
        initial = [np.array(v) for v in rbms[0].rule_variables()]
        optimizer = keras.optimizers.SGD(lr, weight_decay=weight_decay)
        optimizer.exclude_from_weight_decay(var_names=excluded)
        pretraining.pretrain_greedily(
            rbms[:1], lambda i: x, epochs=1, optimizer=optimizer, batch_size=20, verbose=0
        )
        results.append([np.array(v) for v in rbms[0].rule_variables()])
    for plain, decayed, w0, variable in zip(*results, initial, rbms[0].rule_variables()):
        decays = not (excluded and "bias" in variable.name)
        np.testing.assert_allclose(
            decayed - plain, -lr * wd * w0 if decays else 0.0, atol=1e-6, err_msg=variable.name
        )
