"""Test log-likelihood of a 500-hidden-unit RBM on binarised MNIST, estimated by AIS.

The images are binarised stochastically once (each pixel is 1 with probability
its grey level / 255, numpy generator seeded with ``--seed``), as in Salakhutdinov
& Murray (2008). All 60,000 training images are used, as there; ``--validation N``
holds the last N out to watch over-fitting. A Bernoulli RBM is trained by persistent
contrastive divergence (PCD-k, Tieleman 2008; ``--no-persistent`` gives CD-k; the
chains start at training images) with SGD, momentum and a learning rate decaying
linearly to zero; the final model is the moving average of the weights over the
last ~1000 updates (``--ema``, the optimizer's ``use_ema``: Polyak-style iterate
averaging, which the noisy PCD updates profit from). Then `ais_log_partition` estimates
log Z twice, from a base rate fitted to the training data and from the uniform
base model; `log_likelihood` gives the average test log-likelihood in nats with
the larger (safer) of the two, and the +/- 3 std bounds of that estimate.

Usage::

    python benchmarks/mnist_rbm_loglik.py --data mnist.npz            # full run
    python benchmarks/mnist_rbm_loglik.py --data mnist.npz --quick    # smoke test, < 3 min
"""

import argparse
import json
import os
import time

os.environ.setdefault("KERAS_DBN_QUIET_STARTUP", "1")
__import__("keras_dbn")  # first: it imports the backend without TensorFlow's C++ start-up log

import keras  # noqa: E402
import numpy as np  # noqa: E402
from mnist_dbn import load_mnist  # noqa: E402

from keras_dbn import RBM, evaluation, viz  # noqa: E402
from keras_dbn.callbacks import EpochProgress  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        help=".npz with x_train and x_test (MNIST, uint8); default: the repository's "
        "../shared/data/mnist.npz if present, else Keras' download",
    )
    parser.add_argument(
        "--output", default="mnist_rbm_output", help="folder for pictures and results.json"
    )
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument(
        "--verbose", action="store_true", help="a line per epoch instead of one progress bar"
    )
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--cd-k", type=int, default=1, help="Gibbs steps per update")
    parser.add_argument(
        "--no-persistent", dest="persistent", action="store_false", help="CD-k instead of PCD-k"
    )
    parser.add_argument("--num-chains", type=int, default=100, help="persistent chains")
    parser.add_argument(
        "--learning-rate", type=float, default=0.04, help="initial rate, decays linearly to 0"
    )
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument(
        "--weight-decay",
        type=float,
        default=4e-4,
        help="L2 weight decay on the kernel (adds decay * W to its gradient)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=0.999,
        help="momentum of the moving average of the weights that becomes the final model "
        "(Keras' use_ema; 0: none)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--validation", type=int, default=0, help="training images held out (0: none)"
    )
    parser.add_argument("--ais-chains", type=int, default=100)
    parser.add_argument("--ais-betas", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10k images, 2 epochs, 1000 betas, --ema 0.99 at most: a smoke test",
    )
    args = parser.parse_args(argv)
    if (
        args.quick
    ):  # 200 updates: average over the last ~100 (0.999 would mostly keep the initial weights)
        args.epochs, args.ais_betas, args.ema = 2, 1000, min(args.ema, 0.99)
    return args


def binarised_mnist(path, seed):
    """Training and test images, each pixel 1 with probability grey / 255 (one fixed draw)."""
    rng = np.random.default_rng(seed)
    x_train, _, x_test, _ = load_mnist(path)
    return tuple((rng.random(x.shape) < x).astype("float32") for x in (x_train, x_test))


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.output, exist_ok=True)
    x_train, x_test = binarised_mnist(args.data, args.seed)
    x_train, x_val = (
        x_train[: len(x_train) - args.validation],
        x_train[len(x_train) - args.validation :],
    )
    if args.quick:
        x_train = x_train[:10000]
    print(
        f"{len(x_train)} training, {len(x_val)} validation, {len(x_test)} test images", flush=True
    )

    rbm = RBM(
        args.units,
        cd_k=args.cd_k,
        persistent=args.persistent,
        num_chains=args.num_chains if args.persistent else None,
        kernel_regularizer=keras.regularizers.L2(args.weight_decay / 2)
        if args.weight_decay
        else None,
        seed=args.seed,
    )
    rbm.build((None, x_train.shape[1]))
    if args.persistent:  # start the chains at training images, not at the all-zero image
        rbm.persistent_chains.assign(x_train[: args.num_chains])
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    schedule = keras.optimizers.schedules.PolynomialDecay(
        args.learning_rate, steps, end_learning_rate=0.0
    )
    # use_ema: the optimizer keeps a moving average of the weights,
    # which becomes the model at the end.
    optimizer = keras.optimizers.SGD(
        schedule, momentum=args.momentum, use_ema=args.ema > 0, ema_momentum=args.ema
    )
    rbm.compile(optimizer, steps_per_execution=50)
    start = time.perf_counter()
    history = rbm.fit(
        x_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_data=x_val if len(x_val) else None,
        shuffle=True,
        **({"verbose": 2} if args.verbose else {"verbose": 0, "callbacks": [EpochProgress()]}),
    )
    train_time = time.perf_counter() - start
    print(f"Training took {train_time:.0f} s", flush=True)

    rbm.save_weights(os.path.join(args.output, "rbm.weights.h5"))

    start = time.perf_counter()
    ais_data = evaluation.ais_log_partition(
        rbm, num_chains=args.ais_chains, num_betas=args.ais_betas, seed=args.seed, data=x_train
    )
    ais_time = time.perf_counter() - start
    # A second run from the uniform base model. AIS underestimates log Z when its chains miss a
    # mode, and overestimating it by t nats has probability below exp(-t) (Markov's inequality):
    # the larger estimate is the safer one, and a large disagreement flags a spurious mode.
    ais_uniform = evaluation.ais_log_partition(
        rbm, num_chains=args.ais_chains, num_betas=args.ais_betas, seed=args.seed + 1
    )
    ais = max(ais_data, ais_uniform, key=lambda result: result.log_z)
    # A rigorous bound: keeping only the h = 0 (or v = 0) terms of Z
    # leaves one layer's own partition function.
    one_layer = [
        float(layer.log_partition(bias[None, :], bias[None, :])[0])
        for layer, bias in ((rbm.visible, rbm.visible_bias), (rbm.hidden, rbm.hidden_bias))
    ]
    results = {
        "test_log_likelihood": evaluation.log_likelihood(rbm, x_test, ais.log_z),
        # A larger log Z gives a lower log-likelihood: the bounds swap.
        "test_log_likelihood_lower": evaluation.log_likelihood(rbm, x_test, ais.log_z_upper),
        "test_log_likelihood_upper": (
            evaluation.log_likelihood(rbm, x_test, ais.log_z_lower)
            if np.isfinite(ais.log_z_lower)
            else None
        ),
        "test_log_likelihood_data_base_only": evaluation.log_likelihood(
            rbm, x_test, ais_data.log_z
        ),
        "train_log_likelihood": evaluation.log_likelihood(rbm, x_train, ais.log_z),
        "validation_log_likelihood": evaluation.log_likelihood(rbm, x_val, ais.log_z)
        if len(x_val)
        else None,
        "test_pseudo_log_likelihood_first_1000": evaluation.pseudo_log_likelihood(
            rbm, x_test[:1000]
        ),
        "log_z_data_base": list(ais_data),
        "log_z_uniform_base": list(ais_uniform),
        "log_z_rigorous_lower_bound": max(one_layer),
        "train_seconds": round(train_time, 1),
        "ais_seconds": round(ais_time, 1),
        "args": vars(args),
    }
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    viz.plot_filters(rbm, path=os.path.join(args.output, "rbm_filters.png"))
    viz.plot_samples(
        rbm.sample(100, gibbs_steps=1000),
        path=os.path.join(args.output, "rbm_samples.png"),
        title="RBM samples (1000 Gibbs steps)",
    )
    viz.plot_history(history, path=os.path.join(args.output, "rbm_history.png"))
    print(
        f"Test log-likelihood: {results['test_log_likelihood']:.2f} nats "
        f"(log Z from the data base rate {ais_data.log_z:.2f}, "
        f"from the uniform base {ais_uniform.log_z:.2f}, "
        f"rigorous bound >= {max(one_layer):.2f}; "
        f"AIS: {ais_time:.0f} s for {args.ais_chains} chains x {args.ais_betas} betas; "
        f"training {train_time / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
