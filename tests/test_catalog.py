"""The feature catalog: `sqlfeat docs generate` writes a static site that a real headless Chromium
loads without console errors; search finds a feature and the SQL tab shows the compiled query.

Chromium and ChromeDriver come from Debian (`make browser`); this file installs nothing. Set
SQLFEAT_CATALOG_SCREENSHOT=docs/catalog.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from conftest import record_materialization
from click.testing import CliRunner

from sqlfeat import FeatureStore
from sqlfeat.catalog import catalog_server, generate_catalog
from sqlfeat.checks import CheckOptions, run_checks
from sqlfeat.cli import cli

DEFINITIONS = '''\
from datetime import timedelta
from sqlfeat import Aggregation, Entity, FeatureView, Field, FileSource, ValueType
from sqlfeat.types import Float32, Int64, String

user = Entity(name="user_id", value_type=ValueType.INT64, description="A signed-in user", owner="identity-team")
clicks = FileSource(path="data/clicks.parquet", timestamp_field="event_time", created_timestamp_column="created")

user_clicks = FeatureView(
    name="user_clicks",
    entities=[user],
    ttl=timedelta(days=30),
    source=clicks,
    schema=[
        Field(name="click_count", dtype=Int64, description="Clicks in the 30 days before event_time"),
        Field(name="avg_dwell_seconds", dtype=Float32, description="Mean seconds on a page after a click"),
        Field(name="top_category", dtype=String, description="Most clicked category"),
    ],
    description="Daily click statistics per user, for ranking models.",
    owner="growth-team",
    tags={"team": "growth", "tier": "gold"},
    freshness_warn_after=timedelta(days=2),
    freshness_error_after=timedelta(days=30),
)

user_click_windows = FeatureView(
    name="user_click_windows",
    entities=[user],
    source=clicks,
    aggregations=[
        Aggregation("click_count", "sum", timedelta(days=7)),
        Aggregation("avg_dwell_seconds", "mean", timedelta(days=7)),
    ],
    description="Trailing windows over the same click events.",
    owner="growth-team",
)
'''


@pytest.fixture
def site(make_repo, clicks_frame) -> Path:
    """A repo that was checked, applied and materialized once, and its generated catalog."""
    from datetime import datetime, timezone

    root = make_repo({"clicks": clicks_frame})
    (root / "features.py").write_text(DEFINITIONS)
    with FeatureStore(repo_path=root) as store:
        run_checks(store, CheckOptions(now=datetime(2024, 1, 11, tzinfo=timezone.utc)))
        store.apply()
        record_materialization(store, "user_clicks", "2024-01-10T00:00:00+00:00")
        return generate_catalog(store).parent


def test_the_site_lists_every_view_feature_and_entity(site):
    index = (site / "index.html").read_text()
    for name in ("user_clicks", "user_click_windows", "click_count", "avg_dwell_seconds_mean_7d", "user_id", "data/clicks.parquet"):
        assert name in index
    assert "growth-team" in index and "30d" in index and "7d" in index
    search = json.loads(index.split('id="search-index">', 1)[1].split("</script>", 1)[0])
    assert {"kind": "feature", "name": "top_category", "view": "user_clicks", "text": "String Most clicked category",
            "url": "views/user_clicks.html#feature-top_category"} in search  # fmt: skip
    page = (site / "views" / "user_clicks.html").read_text()
    assert '<div class="highlight">' in page and "ASOF" in page and "READ_PARQUET" in page.upper()
    assert "latest value per entity" in page, "the materialization SQL is shown too"
    assert "2024-01-10T00:00:00+00:00" in page, "last materialization from the registry"
    assert "warn after 2d, error after 30d" in page
    assert 'class="badge pass">pass</span> newest' in page, "freshness from the last check"
    assert "team=growth" in page and "Mean seconds on a page after a click" in page
    windows = (site / "views" / "user_click_windows.html").read_text()
    assert "sum(click_count) over 7d" in windows and "Int64" in windows
    assert "Not materialized yet." in windows and "aggregates per entity at end" in windows


def test_docs_generate_command(make_repo, clicks_frame, tmp_path):
    root = make_repo({"clicks": clicks_frame})
    (root / "features.py").write_text(DEFINITIONS)
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["--chdir", str(root), "docs", "generate", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file() and (out / "views" / "user_clicks.html").is_file()
    assert "freshness is unknown" in (out / "index.html").read_text(), "no check has run in this repo"


# -- a real browser --------------------------------------------------------------------------------
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
)  # fmt: skip


@pytest.fixture
def browser(tmp_path):
    from services.fixtures import services_required

    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not (chromium and chromedriver):
        message = "needs Debian's chromium and chromium-driver (`make browser`) and selenium (the test extra)"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def served(site):
    server = catalog_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_the_catalog_works_in_headless_chromium(browser, served):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 10)
    browser.get(served + "index.html")
    assert browser.title == "test_project · sqlfeat catalog"
    assert _console_errors(browser) == []

    browser.find_element(By.ID, "search").send_keys("dwell")
    results = wait.until(ready.visibility_of_element_located((By.ID, "search-results")))
    found = [link.text for link in results.find_elements(By.TAG_NAME, "a")]
    assert any(text.startswith("FEATURE") and "avg_dwell_seconds" in text for text in found), found
    assert all("dwell" in text.lower() for text in found)
    screenshot = os.environ.get("SQLFEAT_CATALOG_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    results.find_element(By.CSS_SELECTOR, 'a[href="views/user_clicks.html#feature-avg_dwell_seconds"]').click()
    wait.until(ready.url_contains("views/user_clicks.html#feature-avg_dwell_seconds"))
    assert browser.find_element(By.ID, "tab-features").is_displayed()
    assert not browser.find_element(By.ID, "tab-sql").is_displayed()

    browser.find_element(By.CSS_SELECTOR, 'button[data-tab="sql"]').click()
    panel = wait.until(ready.visibility_of_element_located((By.ID, "tab-sql")))
    assert "ASOF LEFT JOIN" in panel.text and "SELECT" in panel.text and "READ_PARQUET" in panel.text
    assert panel.find_elements(By.CSS_SELECTOR, ".highlight span.k"), "SQL keywords are highlighted"
    assert not browser.find_element(By.ID, "tab-features").is_displayed()
    assert _console_errors(browser) == []
