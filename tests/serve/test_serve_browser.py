#!/usr/bin/python3
"""The `mien serve` page in a real browser (ctest `serve_browser`): Debian's chromium,
headless, driven by chromium-driver through python3-selenium. Uploads a fixture photo,
waits for the overlay, checks the face count and boxes in the DOM against the API's answer,
checks that no two labels overlap and that the page fits a phone's width, uploads a short
video and waits for its chart, and saves screenshots (desktop and phone).

usage: test_serve_browser.py MIEN_BINARY SCREENSHOT_DIR   (exit 77 = skipped: no chromium,
chromedriver or selenium)
"""
import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_util import HANG_GUARD, Server, mien_cli, skip  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCENES = os.path.join(ROOT, "tests", "data", "scenes")
PHOTO = os.path.join(SCENES, "faceapi_sample1.jpg")
failures = []

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    skip("python3-selenium is not installed (apt-get install python3-selenium)")


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def find_program(*names):
    for n in names:
        p = shutil.which(n)
        if p:
            return p
    return None


def screenshot(driver, path):
    # The whole page, not only the viewport.
    shot = driver.execute_cdp_cmd("Page.captureScreenshot",
                                  {"format": "png", "captureBeyondViewport": True})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("screenshot: " + path)


def overlapping_tags(driver):
    return driver.execute_script("""
        const r = [...document.querySelectorAll('#photo-stage .face-tag')].map(e => e.getBoundingClientRect());
        const bad = [];
        for (let i = 0; i < r.length; ++i) for (let j = i + 1; j < r.length; ++j)
          if (r[i].left < r[j].right && r[j].left < r[i].right && r[i].top < r[j].bottom && r[j].top < r[i].bottom)
            bad.push([i, j]);
        return bad;""")


def upload_photo(driver, path):
    driver.find_element(By.ID, "photo-input").send_keys(path)
    WebDriverWait(driver, HANG_GUARD).until(lambda d: d.find_element(
        By.ID, "photo-status").get_attribute("data-state") in ("done", "error"))
    status = driver.find_element(By.ID, "photo-status")
    return status.get_attribute("data-state"), status.text


def main():
    cli = mien_cli()
    out_dir = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    os.makedirs(out_dir, exist_ok=True)
    chromium = find_program("chromium", "chromium-browser", "google-chrome")
    driver_bin = find_program("chromedriver")
    if not chromium or not driver_bin:
        skip("chromium and chromium-driver are not installed (apt-get install chromium "
             "chromium-driver)")
    srv = Server(cli, "--threads", "2", "--quiet")
    driver = None
    work = tempfile.mkdtemp(prefix="mien_serve_browser_")
    try:
        # What the API says about the photo: the page must show the same.
        _, _, expected = srv.json("POST", "/v1/analyze", open(PHOTO, "rb").read(),
                                  {"Content-Type": "image/jpeg"})
        n = len(expected["faces"])
        opts = webdriver.ChromeOptions()
        opts.binary_location = chromium
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--no-first-run", "--disable-extensions", "--window-size=1280,1000"):
            opts.add_argument(a)
        # The webcam: chromium's fake camera playing a clip made from a fixture photo, and
        # the permission prompt answered yes.
        camera = None
        if shutil.which("ffmpeg"):
            camera = os.path.join(work, "camera.y4m")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "5", "-t",
                            "1", "-i", os.path.join(SCENES, "astronaut.jpg"), "-vf",
                            "scale=480:-2", "-pix_fmt", "yuv420p", camera], check=True,
                           timeout=HANG_GUARD)
            for a in ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                      "--use-file-for-fake-video-capture=" + camera):
                opts.add_argument(a)
        driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
        driver.set_page_load_timeout(HANG_GUARD)
        driver.get(srv.url + "/")
        check("mien" in driver.title, "the page loads: %r" % driver.title)
        state, text = upload_photo(driver, PHOTO)
        check(state == "done", "photo analysed in the page: %s" % text)
        count = driver.find_element(By.ID, "face-count").get_attribute("data-count")
        check(count == str(n), "face count in the DOM %s equals the API's %d" % (count, n))
        boxes = driver.find_elements(By.CSS_SELECTOR, "#photo-stage .face-box")
        cards = driver.find_elements(By.CSS_SELECTOR, "#photo-cards .card")
        check(len(boxes) == n and len(cards) == n, "%d boxes and %d cards drawn" % (len(boxes),
                                                                                   len(cards)))
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#photo-stage .face-tag")]
        want = [f["emotion"]["label"] for f in expected["faces"]]
        check(all(w in t for w, t in zip(want, labels)) and len(labels) == n,
              "labels show the API's emotions: %s" % labels)
        check(not overlapping_tags(driver), "no two labels overlap (desktop)")
        # Each card names the face's gender and age as the API gives them.
        subs = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#photo-cards .card small")]
        js_round = lambda v: math.floor(v + 0.5)  # noqa: E731 (Math.round; round() is banker's)
        want = ["%s %d%% \u00b7 age %d" % (f["gender"]["label"], js_round(100 * f["gender"]["score"]),
                                           js_round(f["age"])) for f in expected["faces"]]
        check(len(subs) == n and all(w in t for w, t in zip(want, subs)),
              "cards show gender and age: %s (want %s)" % (subs, want))
        # Boxes where the API put them, in displayed pixels (1 px of rounding allowed).
        geo = driver.execute_script("""
            const img = document.getElementById('photo-img'), r0 = img.getBoundingClientRect();
            return [...document.querySelectorAll('#photo-stage .face-box')].map(b => {
              const r = b.getBoundingClientRect();
              return [(r.left - r0.left) / r0.width * img.naturalWidth, (r.top - r0.top) / r0.height * img.naturalHeight];
            });""")
        scale = expected["width"] / driver.execute_script(
            "return document.getElementById('photo-img').getBoundingClientRect().width")
        off = max(max(abs(g[0] - f["box"][0]), abs(g[1] - f["box"][1]))
                  for g, f in zip(geo, expected["faces"])) if geo else 0
        check(off <= 1.5 * scale + 1, "boxes sit at the API's coordinates (off by %.1f px)" % off)
        screenshot(driver, os.path.join(out_dir, "serve-photo.png"))

        # A phone: 390x844 CSS pixels, touch, no horizontal scrolling, labels still apart.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 2,
                                "mobile": True})
        driver.get(srv.url + "/")
        state, text = upload_photo(driver, PHOTO)
        check(state == "done", "photo analysed at phone width: %s" % text)
        wide = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        check(wide[0] <= wide[1], "the page fits the phone's width (%d <= %d)" % tuple(wide))
        check(not overlapping_tags(driver), "no two labels overlap (phone)")
        screenshot(driver, os.path.join(out_dir, "serve-phone.png"))
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

        if camera:
            driver.get(srv.url + "/")
            driver.find_element(By.CSS_SELECTOR, "nav button[data-tab=webcam]").click()
            driver.find_element(By.ID, "cam-start").click()
            # Frames go out at 5 per second; wait for a tracked, smoothed face.
            WebDriverWait(driver, HANG_GUARD).until(lambda d: d.find_elements(
                By.CSS_SELECTOR, "#cam-stage .face-tag") or d.find_element(
                    By.ID, "cam-status").get_attribute("data-state") == "error")
            # Read in one script: the page redraws the tags with every frame.
            tags = driver.execute_script("return [...document.querySelectorAll("
                                         "'#cam-stage .face-tag')].map(e => e.textContent)")
            check(len(tags) == 1 and tags[0].startswith("#1 "),
                  "webcam: the fake camera's face is tracked as #1: %s (%s)" %
                  (tags, driver.find_element(By.ID, "cam-status").text))
            screenshot(driver, os.path.join(out_dir, "serve-webcam.png"))
            driver.find_element(By.ID, "cam-stop").click()
        else:
            print("ffmpeg not installed: the webcam part is skipped")

        # Bad input shows a readable error, not a broken page.
        with tempfile.TemporaryDirectory() as d:
            junk = os.path.join(d, "junk.jpg")
            with open(junk, "wb") as f:
                f.write(b"this is not a jpeg")
            driver.get(srv.url + "/")
            state, text = upload_photo(driver, junk)
            check(state == "error" and "junk.jpg" in text, "a broken file shows its error: %s" % text)

            if shutil.which("ffmpeg"):
                clip = os.path.join(d, "clip.mp4")
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "10",
                                "-t", "3", "-i", os.path.join(SCENES, "astronaut.jpg"), "-vf",
                                "scale=320:-2", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip],
                               check=True, timeout=HANG_GUARD)
                driver.find_element(By.CSS_SELECTOR, "nav button[data-tab=video]").click()
                driver.find_element(By.ID, "video-input").send_keys(clip)
                WebDriverWait(driver, HANG_GUARD).until(lambda d: d.find_element(
                    By.ID, "video-status").get_attribute("data-state") in ("done", "error"))
                vs = driver.find_element(By.ID, "video-status")
                bars = driver.find_elements(By.CSS_SELECTOR, "#video-chart svg rect")
                check(vs.get_attribute("data-state") == "done" and len(bars) > 1,
                      "video analysed, chart drawn (%d rects): %s" % (len(bars), vs.text))
                screenshot(driver, os.path.join(out_dir, "serve-video.png"))
            else:
                print("ffmpeg not installed: the video part is skipped")
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE" and
                  "/v1/analyze" not in e.get("message", "")]
        check(not errors, "no JavaScript errors in the console: %s" % json.dumps(errors)[:300])
    finally:
        if driver:
            driver.quit()
        srv.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all serve browser checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
