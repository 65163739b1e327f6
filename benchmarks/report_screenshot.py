"""Screenshot a drpkit HTML report in headless Chromium and check it is not blank.

Run it from the repository root (Chromium is installed with Debian's apt-get
when it is missing and the user may install packages):

    .venv/bin/python benchmarks/report_screenshot.py RUN/report.html shot.png

It renders the page at ``--width`` x ``--height`` pixels, writes the PNG and
prints how many distinct colours it has: a page whose figures failed to
decode, or that did not load at all, is almost uniformly white and has only a
few dozen. Exit status: 0 when the screenshot has at least ``--min-colours``
colours, 1 when it looks blank, 3 when no Chromium can be found or installed
(the test suite skips then).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome")
NO_BROWSER = 3


def find_chromium() -> str | None:
    """Path of an installed Chromium (or Chrome), else None."""
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def install_chromium() -> str | None:
    """Install Debian's ``chromium`` package with apt-get; the browser path or None."""
    if shutil.which("apt-get") is None:
        print("apt-get not found: install Chromium by hand", file=sys.stderr)
        return None
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        done = subprocess.run(command, check=False, capture_output=True, text=True,
                              env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:"
                                   "/usr/bin:/sbin:/bin"})
        if done.returncode != 0:
            print(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
            return None
    return find_chromium()


def screenshot(report: Path, png: Path, browser: str, width: int = 1400,
               height: int = 4000, timeout: float = 180) -> Path:
    """Render ``report`` with headless ``browser`` into ``png`` (no network used)."""
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="drpkit-chromium-") as profile:
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                   f"--user-data-dir={profile}", f"--window-size={width},{height}",
                   f"--screenshot={png.resolve()}", report.resolve().as_uri()]
        done = subprocess.run(command, check=False, capture_output=True, text=True,
                              timeout=timeout)
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return png


def distinct_colours(png: Path) -> int:
    """Number of distinct RGB colours of the image."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return len(rgb.getcolors(maxcolors=rgb.width * rgb.height))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the report.html to render")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--min-colours", type=int, default=500,
                        help="fewer distinct colours than this counts as blank")
    args = parser.parse_args(argv)
    if not args.report.exists():
        parser.error(f"{args.report}: no such file")
    browser = find_chromium() or install_chromium()
    if browser is None:
        print("no Chromium available", file=sys.stderr)
        return NO_BROWSER
    screenshot(args.report, args.png, browser, args.width, args.height)
    colours = distinct_colours(args.png)
    print(f"{args.png}: {colours} distinct colours ({browser})")
    return 0 if colours >= args.min_colours else 1


if __name__ == "__main__":
    sys.exit(main())
