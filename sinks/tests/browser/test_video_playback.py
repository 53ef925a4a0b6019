"""The video sink's MP4 (H.264) and WebM (VP9) in real headless Chromium (Debian's), driven by
Playwright: a <video> element reaches readyState >= 2, its currentTime advances while playing,
and a frame drawn to a canvas matches the PNG sink's frame of the same level.

Run by sinks/tests/run_video_browser_tests.sh, which builds the `write_video` example and
installs Chromium, ffmpeg and Playwright. Artifacts go to $ZOOMSTACK_VIDEO_ARTIFACTS (default
target/video-e2e/).
"""

import functools
import http.server
import os
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[3]
WRITER = os.environ.get("ZOOMSTACK_WRITE_VIDEO", str(ROOT / "target/debug/examples/write_video"))
CHROMIUM = os.environ.get("ZOOMSTACK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ZOOMSTACK_VIDEO_ARTIFACTS", ROOT / "target/video-e2e"))

W, H, FPS, FRAMES, FIRST, STEP = 160, 120, 10, 20, 0, 40
CODECS = {"mp4": 'video/mp4; codecs="avc1.64000c"', "webm": 'video/webm; codecs="vp09.00.10.08"'}


@pytest.fixture(scope="module")
def site():
    """Writes zoom.mp4 and zoom.webm (and the PNG frames) with the sink; serves them over HTTP
    (a file:// video would taint the canvas)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for ext in CODECS:
        png = ARTIFACTS / f"png-{ext}"
        subprocess.run(
            [WRITER, str(ARTIFACTS / f"zoom.{ext}"), str(W), str(H), str(FIRST), str(STEP),
             str(FRAMES), f"fps={FPS}", f"png={png}"],
            check=True,
        )
    (ARTIFACTS / "page.html").write_text(
        "<!doctype html><body><video id=v muted playsinline></video>"
        f"<canvas id=c width={W} height={H}></canvas></body>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(ARTIFACTS))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def png_frame(ext, k):
    files = sorted((ARTIFACTS / f"png-{ext}").glob("level-*.png"))
    assert len(files) == FRAMES
    return np.asarray(Image.open(files[k]).convert("RGB"), dtype=np.float64)


def psnr(a, b):
    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.mark.parametrize("ext", list(CODECS))
def test_plays_and_shows_the_frames(site, browser, ext):
    """Debian's chromium plays both: canPlayType says "probably" for H.264 (avc1) and VP9."""
    page = browser.new_page()
    page.goto(f"{site}/page.html")
    support = page.evaluate(f"document.createElement('video').canPlayType({CODECS[ext]!r})")
    assert support in ("probably", "maybe"), (
        f"this Chromium cannot play {CODECS[ext]} (canPlayType: {support!r})"
    )
    state = page.evaluate(
        """async (src) => {
            const v = document.getElementById('v');
            const error = new Promise((_, reject) => v.onerror = () =>
                reject(new Error('media error ' + (v.error && v.error.code) + ' ' + (v.error && v.error.message))));
            v.src = src;
            await Promise.race([v.play(), error]);
            const t0 = v.currentTime;
            await new Promise(r => setTimeout(r, 600));
            const t1 = v.currentTime;
            return {readyState: v.readyState, t0, t1, duration: v.duration,
                    width: v.videoWidth, height: v.videoHeight};
        }""",
        f"zoom.{ext}",
    )
    assert state["readyState"] >= 2, state
    assert state["t1"] > state["t0"], f"currentTime did not advance: {state}"
    assert (state["width"], state["height"]) == (W, H), state
    assert abs(state["duration"] - FRAMES / FPS) < 1.5 / FPS, state

    for k in (3, 12):
        rgba = page.evaluate(
            """async ([src, t]) => {
                // A fresh element, seeked before it ever played (after playing, headless
                // Chromium kept handing out the first frame).
                const v = document.createElement('video');
                v.muted = true;
                v.src = src;
                await new Promise(r => v.onloadeddata = r);
                await new Promise(r => { v.onseeked = r; v.currentTime = t; });
                // Headless Chromium's drawImage(video) paints the last composited frame (the
                // first, for a video never shown); a WebCodecs VideoFrame is the seeked one.
                // 'seeked' can fire before the frame is available (VideoFrame then throws
                // InvalidStateError "Invalid source state", as one CI run saw): wait for it.
                let f = null;
                for (let i = 0; f === null; i++) {
                    try {
                        if (v.readyState >= 2) f = new VideoFrame(v);
                    } catch (e) {
                        if (e.name !== 'InvalidStateError' || i >= 250) throw e;
                    }
                    if (f === null) {
                        if (i >= 250) throw new Error('no frame 5 s after seeking to ' + t);
                        await new Promise(r => setTimeout(r, 20));
                    }
                }
                const c = document.getElementById('c').getContext('2d');
                c.drawImage(f, 0, 0);
                f.close();
                return Array.from(c.getImageData(0, 0, v.videoWidth, v.videoHeight).data);
            }""",
            [f"zoom.{ext}", (k + 0.5) / FPS],
        )
        got = np.array(rgba, dtype=np.float64).reshape(H, W, 4)[:, :, :3]
        Image.fromarray(got.astype(np.uint8)).save(ARTIFACTS / f"canvas-{ext}-{k}.png")
        want = png_frame(ext, k)
        db = psnr(got, want)
        mean_abs = float(np.mean(np.abs(got - want)))
        # 4:2:0 chroma cannot hold magma's colour edges at this size (ffmpeg's own decode is
        # about 33 dB from the PNG), and the browser's YUV -> RGB conversion (BT.709, tagged in
        # the file) is close to ffmpeg's (about 47 dB) but not equal: a tolerance.
        near = [round(psnr(got, png_frame(ext, j)), 1) for j in range(FRAMES)]
        assert db >= 30 and mean_abs <= 4, (
            f"{ext} frame {k}: {db:.2f} dB, mean |diff| {mean_abs:.2f}; against each frame: {near}"
        )
    page.close()
