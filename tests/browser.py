"""Check a built Jupyter Book in real headless Chromium (Playwright, sync API).

Used by ``tests/test_book_html.py``. Also runnable by hand against any build::

    python tests/browser.py _build/html        # prints every problem, exit 1 if any

The html folder is served over http on 127.0.0.1 (a free port) and every page is
opened in Chromium. Chromium gets no DNS for anything but 127.0.0.1, so the book is
checked exactly as it behaves offline (a request to a CDN is recorded and fails).
Nothing is downloaded: Playwright drives the system Chromium (``/usr/bin/chromium``,
or ``$WAVELIB_CHROMIUM``).
"""

from __future__ import annotations

import functools
import html.parser
import os
import re
import shutil
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Behave as offline even on a machine with internet: only 127.0.0.1 resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

# Sphinx's generated pages: loaded and link-checked, but not content-checked.
STOCK_PAGES = {"genindex.html", "search.html", "py-modindex.html"}

# Error outputs as myst-nb 1.4 renders them (myst_nb/core/render.py):
#   exception tracebacks -> <div class="output traceback highlight-ipythontb ...">
#   stderr streams       -> <div class="output stderr highlight-myst-ansi ...">
# ("output error" and the nbsphinx/classic "output_error"/"output_stderr" are not
# emitted by myst-nb 1.4; they are kept so a renderer change cannot hide errors.)
ERROR_OUTPUT_SELECTOR = (
    ".output.traceback, .output.error, .output.stderr, .output_error, .output_stderr"
)
TRACEBACK_TEXT = "Traceback (most recent call last)"

# The main content of a sphinx-book-theme page.
ARTICLE_SELECTOR = "article.bd-article"

# Uncaught exceptions that are known, harmless and not ours. Sphinx 7.4's
# app.add_js_file(None, body=...) after Builder.init() registers the inline script
# twice (builder: _JavaScript(None), registry: _JavaScript('') -> not deduplicated),
# so sphinx-thebe's `const THEBE_JS_URL = ...` runs twice on every page and the
# second copy throws. The first copy already defined everything; nothing breaks.
KNOWN_PAGE_ERRORS = [
    re.compile(r"^(SyntaxError: )?Identifier 'THEBE_JS_URL' has already been declared$"),
]

# Every page is opened at this size: a classroom projector's width (the wide-tables check depends on it).
VIEWPORT = {"width": 1280, "height": 900}

PAGE_TIMEOUT_MS = 30_000
IMAGE_TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    """Path of a system Chromium/Chrome, or None."""
    candidates = [os.environ.get("WAVELIB_CHROMIUM"), "/usr/bin/chromium"]
    candidates += [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def html_pages(root: Path) -> list[str]:
    """Every .html page of a Sphinx build, as posix paths relative to root.

    Folders starting with '_' or '.' (_static, _images, _sources, ...) hold assets,
    not pages (themes ship html snippets in _static), and are left out.
    """
    pages = []
    for p in root.rglob("*.html"):
        rel = p.relative_to(root)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            continue
        pages.append(rel.as_posix())
    return sorted(pages)


def is_stock_page(rel: str) -> bool:
    return rel in STOCK_PAGES


# --------------------------------------------------------------------------- server
class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass


@contextmanager
def serve(directory: Path):
    """Serve directory on http://127.0.0.1:<free port>/ in a thread; yields the base url."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- page data
# Runs in the page: a short human description of where an element is.
_JS_WHERE = r"""
function __where(el) {
  const parts = [];
  const cell = el.closest('div.cell');
  if (cell) {
    const cells = Array.from(document.querySelectorAll('div.cell'));
    parts.push(`code cell ${cells.indexOf(cell) + 1}/${cells.length}`);
  }
  const sec = el.closest('section[id]');
  if (sec) {
    const h = sec.querySelector('h1,h2,h3,h4,h5,h6');
    const title = h ? h.textContent.replace(/[#\u00b6]\s*$/, '').trim().slice(0, 60) : '';
    parts.push(`section #${sec.id}` + (title ? ` "${title}"` : ''));
  }
  let d = el.tagName.toLowerCase();
  if (el.id) d += '#' + el.id;
  const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 3);
  if (cls.length) d += '.' + cls.join('.');
  parts.push(d);
  return parts.join(', ');
}
"""

_JS_MATHJAX_READY = """
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    await Promise.race([mj.startup.promise, new Promise(r => setTimeout(r, 20000))]);
  }
  return mj && mj.version ? String(mj.version) : null;
}
"""

_JS_IMAGES = (
    "async ([sel, timeout]) => {"
    + _JS_WHERE
    + """
  const root = document.querySelector(sel);
  if (!root) return null;
  const imgs = Array.from(root.querySelectorAll('img'));
  for (const img of imgs) {
    if (img.loading === 'lazy') img.loading = 'eager';
    img.scrollIntoView({block: 'center'});
    await new Promise(r => requestAnimationFrame(() => r()));
  }
  await Promise.all(imgs.map(img => (img.complete ? null : new Promise(r => {
    img.addEventListener('load', r, {once: true});
    img.addEventListener('error', r, {once: true});
    setTimeout(r, timeout);
  }))));
  window.scrollTo(0, 0);
  return imgs.map((img, i) => ({
    index: i + 1, src: img.getAttribute('src') || '', alt: img.getAttribute('alt') || '',
    complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
    where: __where(img),
  }));
}
"""
)

_JS_CONTENT = (
    "([sel, errSel, tbText]) => {"
    + _JS_WHERE
    + """
  const root = document.querySelector(sel);
  const out = {hasArticle: !!root, errorOutputs: [], tracebackText: [], math: [], mathErrors: [],
               mjxCount: document.querySelectorAll('mjx-container').length, mathjaxScripts: []};
  for (const s of document.querySelectorAll('script[src]')) {
    if (/mathjax/i.test(s.getAttribute('src'))) out.mathjaxScripts.push(s.src);
  }
  for (const el of document.querySelectorAll(errSel)) {
    out.errorOutputs.push({cls: el.getAttribute('class'), where: __where(el),
                           text: (el.querySelector('pre') || el).textContent.trim().slice(0, 300)});
  }
  // Visible-or-not text of the page, scripts and styles excluded.
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE']);
  const text = (el) => {
    let t = '';
    for (const n of el.childNodes) {
      if (n.nodeType === 3) t += n.data;
      else if (n.nodeType === 1 && !skip.has(n.tagName)) t += text(n);
    }
    return t;
  };
  if (text(document.body).includes(tbText)) {
    // report the innermost elements that contain the text
    for (const el of document.body.querySelectorAll('*')) {
      if (skip.has(el.tagName) || !text(el).includes(tbText)) continue;
      if (Array.from(el.children).some(c => !skip.has(c.tagName) && text(c).includes(tbText))) continue;
      out.tracebackText.push({where: __where(el), text: text(el).trim().slice(0, 300)});
    }
  }
  for (const el of document.querySelectorAll('.math')) {
    if (el.closest('mjx-container')) continue;
    const rendered = el.querySelector('mjx-container');
    out.math.push({rendered: !!rendered, where: __where(el),
                   tex: (rendered ? (el.getAttribute('data-tex') || '') : el.textContent).trim().slice(0, 120)});
  }
  // TeX errors: <merror> (e.g. "Missing argument for frac") and undefined macros,
  // which MathJax's noundefined package shows as red text instead of failing.
  const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
  if (doc && doc.math) {
    for (const item of doc.math) {
      const errs = [];
      item.root.walkTree((n) => {
        if (n.isKind('merror')) errs.push(n.attributes.get('data-mjx-error') || 'TeX error');
        else if (n.isKind('mtext') && n.attributes.getExplicit('mathcolor') === 'red'
                 && n.getText().startsWith('\\\\')) errs.push('undefined macro ' + n.getText());
      });
      if (errs.length) {
        const node = item.typesetRoot || item.start.node;
        const host = (node && node.nodeType === 1) ? (node.closest('.math') || node.parentElement || node)
                                                    : (node && node.parentElement) || document.body;
        out.mathErrors.push({where: __where(host), error: errs.join('; '), tex: String(item.math).slice(0, 120)});
      }
    }
  } else {
    for (const c of document.querySelectorAll('mjx-container')) {
      if (c.querySelector('[data-mml-node="merror"], mjx-merror')) {
        out.mathErrors.push({where: __where(c.closest('.math') || c), error: 'TeX error', tex: ''});
      }
    }
  }
  // Tables wider than the text column (they scroll sideways) at the check's VIEWPORT.
  out.wideTables = [];
  for (const t of root ? root.querySelectorAll('table') : []) {
    const room = (t.closest('.pst-scrollable-table-container') || t.parentElement).clientWidth;
    if (t.scrollWidth > room + 1) {
      out.wideTables.push({where: __where(t), width: t.scrollWidth, room: room,
                           header: Array.from(t.rows[0] ? t.rows[0].cells : [], c => c.textContent.trim())
                                   .join(' | ').slice(0, 100)});
    }
  }
  return out;
}
"""
)

_JS_LINKS_IDS = """
() => {
  const links = [];
  for (const a of document.querySelectorAll('a[href], area[href]')) {
    links.push({href: a.getAttribute('href'), abs: a.href,
                text: (a.textContent || a.getAttribute('title') || '').trim().replace(/\\s+/g, ' ').slice(0, 60)});
  }
  const ids = Array.from(document.querySelectorAll('[id]'), e => e.id);
  for (const a of document.querySelectorAll('a[name]')) ids.push(a.getAttribute('name'));
  const refresh = document.querySelector('meta[http-equiv="refresh" i], meta[http-equiv="Refresh"]');
  return {links, ids, refresh: refresh ? refresh.getAttribute('content') : null};
}
"""

_META_REFRESH = re.compile(
    rb"""<meta[^>]+http-equiv=["']?refresh["']?[^>]*content=["']?\s*\d+\s*;\s*url=([^"'>]+)""",
    re.IGNORECASE,
)


@dataclass
class PageReport:
    rel: str
    url: str
    stock: bool
    status: int | None = None
    final_url: str | None = None
    redirect_to: str | None = None  # meta refresh target (jupyter-book's index.html)
    load_error: str | None = None
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # same-origin subresources
    external_requests: list[str] = field(default_factory=list)
    mathjax_version: str | None = None
    images: list[dict] | None = None  # None: no <article> found
    content: dict | None = None
    links: list[dict] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


@dataclass
class LinkResult:
    target: str  # absolute url without fragment
    status: int | None
    error: str | None = None
    ids: set[str] | None = None  # ids on the target page (html targets only)


@dataclass
class BookReport:
    root: Path
    base_url: str
    pages: dict[str, PageReport]
    links: dict[str, LinkResult]


class _IdParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v and (k == "id" or (k == "name" and tag == "a")):
                self.ids.add(v)


def _fetch(url: str) -> LinkResult:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
            res = LinkResult(url, r.status)
            if "html" in (r.headers.get_content_type() or ""):
                p = _IdParser()
                p.feed(body.decode("utf-8", "replace"))
                res.ids = p.ids
            return res
    except urllib.error.HTTPError as e:
        return LinkResult(url, e.code, f"HTTP {e.code}")
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return LinkResult(url, None, f"{type(e).__name__}: {e}")


def _short(url: str, n: int = 120) -> str:
    return url if len(url) <= n else url[: n - 3] + "..."


def _check_page(context, base_url: str, root: Path, rel: str) -> PageReport:
    url = urllib.parse.urljoin(base_url, urllib.parse.quote(rel))
    rep = PageReport(rel=rel, url=url, stock=is_stock_page(rel))
    m = _META_REFRESH.search((root / rel).read_bytes()[:4096])
    if m:
        rep.redirect_to = urllib.parse.urljoin(url, m.group(1).decode().strip())
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)

    left = []  # set once a meta-refresh page has navigated on: the rest is the target's

    def on_request(req):
        u = req.url
        if left or not u.startswith(("http:", "https:", "ws:", "wss:")) or u.startswith(base_url):
            return
        rep.external_requests.append(f"{req.resource_type} {_short(u)}")

    def on_response(resp):
        if left or not resp.url.startswith(base_url) or resp.status < 400 or resp.url == url:
            return  # (the page's own status is checked separately)
        rep.failed_requests.append(f"HTTP {resp.status} {resp.request.resource_type} {_short(resp.url)}")

    def on_request_failed(req):
        u = req.url
        if left or not u.startswith(base_url) or any(_short(u) in f for f in rep.failed_requests):
            return  # a 4xx/5xx is already reported (Chromium then aborts the request)
        rep.failed_requests.append(f"{req.failure} {req.resource_type} {_short(u)}")

    def on_navigated(frame):
        if rep.redirect_to and frame == page.main_frame and frame.url != url:
            left.append(frame.url)

    page.on("framenavigated", on_navigated)
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    page.on(
        "pageerror",
        lambda exc: None if left else rep.page_errors.append(str(exc).strip().splitlines()[0][:300]),
    )
    page.on(
        "console",
        lambda msg: rep.console_errors.append(msg.text[:300])
        if msg.type == "error" and not left else None,
    )
    try:
        resp = page.goto(url, wait_until="load")
        rep.status = resp.status if resp else None
        if rep.redirect_to:
            # jupyter-book's index.html: a meta refresh to the root page
            page.wait_for_url(lambda u: u != url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_load_state("load")
            rep.final_url = page.url
            return rep
        rep.final_url = page.url
        rep.mathjax_version = page.evaluate(_JS_MATHJAX_READY)
        data = page.evaluate(_JS_LINKS_IDS)
        rep.links, rep.ids = data["links"], set(data["ids"])
        if not rep.stock:
            rep.images = page.evaluate(_JS_IMAGES, [ARTICLE_SELECTOR, IMAGE_TIMEOUT_MS])
            rep.content = page.evaluate(
                _JS_CONTENT, [ARTICLE_SELECTOR, ERROR_OUTPUT_SELECTOR, TRACEBACK_TEXT]
            )
        page.wait_for_timeout(100)  # let late pageerror/console events arrive
    except Exception as e:  # noqa: BLE001 - reported per page
        rep.load_error = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300]}"
    finally:
        page.close()
    return rep


def check_book(root: Path, chromium: str | None = None) -> BookReport:
    """Open every page of the built book in headless Chromium; fetch every internal link."""
    from playwright.sync_api import sync_playwright

    root = Path(root).resolve()
    chromium = chromium or find_chromium()
    if not chromium:
        raise RuntimeError("no Chromium found (install Debian's chromium or set WAVELIB_CHROMIUM)")
    pages = html_pages(root)
    with serve(root) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            reports = {rel: _check_page(context, base_url, root, rel) for rel in pages}
            context.close()
        finally:
            browser.close()

        # Every distinct internal link target, fetched once (fragment stripped).
        targets: set[str] = set()
        for rep in reports.values():
            if rep.redirect_to and rep.redirect_to.startswith(base_url):
                targets.add(urllib.parse.urldefrag(rep.redirect_to)[0])
            for link in rep.links:
                abs_url = link["abs"]
                if abs_url.startswith(base_url):
                    targets.add(urllib.parse.urldefrag(abs_url)[0])
        links = {t: _fetch(t) for t in sorted(targets)}
    # ids as the browser sees them (after JS) for pages we opened
    by_url = {r.url: r for r in reports.values()}
    for t, res in links.items():
        rep = by_url.get(t) or (by_url.get(t + "index.html") if t.endswith("/") else None)
        if rep is not None and rep.load_error is None and rep.redirect_to is None:
            res.ids = rep.ids
    return BookReport(root=root, base_url=base_url, pages=reports, links=links)


# --------------------------------------------------------------------------- verdicts
# Each returns a list of "page: problem" strings; empty means OK.
def problems_load(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        if r.load_error:
            out.append(f"{rel}: did not load: {r.load_error}")
        if r.status != 200:
            out.append(f"{rel}: HTTP status {r.status} (expected 200)")
        for e in r.page_errors:
            if not any(k.search(e) for k in KNOWN_PAGE_ERRORS):
                out.append(f"{rel}: uncaught JS exception: {e}")
        for f in r.failed_requests:
            out.append(f"{rel}: resource failed to load: {f}")
        if r.redirect_to:
            if not (r.final_url or "").startswith(urllib.parse.urldefrag(r.redirect_to)[0]):
                out.append(f"{rel}: meta refresh to {r.redirect_to} ended at {r.final_url}")
        elif not r.stock and r.load_error is None and r.images is None:
            out.append(f"{rel}: no <{ARTICLE_SELECTOR}> main content found")
    return out


def problems_external(book: BookReport) -> list[str]:
    return [
        f"{rel}: request to another origin (fails offline): {e}"
        for rel, r in book.pages.items()
        for e in r.external_requests
    ]


def problems_mathjax_local(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        for e in r.external_requests:
            if "mathjax" in e.lower():
                out.append(f"{rel}: MathJax requested from a CDN: {e}")
        for src in (r.content or {}).get("mathjaxScripts", []):
            if not src.startswith(book.base_url):
                out.append(f"{rel}: <script src={src!r}> loads MathJax from outside the book")
        if r.mathjax_version and not r.mathjax_version.startswith("3."):
            out.append(f"{rel}: MathJax version {r.mathjax_version}, expected 3.x")
    return out


def problems_images(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        for img in r.images or []:
            if not img["complete"] or img["naturalWidth"] <= 0:
                out.append(
                    f"{rel}: <img> #{img['index']} ({img['where']}) did not load: "
                    f"src={_short(img['src'], 100)!r} complete={img['complete']} "
                    f"naturalWidth={img['naturalWidth']}"
                )
    return out


def problems_links(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        seen = set()
        for link in r.links:
            abs_url = link["abs"]
            if not abs_url.startswith(book.base_url) or (abs_url in seen):
                continue
            seen.add(abs_url)
            target, frag = urllib.parse.urldefrag(abs_url)
            res = book.links[target]
            desc = f"link href={link['href']!r}" + (f' ("{link["text"]}")' if link["text"] else "")
            if res.status != 200:
                out.append(f"{rel}: {desc} -> {res.error or res.status}")
                continue
            frag = urllib.parse.unquote(frag)
            if frag and not frag.startswith(":~:"):
                if res.ids is None:
                    out.append(f"{rel}: {desc} -> anchor #{frag} on a non-html target")
                elif frag not in res.ids:
                    out.append(f"{rel}: {desc} -> no element id={frag!r} on {target[len(book.base_url) - 1:]}")
        if r.redirect_to:
            target = urllib.parse.urldefrag(r.redirect_to)[0]
            res = book.links.get(target)
            if res is None or res.status != 200:
                out.append(f"{rel}: meta refresh target {r.redirect_to} -> {res and (res.error or res.status)}")
    return out


def problems_error_output(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        if not r.content:
            continue
        for e in r.content["errorOutputs"]:
            text = e["text"].replace("\n", " | ")
            out.append(f"{rel}: error output <div class=\"{e['cls']}\"> ({e['where']}): {text}")
        for t in r.content["tracebackText"]:
            text = t["text"].replace("\n", " | ")
            out.append(f"{rel}: text {TRACEBACK_TEXT!r} in ({t['where']}): {text}")
    return out


def problems_math(book: BookReport) -> list[str]:
    out = []
    for rel, r in book.pages.items():
        if not r.content:
            continue
        unrendered = [m for m in r.content["math"] if not m["rendered"]]
        for m in unrendered:
            out.append(f"{rel}: math not rendered by MathJax ({m['where']}): {m['tex']!r}")
        for m in r.content["mathErrors"]:
            out.append(f"{rel}: MathJax error ({m['where']}): {m['error']} in {m['tex']!r}")
        if r.content["math"] and not r.content["mjxCount"]:
            out.append(f"{rel}: page has math but no <mjx-container> (MathJax did not run)")
    return out


def problems_wide_tables(book: BookReport) -> list[str]:
    """Tables that do not fit the text column at :data:`VIEWPORT` (they scroll sideways), on every page."""
    return [f"{rel}: table {t['width']} px wide in a {t['room']} px column ({t['where']}): {t['header']}"
            for rel, page in book.pages.items() if page.content for t in page.content["wideTables"]]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    book = check_book(Path(argv[1]))
    print(f"checked {len(book.pages)} pages, {len(book.links)} distinct internal link targets")
    bad = 0
    for name, fn in [
        ("load", problems_load), ("offline", problems_external),
        ("mathjax-local", problems_mathjax_local), ("images", problems_images),
        ("links", problems_links), ("error-output", problems_error_output),
        ("math", problems_math), ("wide-tables", problems_wide_tables),
    ]:
        probs = fn(book)
        bad += len(probs)
        print(f"[{name}] {'OK' if not probs else f'{len(probs)} problem(s)'}")
        for p in probs:
            print("   ", p)
    for rel, r in book.pages.items():
        for e in r.console_errors:
            print(f"    (console error, not a failure) {rel}: {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
