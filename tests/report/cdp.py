"""A headless Chromium driven over the DevTools protocol on a pipe (no websocket library).

``--remote-debugging-pipe`` makes Chromium read protocol messages from fd 3 and
write them to fd 4, each a JSON object ending in a NUL byte. :class:`Browser`
opens one page, collects console errors, uncaught exceptions and error log
entries, and evaluates expressions. The browser process and its profile folder
never outlive the ``with`` block.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ALERT_TRAP = "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    """``with Browser() as b: b.open(url); b.errors; b.evaluate("1+1")``."""

    def __init__(self, executable: str, *, timeout_s: float = 60.0):
        self.executable = executable
        self.timeout_s = timeout_s
        self.errors: list[str] = []
        self._next_id = 0
        self._buf = b""
        self._events: list[dict[str, Any]] = []
        self._session: str | None = None

    def __enter__(self) -> "Browser":
        self._profile = tempfile.mkdtemp(prefix="sb-chromium-")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def wire() -> None:  # in the child, before exec: the protocol wants fds 3 and 4
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.proc = subprocess.Popen(
            [self.executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader",
             "--remote-debugging-pipe", f"--user-data-dir={self._profile}", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4, to_child_r, from_child_w))  # 3, 4: kept past close_fds
        os.close(to_child_r)
        os.close(from_child_w)
        try:
            targets = self.call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self._session = self.call("Target.attachToTarget",
                                      {"targetId": page["targetId"], "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Page"):
                self.call(f"{domain}.enable")
            # record alert() calls instead of opening a dialog: an injected script would call it
            self.call("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_TRAP})
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self._send("Browser.close", {}, session=False)
                    self.proc.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for fd in (self._to_child, self._from_child):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    # --- protocol ---------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any], *, session: bool = True) -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session and self._session is not None:
            msg["sessionId"] = self._session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if ready:
                chunk = os.read(self._from_child, 1 << 16)
                if not chunk:
                    raise CDPError(f"Chromium closed the pipe (exit code {self.proc.poll()})")
                self._buf += chunk
        raw, _, self._buf = self._buf.partition(b"\0")
        msg = json.loads(raw)
        if "method" in msg:
            self._note(msg)
        return msg

    def _note(self, ev: dict[str, Any]) -> None:
        self._events.append(ev)
        p = ev.get("params", {})
        if ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.errors.append(f"console.{p['type']}: {args}")
        elif ev["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append(f"uncaught: {d.get('exception', {}).get('description') or d.get('text')}")
        elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append(f"log: {p['entry'].get('text')}")

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        mid = self._send(method, params or {}, session=method.split(".")[0] not in ("Target", "Browser"))
        deadline = time.monotonic() + self.timeout_s
        while True:
            msg = self._read(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def wait_event(self, method: str) -> dict[str, Any]:
        for ev in self._events:
            if ev["method"] == method:
                return ev
        deadline = time.monotonic() + self.timeout_s
        while True:
            msg = self._read(deadline)
            if msg.get("method") == method:
                return msg

    # --- use --------------------------------------------------------------------

    def open(self, path: Path, *, settle_s: float = 1.0) -> float:
        """Load ``path``; return seconds until the load event. Waits ``settle_s`` more for late errors."""
        self.errors.clear()
        self._events.clear()
        t0 = time.monotonic()
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        self.wait_event("Page.loadEventFired")
        loaded = time.monotonic() - t0
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            try:
                self._read(end)
            except CDPError:
                break
        return loaded

    def evaluate(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise CDPError(f"{expression!r} raised: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")
