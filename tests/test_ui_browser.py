"""End to end in real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium.

`python app.py` serves on the tiny models with a store seeded by tests.test_ui_api (one run's
tool outputs hold `<script>` and `<img onerror>`). The test runs a task from the Run tab,
opens its trace, labels a verdict with the keyboard (j, k, 2, Enter) and finds the label in
the database, checks that the hostile tool output is shown as text, and screenshots every tab
into test-artifacts/. Without chromium it skips, unless SPECTOOL_REQUIRE_BROWSER=1 (CI), where
it fails. SPECTOOL_BROWSER_MODELS=embedded serves the embedded defaults instead of the tiny models
(slower; for checking the shipped checkpoints by hand).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.helpers import ROOT
from tests.test_ui_api import XSS, seed_store, start_app, stop_app

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                  "--window-size=1400,2000", '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1')
EMBEDDED = os.environ.get("SPECTOOL_BROWSER_MODELS") == "embedded"  # real checkpoints instead of tiny ones
WAIT_S = 300 if EMBEDDED else 60  # longest wait for one page change (a tiny-model run takes a few seconds)


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    if not CHROMIUM or not CHROMEDRIVER:
        return "Debian's chromium and chromium-driver are not installed"
    return ""


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("SPECTOOL_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="spectool-chromium-")
    for flag in CHROMIUM_FLAGS + (f"--user-data-dir={profile}",):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("ui-browser-data")
    db_url = f"sqlite:///{data_dir / 'spectool.db'}"
    ids = seed_store(db_url)
    process, url = start_app(data_dir, None if EMBEDDED else tmp_path_factory.mktemp("ui-browser-models"))
    try:
        yield {"url": url, "db_url": db_url, "ids": ids}
    finally:
        stop_app(process)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(data_dir / "app.log", ARTIFACTS / "ui-browser-app.log")


# -- small page helpers -------------------------------------------------------------------------
def _wait(driver, condition, what: str):
    """Wait for ``condition``; on a timeout save a screenshot named after ``what`` and fail."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.25).until(condition)
    except TimeoutException:
        _shot(driver, "failure-" + "-".join(what.split()))
        raise AssertionError(f"timed out after {WAIT_S} s waiting for {what}") from None


def _text(driver, elem_id: str) -> str:
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : '';",
                                 elem_id)


def _rows(driver, elem_id: str) -> list[list[str]]:
    """Cell texts of the body rows of a gr.Dataframe."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#' + arguments[0] + ' [role=row].virtual-row'))"
        ".map(r => Array.from(r.querySelectorAll('[role=gridcell]')).map(c => c.innerText.trim()));", elem_id)


def _tab(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]"):
        if button.text.strip() == name:
            button.click()
            return
    raise AssertionError(f"no tab named {name!r}")


def _click(driver, elem_id: str) -> None:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, elem_id)
    button = element if element.tag_name == "button" else element.find_element(By.TAG_NAME, "button")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def _type(driver, elem_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input, #{elem_id} textarea")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(value)


def _toggle(driver, elem_id: str, label: str) -> None:
    from selenium.webdriver.common.by import By

    for option in driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} label"):
        if option.text.strip() == label:
            option.click()
            return
    raise AssertionError(f"no option {label!r} in #{elem_id}")


def _shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"ui-{name}.png"))


def _keys(driver, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for key in keys:
        ActionChains(driver).send_keys(key).perform()


# -- the test -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_run_trace_label_compare_in_chromium(browser, app_url):
    from db.engine import make_engine
    from db.queries import list_runs, run_steps, step_detail
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    engine = make_engine(app_url["db_url"])
    driver = browser
    driver.get(app_url["url"])
    _wait(driver, lambda d: "synthetic:test-0" in _text(d, "run-preview"), "the Run tab's task preview")
    assert "Preset embedded" in _text(driver, "run-models")

    # Run: shadow (confidence verifier) beside target_only on the first synthetic test task
    _toggle(driver, "run-modes", "speculative")
    _toggle(driver, "run-modes", "shadow")
    _click(driver, "run-button")
    _wait(driver, lambda d: _text(d, "run-status").startswith("Done."), "the run to finish")
    assert "shadow — run" in _text(driver, "run-left") and "target_only — run" in _text(driver, "run-right")
    _shot(driver, "run")
    shadow = list_runs(engine, mode="shadow")[0]["id"]

    # Traces: open the shadow run, then one step of the seeded run with the hostile tool output
    _tab(driver, "Traces")
    _type(driver, "traces-run-id", str(shadow))
    _click(driver, "traces-open")
    _wait(driver, lambda d: "1:0.0" in _text(d, "traces-steps"), "the step table")
    _wait(driver, lambda d: d.execute_script("return document.querySelectorAll("
                                             "'#traces-latency .js-plotly-plot, #traces-decisions .js-plotly-plot')"
                                             ".length") == 2, "both trace plots")
    # the runs table was refreshed when the tab opened: it lists the new run
    assert str(shadow) in [row[0] for row in _rows(driver, "traces-runs")]
    assert "shadow" in _text(driver, "traces-summary") and "acceptance_rate" in _text(driver, "traces-summary")
    _shot(driver, "traces")
    # clicking a row of the step table opens that step
    first_step = _rows(driver, "traces-steps")[0][0]
    driver.find_element(By.CSS_SELECTOR, "#traces-steps [role=row].virtual-row [role=gridcell]").click()
    _wait(driver, lambda d: _text(d, "traces-step-header").startswith(f"step {first_step}: task synthetic:test-0"),
          "the clicked step's detail")
    assert '"role":"system"' in "".join(_text(driver, "traces-context").split())
    hostile = run_steps(engine, app_url["ids"]["spec"])[0]["step_id"]
    _type(driver, "traces-step-id", str(hostile))
    _click(driver, "traces-open-step")
    _wait(driver, lambda d: "<script>" in _text(d, "traces-tool-output"), "the tool output")
    # the hostile output is text: no <img src=x> element, no script ran, the literal markup is visible
    assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert driver.execute_script("return window.__xss === undefined") is True
    assert "window.__xss = 1</script><img src=x" in _text(driver, "traces-tool-output")
    assert XSS.split(">")[0] in _text(driver, "traces-tool-output")
    _shot(driver, "traces-step")

    # Annotate: load the shadow run's queue, move with j/k, label with 2 and save with Enter
    _tab(driver, "Annotate")
    _type(driver, "annotate-run-id", str(shadow))
    _type(driver, "annotate-annotator", "browser-bot")
    _click(driver, "annotate-load")
    _wait(driver, lambda d: _text(d, "annotate-header").startswith("Item 1 of"), "the first queue item")
    _keys(driver, "j")
    _wait(driver, lambda d: _text(d, "annotate-header").startswith("Item 2 of"), "j to move on")
    _keys(driver, "k")
    _wait(driver, lambda d: _text(d, "annotate-header").startswith("Item 1 of"), "k to move back")
    verdict = int(_text(driver, "annotate-header").split("verdict ")[1].split(" ")[0])
    _keys(driver, "2")
    _wait(driver, lambda d: d.execute_script(
        "const r = document.querySelector('#annotate-label input[value=\"false_accept\"]');"
        "return r ? r.checked : false;"), "key 2 to pick false_accept")
    _keys(driver, Keys.ENTER)
    _wait(driver, lambda d: f"saved false_accept on verdict {verdict} for browser-bot" in _text(d, "annotate-message"),
          "Enter to save")
    step_id = next(r["step_id"] for r in run_steps(engine, shadow) if r["verdict_id"] == verdict)
    notes = [n for v in step_detail(engine, step_id)["verdicts"] if v["id"] == verdict for n in v["annotations"]]
    assert [(n["label"], n["annotator"]) for n in notes] == [("false_accept", "browser-bot")]
    _shot(driver, "annotate")

    # Compare: the shadow run against its target_only baseline (run B left empty)
    _tab(driver, "Compare")
    _type(driver, "compare-a", str(shadow))
    _click(driver, "compare-go")
    _wait(driver, lambda d: "Speedup of run" in _text(d, "compare-speedup"), "the comparison")
    _shot(driver, "compare")

    # Threshold what-if on the newest shadow run, Benchmarks, Tasks
    _tab(driver, "Threshold what-if")
    _click(driver, "whatif-replay")
    _wait(driver, lambda d: f"Run {shadow}, verifier" in _text(d, "whatif-text"), "the replay")
    _shot(driver, "whatif")
    _tab(driver, "Benchmarks")
    _wait(driver, lambda d: "bench" in _text(d, "bench-text").lower(), "the benchmark note")
    _shot(driver, "benchmarks")
    _tab(driver, "Tasks")
    _shot(driver, "tasks")
    shots = {p.name for p in ARTIFACTS.glob("ui-*.png")}
    assert {f"ui-{tab}.png" for tab in ("run", "traces", "annotate", "compare", "whatif", "benchmarks")} <= shots
