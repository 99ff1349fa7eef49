"""The live lab: a real server process driven by headless Chromium, plus its session without a browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import httpx
import numpy as np
import pytest
from split_threads import threads_restored

from sevensteps.lab.session import LabError, LabSettings, Session

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STEPS = ["init", "predict", "loss", "gradient", "step", "repeat", "stop"]


def wait_until(condition, timeout: float = 20.0, what: str = "condition"):
    """Poll ``condition`` until it returns something true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what() if callable(what) else what}")


def start_lab(cwd: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """``python -m sevensteps.lab --no-browser --port 0`` as a real process; returns it and its URL."""
    process = subprocess.Popen([sys.executable, "-m", "sevensteps.lab", "--no-browser", "--port", "0", *extra],
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = process.stdout.readline()
    match = re.search(r"Lab: (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
    if not match:
        process.kill()
        pytest.fail(f"the lab did not print its URL: {line!r} {process.stderr.read()}")
    return process, match.group(1)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("lab")
    process, url = start_lab(cwd)
    base, token = url.split("/?token=")
    yield {"url": url, "base": base, "token": token, "cwd": cwd}
    process.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
    try:
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in process.stderr.read()


@pytest.fixture(scope="module")
def page(lab):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(lab["url"])
        wait_rendered(page)
        page.errors = errors
        yield page
        browser.close()
    assert errors == []


def wait_rendered(page) -> None:
    """Wait for the page's first drawn frame (polling from here: the page's CSP forbids injected eval)."""
    wait_until(lambda: page.evaluate("window.labStats && window.labStats.rendered > 0"), what="the first frame")


def lit(page) -> list[str]:
    return page.eval_on_selector_all(".step.lit", "boxes => boxes.map(b => b.id.replace('step-', ''))")


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def percent_of(shown: str) -> float:
    return float(shown.rstrip("%")) / 100


def state(lab) -> dict:
    response = httpx.get(f"{lab['base']}/api/state", headers={"X-Lab-Token": lab["token"]})
    assert response.status_code == 200
    return response.json()


# ---------------------------------------------------------------- in the browser (one server, in order)


def test_step_lights_each_of_the_seven_steps_in_order(page):
    seen = [lit(page)]
    assert seen == [["init"]]
    for expected in STEPS[1:]:
        page.click("#btn-step")
        seen.append(wait_until(lambda e=expected: lit(page) == [e] and lit(page), what=f"step {expected} lit"))
    assert [names[0] for names in seen] == STEPS
    first_loss = text(page, "#step-loss .num")
    assert first_loss.startswith("mnist_loss = ")
    assert "1 of 4 done" in text(page, "#step-repeat .num")
    page.click("#btn-batch")
    wait_until(lambda: "2 of 4 done" in text(page, "#step-repeat .num"), what="the second batch")
    assert text(page, "#step-loss .num") != first_loss


def test_play_until_accuracy_passes_the_baseline_then_pause(page):
    page.select_option("#speed", "20")
    page.click("#btn-play")
    wait_until(lambda: text(page, "#acc-valid") != "–"
               and percent_of(text(page, "#acc-valid")) > percent_of(text(page, "#baseline")),
               what="validation accuracy above the baseline")
    page.click("#btn-play")  # now labelled Pause
    wait_until(lambda: text(page, "#status").startswith("paused"), what="pause")
    epoch_batch = text(page, "#status")
    time.sleep(0.4)
    assert text(page, "#status") == epoch_batch  # paused means paused


def test_a_diverging_learning_rate_is_diagnosed(page, lab):
    assert page.locator("#diagnosis").is_hidden()
    page.locator("#lr").fill("3")  # 10^3
    wait_until(lambda: text(page, "#message") == "lr 1000 from the next step", what="the server taking the lr")
    page.click("#btn-batch")  # one whole batch at the new lr (Epoch could end at once if paused at its end)
    wait_until(lambda: page.locator("#diagnosis").is_visible(),
               what=lambda: f"a diagnosis ({text(page, '#status')}; {text(page, '#steps')}; {state(lab)})")
    assert "learning rate 1000 is" in text(page, "#diagnosis")


def test_drawing_a_seven_with_the_mouse_gives_7(page):
    page.click("#btn-reset")
    wait_until(lambda: text(page, "#message").startswith("new weights from init"), what="the reset")
    page.locator("#lr").fill("0")
    wait_until(lambda: text(page, "#message") == "lr 1 from the next step", what="lr back to 1")
    page.click("#btn-epoch")
    wait_until(lambda: text(page, "#acc-valid") != "–", what="one epoch")
    draw_stroke(page, [(70, 60), (210, 60), (120, 240)])  # a 7: the bar, then the stem
    wait_until(lambda: text(page, "#draw-prediction"), what="a prediction")
    assert text(page, "#draw-prediction").startswith("7 (")
    assert "Pixel similarity says" in text(page, "#draw-baseline")
    page.click("#btn-clear")
    draw_stroke(page, [(140, 140), (142, 141)])  # a dot is no digit
    wait_until(lambda: text(page, "#draw-unknown"), what="the no-digit warning")
    assert "looks like no digit I know" in text(page, "#draw-unknown")


def test_drawing_a_seven_by_touch_gives_7(lab, page):
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}, has_touch=True)
    phone = context.new_page()
    phone.goto(lab["url"])
    wait_rendered(phone)
    phone.locator("#pad").scroll_into_view_if_needed()
    box = phone.locator("#pad").bounding_box()
    cdp = context.new_cdp_session(phone)

    def touch(kind, points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [
            {"x": box["x"] + x, "y": box["y"] + y} for x, y in points]})

    corners = [(70, 60), (210, 60), (120, 240)]
    touch("touchStart", corners[:1])
    for (x0, y0), (x1, y1) in pairwise(corners):
        for i in range(1, 9):
            touch("touchMove", [(x0 + (x1 - x0) * i / 8, y0 + (y1 - y0) * i / 8)])
    touch("touchEnd", [])
    wait_until(lambda: text(phone, "#draw-prediction"), what="a prediction from touch")
    assert text(phone, "#draw-prediction").startswith("7 (")
    context.close()


def test_nudging_and_calculus_agree(page):
    page.click("#btn-nudge-all")
    wait_until(lambda: "weights on a batch" in text(page, "#nudge-times"), what="gradcheck")
    assert text(page, "#nudge-times").startswith("785 weights")
    rows = page.locator("#nudge-table tr").all_inner_texts()[1:]
    assert len(rows) == 12
    for row in rows:
        _, nudging, backprop = row.split("\t")
        assert float(nudging) == pytest.approx(float(backprop), rel=1e-4, abs=1e-8)


def test_bad_requests_get_400_and_change_nothing(lab, page):
    before = state(lab)
    headers = {"X-Lab-Token": lab["token"]}
    bad = [("/api/control", {"json": {"action": "fly"}}), ("/api/lr", {"json": {"lr": -1}}),
           ("/api/lr", {"content": b'{"lr": NaN}'}), ("/api/settings", {"json": {"batch_size": 0}}),
           ("/api/settings", {"json": {"colour": "red"}}), ("/api/control", {"content": b"{not json"}),
           ("/api/draw", {"content": b"\x89PNG\r\n\x1a\n" + b"broken" * 100}),
           ("/api/draw", {"content": b"\0" * (50 * 1024 * 1024)}), ("/api/rewind", {"json": {"id": 10**9}})]
    for path, kwargs in bad:
        response = httpx.post(f"{lab['base']}{path}", headers=headers, timeout=30, **kwargs)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]
    after = state(lab)
    for key in ("settings", "epoch", "batch", "history", "lr_now"):
        assert after[key] == before[key]


def test_reload_and_a_second_tab_show_the_same_run(lab, page):
    page.click("#btn-step")
    wait_until(lambda: lit(page) == ["predict"], what="a step")
    shown = text(page, "#status"), text(page, "#step-loss .num"), text(page, "#acc-valid")
    page.reload()
    wait_rendered(page)
    assert (text(page, "#status"), text(page, "#step-loss .num"), text(page, "#acc-valid")) == shown
    assert lit(page) == ["predict"]
    other = page.context.browser.new_page()
    other.goto(page.url)  # the URL now carries the settings; opening it again changes nothing
    wait_rendered(other)
    assert text(other, "#status") == shown[0]
    other.close()
    # A shared link carries the settings: opening it with another lr sets that lr and keeps the run.
    page.goto(page.url.replace("lr=1&", "lr=0.5&"))
    wait_until(lambda: text(page, "#lr-value") == "0.5", what="the lr from the URL")
    assert "epoch" in text(page, "#status") and lit(page) == ["predict"]


def test_wrong_token_or_host_is_refused(lab):
    before = state(lab)
    base = lab["base"]
    assert httpx.post(f"{base}/api/control", json={"action": "play"}).status_code == 403
    wrong = {"X-Lab-Token": "guess"}
    assert httpx.post(f"{base}/api/control", json={"action": "play"}, headers=wrong).status_code == 403
    assert httpx.get(f"{base}/api/stream?token=guess").status_code == 403
    assert httpx.get(f"{base}/api/state").status_code == 403
    rebinding = {"X-Lab-Token": lab["token"], "Host": "evil.example:80"}
    assert httpx.post(f"{base}/api/control", json={"action": "play"}, headers=rebinding).status_code == 400
    assert httpx.get(f"{base}/", headers={"Host": "evil.example"}).status_code == 400
    after = state(lab)
    assert (after["mode"], after["epoch"], after["batch"]) == (before["mode"], before["epoch"], before["batch"])


def draw_stroke(page, points) -> None:
    """One mouse stroke on the drawing pad through ``points`` (pixels from its top-left corner)."""
    page.locator("#pad").scroll_into_view_if_needed()
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()


def test_the_cnn_in_the_lab_filters_a_batch_and_a_drawn_seven(page, tmp_path):
    process, url = start_lab(tmp_path)  # a lab of its own: the tests above share theirs, in order
    cnn = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        cnn.goto(url)
        wait_rendered(cnn)
        cnn.select_option("#set-model", "cnn")
        cnn.select_option("#set-optimizer", "adam")
        cnn.locator("#set-batch_size").fill("64")
        cnn.click("#btn-apply")
        wait_until(lambda: text(cnn, "#message").startswith("new weights from init"), timeout=60, what="the cnn")
        assert "model='cnn'" in text(cnn, "#code") and "optimizer='adam'" in text(cnn, "#code")
        # The weights view: 32 first-layer 3×3 filters, tiled 6 by 6 with 1-pixel gaps.
        assert cnn.eval_on_selector("#weights", "c => [c.width, c.height]") == [23, 23]
        cnn.locator("#lr").fill("-3")
        wait_until(lambda: text(cnn, "#message") == "lr 0.001 from the next step", what="lr 0.001")
        cnn.click("#btn-batch")
        wait_until(lambda: "batch 1 of" in text(cnn, "#step-repeat .num"), timeout=60, what="one cnn batch")
        assert "in filter" in text(cnn, "#step-gradient .num")
        cnn.click("#btn-nudge-chosen")
        wait_until(lambda: "weights on a batch" in text(cnn, "#nudge-times"), timeout=120, what="cnn gradcheck")
        for row in cnn.locator("#nudge-table tr").all_inner_texts()[1:]:
            _, nudging, backprop = row.split("\t")
            assert float(nudging) == pytest.approx(float(backprop), rel=1e-4, abs=1e-8)
        cnn.click("#btn-epoch")
        wait_until(lambda: text(cnn, "#acc-valid") != "–", timeout=120, what="one cnn epoch")
        assert percent_of(text(cnn, "#acc-valid")) > 0.9
        draw_stroke(cnn, [(70, 60), (210, 60), (120, 240)])  # a 7
        wait_until(lambda: text(cnn, "#draw-prediction"), timeout=30, what="the cnn's prediction")
        assert text(cnn, "#draw-prediction").startswith("7 (")
        assert text(cnn, "#evidence-kind") == "gradient × input"
        assert cnn.locator("#draw-evidence").is_visible()
    finally:
        cnn.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


# ---------------------------------------------------------------- the session, without a browser


def curve_of(frame: dict) -> list:
    """The whole loss curve of a frame: its slow part's points, then the live part's newest."""
    return frame["curve_head"] + frame["curve_tail"]


def play_to_end(session: Session) -> None:
    session.control("play")
    wait_until(lambda: session.frame["status"].startswith("stopped"), what="the end of training")


def test_rewind_replays_exactly_the_same_batches():
    session = Session(LabSettings(epochs=2))
    try:
        session.control("epoch")
        wait_until(lambda: session.frame["history"], what="epoch 1")
        session.control("batch")
        wait_until(lambda: session.frame["lit"] == "stop" and session.frame["batch"] == 1, what="a batch")
        mid_epoch = session.frame["snapshots"][-1]
        assert mid_epoch["label"] == "epoch 2, batch 1"
        play_to_end(session)
        first_run = [point[1] for point in curve_of(session.frame)]
        final = session.current_weights()
        session.rewind(mid_epoch["id"])
        assert curve_of(session.frame) == [p for p in curve_of(session.frame) if p[0] <= 5]
        play_to_end(session)
        assert [point[1] for point in curve_of(session.frame)] == first_run
        for name, value in session.current_weights().items():
            np.testing.assert_array_equal(value, final[name])
        with pytest.raises(LabError, match="no such snapshot"):
            session.rewind(12345)
    finally:
        session.close()


def test_rewind_to_an_epoch_restores_the_learner_and_replays_it():
    session = Session(LabSettings(epochs=3))
    try:
        session.control("epoch")
        wait_until(lambda: session.frame["history"], what="epoch 1")
        after_one = session.frame["snapshots"][-1]
        assert after_one["label"] == "after epoch 1"
        play_to_end(session)
        learn = session.learner
        final, history = session.current_weights(), [e.to_dict() for e in learn.history]
        session.rewind(after_one["id"])
        assert learn.epoch == 1 and len(learn.history) == 1 and learn.best.epoch == 1
        for good, param in zip(learn._last_good, learn.params, strict=True):  # a NaN now goes back to here
            np.testing.assert_array_equal(good, param.data)
        assert session.frame["status"] == "paused" and len(session.frame["history"]) == 1
        play_to_end(session)
        assert [{k: v for k, v in e.to_dict().items() if k != "seconds"} for e in learn.history] == [
            {k: v for k, v in e.items() if k != "seconds"} for e in history]
        for name, value in session.current_weights().items():
            np.testing.assert_array_equal(value, final[name])
    finally:
        session.close()


def test_sevensteps_lab_is_a_command_and_help_stays_light(tmp_path):
    code = ("import sys, runpy; sys.argv = ['sevensteps', 'lab', '--help']\n"
            "try:\n    runpy.run_module('sevensteps.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', [m for m in ('starlette', 'uvicorn', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "--no-browser" in out and "--port" in out
    result = subprocess.run([sys.executable, "-m", "sevensteps.cli", "lab", "--no-browser", "--port", "70000"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "sevensteps: error: --port 70000: expected 0 to 65535"


def test_a_saved_lab_run_is_a_normal_run_folder(tmp_path):
    from sevensteps.cli import main

    session = Session(LabSettings(epochs=2), out=tmp_path / "runs")
    try:
        play_to_end(session)
        run_dir = session.save_run()
    finally:
        session.close()
    for name in ("config.json", "summary.json", "model.safetensors", "checkpoint.safetensors",
                 "snapshots.safetensors", "report.html"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["valid_accuracy"] > summary["baseline_accuracy"]
    with threads_restored():  # the command's entry point sets the threads for the whole process
        assert main(["evaluate", "--model", str(run_dir / "model.safetensors")]) == 0
        assert main(["train", "--resume", str(run_dir), "--epochs", "3", "--quiet", "--no-report"]) == 0
    resumed = json.loads((run_dir / "summary.json").read_text())
    assert len(resumed["history"]) == 3
    assert list(resumed) == list(summary)  # the lab writes summary.json as train does
    assert resumed["settings"] == summary["settings"]

    reopened = Session(LabSettings(), out=tmp_path / "runs")
    try:
        reopened.open_run(run_dir)
        assert reopened.frame["epoch"] == 3 and len(reopened.frame["history"]) == 3
        assert reopened.frame["confusion"] is not None
        reopened.control("epoch")
        wait_until(lambda: len(reopened.frame["history"]) == 4, what="a fourth epoch")
        with pytest.raises(LabError, match=r"config\.json"):
            reopened.open_run(tmp_path)
    finally:
        reopened.close()


def test_lr_changes_take_effect_at_the_next_step_and_bad_settings_are_named():
    session = Session(LabSettings())
    try:
        session.change_lr(0.5)
        session.control("batch")
        wait_until(lambda: session.frame["lit"] == "stop", what="a batch")
        assert "lr × |∇| = 0.5 ×" in session.frame["steps"]["step"]
        assert session.configure(LabSettings(lr=0.25), keep_weights=True).startswith("lr")
        assert session.frame["epoch"] == 1  # the run was kept
        for bad, message in ((LabSettings(model="resnet"), "model"), (LabSettings(lr=float("nan")), "lr"),
                             (LabSettings(batch_size=0), "batch_size"), (LabSettings(digits="3"), "digits"),
                             (LabSettings(loss="cross_entropy"), "does not fit")):
            with pytest.raises(LabError, match=message):
                session.configure(bad)
        assert session.frame["settings"]["lr"] == 0.25 and session.frame["epoch"] == 1
        namespace: dict = {}
        exec(session.frame["code"].replace("epochs=20", "epochs=2"), namespace)  # the code panel runs as shown
        assert len(namespace["result"].history) == 2 and namespace["settings"].lr == 0.25
    finally:
        session.close()


def test_a_learning_rate_far_too_low_is_diagnosed():
    session = Session(LabSettings(lr=1e-4, epochs=3))
    try:
        assert session.frame["diagnosis"] is None
        play_to_end(session)
        assert "stuck near chance" in session.frame["diagnosis"] and "too low" in session.frame["diagnosis"]
    finally:
        session.close()


def test_the_lab_command_starts_the_cnn_with_its_recipes_optimizer(tmp_path):
    process, url = start_lab(tmp_path, "--model", "cnn")
    try:
        base, token = url.split("/?token=")
        settings = httpx.get(f"{base}/api/state", headers={"X-Lab-Token": token}, timeout=30).json()["settings"]
        assert (settings["model"], settings["optimizer"], settings["lr"]) == ("cnn", "adam", 0.001)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_the_lab_command_refuses_a_bad_port_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sevensteps.lab", "--no-browser", "--port", "70000"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "sevensteps: error: --port 70000: expected 0 to 65535"
