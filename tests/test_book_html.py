"""The built book, checked page by page in real headless Chromium.

The book is built once per module at the smoke preset with the package CLI
(``python -m wavelib book --preset smoke --out DIR``, html in DIR/_build/html). To re-check an existing build
without rebuilding::

    WAVELIB_BOOK_HTML=_build/html python -m pytest -m browser tests/test_book_html.py

Every .html page of the build is opened (served over http on 127.0.0.1, Chromium
offline: only 127.0.0.1 resolves). Sphinx's generated genindex/search/py-modindex
pages are loaded and link-checked but not content-checked. Chromium is the system
one (/usr/bin/chromium, or $WAVELIB_CHROMIUM); Playwright never downloads a browser.
Each test lists every failing page and element.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import browser as B  # tests/browser.py
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT_S = int(os.environ.get("WAVELIB_BOOK_BUILD_TIMEOUT", "3600"))
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _tail(text: str, lines: int = 60, chars: int = 8000) -> str:
    """The last lines of a build log, preceded by earlier lines that look like errors."""
    all_lines = text.splitlines()
    tail = all_lines[-lines:]
    earlier = [
        ln for ln in all_lines[:-lines]
        if re.search(r"error|exception|failed|warning", ln, re.IGNORECASE)
    ]
    head = ["[earlier error-like lines]", *earlier[-15:], "[last lines]"] if earlier else []
    return "\n".join(head + tail)[-chars:]


def _fail_list(what: str, problems: list[str]) -> None:
    if problems:
        pytest.fail(f"{len(problems)} {what}:\n  " + "\n  ".join(problems), pytrace=False)


def chapter_pages() -> list[str]:
    """The html pages of every toc entry but the root (chapters, sections, parts)."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf8"))
    files: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for v in node.values():
                if isinstance(v, (list, dict)):
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk({k: v for k, v in toc.items() if k != "root"})
    return [re.sub(r"\.(md|ipynb|rst)$", "", f) + ".html" for f in files]


def _build_book(tmp_path_factory) -> Path:
    """The html folder of a smoke-preset build (or $WAVELIB_BOOK_HTML); pytest.fail on error."""
    given = os.environ.get("WAVELIB_BOOK_HTML")
    if given:
        html = Path(given).resolve()
        if not (html.is_dir() and B.html_pages(html)):
            pytest.fail(f"WAVELIB_BOOK_HTML={given!r} is not a built html folder", pytrace=False)
        return html

    out = tmp_path_factory.mktemp("book")
    cmd = [sys.executable, "-m", "wavelib", "book", "--preset", "smoke", "--out", str(out)]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its kernels
        output, _ = proc.communicate()
        pytest.fail(
            f"book build timed out after {BUILD_TIMEOUT_S}s: {' '.join(cmd)}\n"
            f"--- output ---\n{_tail(output)}", pytrace=False,
        )
    if proc.returncode != 0:
        pytest.fail(
            f"book build failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- output ---\n{_tail(output)}", pytrace=False,
        )
    html = out / "_build" / "html"
    if not B.html_pages(html):
        pytest.fail(f"book build exited 0 but {html} has no html pages\n--- output ---\n{_tail(output)}",
                    pytrace=False)
    print(f"book built in {time.monotonic() - t0:.0f}s into {html}")
    return html


@pytest.fixture(scope="module")
def _book_state(tmp_path_factory) -> dict:
    """Build once, check every page once; failures are kept, not raised (see `book`)."""
    state: dict = {"reported": False}
    try:
        html = _build_book(tmp_path_factory)
        chromium = B.find_chromium()
        if chromium is None:
            msg = "no Chromium (apt-get install chromium, or set WAVELIB_CHROMIUM)"
            if IN_CI:
                pytest.fail(msg, pytrace=False)
            pytest.skip(msg)
        try:
            import playwright  # noqa: F401
        except ImportError:
            if IN_CI:
                raise
            pytest.skip("playwright is not installed")
        t0 = time.monotonic()
        state["report"] = B.check_book(html, chromium)
        print(f"checked {len(state['report'].pages)} pages in Chromium in {time.monotonic() - t0:.1f}s")
    except pytest.skip.Exception as e:
        state["skip"] = str(e)
    except BaseException as e:  # noqa: BLE001 - re-raised per test by `book`
        if isinstance(e, KeyboardInterrupt):
            raise
        state["error"] = e
    return state


@pytest.fixture
def book(_book_state) -> B.BookReport:
    """The checked book. A build failure is shown in full once, then referred to."""
    if "skip" in _book_state:
        pytest.skip(_book_state["skip"])
    if "error" in _book_state:
        if _book_state["reported"]:
            pytest.fail("the book could not be built/checked: see the first error above", pytrace=False)
        _book_state["reported"] = True
        raise _book_state["error"]
    return _book_state["report"]


def test_every_page_loads(book):
    """HTTP 200, no uncaught JS exception, every same-origin resource loads."""
    assert len(book.pages) >= 2, f"only {list(book.pages)} in {book.root}"
    _fail_list("page load problem(s)", B.problems_load(book))


def test_chapters_are_built(book):
    missing = [c for c in chapter_pages() if c not in book.pages]
    _fail_list("chapter(s) of _toc.yml missing from the build", missing)


def test_images_load(book):
    """Every <img> in the article (matplotlib figures included) decodes: naturalWidth > 0."""
    _fail_list("image(s) did not load", B.problems_images(book))


def test_internal_links_resolve(book):
    """Every same-origin href answers 200 and its #anchor is an element id on the target."""
    _fail_list("broken internal link(s)", B.problems_links(book))


def test_no_error_output(book):
    """No traceback / stderr cell output and no 'Traceback (most recent call last)'."""
    _fail_list("error output(s)", B.problems_error_output(book))


def test_each_chapter_has_a_figure(book):
    from wavelib.chapters import CHAPTERS

    problems = []
    for rel in [re.sub(r"\.ipynb$", ".html", c.notebook) for c in CHAPTERS.values()]:  # not the Performance page
        page = book.pages.get(rel)
        if page is None or page.images is None:
            continue  # reported by test_chapters_are_built / test_every_page_loads
        figures = [i for i in page.images if i["naturalWidth"] >= 100 and i["naturalHeight"] >= 50]
        if not figures:
            problems.append(
                f"{rel}: no figure image (loaded <img> >= 100x50 px) in the article; "
                f"images: {[(i['src'][:60], i['naturalWidth'], i['naturalHeight']) for i in page.images]}"
            )
    _fail_list("chapter(s) without a figure", problems)


def test_math_renders(book):
    """Every .math element holds a MathJax <mjx-container>, without TeX errors."""
    _fail_list("math rendering problem(s)", B.problems_math(book))
    rendered = [r for r, p in book.pages.items() if p.content and p.content["mjxCount"]]
    assert rendered, "no page of the book has rendered math (<mjx-container>)"


def test_mathjax_is_served_by_the_book(book):
    """MathJax 3 comes from _static/mathjax/ (vendored), never from a CDN."""
    _fail_list("MathJax loading problem(s)", B.problems_mathjax_local(book))
    versions = {p.mathjax_version for p in book.pages.values() if p.mathjax_version}
    assert versions, "MathJax never loaded on any page"


def test_works_offline(book):
    """No page requests anything from another origin while loading (CDNs, fonts, ...)."""
    _fail_list("request(s) to other origins", B.problems_external(book))


def test_tables_fit_the_text_column(book):
    """At 1280 pixels wide (a classroom projector) no table scrolls sideways (book/_static/wavelib.css)."""
    _fail_list("table(s) wider than the text column", B.problems_wide_tables(book))
