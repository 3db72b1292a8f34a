"""The documentation site: it builds strictly (no broken link or anchor, no page left out of the
navigation), its generated pages hold what the code holds, and the quickstart renders in a
browser with its navigation and code blocks."""

from __future__ import annotations

import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

import pytest
import yaml

from tests.support import fault_cases
from tests.support.chromium import painted_fraction, requires_chromedriver

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of the project folder `project` into `site`."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return out


def nav_pages(nav) -> list[tuple[str, str]]:
    """(title, page) of every entry of mkdocs.yml's nav, depth first."""
    out = []
    for entry in nav:
        for title, value in entry.items():
            if isinstance(value, list):
                out += nav_pages(value)
            else:
                out.append((title, value))
    return out


def config() -> dict:
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copytree(DOCS, project / "docs")
    # The hook renders parts from the checkout's scripts/ and tests/ by path.
    shutil.copytree(ROOT / "scripts", project / "scripts")
    shutil.copytree(ROOT / "tests" / "support", project / "tests" / "support")
    return project


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page():
    pages = {page for _, page in nav_pages(config()["nav"])}
    files = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert files - pages == set(), "pages under docs/ that the nav does not list"
    assert pages - files == set(), "nav entries without a page"


def test_the_site_builds_strictly(site):
    for _, page in nav_pages(config()["nav"]):
        built = site / (page[:-len(".md")] + "/index.html").replace("index/index.html", "index.html")
        assert built.is_file(), page


def test_a_broken_link_fails_the_build(tmp_path):
    project = copy_project(tmp_path)
    page = project / "docs" / "quickstart.md"
    page.write_text(page.read_text() + "\nSee [the missing page](guides/missing.md).\n")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "quickstart.md" in result.stderr and "guides/missing.md" in result.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(tmp_path):
    project = copy_project(tmp_path)
    (project / "docs" / "guides" / "orphan.md").write_text("# Orphan\n")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "guides/orphan.md" in result.stderr


def _text(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_the_spec_reference_lists_every_field_the_parser_accepts(site):
    from models import spec
    from models.hparams import ModelHParams

    page = (site / "reference" / "spec" / "index.html").read_text()
    cells = {_text(c) for c in re.findall(r"<td>(.*?)</td>", page, re.S)}
    fields = {f for fields in spec.FEATURE_FIELDS.values() for f in fields}
    fields |= set(spec.TASK_FIELDS) | set(spec.GATE_FIELDS) | set(spec.SCHEMA_FIELDS)
    fields |= set(spec.PROBLEM_FIELDS) | set(spec.INPUT_FIELDS) | set(spec.MODEL_FIELDS)
    fields |= {f.name for f in __import__("dataclasses").fields(ModelHParams)}
    assert fields - cells == set()
    # A row read by hand from the parser: numeric features take no vocabulary_size.
    row = re.search(r"<tr>\s*<td><code>vocabulary_size</code></td>(.*?)</tr>", page, re.S)
    assert _text(re.findall(r"<td>(.*?)</td>", row.group(1), re.S)[0]) == (
        "categorical, sequence, text")


def test_the_fault_table_is_the_case_list(site):
    page = (site / "guides" / "bad-data-and-faults" / "index.html").read_text()
    table = page[page.index("what happens when"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    assert len(rows) == len(fault_cases.CASES)
    for row, case in zip(rows, fault_cases.CASES):
        first = _text(re.findall(r"<td>(.*?)</td>", row, re.S)[0])
        assert first == case.fault.replace("`", "")


_QUICKSTART_PROBE = """
const visible = e => { const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; };
const nav = document.querySelector('nav.md-nav--primary');
const links = nav ? Array.from(nav.querySelectorAll('a.md-nav__link')).filter(visible)
  .map(a => [a.textContent.trim(), a.getAttribute('href')]) : [];
const active = nav && nav.querySelector('.md-nav__link--active');
const blocks = Array.from(document.querySelectorAll('article pre > code')).map(c => {
  const r = c.parentElement.getBoundingClientRect();
  const box = c.closest('.highlight');
  const lang = box ? Array.from(box.classList).find(k => k.startsWith('language-')) || '' : null;
  return {text: c.innerText, visible: visible(c), lang: lang,
          highlighted: c.querySelectorAll('span[class]').length,
          font: getComputedStyle(c).fontFamily,
          box: {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width,
                height: r.height}};
});
return {links: links, active: active ? active.textContent.trim() : null, blocks: blocks,
        copy_buttons: document.querySelectorAll('article pre [data-md-type="copy"]').length,
        h1: document.querySelector('article h1').textContent};
"""


@pytest.fixture(scope="module")
def served(site):
    """The built site over HTTP on 127.0.0.1 (as `mkdocs serve` and a web server serve it)."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@requires_chromedriver
def test_the_quickstart_renders_its_navigation_and_code_blocks(served):
    from tests.support.chromium import load_url

    url = served + "quickstart/"
    page = load_url(url, width=1280, probe_js=_QUICKSTART_PROBE)
    assert page.errors == []
    probe = page.probe
    assert probe["h1"].startswith("Quickstart")
    # Navigation: every entry of mkdocs.yml's nav is a visible link, the page is the active
    # one, and every link leads to a page the server has.
    titles = [title for title, _ in nav_pages(config()["nav"])]
    shown = [text for text, _ in probe["links"]]
    assert [t for t in titles if t not in shown] == []
    assert probe["active"] == "Quickstart"
    for text, href in probe["links"]:
        with urllib.request.urlopen(urljoin(url, href), timeout=10) as response:
            assert response.status == 200, (text, href)
    # Code blocks: one per fence of the page, visible, monospace, through the highlighter
    # (shell commands coloured token by token), painted, with a copy button each.
    source = (DOCS / "quickstart.md").read_text()
    fences = len(re.findall(r"^\s*```", source, re.M)) // 2
    blocks = probe["blocks"]
    assert len(blocks) == fences >= 3
    assert probe["copy_buttons"] == fences
    assert "bash scripts/run.sh" in blocks[0]["text"] and "bash scripts/test.sh" in blocks[0]["text"]
    assert blocks[0]["lang"] == "language-bash"
    image = page.image()
    for block in blocks:
        assert block["visible"] and "mono" in block["font"].lower(), block["text"][:40]
        assert block["lang"] is not None, block["text"][:40]
        if block["lang"] == "language-bash":
            assert block["highlighted"] > 0, block["text"][:40]
        assert painted_fraction(image, block["box"]) > 0.02, block["text"][:40]


def test_the_readme_is_short_and_its_links_lead_to_files():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert "bash scripts/run.sh\n" in readme and "bash scripts/test.sh\n" in readme
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert len(links) >= 20
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        assert (ROOT / link.split("#")[0]).is_file(), link
