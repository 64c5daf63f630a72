"""The web page of mmib serve in a real browser: Debian's chromium driven by Playwright
(no browser download; .ci/run installs chromium) uploads a clip and reads the result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from serve_model import clips, served_run, server  # noqa: F401  (session fixtures)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() or shutil.which("chromium") is None,
                                reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 900, "height": 1100})
            # the page works offline: every request it makes goes to the server itself
            outside = []
            pg.on("request", lambda r: None if r.url.startswith((server.url, "blob:", "data:")) else outside.append(r.url))
            pg.outside = outside
            yield pg
        finally:
            browser.close()


def test_upload_a_clip_and_read_the_prediction(page, server, clips, tmp_path):
    import httpx

    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('model-line').textContent.includes('cmib')")
    assert "sentiment in [-3, 3]" in page.text_content("#model-line")
    assert page.is_disabled("#predict")
    page.set_input_files("#file", str(clips["video"]))
    page.fill("#transcript", "what a wonderful day")
    page.click("#predict")
    page.wait_for_selector("#result:not([hidden])", timeout=180_000)
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)
    shown = float(page.get_attribute("#score", "data-value"))
    word = page.text_content("#score-word")
    heads = {m: page.get_attribute(f'tr[data-modality="{m}"] td.head', "data-value") for m in ("text", "audio", "visual")}
    kls = {m: float(page.get_attribute(f'tr[data-modality="{m}"] td.kl', "data-value"))
           for m in ("text", "audio", "visual", "fused")}
    assert page.text_content("#transcript-used") == "“what a wonderful day”"
    assert page.is_hidden("#error") and not page.outside
    # the page shows what the API answers for the same clip
    with open(clips["video"], "rb") as f:
        (a,) = httpx.post(server.url + "/v1/predict/clip", files={"file": ("smile.mp4", f, "video/mp4")},
                          data={"text": "what a wonderful day"}, timeout=180).json()["predictions"]
    assert shown == pytest.approx(a["prediction"], abs=1e-6)
    assert word == ("positive" if a["prediction"] > 0.15 else "negative" if a["prediction"] < -0.15 else "neutral")
    assert {m: float(v) for m, v in heads.items()} == pytest.approx(a["heads"], abs=1e-6)
    assert kls == pytest.approx(a["kl"], abs=1e-6)
    assert (tmp_path / "result.png").stat().st_size > 10_000


def test_a_bad_file_shows_a_readable_error(page, server, clips, tmp_path):
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('model-line').textContent.includes('cmib')")
    page.set_input_files("#file", str(clips["broken"]))
    page.fill("#transcript", "hello")
    page.click("#predict")
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    page.screenshot(path=str(tmp_path / "error.png"), full_page=True)
    text = page.text_content("#error")
    assert "broken.mp4" in text and "not a readable" in text and "HTTP 422" in text
    assert page.is_hidden("#result") and "Traceback" not in text
