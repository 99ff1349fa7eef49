"""Take the README's screenshot of the lab (docs/lab.png) from a real lab process in Debian's Chromium.

    python tools/lab_screenshot.py [--out docs/lab.png]

Three epochs of the default 3-vs-7 run, then a 7 drawn on the pad and the gradient of all weights by nudging
and by backprop, so every panel shows real numbers.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for_text(page, selector: str, condition, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = page.locator(selector).inner_text()
        if condition(value):
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {selector}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "lab.png"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as cwd:
        lab = subprocess.Popen([sys.executable, "-m", "sevensteps.lab", "--no-browser", "--port", "0"], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", lab.stdout.readline()).group(1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=[
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run"])
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                for epoch in range(1, 4):
                    page.click("#btn-epoch")
                    wait_for_text(page, "#step-stop .num", lambda t, e=epoch: f"epoch {e} done" in t)
                box = page.locator("#pad").bounding_box()
                page.mouse.move(box["x"] + 70, box["y"] + 60)
                page.mouse.down()
                for x, y in ((210, 60), (120, 240)):
                    page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
                page.mouse.up()
                wait_for_text(page, "#draw-prediction", bool)
                page.click("#btn-nudge-all")
                time.sleep(3)
                page.click("#btn-step")
                time.sleep(1)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            lab.send_signal(signal.SIGINT)
            lab.wait(timeout=15)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
