"""Open a page in a real headless Chromium over the DevTools protocol: console errors,
uncaught exceptions, the size of every plot, and a screenshot.

Chromium is Debian's ``chromium`` package (``make install`` adds it where apt-get works).
The flags keep it off the network, which on a closed machine otherwise makes it hang.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0"]

PLOTS_JS = """JSON.stringify([...document.querySelectorAll('svg')].map(s => {
  const r = s.getBoundingClientRect();
  return {label: s.getAttribute('aria-label'), width: r.width, height: r.height,
          marks: s.querySelectorAll('path, rect, text, use, image').length};
}))"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    console: list[dict[str, Any]] = field(default_factory=list)  # console calls and log entries
    exceptions: list[str] = field(default_factory=list)
    plots: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""

    @property
    def errors(self) -> list[str]:
        found = [f"{c['level']}: {c['text']}" for c in self.console if c["level"] in ("error", "assert")]
        return found + [f"uncaught: {e}" for e in self.exceptions]


class Chromium:
    """``with Chromium(exe, tmp) as browser: check = browser.open(path, screenshot=png)``."""

    def __init__(self, executable: str, workdir: Path, width: int = 1200, height: int = 900):
        self.executable, self.workdir = executable, Path(workdir)
        self.width, self.height = width, height
        self.proc: subprocess.Popen[bytes] | None = None
        self.ws: Any = None
        self._id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        import websocket  # websocket-client

        self.workdir.mkdir(parents=True, exist_ok=True)
        profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=self.workdir))  # fresh every launch
        log = (self.workdir / "chromium.log").open("wb")
        self.proc = subprocess.Popen([self.executable, *FLAGS, f"--user-data-dir={profile}",
                                      f"--window-size={self.width},{self.height}", "about:blank"],
                                     stdout=log, stderr=subprocess.STDOUT)
        try:
            port_file = profile / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chromium did not start (see {self.workdir / 'chromium.log'})")
                time.sleep(0.1)
            port = int(port_file.read_text().splitlines()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=30,
                                                  suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__()  # never leave a browser running
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # ---- protocol ---------------------------------------------------------------------------
    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def wait_for(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self._events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event} within {timeout} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            self._events.append(json.loads(self.ws.recv()))

    # ---- a page ----------------------------------------------------------------------------
    def open(self, path: Path, screenshot: Path | None = None, max_height: int = 6000) -> PageCheck:
        self._events.clear()
        self.send("Page.navigate", url=Path(path).resolve().as_uri())
        self.wait_for("Page.loadEventFired")
        time.sleep(0.3)  # late console messages (e.g. CSP reports) arrive just after load
        self.send("Runtime.evaluate", expression="1")
        check = PageCheck()
        for e in self._events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                check.console.append({"level": p.get("type"), "text": text})
            elif method == "Log.entryAdded":
                entry = p.get("entry", {})
                check.console.append({"level": entry.get("level"), "text": entry.get("text", "")})
            elif method == "Runtime.exceptionThrown":
                details = p.get("exceptionDetails", {})
                check.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        check.plots = json.loads(self.evaluate(PLOTS_JS))
        check.title = self.evaluate("document.title")
        if screenshot is not None:
            height = min(max_height, int(self.evaluate("document.documentElement.scrollHeight")))
            shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
        return check

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")


def unavailable_reason() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if find_chromium() is None:
        return "no chromium on PATH (Debian: apt-get install chromium; `make install` does it where apt-get works)"
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (pip install 'lmdsl[test]')"
    if os.environ.get("LMDSL_SKIP_BROWSER"):
        return "LMDSL_SKIP_BROWSER is set"
    return None
