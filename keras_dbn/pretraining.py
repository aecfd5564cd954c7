"""Greedy layer-wise pretraining: a stack's RBMs fit one after another, resumably.

`pretrain_greedily` knows nothing of the stack that owns the RBMs: the caller
says how to compute each layer's training data from the data and the layers
below it (`keras_dbn.DBN` passes the upward means).
"""

import json
import os
import shutil

import keras

from keras_dbn import validation

_COMPLETED = "completed.weights.h5"


def default_pretrain_optimizer():
    """SGD with momentum 0.9 and learning rate 0.1 (Hinton's guide, sections 4 and 9)."""
    return keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)


def per_layer(value, n, name):
    """``value`` per layer: a list or tuple of ``n`` entries as it is, anything else repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"`{name}` has {len(value)} entries for {n} RBMs.")
        return list(value)
    return [value] * n


def fresh_optimizer(optimizer, default=default_pretrain_optimizer):
    """A new, unbuilt optimizer configured as ``optimizer`` (an optimizer can only update the
    variables it was built for, so each model trained gets its own).

    ``optimizer`` is None (``default()``), a name or config, or an instance, copied
    with the settings its config omits: the variables excluded from weight decay
    (`keras.optimizers.Optimizer.exclude_from_weight_decay`).
    """
    if optimizer is None:
        return default()
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        return keras.optimizers.get(optimizer)
    copy = optimizer.__class__.from_config(optimizer.get_config())
    pattern = getattr(optimizer, "_exclude_from_weight_decay_pattern", None)
    copy.exclude_from_weight_decay(var_names=None if pattern is None else [pattern.pattern])
    copy._exclude_from_weight_decay = set(getattr(optimizer, "_exclude_from_weight_decay", ()))
    return copy


def pretrain_greedily(
    rbms,
    layer_input,
    epochs,
    optimizer=None,
    batch_size=None,
    callbacks=None,
    verbose="auto",
    balance_labels=None,
):
    """Fits each RBM in turn, bottom first, on the data that ``layer_input`` gives it.

    A `keras.callbacks.BackupAndRestore` among ``callbacks`` makes the loop
    resumable per layer: each RBM backs up under ``backup_dir/<rbm name>/``,
    finished layers are kept there (marked by ``completed.weights.h5``), and a
    restarted run skips them and resumes the interrupted layer at the epoch
    where it stopped. The backup folder is removed at the end (unless the
    callback has ``delete_checkpoint=False``).

    Args:
        rbms: the `RBM`s to train, in order, all built.
        layer_input: ``layer_input(i)`` returns RBM ``i``'s training data (an
            array or a dataset), computed once the RBMs before it are trained.
        epochs: epochs per RBM (an int, or one per RBM).
        optimizer: None (`default_pretrain_optimizer`), an optimizer (instance, name or
            config) copied for each RBM with all its settings (`fresh_optimizer`),
            or a list with one per RBM.
        batch_size: mini-batch size (None for datasets, which batch themselves).
        callbacks: Keras callbacks passed to each RBM's `fit`.
        verbose: Keras verbosity; a line per RBM announces it.
        balance_labels: optional classes, one per row of the (array) inputs:
            each RBM's batches then hold the classes in their shares
            (`keras_dbn.base.UnsupervisedModel.fit`).

    Returns:
        The list of `keras.callbacks.History` objects, one per RBM.
    """
    epochs = per_layer(epochs, len(rbms), "epochs")
    optimizers = [fresh_optimizer(o) for o in per_layer(optimizer, len(rbms), "optimizer")]
    callbacks = list(callbacks or [])
    backups = [c for c in callbacks if isinstance(c, keras.callbacks.BackupAndRestore)]
    others = [c for c in callbacks if c not in backups]
    histories = []
    for i, (rbm, layer_epochs, optimizer) in enumerate(zip(rbms, epochs, optimizers)):
        trainable, rbm.trainable = rbm.trainable, True
        rbm.compile(optimizer=optimizer)
        layer_dirs = [os.path.join(b.backup_dir, rbm.name) for b in backups]
        history = _completed_layer(rbm, layer_dirs)
        if verbose:
            done = " (finished earlier, restored from its backup)" if history else ""
            print(f"Pretraining RBM {i + 1}/{len(rbms)}: {rbm.units} hidden units{done}")
        if history is None:
            history = _fit_resumably(
                rbm,
                layer_input(i),
                zip(backups, layer_dirs),
                others,
                epochs=layer_epochs,
                batch_size=batch_size,
                verbose=verbose,
                balance_labels=balance_labels,
            )
        rbm.trainable = trainable
        histories.append(history)
    for backup in backups:
        if backup.delete_checkpoint:
            shutil.rmtree(backup.backup_dir, ignore_errors=True)
    return histories


def streamed_upward(layers, x, batch_size, trainee):
    """Batches of ``x`` mapped through the upward means of ``layers`` (TensorFlow only).

    ``x`` is a `tf.data.Dataset` (of ``x`` or ``(x, y)`` batches), or a memory map
    streamed in the shuffled blocks of ``trainee``, the model that trains on the
    result (`keras_dbn.base.UnsupervisedModel.fit_batches`), so a resumed epoch
    sees the same batches.
    """

    def upward(batch):
        for layer in layers:
            batch = layer(batch)
        return batch

    if validation.is_tf_dataset(x):
        return x.map(lambda *batch: upward(batch[0]))
    return trainee.fit_batches(x, batch_size).map(upward)


def _fit_resumably(rbm, features, backups_and_dirs, callbacks, **fit_options):
    """Fits one RBM with a ``BackupAndRestore`` of its own in each ``(backup, layer folder)``.

    Marks it completed there.
    """
    backups_and_dirs = list(backups_and_dirs)
    layer_backups = [
        keras.callbacks.BackupAndRestore(
            d, save_freq=b.save_freq, double_checkpoint=b.double_checkpoint, delete_checkpoint=False
        )
        for b, d in backups_and_dirs
    ]
    history = rbm.fit(features, callbacks=callbacks + layer_backups, **fit_options)
    for _, folder in backups_and_dirs:
        _mark_completed(rbm, folder, history)
    return history


def _completed_layer(rbm, layer_dirs):
    """Loads an RBM finished in an earlier, interrupted run; returns its History or None."""
    for folder in layer_dirs:
        if os.path.exists(os.path.join(folder, _COMPLETED)):
            rbm._build_optimizer()
            rbm.load_weights(os.path.join(folder, _COMPLETED))
            history = keras.callbacks.History()
            with open(os.path.join(folder, "history.json")) as f:
                history.history = json.load(f)
            history.set_model(rbm)
            return history
    return None


def _mark_completed(rbm, folder, history):
    """Records a finished layer; the weights file, renamed into place last, is the marker."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in values] for k, values in history.history.items()}, f)
    partial = os.path.join(folder, "partial." + _COMPLETED)
    rbm.save_weights(partial)
    os.replace(partial, os.path.join(folder, _COMPLETED))
