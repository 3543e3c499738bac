"""Checks that the asv dashboard renders, and saves a screenshot of one graph.

    python scripts/check_dashboard.py [--benchmark NAME] [--out docs/asv-dashboard.png]

Run ``asv publish`` first.  The script serves a copy of the published pages
(``html_dir`` of asv.conf.json) on 127.0.0.1, opens them in headless Chromium
(Debian: ``apt-get install -y chromium``), checks that the benchmark list shows every
benchmark and that a benchmark's page draws a flot graph, and saves that page as a PNG.

asv's index.html loads jQuery, flot, bootstrap, stupidtable and md5 from CDNs.  So that
the check needs no CDN, the copy points those tags at local files taken from the npm
packages of the same libraries (``npm pack``, fetched once into ``.asv/vendor``).
Exit status 0 when everything rendered; 1 with the reason otherwise.
"""
import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCHMARK = "bench_fit.FitCat.time_fit_10_iterations"
# CDN url in asv's index.html -> (npm package, file inside its tarball)
VENDOR = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js":
        ("flot@0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js":
        ("flot@0.8.3", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot@0.8.3", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot@0.8.3", "jquery.flot.categories.js"),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js":
        ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js":
        ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css":
        ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--virtual-time-budget=10000", "--window-size=1400,1000"]


class CheckFailed(Exception):
    pass


def html_dir():
    conf = json.loads((ROOT / "asv.conf.json").read_text())
    path = ROOT / conf.get("html_dir", "html")
    if not (path / "index.json").is_file():
        raise CheckFailed(f"no published dashboard in {path}: run `asv publish` first")
    return path


def vendor_file(package, member, cache):
    """``member`` of the npm package's tarball, fetched once into ``cache``."""
    target = cache / package / member
    if not target.is_file():
        if not shutil.which("npm"):
            raise CheckFailed("npm is needed once to fetch the dashboard's libraries")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", "-q", "--pack-destination", tmp, package],
                           check=True, capture_output=True, timeout=300)
            with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
                tar.extract(f"package/{member}", tmp, filter="data")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(Path(tmp) / "package" / member, target)
    return target


def localize(site, cache):
    """Points index.html's CDN tags at copies under ``site/vendor`` (integrity hashes
    dropped: flot's files are the unminified originals)."""
    index = site / "index.html"
    text = index.read_text()
    for number, (url, (package, member)) in enumerate(VENDOR.items()):
        local = f"vendor/{number}-{Path(member).name}"
        (site / "vendor").mkdir(exist_ok=True)
        shutil.copy(vendor_file(package, member, cache), site / local)
        text = text.replace(f'"{url}"', f'"{local}"')
    text = re.sub(r'\s(integrity|crossorigin|referrerpolicy)="[^"]*"', "", text)
    left = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', text)
    if left:
        raise CheckFailed(f"index.html loads libraries not mapped in VENDOR: {left}")
    index.write_text(text)


def serve(site):
    """Serves ``site`` on 127.0.0.1 (a free port) in a thread; returns the server."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def chromium(url, *args):
    """Runs headless Chromium on ``url`` with a fresh profile; returns its stdout."""
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(n)), None)
    if exe is None:
        raise CheckFailed("Chromium not found: apt-get install -y chromium")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                               url], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise CheckFailed(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def check_list(base, names):
    """The summary page lists every benchmark."""
    dom = chromium(f"{base}/index.html", "--dump-dom")
    missing = [n for n in names if n not in dom]
    if missing:
        raise CheckFailed(f"the benchmark list lacks {len(missing)} of {len(names)} "
                          f"benchmarks, e.g. {missing[:3]}")
    print(f"benchmark list: all {len(names)} benchmarks shown")


def check_graph(base, benchmark, out):
    """The benchmark's page draws a flot graph; saves a screenshot of it to ``out``."""
    url = f"{base}/index.html#{benchmark}"
    dom = chromium(url, "--dump-dom")
    if 'class="flot-base"' not in dom or "flot-tick-label" not in dom:
        raise CheckFailed(f"no flot graph drawn on {url}")
    out.parent.mkdir(parents=True, exist_ok=True)
    chromium(url, f"--screenshot={out}")
    if not out.is_file() or out.stat().st_size < 10_000:
        raise CheckFailed(f"no usable screenshot at {out}")
    print(f"graph: {benchmark} drawn; screenshot {out} ({out.stat().st_size} bytes)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", default=DEFAULT_BENCHMARK,
                        help="the benchmark whose graph is shot (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "asv-dashboard.png")
    args = parser.parse_args(argv)
    try:
        published = html_dir()
        names = sorted(json.loads((published / "index.json").read_text())["benchmarks"])
        if args.benchmark not in names:
            raise CheckFailed(f"{args.benchmark} is not among the published benchmarks")
        with tempfile.TemporaryDirectory() as tmp:
            site = Path(tmp) / "html"
            shutil.copytree(published, site)
            localize(site, ROOT / ".asv" / "vendor")
            server = serve(site)
            base = f"http://127.0.0.1:{server.server_address[1]}"
            try:
                check_list(base, names)
                check_graph(base, args.benchmark, args.out.resolve())
            finally:
                server.shutdown()
    except CheckFailed as exc:
        print(f"dashboard check FAILED: {exc}", file=sys.stderr)
        return 1
    print("dashboard check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
