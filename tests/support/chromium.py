"""Loads a page in headless Chromium through Selenium's Chrome WebDriver: errors, element boxes
and a full-page screenshot, for tests that check what a person would see.

Chromium and its driver (Debian packages `chromium` and `chromium-driver`) are installed by
scripts/test.sh when missing. The browser runs headless with a fresh profile, no network services
and no sandbox (tests may run as root). Tests that load a page carry `requires_chromedriver`:
without the driver they are skipped, unless CI is set, where they run (and fail).

What comes from where:
- errors: Chrome's browser log (capability `goog:loggingPrefs`, `driver.get_log("browser")`),
  entries at level SEVERE: console.error / console.assert, uncaught exceptions and failed
  resource loads, as the DevTools console would show them.
- boxes: `execute_script`; an image counts as loaded when `complete` and `naturalWidth > 0`.
- screenshot: WebDriver captures the viewport only, so the window is first made tall enough for
  the viewport to hold the whole document (headless Chromium's window is taller than its
  viewport by a fixed amount, measured on the page).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re

import pytest

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"

FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromedriver_available() -> bool:
    return os.access(CHROMEDRIVER, os.X_OK) and os.access(CHROMIUM, os.X_OK)


# Skips the browser tests on a machine without the driver; under CI they always run.
requires_chromedriver = pytest.mark.skipif(
    not chromedriver_available() and not _in_ci(),
    reason=f"{CHROMEDRIVER} or {CHROMIUM} not found (Debian packages chromium-driver and "
           "chromium, installed by scripts/test.sh); set CI=true to make this a failure",
)


@dataclasses.dataclass
class PageLoad:
    """What loading a page produced."""

    errors: list[str]              # console errors, uncaught exceptions, failed loads
    boxes: dict[str, dict]         # element id -> {x, y, width, height, loaded}
    screenshot_png: bytes          # full-page screenshot
    title: str
    probe: object = None           # what the caller's `probe_js` returned, if it gave one

    def image(self):
        from PIL import Image

        return Image.open(io.BytesIO(self.screenshot_png)).convert("RGB")


# A browser-log message from the page starts with "<url> <line>:<column> ".
_SOURCE_POSITION = re.compile(r"^\S+ \d+:\d+ ")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _unquote(match: re.Match) -> str:
    try:
        return json.loads(match.group(0))
    except ValueError:
        return match.group(1)


def _errors(entries: list[dict]) -> list[str]:
    out = []
    for entry in entries:
        if entry.get("level") != "SEVERE":
            continue
        source, message = entry.get("source"), entry.get("message", "")
        if source == "console-api":
            # String arguments arrive JSON-quoted ("boom"); unquote them as the console shows them.
            args = _SOURCE_POSITION.sub("", message, count=1)
            out.append("console: " + _QUOTED.sub(_unquote, args))
        elif source == "javascript":
            out.append("exception: " + _SOURCE_POSITION.sub("", message, count=1))
        elif source == "network":
            out.append(f"network: {message}")
        else:
            out.append(f"log: {source}: {message}")
    return out


_BOXES_JS = """
return Object.fromEntries(Array.from(document.querySelectorAll('[id]')).map(e => {
  const r = e.getBoundingClientRect();
  return [e.id, {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
                 height: r.height,
                 loaded: e.tagName === 'IMG' ? (e.complete && e.naturalWidth > 0) : null}];
}));
"""


def load_page(path: str, width: int = 1280, timeout: float = 60.0) -> PageLoad:
    """Opens the local file `path` in headless Chromium and returns what it showed."""
    return load_url("file://" + os.path.abspath(path), width, timeout)


def load_url(url: str, width: int = 1280, timeout: float = 60.0, probe_js: str | None = None,
             full_page: bool = True) -> PageLoad:
    """Opens `url` (a file, or a server on this machine) in headless Chromium and returns what
    it showed; `probe_js`, a script body ending in `return ...`, runs once the page has loaded
    (before the window grows for the screenshot) and its result is `PageLoad.probe`.
    `full_page=False` keeps the screenshot to the first screen (the window's size)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not chromedriver_available():
        raise FileNotFoundError(f"{CHROMEDRIVER} or {CHROMIUM} not found: scripts/test.sh installs "
                                "the Debian packages (apt-get install -y chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={width},900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(timeout)
        driver.set_script_timeout(timeout)
        driver.get(url)  # returns after the load event
        errors = _errors(driver.get_log("browser"))
        probe = driver.execute_script(probe_js) if probe_js else None
        if full_page:
            # Grow the window until the viewport holds the whole document, for a full-page shot.
            chrome_height = driver.get_window_size()["height"] - driver.execute_script(
                "return window.innerHeight")
            page_height = driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, "
                "document.body.scrollHeight)")
            driver.set_window_size(width, page_height + chrome_height)
        boxes = driver.execute_script(_BOXES_JS)
        title = driver.title
        shot = driver.get_screenshot_as_png()
        errors += _errors(driver.get_log("browser"))  # anything logged while resizing
        return PageLoad(errors, boxes, shot, title, probe)
    finally:
        driver.quit()


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
