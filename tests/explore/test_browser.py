"""The explorer in a real browser (headless Chromium through Selenium and chromedriver).

Run with ``python -m pytest -m slow tests/explore/test_browser.py``; it needs Debian's ``chromium`` and
``chromium-driver`` packages (``apt-get install chromium chromium-driver``). Set ``ICLAB_SCREENSHOT=path.png`` to
keep a screenshot of the page.
"""

import os
import shutil
import statistics
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from iclab.explore.view import view_from_query
from iclab.theory import letey2025, lu2024

pytestmark = pytest.mark.slow

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("needs chromium and chromedriver (apt-get install chromium chromium-driver)", allow_module_level=True)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,950"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def settle(driver, timeout=20.0):
    """Wait until the page has no request in flight and has drawn at least once."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.execute_script("return window.iclab && window.iclab.draws > 0 && !window.iclab.busy"):
            return
        time.sleep(0.02)
    raise AssertionError("the page did not finish drawing")


def plotted_matches_theory(driver):
    """The drawn e_ICL, e_IDG and g_task traces equal iclab.theory at the state the page wrote into its URL."""
    query = parse_qs(urlsplit(driver.current_url).query)
    view = view_from_query({k: v for k, v in query.items() if k not in ("pin", "logy")})
    data = driver.execute_script("return document.getElementById('plot').data.slice(0, 3)"
                                 ".map(t => [t.x, t.y])")
    p = {k: getattr(view, k) for k in ("tau", "alpha", "kappa", "rho", "lam")}
    x = np.asarray(data[0][0], dtype=float)
    p[view.x] = x
    if view.structured:
        c_train, c_test = (letey2025.family_from_spec(s, view.dim) for s in (view.train, view.test))
        want = letey2025.evaluate(c_train, c_test, **p)
        want["g_task"] = want["e_icl"] - want["e_idg"]
    else:
        want = lu2024.evaluate(**p)
    for (_, y), key in zip(data, ("e_icl", "e_idg", "g_task"), strict=True):
        y = np.array([np.nan if v is None else v for v in y], dtype=float)
        ok = np.isfinite(want[key])
        assert np.array_equal(np.isfinite(y), ok), key
        assert np.allclose(y[ok], want[key][ok], rtol=1e-12, atol=1e-15), key
    return view, np.asarray(data[0][1], dtype=float)


def move(driver, name, presses):
    """Press the arrow key on slider ``name``, one draw at a time (each press is one input event)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    el = driver.find_element(By.ID, f"s_{name}")
    if not el.is_enabled():  # κ = ∞ or λ = 0 is ticked: untick it to use the slider
        driver.find_element(By.ID, f"c_{name}").click()
        settle(driver)
    for _ in range(presses):
        el.send_keys(Keys.ARROW_RIGHT if presses > 0 else Keys.ARROW_LEFT)
        settle(driver)


def test_every_control_redraws_the_theory_fast_and_cleanly(server, browser):
    from selenium.webdriver.common.by import By

    browser.get(server.url)
    settle(browser)
    plotted_matches_theory(browser)
    for axis, sliders in (("tau", ("alpha", "kappa", "rho", "lam")), ("alpha", ("tau", "kappa")),
                          ("kappa", ("tau", "alpha"))):
        browser.find_element(By.CSS_SELECTOR, f"input[name=x][value={axis}]").click()
        settle(browser)
        for name in sliders:
            before, y0 = plotted_matches_theory(browser)
            move(browser, name, 12)
            after, y1 = plotted_matches_theory(browser)
            assert getattr(after, name) > getattr(before, name), name
            assert not np.allclose(y0, y1, equal_nan=True), f"moving {name} did not change the curve"
    # κ = ∞ and λ = 0 are reachable (off the x axis)
    browser.find_element(By.CSS_SELECTOR, "input[name=x][value=tau]").click()
    settle(browser)
    for box in ("c_kappa", "c_lam"):
        browser.find_element(By.ID, box).click()
        settle(browser)
    view, _ = plotted_matches_theory(browser)
    assert np.isinf(view.kappa) and view.lam == 0.0
    browser.find_element(By.ID, "pin").click()
    settle(browser)
    names = browser.execute_script("return document.getElementById('plot').data.map(t => t.name)")
    assert any(n.startswith("pin 1:") for n in names)
    assert all(names), "every trace has a legend name"
    lat = browser.execute_script("return window.iclab.latencies")  # the isotropic theory's redraws
    # the covariance picker: a power-law pretraining spectrum, tested on a spiked direction
    for box, text in (("train", "pl:1"), ("test", "spike:0.5:1")):
        el = browser.find_element(By.ID, box)
        el.clear()
        el.send_keys(text + "\n")
        settle(browser)
    view, _ = plotted_matches_theory(browser)
    assert view.structured and view.train == "pl:1" and view.test == "spike:0.5:1"
    med, p95 = statistics.median(lat), float(np.percentile(lat, 95))
    print(f"\nslider-to-redraw latency over {len(lat)} draws: median {med:.1f} ms, p95 {p95:.1f} ms")
    parts = np.median(browser.execute_script("return window.iclab.parts"), axis=0)
    print(f"median request {parts[0]:.1f} ms, median draw {parts[1]:.1f} ms")
    if os.environ.get("ICLAB_SCREENSHOT"):
        browser.save_screenshot(os.environ["ICLAB_SCREENSHOT"])
    assert med < 100 and p95 < 250
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
