"""The report page in a real browser: headless Chromium (Debian's ``chromium`` package) loads ``report.html``,
reports every console error, uncaught exception and failed load through the DevTools protocol, and screenshots
the whole page. Slow (a browser start and a small real sweep); skipped where Chromium is not installed.

The protocol runs over ``--remote-debugging-pipe`` (file descriptors 3 and 4, NUL-terminated JSON messages), so
the test needs no driver and no Python package beyond the standard library.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """A headless Chromium driven over the DevTools pipe: :meth:`load` opens a page and collects its errors."""

    def __init__(self, profile: Path):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        # a fresh Python hands the pipe to Chromium as fds 3 (commands in) and 4 (replies out); no preexec_fn, so
        # no fork of this (JAX-threaded) process in Python (POSIX shells only redirect fds 0-9, pipes may be higher)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "--no-first-run", "about:blank"]
        wire = ("import os, sys; a, b = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2])); os.dup2(a, 3); "
                "os.dup2(b, 4); os.set_inheritable(3, True); os.set_inheritable(4, True); "
                "os.execv(sys.argv[3], sys.argv[3:])")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", wire, str(to_child_r), str(from_child_w), CHROMIUM, *args],
            pass_fds=(to_child_r, from_child_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf, self._id, self.events = b"", 0, []

    def _read(self, timeout: float):
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_child], [], [], timeout)
            if not ready:
                raise TimeoutError("no message from Chromium")
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        """Send one command and return its result; events that arrive meanwhile go to :attr:`events`."""
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(max(0.1, deadline - time.monotonic())))

    def drain(self, seconds: float):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.events.append(self._read(max(0.05, end - time.monotonic())))
            except TimeoutError:
                break

    def load(self, url: str, screenshot: Path, width: int = 1280) -> list[str]:
        """Open ``url``, screenshot the full page to ``screenshot`` and return its errors: console.error and
        console.assert calls, uncaught exceptions and error log entries (e.g. a resource that fails to load)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable", session=s)
        self.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                          "mobile": False}, session=s)
        self.send("Page.navigate", {"url": url}, session=s)
        self.wait_for("Page.loadEventFired")
        self.drain(1.0)  # late errors (timers, images decoded after load)
        height = int(self.send("Page.getLayoutMetrics", session=s)["cssContentSize"]["height"])
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": width,
                                                             "height": min(height, 16000), "scale": 1}},
                         session=s)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console." + p["type"] + ": " + " ".join(str(a.get("value", a.get("description")))
                                                                      for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                errors.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append("log: " + p["entry"]["text"] + " " + p["entry"].get("url", ""))
        return errors

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def report_store(path: Path) -> Path:
    """A store with tiny real runs of Figs 1 and 4 and the demo (a d → ∞ table, an authors' table, claims)."""
    from iclab.sweep.reproduce import run_experiment

    tiny = {"lu2024-fig1": {"d": 8, "runs": 2, "n_theory": 40},
            "lu2024-fig4": {"d": 10, "runs": 2, "d_dmmse": 13, "n_test": 16, "n_kappa_dmmse": 4, "n_theory": 40},
            "lu2024-fig4-demo": {"runs": 2, "n_test": 16, "n_theory": 30}}
    for fig, over in tiny.items():
        run_experiment(fig, overrides=over, out_dir=path.parent / "out", store=path, progress=False)
    return path


@pytest.mark.slow
def test_error_detection_can_fail(browser, tmp_path):
    """The detector sees a console.error, an uncaught exception and a missing image (so a clean page means one)."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><html><body><p>x</p><img src='missing.png'>"
                    "<script>console.log('fine'); console.error('boom'); undefinedFn();</script></body></html>")
    errors = browser.load(page.as_uri(), tmp_path / "bad.png")
    assert any("console.error: boom" in e for e in errors), errors
    assert any("undefinedFn" in e for e in errors), errors
    assert any("missing.png" in e for e in errors), errors
    assert [e for e in errors if e.startswith("console.")] == ["console.error: boom"]  # console.log is no error


@pytest.mark.slow
def test_report_page_renders_without_console_errors(browser, tmp_path):
    from iclab.sweep.report import write_report

    page = write_report(report_store(tmp_path / "s.sqlite"), tmp_path / "report")
    shot = Path(os.environ.get("ICLAB_SCREENSHOT_DIR", tmp_path)) / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    errors = browser.load(page.as_uri(), shot)
    assert errors == []
    data = shot.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 50_000
    height = int.from_bytes(data[20:24], "big")  # IHDR: the full page, not only the first screen
    assert height > 3000
    text = page.read_text()
    assert "claims hold" in text and "theory (d → ∞)" in text and "<details>" in text
