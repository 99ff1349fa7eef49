"""Peers, each in its own process: one epoch of the 784-H-10 ReLU MLP over Fashion-MNIST's 60,000 images.

Sides: sevensteps (public API: nn.Sequential/Linear/ReLU, F.cross_entropy, optim.SGD; as a library, and as the
command line runs it, with glibc told to keep freed memory: ``sevensteps-cli``), PyTorch, JAX (one
jit-compiled training step), a hand-fused NumPy epoch (the same math in ~20 NumPy calls per batch) and the
matrix-product floor (the gather and the five products of each step, nothing else).

Same conditions for all: every timed epoch runs in a fresh process of its own (sevensteps and the NumPy sides
never have torch imported: the child checks ``sys.modules``), on the same data (read once with
``sevensteps.data.idx``), the same batches (two index permutations drawn once: the warm-up epoch's and the
timed epoch's), the same initial weights (one scratch file) and the same thread count (set through
OMP/OPENBLAS/MKL_NUM_THREADS and XLA_FLAGS, and read back in each child). A warm-up epoch is excluded; the
figure is the median of ``--repeats`` processes per side, sides alternating (A B C, C B A, ...), so that load
from other programs hits all alike. Accuracy on the 10,000 test images (after both epochs) sits beside the time.

Each child also reports its CPU time (user + system, from getrusage) over the timed epoch: on a machine shared
with other work it is steadier than wall time, and page faults count in it. JAX dispatches the step from
Python while XLA runs it on another thread, so its CPU/wall ratio can pass 1 even with one compute thread.
The peak memory is VmHWM over warm-up and epoch, less what the data, weights and libraries already held.

    python bench/peers.py                       # batch 256 and 64, 5 repeats, 1 thread: the table for BENCHMARKS.md
    python bench/peers.py --batch-sizes 256 --repeats 7 --threads 2 --sides sevensteps,numpy
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
FASHION = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
SIDES = ("sevensteps", "sevensteps-cli", "numpy", "floor", "pytorch", "floor-pytorch", "jax")
WITHOUT_TORCH = ("sevensteps", "sevensteps-cli", "numpy", "floor")
LR = 0.1

# ---------------------------------------------------------------- scratch inputs, made once by the parent


def prepare(hidden: int, images: int, seed: int = 0) -> dict[str, str]:
    """Write the shared inputs under bench/out (gitignored) and return their paths."""
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / "fashion-mnist.npz"
    if not data.exists():
        sys.path.insert(0, str(ROOT / "src"))
        from sevensteps.data.idx import read_idx_pair

        train = read_idx_pair(FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz")
        test = read_idx_pair(FASHION / "t10k-images-idx3-ubyte.gz", FASHION / "t10k-labels-idx1-ubyte.gz")
        _atomic(data, lambda f: np.savez(f, x=train.images.reshape(-1, 784), y=train.labels,
                                         tx=test.images.reshape(-1, 784), ty=test.labels))
    rng = np.random.default_rng(seed)
    weights = OUT / f"init-784-{hidden}-10-seed{seed}.npz"
    if not weights.exists():
        arrays = {}
        for name, (n_out, n_in) in (("0", (hidden, 784)), ("2", (10, hidden))):
            bound = 1 / np.sqrt(n_in)  # PyTorch's default init for nn.Linear
            arrays[f"{name}.weight"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
            arrays[f"{name}.bias"] = rng.uniform(-bound, bound, n_out).astype(np.float32)
        _atomic(weights, lambda f: np.savez(f, **arrays))
    orders = OUT / f"orders-{images}-seed{seed}.npy"
    if not orders.exists():
        rng = np.random.default_rng(seed + 1)
        _atomic(orders, lambda f: np.save(f, np.stack([rng.permutation(images) for _ in range(2)])))
    return {"data": str(data), "weights": str(weights), "orders": str(orders)}


def _atomic(path: Path, write) -> None:
    temp = path.with_suffix(".tmp")
    with open(temp, "wb") as f:
        write(f)
    temp.replace(path)


# ---------------------------------------------------------------- the sides (run in the child)


def side_sevensteps(weights, x, y, lr):
    import sevensteps as ss
    import sevensteps.functional as F

    model = ss.nn.Sequential(ss.nn.Linear(784, weights["0.weight"].shape[0]), ss.nn.ReLU(),
                             ss.nn.Linear(weights["2.weight"].shape[1], 10))
    model.load_state_dict(weights)
    opt = ss.optim.SGD(model.parameters(), lr=lr)

    def train(batches):
        for index in batches:
            loss = F.cross_entropy(model(ss.Tensor(x.take(index, axis=0))), ss.Tensor(y.take(index)))
            loss.backward()
            opt.step()
            opt.zero_grad()

    def predict(tx):
        with ss.no_grad():
            return model(ss.Tensor(tx)).numpy()

    return train, predict


def side_sevensteps_cli(weights, x, y, lr):
    """sevensteps as ``sevensteps train`` runs it: with the allocator setting its entry point makes."""
    from sevensteps import cli

    cli.keep_freed_memory()
    return side_sevensteps(weights, x, y, lr)


def side_pytorch(weights, x, y, lr):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(784, weights["0.weight"].shape[0]), torch.nn.ReLU(),
                                torch.nn.Linear(weights["2.weight"].shape[1], 10))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def train(batches):
        for index in batches:
            index = torch.from_numpy(index)
            loss = torch.nn.functional.cross_entropy(model(xt[index]), yt[index])
            loss.backward()
            opt.step()
            opt.zero_grad()

    def predict(tx):
        with torch.no_grad():
            return model(torch.from_numpy(tx)).numpy()

    return train, predict


def side_numpy(weights, x, y, lr):
    """The same step written by hand: forward, softmax cross-entropy, backward and SGD, ~20 NumPy calls.
    Weights are kept transposed (in × out, C order), the layout in which x @ W and xᵀ @ g are cheapest."""
    w1, b1 = np.ascontiguousarray(weights["0.weight"].T), weights["0.bias"].copy()
    w2, b2 = np.ascontiguousarray(weights["2.weight"].T), weights["2.bias"].copy()

    def train(batches):
        nonlocal w1, b1, w2, b2  # updated in place by -=
        for index in batches:
            xb, yb = x.take(index, axis=0), y.take(index)
            n = len(index)
            h = xb @ w1
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ w2
            z += b2
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)  # softmax probabilities
            z[np.arange(n), yb] -= 1
            z /= n  # ∂loss/∂logits for the mean loss
            gh = z @ w2.T
            gh *= h > 0
            w2 -= lr * (h.T @ z)
            b2 -= lr * z.sum(axis=0)
            w1 -= lr * (xb.T @ gh)
            b1 -= lr * gh.sum(axis=0)

    def predict(tx):
        return np.maximum(tx @ w1 + b1, 0) @ w2 + b2

    return train, predict


def five_products(xb, w1, w2, g2, g1) -> None:
    """A step's matrix products, in NumPy or PyTorch alike: two forward (h = xb W1, h W2), three backward
    (∂W2 = hᵀ g2, ∂h = g2 W2ᵀ, ∂W1 = xbᵀ g1)."""
    h = xb @ w1
    _ = h @ w2
    _ = h.T @ g2
    _ = g2 @ w2.T
    _ = xb.T @ g1


def side_floor(weights, x, y, lr):
    """The gather and the five matrix products of a step (two forward, three backward), nothing else."""
    w1, w2 = np.ascontiguousarray(weights["0.weight"].T), np.ascontiguousarray(weights["2.weight"].T)
    hidden = w1.shape[1]

    def train(batches):
        g2 = g1 = None
        for index in batches:
            xb = x.take(index, axis=0)
            if g2 is None or len(g2) != len(index):
                g2, g1 = np.ones((len(index), 10), np.float32), np.ones((len(index), hidden), np.float32)
            five_products(xb, w1, w2, g2, g1)

    return train, None


def side_floor_pytorch(weights, x, y, lr):
    """The floor's gather and five products in PyTorch (MKL): set beside ``floor`` (OpenBLAS), it shows how much
    of a gap to PyTorch is the BLAS library's, which no engine above it can close."""
    import torch

    w1 = torch.from_numpy(np.ascontiguousarray(weights["0.weight"].T))
    w2 = torch.from_numpy(np.ascontiguousarray(weights["2.weight"].T))
    xt, hidden = torch.from_numpy(x), w1.shape[1]

    def train(batches):
        g2 = g1 = None
        with torch.no_grad():
            for index in batches:
                xb = xt[torch.from_numpy(index)]
                if g2 is None or len(g2) != len(index):
                    g2, g1 = torch.ones(len(index), 10), torch.ones(len(index), hidden)
                five_products(xb, w1, w2, g2, g1)

    return train, None


def side_jax(weights, x, y, lr):
    """A jit-compiled step (gather, forward, loss, grad, SGD) with the weights donated, so updated in place."""
    import jax
    import jax.numpy as jnp

    params = {k: jnp.asarray(v) for k, v in weights.items()}
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def forward(p, xb):
        return jnp.maximum(xb @ p["0.weight"].T + p["0.bias"], 0) @ p["2.weight"].T + p["2.bias"]

    def loss(p, xb, yb):
        logp = jax.nn.log_softmax(forward(p, xb))
        return -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()

    def step(p, index):
        grads = jax.grad(loss)(p, xj[index], yj[index])
        return jax.tree_util.tree_map(lambda w, g: w - lr * g, p, grads)

    jitted = jax.jit(step, donate_argnums=0)
    compiled: dict[int, object] = {}
    state = {"params": params, "compile_s": 0.0}

    def train(batches):
        p = state["params"]
        for index in batches:
            fn = compiled.get(len(index))
            if fn is None:  # one compilation per batch shape (the last batch may be short), timed apart
                start = time.perf_counter()
                fn = compiled[len(index)] = jitted.lower(p, jnp.asarray(index)).compile()
                state["compile_s"] += time.perf_counter() - start
            p = fn(p, jnp.asarray(index))
        jax.block_until_ready(p)
        state["params"] = p

    def predict(tx):
        return np.asarray(jax.jit(forward)(state["params"], jnp.asarray(tx)))

    train.state = state
    return train, predict


# ---------------------------------------------------------------- the child: one side, one timed epoch


def _status(field: str) -> int:
    """A field of /proc/self/status in kB (VmHWM: the peak resident memory; VmRSS: resident now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return -1


def _reset_peak() -> bool:
    """Reset VmHWM to the current resident size (Linux: write 5 to clear_refs), so the peak is training's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _threads_in_effect(side: str) -> dict[str, object]:
    info: dict[str, object] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = sorted({f"{p['internal_api']}:{p['num_threads']}" for p in threadpool_info()})
    except ImportError:
        pass
    if side in ("pytorch", "floor-pytorch"):
        import torch

        info["torch.get_num_threads"] = torch.get_num_threads()
    if side == "jax":
        info["XLA_FLAGS"] = os.environ.get("XLA_FLAGS")
    return info


def child(spec: dict) -> dict:
    side, batch_size = spec["side"], spec["batch_size"]
    data = np.load(spec["data"])
    images = spec["images"]
    x, y, tx, ty = data["x"][:images], data["y"][:images], data["tx"], data["ty"]
    with np.load(spec["weights"]) as w:
        weights = {k: w[k] for k in w.files}
    orders = np.load(spec["orders"])
    train, predict = globals()[f"side_{side.replace('-', '_')}"](weights, x, y, spec.get("lr", LR))

    def batches(order):
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    warm = batches(orders[0])
    if spec.get("warmup_batches"):  # a shorter warm-up, but always with the short last batch (JAX compiles it)
        warm = warm[:spec["warmup_batches"]] + warm[-1:]
    rss_before = _status("VmRSS")  # data, weights and libraries loaded; the peak above this is training's
    peak_reset = _reset_peak()
    start = time.perf_counter()
    train(warm)
    warmup_s = time.perf_counter() - start
    timed = batches(orders[1])
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    train(timed)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    faults = after.ru_minflt - before.ru_minflt
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    result = {
        "side": side, "batch_size": batch_size, "hidden": int(weights["0.weight"].shape[0]), "images": images,
        "epoch_s": seconds, "cpu_s": cpu, "warmup_s": warmup_s, "minor_faults": faults,
        "peak_mb": _status("VmHWM") / 1024, "rss_before_mb": rss_before / 1024, "peak_is_training": peak_reset,
        "torch_imported": "torch" in sys.modules, "threads": _threads_in_effect(side),
    }
    if side == "jax":
        result["compile_s"] = train.state["compile_s"]
    if predict is not None:
        result["accuracy"] = float((predict(tx).argmax(axis=1) == ty).mean())
    if side in WITHOUT_TORCH and result["torch_imported"]:
        raise SystemExit(f"the {side} side had torch imported while timed: its numbers would not be a user's")
    return result


# ---------------------------------------------------------------- the parent: processes, alternation, table


def machine() -> str:
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"


def child_env(threads: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["PYTHONPATH"] = str(ROOT / "src") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if threads:
        for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
        if threads == 1:
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    env["JAX_PLATFORMS"] = "cpu"
    env.update(extra or {})
    return env


def run_child(spec: dict, threads: int, extra_env: dict[str, str] | None = None) -> dict:
    """One side's epoch in a fresh Python process; its result as a dict."""
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          env=child_env(threads, extra_env), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the {spec['side']} child failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(sides: list[str], batch_size: int, hidden: int, repeats: int, threads: int, images: int,
            warmup: int = 0, log=print) -> dict[str, list[dict]]:
    paths = prepare(hidden, images)
    results: dict[str, list[dict]] = {side: [] for side in sides}
    for r in range(repeats):
        for side in sides if r % 2 == 0 else sides[::-1]:
            spec = {"side": side, "batch_size": batch_size, "images": images, "warmup_batches": warmup, **paths}
            result = run_child(spec, threads)
            results[side].append(result)
            log(f"  batch {batch_size} repeat {r + 1}/{repeats} {side}: {result['epoch_s']:.3f}s")
    return results


def table(all_results: dict[int, dict[str, list[dict]]], threads: int) -> str:
    lines = ["| batch | side | epoch (median, s) | range (s) | epoch CPU time (median, s) | CPU s / wall s "
             "| / sevensteps (time, CPU) | test accuracy | training's peak above the data (MB) | minor faults / epoch "
             "| threads | torch imported |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for batch_size, results in all_results.items():
        ours = statistics.median(r["epoch_s"] for r in results["sevensteps"]) if "sevensteps" in results else None
        ours_cpu = statistics.median(r["cpu_s"] for r in results["sevensteps"]) if "sevensteps" in results else None
        for side, runs in results.items():
            times = [r["epoch_s"] for r in runs]
            med = statistics.median(times)
            cpu = statistics.median(r["cpu_s"] for r in runs)
            ratio = f"{med / ours:.2f}, {cpu / ours_cpu:.2f}" if ours else "-"
            acc = f"{runs[0]['accuracy']:.2%}" if "accuracy" in runs[0] else "-"
            extra = f" (+ compile {statistics.median(r['compile_s'] for r in runs):.2f}s)" if side == "jax" else ""
            peak = statistics.median(r["peak_mb"] - r["rss_before_mb"] for r in runs)
            faults = statistics.median(r["minor_faults"] for r in runs)
            busy = statistics.median(r["cpu_s"] / r["epoch_s"] for r in runs)
            lines.append(f"| {batch_size} | {side} | {med:.3f}{extra} | {min(times):.3f}–{max(times):.3f} "
                         f"| {cpu:.3f} | {busy:.2f} | {ratio} | {acc} | +{peak:.0f} | {faults:,.0f} "
                         f"| {_threads_text(runs[0], side)} | {'yes' if runs[0]['torch_imported'] else 'no'} |")
    return "\n".join(lines)


def _threads_text(result: dict, side: str) -> str:
    t = result["threads"]
    if side in ("pytorch", "floor-pytorch"):
        return f"torch {t['torch.get_num_threads']}"
    if side == "jax":
        return "XLA 1" if t.get("XLA_FLAGS") else "XLA default"
    return ", ".join(t.get("blas", [])) or f"OMP {t['OMP_NUM_THREADS']}"


def targets(all_results: dict[int, dict[str, list[dict]]]) -> list[str]:
    """The issue's goals: sevensteps ≤ 1.1× the fused NumPy epoch at batch 256, ≤ 1.2× at 64, ≤ 0.8× PyTorch."""
    lines = []
    for batch_size, results in all_results.items():
        med = {side: statistics.median(r["epoch_s"] for r in runs) for side, runs in results.items()}
        cpu = {side: statistics.median(r["cpu_s"] for r in runs) for side, runs in results.items()}
        goal = {256: 1.1, 64: 1.2}.get(batch_size)
        for ours in ("sevensteps", "sevensteps-cli"):
            for peer, limit in (("numpy", goal), ("pytorch", 0.8), ("floor", None), ("jax", None)):
                if ours not in med or peer not in med:
                    continue
                ratio, cpu_ratio = med[ours] / med[peer], cpu[ours] / cpu[peer]
                verdict = ""
                if limit is not None:
                    verdict = f" (target ≤ {limit:.1f}: {'met' if ratio <= limit else 'NOT met'})"
                lines.append(f"batch {batch_size}: {ours} / {peer} = {ratio:.2f} in time{verdict}, "
                             f"{cpu_ratio:.2f} in CPU time")
        if "floor" in med and "floor-pytorch" in med:  # the same products in each library's BLAS
            lines.append(f"batch {batch_size}: floor (NumPy's BLAS) / floor-pytorch (PyTorch's BLAS) = "
                         f"{med['floor'] / med['floor-pytorch']:.2f} in time, "
                         f"{cpu['floor'] / cpu['floor-pytorch']:.2f} in CPU time")
        if "floor" in med and "pytorch" in med:
            lines.append(f"batch {batch_size}: floor (NumPy's products alone) / pytorch (whole epoch) = "
                         f"{med['floor'] / med['pytorch']:.2f} in time, "
                         f"{cpu['floor'] / cpu['pytorch']:.2f} in CPU time")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--batch-sizes", default="256,64")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="threads for every side (0: each library's default)")
    parser.add_argument("--images", type=int, default=60000)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--warmup-batches", type=int, default=0,
                        help="warm up on this many batches (and the short last one) instead of a whole epoch")
    parser.add_argument("--json", type=Path, help="also write every child's result here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    sides = [s.strip() for s in args.sides.split(",")]
    unknown = [s for s in sides if s not in SIDES]
    if unknown:
        parser.error(f"unknown side(s) {unknown}; choose from {', '.join(SIDES)}")
    all_results = {}
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        all_results[batch_size] = compare(sides, batch_size, args.hidden, args.repeats, args.threads, args.images,
                                          args.warmup_batches, log=lambda m: print(m, file=sys.stderr))
    print(f"784-{args.hidden}-10 MLP, {args.images:,} Fashion-MNIST images, SGD lr {LR}, median of {args.repeats} "
          f"alternating processes per side, warm-up ({args.warmup_batches or 'one epoch'}) excluded, "
          f"{args.threads or 'default'} thread(s); {machine()}\n")
    print(table(all_results, args.threads))
    print()
    print("\n".join(targets(all_results)))
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in all_results.items()}, indent=1))


if __name__ == "__main__":
    main()
