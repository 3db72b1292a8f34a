"""Loads a page in headless Chromium over the DevTools protocol: console errors, element boxes
and a full-page screenshot, for tests that check what a person would see.

Chromium (Debian package `chromium`) is installed by scripts/test.sh when missing. The browser
runs with a fresh profile, no network services and no sandbox (tests may run as root).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--remote-debugging-port=0",
)


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclasses.dataclass
class PageLoad:
    """What loading a page produced."""

    errors: list[str]              # console errors, uncaught exceptions, failed loads
    boxes: dict[str, dict]         # element id -> {x, y, width, height, loaded}
    screenshot_png: bytes          # full-page screenshot
    title: str

    def image(self):
        from PIL import Image

        return Image.open(io.BytesIO(self.screenshot_png)).convert("RGB")


class _DevTools:
    def __init__(self, ws_url: str):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"DevTools {method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            self.events.append(message)
            if message.get("method") == method:
                return message
        raise TimeoutError(f"no {method} within {timeout} s")

    def close(self) -> None:
        self.ws.close()


def _errors(events: list[dict]) -> list[str]:
    out = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                              for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            out.append("exception: " + str(details.get("exception", {}).get("description")
                                           or details.get("text")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            out.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed":
            out.append(f"network: {params.get('errorText')} ({params.get('type')})")
    return out


_BOXES_JS = """
JSON.stringify(Array.from(document.querySelectorAll('[id]')).map(e => {
  const r = e.getBoundingClientRect();
  return [e.id, {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
                 height: r.height,
                 loaded: e.tagName === 'IMG' ? (e.complete && e.naturalWidth > 0) : null}];
}))
"""


def load_page(path: str, width: int = 1280, timeout: float = 60.0) -> PageLoad:
    """Opens the local file `path` in headless Chromium and returns what it showed."""
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("chromium not found: scripts/test.sh installs the Debian package "
                                "`chromium` (apt-get install -y chromium)")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},900",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    tools = None
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {proc.returncode}: "
                                   f"{proc.stderr.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(open(port_file).read().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        tools = _DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.call(f"{domain}.enable")
        tools.call("Page.navigate", url="file://" + os.path.abspath(path))
        tools.wait_for("Page.loadEventFired", timeout)
        boxes = dict(json.loads(tools.call("Runtime.evaluate", expression=_BOXES_JS,
                                           returnByValue=True)["result"]["value"]))
        title = tools.call("Runtime.evaluate", expression="document.title",
                           returnByValue=True)["result"]["value"]
        size = tools.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"],
                                "height": size["height"], "scale": 1})
        return PageLoad(_errors(tools.events), boxes, base64.b64decode(shot["data"]), title)
    finally:
        if tools is not None:
            tools.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def painted_fraction(image, box: dict, background=(255, 255, 255), tolerance: int = 16) -> float:
    """Fraction of the pixels inside `box` that differ from the background colour."""
    left, top = int(box["x"]), int(box["y"])
    region = image.crop((left, top, left + int(box["width"]), top + int(box["height"])))
    pixels = list(region.getdata())
    if not pixels:
        return 0.0
    painted = sum(1 for p in pixels if max(abs(c - b) for c, b in zip(p, background)) > tolerance)
    return painted / len(pixels)


def colour_pixels(image, box: dict, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    """Number of pixels inside `box` close to `colour` (e.g. a chart's threshold line)."""
    left, top = int(box["x"]), int(box["y"])
    region = image.crop((left, top, left + int(box["width"]), top + int(box["height"])))
    return sum(1 for p in region.getdata() if max(abs(c - k) for c, k in zip(p, colour)) <= tolerance)
