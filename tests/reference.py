"""Independent numpy references for tiny Bernoulli RBMs: brute-force enumeration of every state."""

import itertools

import numpy as np

from keras_dbn import DBM


def softplus(x):
    return np.logaddexp(0.0, x)


def all_states(n):
    """Every binary vector of length n, shape (2**n, n)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def weights(rbm):
    return [np.asarray(w, dtype="float64") for w in (rbm.kernel, rbm.hidden_bias, rbm.visible_bias)]


def log_joint_table(kernel, hidden_bias, visible_bias):
    """-E(v, h) for every (v, h) pair of a Bernoulli RBM, shape (2**n_visible, 2**n_hidden)."""
    v, h = all_states(kernel.shape[0]), all_states(kernel.shape[1])
    return (v @ visible_bias)[:, None] + (h @ hidden_bias)[None, :] + v @ kernel @ h.T


def exact_log_z(kernel, hidden_bias, visible_bias):
    table = log_joint_table(kernel, hidden_bias, visible_bias)
    return float(np.logaddexp.reduce(table.ravel()))


def exact_log_likelihood(rbm, x):
    """Mean log p(x) of a Bernoulli RBM, by summing the joint over every h and (for Z) every v."""
    kernel, hidden_bias, visible_bias = weights(rbm)
    h = all_states(kernel.shape[1])
    log_unnormalised = np.logaddexp.reduce(
        (x @ visible_bias)[:, None] + (h @ hidden_bias)[None, :] + x @ kernel @ h.T, axis=1
    )
    return float(np.mean(log_unnormalised) - exact_log_z(kernel, hidden_bias, visible_bias))


def exact_gradient(rbm, x):
    """d mean log p(x) / d (kernel, hidden_bias, visible_bias): data term minus exact model term."""
    kernel, hidden_bias, visible_bias = weights(rbm)
    p_h_data = 1.0 / (1.0 + np.exp(-(x @ kernel + hidden_bias)))
    table = log_joint_table(kernel, hidden_bias, visible_bias)
    p = np.exp(table - np.logaddexp.reduce(table.ravel()))
    v, h = all_states(kernel.shape[0]), all_states(kernel.shape[1])
    model_vh = v.T @ p @ h
    return (
        x.T @ p_h_data / len(x) - model_vh,
        p_h_data.mean(0) - p.sum(0) @ h,
        x.mean(0) - p.sum(1) @ v,
    )


def random_dbm(widths, scale=1.0, seed=0, **kwargs):
    """A built DBM with N(0, scale) weights and biases (bigger than the default init)."""
    dbm = DBM(widths[1:], seed=seed, **kwargs)
    dbm.build((None, widths[0]))
    rng = np.random.default_rng(seed)
    for variable in dbm.kernels + dbm.biases:
        variable.assign(rng.normal(0, scale, variable.shape).astype("float32"))
    return dbm
