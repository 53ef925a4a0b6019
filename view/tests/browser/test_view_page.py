"""End to end: `zoomstack view` in real headless Chromium (Debian's), driven by Playwright.

Run by view/tests/run_browser_tests.sh, which builds the binary and installs Chromium and
Playwright. Screenshots go to $ZOOMSTACK_VIEW_ARTIFACTS (default target/view-e2e/).
"""

import base64
import hashlib
import io
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_reference as nb  # noqa: E402  (the notebook's own numpy code)

BIN = os.environ.get("ZOOMSTACK_BIN", str(ROOT / "target/release/zoomstack"))
CHROMIUM = os.environ.get("ZOOMSTACK_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("ZOOMSTACK_VIEW_ARTIFACTS", ROOT / "target/view-e2e"))


def serve(*args):
    """Runs `zoomstack view --port 0 --quiet ARGS...` and yields its URL until the test ends."""
    proc = subprocess.Popen(
        [BIN, "view", "--port", "0", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), (url, proc.stderr.read())
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server():
    yield from serve()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    # The page sizes the canvas to min(100vw - 410px, 100vh - 190px): 1024 CSS px here, two per
    # image pixel, so a mouse position (whole CSS pixels) can hit every image pixel's centre.
    context = browser.new_context(viewport={"width": 1470, "height": 1214}, accept_downloads=True)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def fetch(url):
    with urllib.request.urlopen(url) as r:
        return r.read()


def wait_shown(page, level):
    page.wait_for_function(f"document.body.dataset.shownLevel === '{level}'", timeout=20000)


def canvas_rgb(page):
    """The canvas's pixels as an (h, w, 3) array."""
    data = page.evaluate(
        """() => {
        const c = document.getElementById('frame');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = '';
        for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
        return { w: c.width, h: c.height, b64: btoa(s) };
    }"""
    )
    rgba = np.frombuffer(base64.b64decode(data["b64"]), np.uint8).reshape(data["h"], data["w"], 4)
    assert (rgba[..., 3] == 255).all()
    return rgba[..., :3]


def server_png(url, level, colormap, mode, stride=1, extra=""):
    png = fetch(f"{url}api/level/{level}/image.png?colormap={colormap}&mode={mode}&stride={stride}{extra}")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def hover_pixel(page, x, y):
    """Move the mouse to the centre of image pixel (x, y) of the (512 x 512) canvas."""
    box = page.locator("#frame").bounding_box()
    assert round(box["width"]) == 1024, box
    page.mouse.move(box["x"] + (x + 0.5) * box["width"] / 512, box["y"] + (y + 0.5) * box["height"] / 512)


def test_scrub_hover_and_share(server, page):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(server)
    # Opens where the notebook's picker opens: level 3000, rainbow, fixed range.
    wait_shown(page, 3000)
    assert "level=3000" in page.url and "colormap=rainbow" in page.url and "mode=fixed" in page.url
    # What the canvas shows is what the PNG sink writes for the same level and colormap.
    first = canvas_rgb(page)
    assert (first == server_png(server, 3000, "rainbow", "fixed")).all()

    # Move the slider (keyboard on the focused slider, then a drag-free jump to the deepest level).
    page.locator("#slider").focus()
    page.keyboard.press("ArrowRight")
    wait_shown(page, 3001)
    assert "level=3001" in page.url
    page.locator("#slider").fill("119999")
    wait_shown(page, 119999)
    assert "level=119999" in page.url
    expect(page.locator("#level")).to_have_value("119999")
    deep = canvas_rgb(page)
    assert (deep != first).any(), "the image did not change"
    assert (deep == server_png(server, 119999, "rainbow", "fixed")).all()

    # Hover pixels: the readout shows the exact count, checked against the notebook's own numpy
    # code for that level, and the pixel's complex coordinate.
    reference = nb.render_level(119999, 512, 512, nb.CENTER, nb.SCALE0, nb.ZOOM_PER_LEVEL, nb.MAX_ITER)
    for x, y in [(0, 0), (100, 200), (511, 511), (256, 300)]:
        hover_pixel(page, x, y)
        ro = page.locator("#readout")
        expect(ro).to_have_attribute("data-x", str(x))
        expect(ro).to_have_attribute("data-y", str(y))
        assert int(ro.get_attribute("data-count")) == int(reference[y, x])
        assert page.locator("#ro-count").inner_text() == str(int(reference[y, x]))
        assert page.locator("#ro-pixel").inner_text() == f"({x}, {y})"
        # The coordinate: the notebook's linspace grid, to the last bit.
        scale = nb.SCALE0 / nb.ZOOM_PER_LEVEL ** 119999
        xs = np.linspace(nb.CENTER[0] - scale / 2.0, nb.CENTER[0] + scale / 2.0, 512)
        ys = np.linspace(nb.CENTER[1] - scale / 2.0, nb.CENTER[1] + scale / 2.0, 512)
        assert float(ro.get_attribute("data-re")) == xs[x]
        assert float(ro.get_attribute("data-im")) == ys[y]
    page.screenshot(path=str(ARTIFACTS / "view-level-119999.png"))

    # Colormap and range mode: redrawn from the same counts, reflected in the URL.
    page.select_option("#colormap", "viridis")
    page.select_option("#mode", "per-frame")
    assert "colormap=viridis" in page.url and "mode=per-frame" in page.url
    assert (canvas_rgb(page) == server_png(server, 119999, "viridis", "per-frame")).all()

    # The saved frame is the PNG sink's file; the 16-bit download holds the raw counts.
    with page.expect_download() as dl:
        page.click("#save-png")
    saved = Path(dl.value.path()).read_bytes()
    assert dl.value.suggested_filename == "level-119999-viridis-per-frame.png"
    assert (np.asarray(Image.open(io.BytesIO(saved)).convert("RGB")) == server_png(server, 119999, "viridis", "per-frame")).all()
    with page.expect_download() as dl:
        page.click("#save-png16")
    counts16 = np.asarray(Image.open(dl.value.path()))
    assert dl.value.suggested_filename == "level-119999-counts16.png"
    assert (counts16.astype(np.uint16) == reference).all()

    # Resolution: every 4th row and column, in the URL; the canvas is 128 x 128.
    page.select_option("#stride", "4")
    page.wait_for_function("document.getElementById('frame').width === 128")
    assert "stride=4" in page.url
    assert (canvas_rgb(page) == server_png(server, 119999, "viridis", "per-frame", stride=4)).all()
    page.select_option("#stride", "1")
    page.wait_for_function("document.getElementById('frame').width === 512")
    assert "stride" not in page.url

    # The URL is shareable: a fresh page opens the same view.
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    wait_shown(other, 119999)
    expect(other.locator("#colormap")).to_have_value("viridis")
    expect(other.locator("#mode")).to_have_value("per-frame")
    assert hashlib.sha1(canvas_rgb(other).tobytes()).digest() == hashlib.sha1(canvas_rgb(page).tobytes()).digest()
    other.close()


def shown_count(page):
    return page.evaluate("window.zoomstackView.timings.length")


def wait_redrawn(page, before):
    """Wait until a frame was shown after `before` frames (a new request, same level)."""
    page.wait_for_function(f"window.zoomstackView.timings.length > {before}", timeout=20000)


def test_smooth_colours(server, page):
    page.goto(server + "?level=3000&colormap=twilight")
    wait_shown(page, 3000)
    expect(page.locator("#values")).to_be_enabled()
    expect(page.locator("#cycle")).to_be_disabled()
    before = shown_count(page)
    page.select_option("#values", "smooth")
    wait_redrawn(page, before)
    assert "values=smooth" in page.url
    expect(page.locator("#cycle")).to_be_enabled()
    # The page colours the raw f32 values itself, exactly as the PNG sink's colour = "smooth"
    # (the server's PNG is SmoothColours::apply, tested against the sink in Rust).
    smooth = "&values=smooth"
    assert (canvas_rgb(page) == server_png(server, 3000, "twilight", "fixed", extra=smooth)).all()
    counts_png = server_png(server, 3000, "twilight", "fixed")
    assert (canvas_rgb(page) != counts_png).any(), "smooth colours differ from the counts' bands"
    # Under the cursor: the smooth value (the raw f32), labelled so.
    raw = np.frombuffer(fetch(f"{server}api/level/3000/counts?values=smooth"), "<f4").reshape(512, 512)
    counts = nb.render_level(3000, 512, 512, nb.CENTER, nb.SCALE0, nb.ZOOM_PER_LEVEL, nb.MAX_ITER)
    for x, y in [(0, 0), (100, 200), (511, 511), (256, 300)]:
        hover_pixel(page, x, y)
        ro = page.locator("#readout")
        expect(ro).to_have_attribute("data-x", str(x))
        expect(ro).to_have_attribute("data-y", str(y))
        text = ro.get_attribute("data-smooth")
        assert np.float32(float(text)) == raw[y, x], (text, raw[y, x])
        assert ro.get_attribute("data-count") is None
        assert page.locator("#ro-count").inner_text() == text
        # Smooth values sit close to the notebook's counts: within (k - 1, k + 1.5).
        k = int(counts[y, x])
        assert k - 1 < raw[y, x] < k + 1.5 or k == nb.MAX_ITER == raw[y, x], (k, raw[y, x])
    expect(page.locator("#ro-count-label")).to_have_text("smooth value")

    # Range mode and a colour cycle: redrawn from the same values, in the URL.
    page.select_option("#mode", "per-frame")
    assert (canvas_rgb(page) == server_png(server, 3000, "twilight", "per-frame", extra=smooth)).all()
    page.fill("#cycle", "24.5")
    page.locator("#cycle").dispatch_event("change")
    assert "cycle=24.5" in page.url
    cyc = smooth + "&cycle=24.5"
    assert (canvas_rgb(page) == server_png(server, 3000, "twilight", "per-frame", extra=cyc)).all()
    # A cycle that is not a number of iterations is reported and not applied.
    page.fill("#cycle", "-3")
    page.locator("#cycle").dispatch_event("change")
    expect(page.locator("#status")).to_contain_text('cycle "-3"')
    assert "cycle=24.5" in page.url
    page.screenshot(path=str(ARTIFACTS / "view-smooth-level-3000.png"))

    # The saved frame is the server's smooth PNG.
    with page.expect_download() as dl:
        page.click("#save-png")
    assert dl.value.suggested_filename == "level-3000-twilight-per-frame-smooth-cycle24.5.png"
    saved = np.asarray(Image.open(dl.value.path()).convert("RGB"))
    assert (saved == canvas_rgb(page)).all()

    # A shared URL opens the same smooth view; a deeper level and a stride work too.
    other = page.context.new_page()
    other.goto(page.url)
    wait_shown(other, 3000)
    expect(other.locator("#values")).to_have_value("smooth")
    expect(other.locator("#cycle")).to_have_value("24.5")
    assert (canvas_rgb(other) == canvas_rgb(page)).all()
    other.close()
    page.select_option("#stride", "4")
    page.wait_for_function("document.getElementById('frame').width === 128")
    assert (canvas_rgb(page) == server_png(server, 3000, "twilight", "per-frame", stride=4, extra=cyc)).all()
    page.select_option("#stride", "1")
    page.wait_for_function("document.getElementById('frame').width === 512")
    page.locator("#slider").fill("119999")
    wait_shown(page, 119999)
    assert (canvas_rgb(page) == server_png(server, 119999, "twilight", "per-frame", extra=cyc)).all()

    # Back to counts: the count under the cursor again.
    before = shown_count(page)
    page.select_option("#values", "counts")
    wait_redrawn(page, before)
    assert "values" not in page.url and "cycle" not in page.url
    hover_pixel(page, 10, 10)
    page.wait_for_function("document.getElementById('readout').dataset.count !== undefined")
    assert page.locator("#readout").get_attribute("data-count") == page.locator("#ro-count").inner_text()
    expect(page.locator("#ro-count-label")).to_have_text("count")
    assert (canvas_rgb(page) == server_png(server, 119999, "twilight", "per-frame")).all()


def test_play_and_keyboard(server, page):
    page.goto(server + "?level=119990&colormap=magma")
    wait_shown(page, 119990)
    page.fill("#play-from", "119990")
    page.fill("#play-to", "119996")
    page.fill("#play-step", "2")
    page.fill("#play-fps", "30")
    page.click("#play")
    wait_shown(page, 119996)
    expect(page.locator("#play")).to_have_text("▶ play")
    shown = page.evaluate("window.zoomstackView.timings.map(t => t.level)")
    assert shown[-4:] == [119990, 119992, 119994, 119996], shown
    # Keyboard on the page: End, Home, PageDown.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("End")
    wait_shown(page, 119999)
    page.keyboard.press("PageDown")
    wait_shown(page, 119989)
    page.keyboard.press("Home")
    wait_shown(page, 0)
    # The wheel over the image zooms: down one level deeper, up one back.
    hover_pixel(page, 256, 256)
    page.mouse.wheel(0, 100)
    wait_shown(page, 1)
    expect(page.locator("#ro-scale")).to_contain_text("zoom ×1.00025")
    page.mouse.wheel(0, -100)
    wait_shown(page, 0)
    expect(page.locator("#ro-scale")).to_have_text("3.00000 (zoom ×1.00000)")
    page.screenshot(path=str(ARTIFACTS / "view-level-0.png"))


def test_bad_url_parameters_are_reported(server, page):
    page.goto(server + "?level=999999999&colormap=jet&mode=log&values=bands&cycle=0")
    wait_shown(page, 3000)
    status = page.locator("#status")
    expect(status).to_have_class("error")
    text = status.inner_text()
    for part in ['level "999999999"', 'unknown colormap "jet"', 'unknown mode "log"', 'unknown values "bands"', 'cycle "0"']:
        assert part in text, text
    expect(page.locator("#values")).to_have_value("counts")
    expect(page.locator("#colormap")).to_have_value("rainbow")


def test_a_stopped_server_is_reported(browser):
    proc = subprocess.Popen([BIN, "view", "--port", "0", "--quiet"], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    page = browser.new_page()
    page.goto(url)
    wait_shown(page, 3000)
    proc.terminate()
    proc.wait(timeout=10)
    page.keyboard.press("End")
    expect(page.locator("#status")).to_contain_text("cannot reach the zoomstack view server")
    expect(page.locator("#status")).to_have_class("error")
    page.close()


@pytest.fixture(scope="module")
def exact_server():
    """The notebook's stack at the length its author wanted, in exact arithmetic."""
    yield from serve("--set", "stack.levels=120000000", "--set", 'stack.arithmetic="exact"')


def test_exact_stack_of_120_million_levels(exact_server, page):
    last = 120_000_000 - 1
    page.goto(exact_server + f"?level={last}")
    wait_shown(page, last)
    info = page.locator("#stack-info")
    expect(info).to_contain_text("120000000 levels")
    # No smooth values in the exact contract: the control is off and says why, and the server
    # refuses them.
    expect(page.locator("#values")).to_be_disabled()
    assert "smooth" in page.locator("#values").get_attribute("title")
    try:
        fetch(f"{exact_server}api/level/{last}/counts?values=smooth")
        raise AssertionError("smooth values served for an exact stack")
    except urllib.error.HTTPError as e:
        assert e.code == 400
        assert "values=smooth" in e.read().decode()
    expect(info).to_contain_text("arithmetic exact")
    expect(info).to_contain_text("c₀ = -0.743645857047151026542053386947")
    assert page.evaluate("document.getElementById('slider').max") == str(last)
    # Proven constant from level 139845 on: every pixel is the centre's count, 250.
    counts = np.frombuffer(fetch(f"{exact_server}api/level/{last}/counts"), "<u2")
    assert counts.shape == (512 * 512,) and (counts == 250).all()
    rgb = canvas_rgb(page)
    assert (rgb == rgb[0, 0]).all()
    # The readout: the level's height and the pixel's offset from c0 as decimal text, at a
    # depth (about 1e-13030) far past f64's range.
    hover_pixel(page, 0, 0)
    expect(page.locator("#ro-count")).to_have_text("250")
    scale_log10 = np.log10(3.0) - last * np.log10(1.00025)
    exponent = int(np.floor(scale_log10))
    scale_text = page.locator("#ro-scale").inner_text()
    mantissa, rest = scale_text.split("e", 1)
    assert rest.startswith(f"{exponent} (zoom ×"), scale_text
    assert abs(float(mantissa) - 10 ** (scale_log10 - exponent)) < 1e-4, scale_text
    assert page.locator("#ro-c").inner_text().startswith("c₀ − "), page.locator("#ro-c").inner_text()
    # Just shallower than the proven threshold the frame is not constant: its corner is 251
    # (oracle-confirmed: kernel/README.md, "Constant frames").
    page.goto(exact_server + "?level=139844")
    wait_shown(page, 139844)
    counts = np.frombuffer(fetch(f"{exact_server}api/level/139844/counts"), "<u2")
    assert counts[0] == 251 and len(np.unique(counts)) > 1
    # The keyboard spans the whole slider.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("End")
    wait_shown(page, last)
    page.keyboard.press("Home")
    wait_shown(page, 0)
    page.screenshot(path=str(ARTIFACTS / "view-exact-level-0.png"))
