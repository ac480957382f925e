"""Open the built site in headless Chromium and check what a reader would see.

    python scripts/browser_check.py SITE_DIR [--screenshots DIR]

SITE_DIR is the assembled site (``_build/html``: the landing page, ``zh/`` and ``en/``). It is
served from a local HTTP server on 127.0.0.1 (a free port, in a thread) and every page is opened
in one headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium through
the system chromedriver; nothing is downloaded). The pages: the landing page and, for each
edition, every page of its table of contents (the ``docnames`` of its search index; the build
only builds the pages the table of contents lists). Each page is checked for

- console errors: no SEVERE entry in the browser log (JavaScript errors, ``console.error``);
- requests: every request goes to the local server and gets a 2xx/3xx answer (the browser
  resolves no other host, so a request elsewhere fails at once and is reported as such; the
  browser's own ``/favicon.ico`` request is not the page's and is left out);
- math: once ``MathJax.startup.promise`` has resolved, the text outside code holds no raw
  ``\\(``, ``\\[`` or ``$$``, MathJax reported no TeX error, every ``.math`` element holds a
  typeset formula, and a page whose HTML has math holds ``mjx-container`` elements;
- images: every ``<img>`` has loaded (``naturalWidth > 0``);
- figures and links within the page: every ``<figure>`` has a numbered caption, and every link to
  an anchor of the page (``#...``: figure and section references, citations) finds its target;
- the mirror link (chapter pages): ``a.mirror-link`` exists and its href resolves to the page
  with the same file name in the other edition, and that page exists; the landing page links to
  a page of each edition instead;

and each edition's search (``search.html?q=...``) is run: ``卷积`` (zh) and ``convolution`` (en)
must list ``04_cnn.html`` first when that chapter is part of the site, otherwise ``前言`` /
``preface`` must list the edition's first page (the preface) first. Screenshots (PNG) of one zh
and one en chapter page (the one with the most formulas, scrolled to its first formula) go to
``SITE_DIR/../screenshots`` or ``--screenshots``.

Output: one line per page and search, OK or its problems; exit status 1 when any has a problem.
Chromium or chromedriver missing: an error in CI (``CI`` set), otherwise a skip (exit 0) that
says how to install them (``scripts/setup.sh`` does so as root).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

EDITIONS = ("zh", "en")
# edition -> (query that must list the convolution chapter first, query for the preface when it is absent)
SEARCHES = {"zh": ("卷积", "前言"), "en": ("convolution", "preface")}
CONV_CHAPTER = "04_cnn"
NOT_CHAPTERS = {"index", "search", "genindex", "py-modindex"}
INSTALL_HINT = ("install them with `apt-get install chromium chromium-driver` "
                "(scripts/setup.sh does so when run as root)")
PAGE_TIMEOUT_S = 60
WINDOW = (1366, 1000)

# Text outside code (MathJax skips the same elements) that still holds a TeX delimiter.
RAW_MATH_JS = r"""
const skip = 'script,style,noscript,textarea,pre,code,annotation,annotation-xml,mjx-container,'
           + '.tex2jax_ignore,.mathjax_ignore';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const raw = [];
while (walker.nextNode()) {
  const node = walker.currentNode, el = node.parentElement;
  if (!el || el.closest(skip)) continue;
  const text = node.textContent, m = text.match(/\\\(|\\\[|\$\$/);
  if (m) raw.push(text.slice(Math.max(0, m.index - 30), m.index + 40).replace(/\s+/g, ' ').trim());
}
const untypeset = Array.from(document.querySelectorAll('.math'))
  .filter(e => !e.querySelector('mjx-container'))
  .map(e => e.textContent.replace(/\s+/g, ' ').trim().slice(0, 60));
const errors = Array.from(document.querySelectorAll('mjx-merror'))
  .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
return {raw: raw, untypeset: untypeset, errors: errors,
        containers: document.querySelectorAll('mjx-container').length};
"""

WAIT_MATHJAX_JS = r"""
const done = arguments[arguments.length - 1];
if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) { done('absent'); return; }
MathJax.startup.promise.then(() => done('ok'), e => done('failed: ' + e));
"""

# Every <img> loaded: lazy images are made eager and awaited (bounded), then naturalWidth is read.
IMAGES_JS = r"""
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
const settle = img => img.complete ? Promise.resolve() : new Promise(resolve => {
  img.addEventListener('load', resolve); img.addEventListener('error', resolve);
  setTimeout(resolve, 15000); img.loading = 'eager';
});
Promise.all(imgs.map(settle)).then(() => document.fonts.ready).then(() => done({
  count: imgs.length,
  broken: imgs.filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src') || '(no src)'),
}));
"""

MIRROR_JS = r"""
return Array.from(document.querySelectorAll('a.mirror-link'))
  .map(a => ({href: a.getAttribute('href'), url: a.href, text: a.textContent.trim()}));
"""

LINKS_JS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"

# The search has finished when Sphinx wrote its summary (_finishSearch); results are li.
SEARCH_JS = r"""
const summary = document.querySelector('#search-results .search-summary');
if (!summary || !summary.textContent.trim()) return null;
return Array.from(document.querySelectorAll('#search-results ul.search li a'))
  .map(a => a.getAttribute('href'));
"""


@dataclass
class Page:
    path: str  # relative to the site, e.g. "zh/04_cnn.html"
    edition: str | None  # None for the landing page
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


class SiteServer:
    """SITE_DIR on http://127.0.0.1:<free port>/, served from a thread until stop()."""

    def __init__(self, site: Path):
        handler = functools.partial(QuietHandler, directory=str(site))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.base = f"http://{self.host}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def find_browser() -> tuple[str, str] | None:
    """(chromium, chromedriver) paths, or None. DLBOOK_CHROMIUM / DLBOOK_CHROMEDRIVER override."""
    chromium = os.environ.get("DLBOOK_CHROMIUM") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = os.environ.get("DLBOOK_CHROMEDRIVER") or shutil.which("chromedriver")
    if chromium and driver and os.access(chromium, os.X_OK) and os.access(driver, os.X_OK):
        return chromium, driver
    return None


def edition_docnames(site: Path, edition: str) -> list[str]:
    """The edition's pages in table-of-contents order, from its search index."""
    index = site / edition / "searchindex.js"
    if not index.exists():
        raise SystemExit(f"browser check: {index} is missing: is {site} a built site with a {edition}/ edition?")
    text = index.read_text(encoding="utf-8")
    docnames = json.loads(text[text.index("(") + 1:text.rindex(")")])["docnames"]
    return [d for d in docnames if d not in NOT_CHAPTERS]


def math_count(html_file: Path) -> int:
    return len(re.findall(r'class="[^"]*\bmath\b', html_file.read_text(encoding="utf-8")))


def start_browser(chromium: str, driver_path: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-extensions", "--disable-background-networking", "--no-first-run",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                # no other host resolves: a request that leaves the site fails at once
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    return driver


def drain_logs(driver) -> None:
    driver.get_log("performance")
    driver.get_log("browser")


def request_problems(driver, server: SiteServer) -> tuple[list[str], set[str]]:
    """Failed requests since the last drain (problems, their URLs), from the DevTools network log."""
    problems, bad_urls, urls, ignored = [], set(), {}, set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message.get("method"), message.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            urls[params["requestId"]] = url
            if url == server.base + "favicon.ico":  # the browser's own request, not the page's
                ignored.add(params["requestId"])
                continue
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme in ("http", "https", "ws", "wss") and parsed.netloc != server.host:
                if url not in bad_urls:
                    problems.append(f"request to another host: {url}")
                    bad_urls.add(url)
        elif params.get("requestId") in ignored:
            continue
        elif method == "Network.responseReceived":
            url, status = params["response"]["url"], int(params["response"]["status"])
            if not 200 <= status < 400 and url not in bad_urls:
                problems.append(f"request failed: HTTP {status} {short(url, server)}")
                bad_urls.add(url)
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            url = urls.get(params["requestId"], "?")
            if url not in bad_urls:
                problems.append(f"request failed: {params.get('errorText', 'error')} {short(url, server)}")
                bad_urls.add(url)
    return problems, bad_urls


def console_problems(driver, bad_urls: set[str], server: SiteServer) -> list[str]:
    problems = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        message = entry["message"]
        # "Failed to load resource" for a request already reported above, or for the browser's favicon
        known = bad_urls | {server.base + "favicon.ico"}
        if entry.get("source") == "network" and any(message.startswith(url) for url in known):
            continue
        problems.append(f"console error: {short(message, server)[:300]}")
    return problems


def short(text: str, server: SiteServer) -> str:
    return text.replace(server.base, "/")


# Figures carry a number; links to anchors of the same page (numrefs, citations) find their target.
FIGURES_JS = r"""
const figures = Array.from(document.querySelectorAll('figure'));
const unnumbered = figures.filter(f => !f.querySelector('.caption-number'))
  .map(f => f.id || f.textContent.trim().slice(0, 60));
const dangling = Array.from(document.querySelectorAll('a[href^="#"]'))
  .map(a => decodeURIComponent(a.getAttribute('href').slice(1)))
  .filter(id => id && !document.getElementById(id));
return {count: figures.length, unnumbered: unnumbered, dangling: [...new Set(dangling)]};
"""


def check_page(driver, server: SiteServer, site: Path, page: Page) -> None:
    if not (site / page.path).is_file():
        page.problems.append("the page is missing from the site")
        return
    expected_math = math_count(site / page.path)
    drain_logs(driver)
    driver.get(server.base + page.path)
    state = driver.execute_async_script(WAIT_MATHJAX_JS)
    if state != "ok" and (expected_math or state != "absent"):
        page.problems.append(f"MathJax did not finish: {state}")
    math = driver.execute_script(RAW_MATH_JS)
    for snippet in math["raw"]:
        page.problems.append(f'raw formula in the text: "{snippet}"')
    for error in math["errors"]:
        page.problems.append(f"MathJax error: {error}")
    for formula in math["untypeset"]:
        page.problems.append(f'formula not typeset: "{formula}"')
    if expected_math and not math["containers"]:
        page.problems.append(f"no mjx-container although the page has {expected_math} formulas")
    images = driver.execute_async_script(IMAGES_JS)
    for src in images["broken"]:
        page.problems.append(f"image not loaded: {src}")
    figures = driver.execute_script(FIGURES_JS)
    page.problems += [f"figure without a number: {name}" for name in figures["unnumbered"]]
    page.problems += [f"link to a missing anchor: #{anchor}" for anchor in figures["dangling"]]
    page.problems += cross_page_anchor_problems(site, page.path)
    if page.edition is None:
        check_landing_links(driver, server, site, page)
    else:
        check_mirror(driver, server, site, page)
    requests, bad_urls = request_problems(driver, server)
    page.problems[:0] = console_problems(driver, bad_urls, server) + requests
    page.notes.append(f"{math['containers']} formulas, {images['count']} images, "
                      f"{figures['count']} figures")


_CROSS_LINK = re.compile(r'href="([\w./-]+\.html)#([^"]+)"')


@functools.lru_cache(maxsize=None)
def _ids(html_file: Path) -> frozenset[str]:
    return frozenset(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf-8")))


def cross_page_anchor_problems(site: Path, path: str) -> list[str]:
    """Links to an anchor on another page of the site (glossary entries, index and errata links) whose
    page or anchor is missing."""
    here = (site / path).parent
    problems = []
    for target, anchor in set(_CROSS_LINK.findall((site / path).read_text(encoding="utf-8"))):
        file = (here / target).resolve()
        if not file.is_file():
            problems.append(f"link to a missing page: {target}#{anchor}")
        elif urllib.parse.unquote(anchor) not in _ids(file):
            problems.append(f"link to a missing anchor: {target}#{anchor}")
    return sorted(problems)


def site_file(url: str, server: SiteServer, site: Path) -> str | None:
    """The site-relative path a URL of the local server names, or None for anything else."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.netloc != server.host:
        return None
    path = urllib.parse.unquote(parsed.path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


def check_mirror(driver, server: SiteServer, site: Path, page: Page) -> None:
    links = driver.execute_script(MIRROR_JS)
    other = next(e for e in EDITIONS if e != page.edition)
    twin = f"{other}/{Path(page.path).name}"
    if not links:
        page.problems.append(f"no mirror link (a.mirror-link) to {twin}")
        return
    for link in links:
        target = site_file(link["url"], server, site)
        if target is None:
            page.problems.append(f"mirror link {link['href']!r} leaves the site, not to the twin page {twin}")
        elif not (site / target).is_file():
            page.problems.append(f"mirror link {link['href']!r} leads to {target}, which does not exist")
        elif target != twin:
            page.problems.append(f"mirror link {link['href']!r} leads to {target}, not to the twin page {twin}")


def check_landing_links(driver, server: SiteServer, site: Path, page: Page) -> None:
    targets = {site_file(url, server, site) for url in driver.execute_script(LINKS_JS)}
    for edition in EDITIONS:
        if not any(t and t.startswith(f"{edition}/") and (site / t).is_file() for t in targets):
            page.problems.append(f"no link to a page of the {edition} edition")


def check_search(driver, server: SiteServer, page: Page, query: str, expected: str) -> None:
    drain_logs(driver)
    driver.get(server.base + f"{page.edition}/search.html?q={urllib.parse.quote(query)}")
    deadline, results = time.time() + PAGE_TIMEOUT_S, None
    while time.time() < deadline:
        results = driver.execute_script(SEARCH_JS)
        if results is not None:
            break
        time.sleep(0.1)
    if results is None:
        page.problems.append(f"the search for {query!r} did not finish")
    elif not results:
        page.problems.append(f"the search for {query!r} found nothing, expected {expected}")
    else:
        first = urllib.parse.urlsplit(results[0]).path.rsplit("/", 1)[-1]
        if first != expected:
            page.problems.append(f"the search for {query!r} lists {first} first, expected {expected} "
                                 f"(results: {', '.join(r.split('?')[0] for r in results[:5])})")
        page.notes.append(f"{len(results)} results, {first} first")
    requests, bad_urls = request_problems(driver, server)
    page.problems[:0] = console_problems(driver, bad_urls, server) + requests


def screenshot(driver, server: SiteServer, path: str, out: Path) -> None:
    driver.get(server.base + path)
    driver.execute_async_script(WAIT_MATHJAX_JS)
    driver.execute_async_script(IMAGES_JS)
    # the first display formula (else any formula) mid-screen, the page's sidebar and header around it
    driver.execute_script("""
        const m = document.querySelector('mjx-container[display="true"]') || document.querySelector('mjx-container');
        if (m) m.scrollIntoView({block: 'center'});""")
    time.sleep(0.3)
    if not driver.save_screenshot(str(out)):
        raise RuntimeError(f"could not save the screenshot {out}")


def guarded(page: Page, step, *args) -> bool:
    """Run one step; a browser failure (a script that times out, a crashed tab) is the page's problem."""
    from selenium.common.exceptions import WebDriverException

    try:
        step(*args)
        return True
    except (WebDriverException, RuntimeError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        page.problems.append(f"check aborted: {type(err).__name__}: {first}")
        return False


def report(page: Page) -> str:
    if page.problems:
        return f"FAIL {page.path}: " + "; ".join(page.problems)
    return f"OK   {page.path}" + (f" ({', '.join(page.notes)})" if page.notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built site (_build/html)")
    parser.add_argument("--screenshots", type=Path, help="where the PNGs go (default: SITE/../screenshots)")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    shots = (args.screenshots or site.parent / "screenshots").resolve()
    if not (site / "index.html").is_file():
        print(f"browser check: {site}/index.html is missing: not a built site", file=sys.stderr)
        return 1

    browser, missing = find_browser(), "chromium or chromedriver"
    if importlib.util.find_spec("selenium") is None:
        browser, missing = None, "the selenium package (the book extra has it: scripts/setup.sh)"
    if browser is None:
        if os.environ.get("CI"):
            print(f"browser check: ERROR: {missing} not found, and CI needs the browser check; "
                  f"{INSTALL_HINT}", file=sys.stderr)
            return 1
        print(f"browser check: SKIPPED: {missing} not found; {INSTALL_HINT}")
        return 0

    start = time.time()
    chapters = {e: edition_docnames(site, e) for e in EDITIONS}
    pages = [Page("index.html", None)] + [Page(f"{e}/{d}.html", e) for e in EDITIONS for d in chapters[e]]
    searches = []
    for edition in EDITIONS:
        conv_query, fallback_query = SEARCHES[edition]
        if CONV_CHAPTER in chapters[edition]:
            searches.append((edition, conv_query, f"{CONV_CHAPTER}.html"))
        elif chapters[edition]:
            searches.append((edition, fallback_query, f"{chapters[edition][0]}.html"))
    # the zh chapter with the most formulas (and its en twin), for the screenshots
    shot_page = max(chapters["zh"], key=lambda d: math_count(site / "zh" / f"{d}.html"), default=None)

    server = SiteServer(site)
    driver = None
    try:
        driver = start_browser(*browser)
        for page in pages:
            guarded(page, check_page, driver, server, site, page)
            print(report(page), flush=True)
        for edition, query, expected in searches:
            page = Page(f"{edition}/search.html?q={query}", edition)
            guarded(page, check_search, driver, server, page, query, expected)
            pages.append(page)
            print(report(page), flush=True)
        if shot_page is not None:
            shots.mkdir(parents=True, exist_ok=True)
            for edition in EDITIONS:
                if (site / edition / f"{shot_page}.html").is_file():
                    out = shots / f"{edition}_{shot_page}.png"
                    page = Page(f"screenshot of {edition}/{shot_page}.html", edition)
                    if guarded(page, screenshot, driver, server, f"{edition}/{shot_page}.html", out):
                        print(f"screenshot {out}")
                    else:
                        pages.append(page)
                        print(report(page), flush=True)
    finally:
        if driver is not None:
            driver.quit()
        server.stop()

    failed = [p for p in pages if p.problems]
    elapsed = time.time() - start
    if failed:
        print(f"browser check: FAILED: {len(failed)} of {len(pages)} pages and searches have problems "
              f"({', '.join(p.path for p in failed)}) [{elapsed:.0f} s]")
        return 1
    print(f"browser check: all {len(pages)} pages and searches OK in {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
