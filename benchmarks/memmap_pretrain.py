"""Pretrain a DBN on a memory-mapped array larger than the memory the process may use.

Writes an .npy file of N x 784 float32 binary images (MNIST digits with random pixel flips when
--data is given, random bits otherwise), then runs `DBN.pretrain` on it in a child process whose
memory is capped by a Linux (v1) memory cgroup, and prints the file size, the cap, the peak memory
the cgroup saw and the time. Without cgroup access it runs uncapped and reports peak RSS.

    python benchmarks/memmap_pretrain.py --rows 600000 --limit-gib 1.0 \
        --data ../shared/data/mnist.npz
"""

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

CGROUP_ROOT = "/sys/fs/cgroup/memory"


def write_memmap(path, rows, data_path, seed=0):
    rng = np.random.default_rng(seed)
    images = None
    if data_path:
        with np.load(data_path) as data:
            images = (data["x_train"].reshape(len(data["x_train"]), -1) > 127).astype("float32")
    out = np.lib.format.open_memmap(path, mode="w+", dtype="float32", shape=(rows, 784))
    for start in range(0, rows, 50_000):
        n = min(50_000, rows - start)
        if images is None:
            chunk = (rng.random((n, 784)) < 0.13).astype("float32")
        else:
            chunk = images[rng.integers(0, len(images), n)]
            flips = rng.random(chunk.shape) < 0.02
            chunk = np.where(flips, 1.0 - chunk, chunk)
        out[start : start + n] = chunk
    out.flush()
    del out
    # Evict the file from the page cache: the child must read it from disk,
    # charged to its own cgroup.
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def child(path, hidden_units, batch_size):
    import keras

    from keras_dbn import DBN

    x = np.load(path, mmap_mode="r")
    keras.utils.set_random_seed(0)
    dbn = DBN(hidden_units, output_units=None, seed=0)
    start = time.perf_counter()
    histories = dbn.pretrain(x, epochs=1, batch_size=batch_size, verbose=2)
    elapsed = time.perf_counter() - start
    errors = [h.history["reconstruction_error"][-1] for h in histories]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"RESULT pretrain_seconds={elapsed:.1f} reconstruction_errors={errors} "
        f"peak_rss_gib={peak_rss:.2f} (RSS counts the file pages mapped while reading)"
    )


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--limit-gib", type=float, default=1.0)
    parser.add_argument("--hidden-units", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--data", help="MNIST .npz to draw the images from (random bits otherwise)")
    parser.add_argument("--file", default="/tmp/keras_dbn_memmap.npy")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.file, args.hidden_units, args.batch_size)

    write_memmap(args.file, args.rows, args.data)
    size = os.path.getsize(args.file) / 2**30
    cgroup = os.path.join(CGROUP_ROOT, f"keras_dbn_{os.getpid()}")
    limit = int(args.limit_gib * 2**30)
    try:
        os.mkdir(cgroup)
        with open(os.path.join(cgroup, "memory.limit_in_bytes"), "w") as f:
            f.write(str(limit))
        capped = True
    except OSError as err:
        print(f"no memory cgroup ({err}); running uncapped")
        capped = False
    command = [
        sys.executable,
        __file__,
        "--child",
        "--file",
        args.file,
        "--batch-size",
        str(args.batch_size),
        "--hidden-units",
        *map(str, args.hidden_units),
    ]
    preexec = (
        (lambda: open(os.path.join(cgroup, "cgroup.procs"), "w").write(str(os.getpid())))
        if capped
        else None
    )
    result = subprocess.run(command, preexec_fn=preexec, capture_output=True, text=True)
    print(result.stdout[-3000:])
    if result.returncode:
        print(result.stderr[-3000:])
    print(f"file: {args.file}, {args.rows} x 784 float32 = {size:.2f} GiB")
    if capped:
        peak = int(open(os.path.join(cgroup, "memory.max_usage_in_bytes")).read()) / 2**30
        failcnt = open(os.path.join(cgroup, "memory.failcnt")).read().strip()
        print(
            f"memory cap: {args.limit_gib:.2f} GiB; peak usage seen by the cgroup: {peak:.2f} GiB "
            f"(page cache included; times the cap was hit and memory reclaimed: {failcnt})"
        )
        os.rmdir(cgroup)
    print(f"child exit code: {result.returncode}")
    os.remove(args.file)


if __name__ == "__main__":
    main()
