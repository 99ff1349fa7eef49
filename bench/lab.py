"""The live lab: click-to-screen latency, Play throughput against a plain Learner fit, page update rate, memory.

    python bench/lab.py [--clicks 30] [--epochs 100] [--seconds 60]

Starts the lab as a real process (``python -m sevensteps.lab --no-browser --port 0``) and drives it with
headless Chromium, as the tests do. The peer for throughput is ``Learner.fit`` on the same data and
settings (``sevensteps train``'s way: BLAS with its own thread count), measured in the same run on the same
machine; the lab trains with one BLAS thread on two cores (``sevensteps.lab.fitting.blas_threads``), so a
plain fit with that many threads is measured too. ``--seconds`` sets how long the memory run plays
on the 10-class data (the issue asks for ten minutes: ``--seconds 600``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row

from sevensteps.lab.fitting import blas_threads

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# One Batch click, timed in the page from the click to the first drawn frame showing the next batch.
CLICK_TO_SCREEN = """async () => {
  const s = window.labStats, before = [s.epoch, s.batch, s.rendered];
  const start = performance.now();
  document.getElementById("btn-batch").click();
  while (!(s.rendered > before[2] && (s.epoch !== before[0] || s.batch !== before[1]))) {
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return s.renderedAt - start;
}"""


def start_lab(*extra: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "sevensteps.lab", "--no-browser", "--port", "0", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    match = re.search(r"Lab: (\S+)", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("the lab did not start")
    return process, match.group(1)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Lab:
    """A lab process plus a Chromium page on it."""

    def __init__(self, playwright, *extra: str):
        self.process, self.url = start_lab(*extra)
        self.base, token = self.url.split("/?token=")
        self.headers = {"X-Lab-Token": token}
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        self.page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.goto(self.url)
        while not self.page.evaluate("window.labStats && window.labStats.rendered > 0"):
            time.sleep(0.02)  # polled from here: the page's CSP forbids Playwright's injected eval

    def post(self, path: str, body: dict) -> dict:
        response = httpx.post(f"{self.base}{path}", json=body, headers=self.headers, timeout=60)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        return httpx.get(f"{self.base}/api/state", headers=self.headers, timeout=60).json()

    def close(self) -> None:
        self.browser.close()
        self.process.send_signal(2)
        self.process.wait(timeout=30)


def plain_fit_batches_per_second(epochs: int, blas_threads: int | None = None) -> float:
    """The peer: the same Learner, data and settings, fit with no lab around it (with BLAS's own thread count,
    as ``sevensteps train`` runs, unless ``blas_threads`` is given)."""
    from threadpoolctl import threadpool_limits

    from sevensteps.data import load_splits
    from sevensteps.digits import digit_learner
    from sevensteps.runs import Rules, Settings

    splits = load_splits("sample", None, None, log=lambda message: None)
    learn = digit_learner(splits, Settings("linear", lr=0.1, batch_size=256), Rules(epochs=epochs), quiet=True)
    with threadpool_limits(blas_threads, user_api="blas"):
        start = time.perf_counter()
        learn.fit()
        seconds = time.perf_counter() - start
    return epochs * len(learn.dls.train) / seconds


def lab_fit_batches_per_second(epochs: int) -> float:
    """The lab's own cost, without a page: the same fit, driven by the lab's session in Play."""
    from sevensteps.lab.session import LabSettings, Session

    session = Session(LabSettings(digits="all", lr=0.1, epochs=epochs))
    try:
        start = time.perf_counter()
        session.control("play")
        with session.cond:
            session.cond.wait_for(lambda: session.finished is not None, timeout=600)
        seconds = time.perf_counter() - start
        return epochs * session.frame["n_batches"] / seconds
    finally:
        session.close()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (from /proc)."""
    import os

    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def browser_pids() -> list[int]:
    """Chromium's processes (started by this benchmark's Playwright)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"chrom" in stat.read_bytes().split(b"\0")[0]:
                pids.append(int(stat.parent.name))
        except OSError:
            continue
    return pids


def run(clicks: int = 30, epochs: int = 100, seconds: float = 60.0) -> list[Row]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        lab = Lab(p)  # linear, 3 vs 7, batch 256
        for _ in range(3):
            lab.page.evaluate(CLICK_TO_SCREEN)  # warm-up
        latencies = [lab.page.evaluate(CLICK_TO_SCREEN) for _ in range(clicks)]
        lab.close()
        latency = statistics.median(latencies)
        rows.append(Row("10. lab", f"one Batch click to updated screen (linear, batch 256, median of {clicks})",
                        f"{latency:.1f} ms", "< 50 ms", latency < 50))

        lab = Lab(p, "--digits", "all", "--lr", "0.1")
        plain_before = plain_fit_batches_per_second(epochs)
        lab.post("/api/settings", {"epochs": epochs})
        rendered = lab.page.evaluate("window.labStats.rendered")
        chromium = browser_pids()
        cpu = cpu_seconds(chromium), cpu_seconds([lab.process.pid])
        start = time.perf_counter()
        lab.post("/api/control", {"action": "play", "speed": 0})
        while not lab.page.evaluate("window.labStats.status").startswith("stopped"):
            time.sleep(0.02)  # asked of the page: polling the server for its state would cost the server CPU
        played = time.perf_counter() - start
        browser_cpu = cpu_seconds(chromium) - cpu[0]
        server_cpu = cpu_seconds([lab.process.pid]) - cpu[1]
        no_page = lab_fit_batches_per_second(epochs)
        frames = lab.page.evaluate("window.labStats.rendered") - rendered
        state = lab.state()
        plain_after = plain_fit_batches_per_second(epochs)
        plain = (plain_before + plain_after) / 2
        plain_one_thread = plain_fit_batches_per_second(epochs, blas_threads=blas_threads())
        in_lab = epochs * state["n_batches"] / played
        rows.append(Row("10. lab", f"Play throughput / plain Learner.fit (linear, 10 classes, {epochs} epochs, "
                        "page open)", f"{in_lab / plain:.2f} ({in_lab:.0f} vs {plain:.0f} batches/s)", ">= 0.5",
                        in_lab / plain >= 0.5))
        rows.append(Row("10. lab", f"the same without a page (the lab's session alone) / plain Learner.fit; CPU "
                        f"during the Play above: server {server_cpu:.1f}s, Chromium {browser_cpu:.1f}s in "
                        f"{played:.1f}s", f"{no_page / plain:.2f} ({no_page:.0f} vs {plain:.0f} batches/s)"))
        rows.append(Row("10. lab", f"Play with the page open / a plain Learner.fit with the lab's {blas_threads()} "
                        "BLAS thread(s) (the lab's own overhead alone)",
                        f"{in_lab / plain_one_thread:.2f} ({in_lab:.0f} vs {plain_one_thread:.0f} batches/s)"))

        lab.post("/api/settings", {"epochs": 100_000})
        lab.post("/api/control", {"action": "play", "speed": 0})
        rendered, start = lab.page.evaluate("window.labStats.rendered"), time.perf_counter()
        samples = []
        while time.perf_counter() - start < seconds:
            time.sleep(min(1.0, seconds / 20))
            samples.append(rss_mib(lab.process.pid))
        rate = (lab.page.evaluate("window.labStats.rendered") - rendered) / (time.perf_counter() - start)
        lab.post("/api/control", {"action": "pause"})
        epochs_played = lab.state()["epoch"]
        lab.close()
        rows.append(Row("10. lab", f"page updates per second during Play ({seconds:g}s, 10 classes; "
                        f"{frames / played:.0f}/s in the short run)", f"{rate:.1f}/s", ">= 20/s", rate >= 20))
        quarter = max(1, len(samples) // 4)
        growth = statistics.median(samples[-quarter:]) - statistics.median(samples[:quarter])
        rows.append(Row("10. lab", f"server memory over {seconds:g}s of Play on 10 classes ({epochs_played} epochs)",
                        f"max {max(samples):.0f} MiB; last quarter vs first {growth:+.1f} MiB",
                        "< 500 MB, not growing", max(samples) < 500 and growth < 20))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    options = parser.parse_args()
    for row in run(options.clicks, options.epochs, options.seconds):
        goal = f" (goal {row.target}: {'met' if row.met else 'NOT met'})" if row.target else ""
        print(f"{row.what}: {row.figure}{goal}")
