"""The reports in a real browser: headless Chromium from Debian, driven by selenium, offline.

Opens the demo's ``summary.html`` and a ``report.html`` (the `demo_workflow` fixture: what
`make demo` produces) from file:// URLs with every
network request sent to a dead proxy, so a page that needed the network would log errors.
Checks: no SEVERE console messages, every figure decoded (natural width > 0), and clicking a
site-table header sorts its rows. Screenshots go to the test's tmp dir.

Chromium and chromedriver come from ``tests/system/apt-packages.txt`` (``make test`` runs
``tests/system/install.sh``); selenium uses the system driver, never selenium-manager.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL_HINT = ("run `bash tests/system/install.sh` as root: it installs the Debian packages "
                "listed in tests/system/apt-packages.txt (chromium, chromium-driver)")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _require(condition: bool, what: str) -> None:
    if condition:
        return
    message = f"{what}; {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message)  # in CI a missing browser is a broken setup, not a skip
    pytest.skip(message)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    binary = _chromium()
    _require(binary is not None, "headless Chromium is not installed (no `chromium` on PATH)")
    _require(CHROMEDRIVER.exists(), f"{CHROMEDRIVER} is missing (Debian package chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _require(False, "selenium is not installed (pip install -e '.[test]')")
    old = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver
    logs = tmp_path_factory.mktemp("chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                # Any request that leaves the machine fails fast and is logged as an error.
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                f"--user-data-dir={logs / 'profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(logs / "driver.log"))
    try:
        drv = webdriver.Chrome(service=service, options=options)
    finally:
        if old is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = old
    drv.set_page_load_timeout(120)
    yield drv
    drv.quit()


def _open(driver, path: Path, shot: Path) -> list[dict]:
    driver.get(path.resolve().as_uri())
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 1000
    return driver.get_log("browser")


def _check_page(driver, path: Path, shot: Path, min_images: int) -> None:
    log = _open(driver, path, shot)
    severe = [e for e in log if e.get("level") == "SEVERE"]
    assert not severe, f"{path.name}: console errors {severe}"
    widths = driver.execute_script(
        "return Array.from(document.images).map(function (i) { "
        "return i.complete ? i.naturalWidth : 0; });")
    assert len(widths) >= min_images, widths
    assert all(w > 0 for w in widths), f"{path.name}: undecoded figures {widths}"


def _column(driver, table_id: str, index: int) -> list[str]:
    return driver.execute_script(
        "var t = document.getElementById(arguments[0]), i = arguments[1];"
        "return Array.from(t.tBodies[0].rows).map(function (r) {"
        " return r.cells[i].textContent.trim(); });", table_id, index)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _check_sorting(driver, table_id: str, header: str) -> None:
    from selenium.webdriver.common.by import By

    heads = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    names = [h.text.strip() for h in heads]
    assert header in names, names
    idx = names.index(header)
    before = _column(driver, table_id, idx)
    assert len(before) >= 2, f"{table_id}: too few rows to test sorting ({before})"
    heads[idx].click()
    ascending = _column(driver, table_id, idx)
    values = [_number(v) for v in ascending]
    finite = [v for v in values if not math.isnan(v)]
    assert finite == sorted(finite), ascending
    assert all(math.isnan(v) for v in values[len(finite):]), "blanks sort after numbers"
    assert sorted(ascending) == sorted(before)  # same rows, reordered
    heads[idx].click()
    descending = [_number(v) for v in _column(driver, table_id, idx)]
    finite_desc = [v for v in descending if not math.isnan(v)]
    assert finite_desc == sorted(finite, reverse=True)
    assert heads[idx].get_attribute("aria-sort") == "descending"


def test_summary_in_browser(driver, demo_workflow, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    work = demo_workflow
    page = work / "results" / "summary.html"
    _check_page(driver, page, tmp_path / "summary.png", min_images=2)
    _check_sorting(driver, "site-table", "x")
    # the class filter hides the rows of other classes
    select = Select(driver.find_element(By.CSS_SELECTOR, 'select[data-filter-for="site-table"]'))
    classes = [o.get_attribute("value") for o in select.options if o.get_attribute("value")]
    select.select_by_value(classes[0])
    shown = driver.execute_script(
        "return Array.from(document.querySelectorAll('#site-table tbody tr'))"
        ".filter(function (r) { return r.style.display !== 'none'; })"
        ".map(function (r) { return r.getAttribute('data-class'); });")
    assert shown and set(shown) == {classes[0]}
    driver.save_screenshot(str(tmp_path / "summary_filtered.png"))


def test_subject_report_in_browser(driver, demo_workflow, tmp_path):
    work = demo_workflow
    reports = sorted((work / "results" / "subjects").glob("*/report.html"))
    assert reports
    _check_page(driver, reports[0], tmp_path / "report.png", min_images=6)
    _check_sorting(driver, "autocorr-table", "median")
