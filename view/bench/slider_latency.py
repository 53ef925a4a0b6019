#!/usr/bin/env python3
"""Benchmark: time from a slider move to the new 512 x 512 frame on screen, in real Chromium.

Starts `zoomstack view` (release build), opens the page in Debian's headless Chromium and
measures, per frame, the time from the slider's `input` event to the first animation frame after
the canvas was drawn (the page's `zoomstack:shown` event):

- jumps: the slider set to N random deep levels never rendered (as a click or drag does);
- steps: N keyboard steps one level down over levels never rendered (the page fetches the next
  level in the direction of travel ahead, so most are already on their way);
- steps back up over the same levels (all in the server's cache);
- playback at 60 fps asked over 121 levels never rendered.

    bash view/tests/run_browser_tests.sh -k nothing   # once: installs chromium + playwright
    .venv/bin/python view/bench/slider_latency.py [--moves 40] [--start 119999]

This is a benchmark, not a test: it prints medians and never fails on a number.
"""

import argparse
import os
import platform
import random
import statistics
import subprocess
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]


def summary(name, values):
    v = sorted(values)
    q = lambda f: v[min(len(v) - 1, int(f * len(v)))]
    return (f"{name:<28} n={len(v):3d}  median {statistics.median(v):6.1f} ms  "
            f"p10 {q(0.1):6.1f}  p90 {q(0.9):6.1f}  min {v[0]:6.1f}  max {v[-1]:6.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--start", type=int, default=119999, help="first level (moves go down)")
    ap.add_argument("--bin", default=str(ROOT / "target/release/zoomstack"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    proc = subprocess.Popen([args.bin, "view", "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1470, "height": 1214})
            page.goto(f"{url}?level={args.start}")
            page.wait_for_function(f"document.body.dataset.shownLevel === '{args.start}'")
            slider = page.locator("#slider")
            slider.focus()

            def shown_after(action, expect_level):
                """Do `action`, return the timing of the frame it brings on screen.

                Waits for the page's own `zoomstack:shown` event rather than polling it
                (Playwright's default polling runs on every animation frame and competes with
                the page and the server for the 2 cores)."""
                page.evaluate("""() => { window.__shown = new Promise((resolve) =>
                    document.addEventListener('zoomstack:shown', (e) => resolve(e.detail), { once: true })); }""")
                action()
                t = page.evaluate("() => window.__shown")
                assert t["level"] == expect_level, t
                time.sleep(0.05)  # a person's pace: one move at a time
                return t

            def move(key, expect_level):
                return shown_after(lambda: page.keyboard.press(key), expect_level)

            # Jumps to deep levels never rendered (nothing can be fetched ahead): the slider
            # set to a random position, as a click or drag does.
            rng = random.Random(args.start)
            targets = rng.sample(range(args.start - 20000, args.start - 2 * args.moves - 200), args.moves)
            fresh = [shown_after(lambda: slider.fill(str(level)), level) for level in targets]
            # Then one level at a time from the start level down, over levels never rendered
            # (the page fetches the next level in the direction of travel ahead), and back
            # up over the same levels (all in the server's cache).
            slider.fill(str(args.start))
            page.wait_for_function(f"document.body.dataset.shownLevel === '{args.start}'")
            slider.focus()
            steps = [move("ArrowLeft", args.start - i) for i in range(1, args.moves + 1)]
            cached = [move("ArrowRight", args.start - args.moves + i) for i in range(1, args.moves + 1)]

            # Playback at 60 fps asked over levels never rendered before (the page prefetches
            # the next frame while it shows the current one).
            lo, hi = args.start - 2 * args.moves - 120, args.start - 2 * args.moves
            page.fill("#play-from", str(lo))
            page.fill("#play-to", str(hi))
            page.fill("#play-step", "1")
            page.fill("#play-fps", "60")
            n0 = page.evaluate("window.zoomstackView.timings.length")
            page.click("#play")
            page.wait_for_function(f"document.body.dataset.shownLevel === '{hi}'", timeout=60000)
            played = page.evaluate(f"window.zoomstackView.timings.slice({n0})")
            played = [t for t in played if lo <= t["level"] <= hi]
            browser.close()
    finally:
        proc.terminate()
        proc.wait()

    def server_ms(t):
        return float(t["server"].split("dur=")[1])

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"levels {args.start - args.moves}..{args.start}, 512 x 512, max_iter 256")
    print(summary("jump -> frame (render)", [t["ms"] for t in fresh]))
    print(summary("  of which server render", [server_ms(t) for t in fresh]))
    print(summary("  of which fetch", [t["fetch"] for t in fresh]))
    print(summary("  of which colour + draw", [t["draw"] for t in fresh]))
    print(summary("  of which wait for paint", [t["paint"] for t in fresh]))
    print(summary("step -> frame (fetched ahead)", [t["ms"] for t in steps]))
    print(summary("step back -> frame (cached)", [t["ms"] for t in cached]))
    print(summary("  of which fetch", [t["fetch"] for t in cached]))
    span = (played[-1]["at"] - played[0]["at"]) / 1000
    print(f"{'play at 60 fps asked':<28} {len(played)} new levels in {span:.2f} s: "
          f"{(len(played) - 1) / span:.1f} frames/s")
    assert all(t["server"].startswith("render") for t in fresh)
    assert all(t["server"].startswith("cache") for t in cached)
    assert len(fresh) == len(steps) == len(cached) == args.moves


if __name__ == "__main__":
    main()
