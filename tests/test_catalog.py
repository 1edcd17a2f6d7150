"""The feature catalog: `sqlfeat docs generate` writes a static site that a real headless Chromium
loads without console errors; search finds a feature and the SQL tab shows the compiled query.

Chromium and ChromeDriver come from Debian (`make browser`); this file installs nothing. Set
SQLFEAT_CATALOG_SCREENSHOT=docs/catalog.png to refresh the screenshot in the docs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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


SERVICE = '''
from sqlfeat import FeatureService
from features import user_clicks, user_click_windows
ranking = FeatureService(
    name="ranking", description="What the ranking model reads.", owner="ml-team",
    features=[user_clicks[["click_count"]], user_click_windows.with_name("other_user").with_join_key_map({"user_id": "friend_id"})],
)
'''


def test_feature_services_and_saved_datasets_have_their_place_and_lineage(make_repo, clicks_frame):
    import pandas as pd

    from sqlfeat import SavedDatasetFileStorage

    root = make_repo({"clicks": clicks_frame})
    (root / "features.py").write_text(DEFINITIONS)
    (root / "services.py").write_text(SERVICE)
    with FeatureStore(repo_path=root) as store:
        store.apply()
        spine = pd.DataFrame({"user_id": [1], "friend_id": [2], "event_timestamp": pd.to_datetime(["2024-01-06"], utc=True)})
        ranking = store.get_feature_service("ranking")
        job = store.get_historical_features(spine, ranking, full_feature_names=True)
        store.create_saved_dataset(from_=job, name="ranking_train", storage=SavedDatasetFileStorage(path="data/train.parquet"),
                                   feature_service=ranking)  # fmt: skip
        site = generate_catalog(store).parent
    page = (site / "services" / "ranking.html").read_text()
    assert "What the ranking model reads." in page and "ml-team" in page
    assert "user_clicks:click_count" in page and "avg_dwell_seconds" not in page.split("other_user")[0]
    assert "other_user:click_count_sum_7d" in page and "<code>friend_id</code> → <code>user_id</code>" in page
    assert 'href="../views/user_click_windows.html"' in page and "ranking_train" in page and "SQL of saved dataset" in page
    index = (site / "index.html").read_text()
    assert 'href="services/ranking.html"' in index and 'id="dataset-ranking_train"' in index
    assert "file data/train.parquet (duckdb)" in index and "user_clicks:click_count" in index
    search = json.loads(index.split('id="search-index">', 1)[1].split("</script>", 1)[0])
    assert {"kind": "service", "name": "ranking", "text": "What the ranking model reads.", "url": "services/ranking.html"} in search
    view = (site / "views" / "user_clicks.html").read_text()
    lineage = view.split('id="tab-lineage"', 1)[1].split("</section>", 1)[0]
    assert 'href="../services/ranking.html"' in lineage and "ranking_train" in lineage
    windows = (site / "views" / "user_click_windows.html").read_text().split('id="tab-lineage"', 1)[1]
    assert "ranking" in windows.split("</section>", 1)[0] and "ranking_train" in windows.split("</section>", 1)[0]


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


# -- nothing lost, outputs well-formed --------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_files import apart, plant, temp_files, tree, user_trees  # noqa: E402

from sqlfeat.checks.report import FORMAT, read_run_results  # noqa: E402
from sqlfeat.errors import OutputPathError  # noqa: E402
from sqlfeat.files import MARKER  # noqa: E402

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def repo(make_repo, clicks_frame) -> Path:
    root = make_repo({"clicks": clicks_frame})
    (root / "features.py").write_text(DEFINITIONS)
    return root


def docs(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--chdir", str(root), "docs", *args])


def test_docs_generate_into_the_repo_itself_refuses_and_deletes_nothing(repo, monkeypatch):
    before = tree(repo)
    monkeypatch.chdir(repo)
    result = docs(repo, "generate", "--output", ".")
    assert result.exit_code == 2, result.output
    assert "--output . is not empty and sqlfeat did not create it" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert tree(repo) == before


def test_docs_serve_refuses_a_foreign_folder_instead_of_serving_or_replacing_it(repo, tmp_path, monkeypatch):
    import sqlfeat.catalog

    served = []
    monkeypatch.setattr(sqlfeat.catalog, "serve_catalog", lambda directory, *a, **k: served.append(directory))
    foreign = tmp_path / "site"
    foreign.mkdir()
    (foreign / "index.html").write_text("<h1>my own site</h1>")
    result = docs(repo, "serve", "--output", str(foreign))
    assert result.exit_code == 2 and "is not empty and sqlfeat did not create it" in result.output
    assert served == [] and tree(foreign) == {"index.html": b"<h1>my own site</h1>"}
    # A catalog sqlfeat wrote is served as it is.
    generate_catalog(FeatureStore(repo_path=repo), tmp_path / "catalog")
    assert docs(repo, "serve", "--output", str(tmp_path / "catalog")).exit_code == 0
    assert served == [tmp_path / "catalog"]


@SETTINGS
@given(user=user_trees())
def test_user_files_in_a_catalog_folder_survive_regeneration(repo, user):
    store = FeatureStore(repo_path=repo)
    site = Path(tempfile.mkdtemp(dir=repo.parent)) / "site"
    generate_catalog(store, site)
    listed = set(json.loads((site / MARKER).read_text())["files"])
    user = apart(user, listed)
    plant(site, user)
    # The next run no longer has user_click_windows: its page goes, nothing else.
    (repo / "features.py").write_text(DEFINITIONS.split("user_click_windows = ")[0])
    try:
        generate_catalog(store, site)
    finally:
        (repo / "features.py").write_text(DEFINITIONS)
    after = tree(site)
    assert {rel: after.get(rel) for rel in user} == user
    assert "views/user_clicks.html" in after and "views/user_click_windows.html" not in after
    assert temp_files(site) == []


@SETTINGS
@given(user=user_trees())
def test_a_non_empty_folder_sqlfeat_did_not_write_is_refused_untouched(repo, user):
    site = Path(tempfile.mkdtemp(dir=repo.parent))
    plant(site, user)
    before = tree(site)
    with pytest.raises(OutputPathError, match="--output"):
        generate_catalog(FeatureStore(repo_path=repo), site)
    assert tree(site) == before


def test_an_interrupted_regeneration_leaves_each_page_whole_and_no_temp_file(repo, tmp_path, monkeypatch):
    from sqlfeat import files

    store = FeatureStore(repo_path=repo)
    site = tmp_path / "site"
    generate_catalog(store, site)
    old = tree(site)
    (repo / "features.py").write_text(DEFINITIONS.replace("for ranking models", "for ranking models, v2"))
    calls = []
    real_replace = os.replace

    def replace_then_crash(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace_then_crash)
    with pytest.raises(OutputPathError, match="No space left"):
        generate_catalog(store, site)
    monkeypatch.undo()
    generate_catalog(store, site)
    new = tree(site)
    monkeypatch.setattr(files.os, "replace", replace_then_crash)
    calls.clear()
    (repo / "features.py").write_text(DEFINITIONS)
    with pytest.raises(OutputPathError):
        generate_catalog(store, site)
    crashed = tree(site)
    assert temp_files(site) == []
    assert set(crashed) == set(old) | {MARKER}
    for rel, data in crashed.items():
        if rel != MARKER:
            assert data in (old[rel], new[rel]), f"{rel} is neither the old page nor the new one"


TRICKY = st.lists(st.one_of(
    st.sampled_from(["<", ">", "&", "</script>", "</SCRIPT ", "<!--", "-->", "<script>", "<!--<script>", "\u2028",
                     "\u2029", '"', "\\", "'", "]]>", "&lt;", "\\u003c", " "]),
    st.text(max_size=5),
), max_size=8).map("".join)  # fmt: skip


def _search_index(index_html: str) -> str:
    """The text of the search-index element, where an HTML tokenizer ends it (the first ``</script``)."""
    start = index_html.index('<script type="application/json" id="search-index">') + len(
        '<script type="application/json" id="search-index">')
    end = index_html.lower().index("</script", start)
    return index_html[start:end]


@SETTINGS
@given(view_text=TRICKY, feature_text=TRICKY, entity_text=TRICKY)
def test_no_description_can_break_out_of_the_search_index(repo, view_text, feature_text, entity_text):
    text = (DEFINITIONS.replace('"Daily click statistics per user, for ranking models."', repr(view_text))
            .replace('"Most clicked category"', repr(feature_text)).replace('"A signed-in user"', repr(entity_text)))  # fmt: skip
    (repo / "features.py").write_text(text)
    site = Path(tempfile.mkdtemp(dir=repo.parent))
    index = generate_catalog(FeatureStore(repo_path=repo), site).read_text()
    script = _search_index(index)
    # No "<" at all: no tokenizer can see "</script" or "<!--" inside it, whatever the state.
    assert "<" not in script and ">" not in script and "&" not in script
    items = json.loads(script)
    assert {"kind": "view", "name": "user_clicks", "text": view_text, "url": "views/user_clicks.html"} in items
    feature = next(i for i in items if i["name"] == "top_category")
    assert feature["text"] == f"String {feature_text} ".strip()
    assert next(i for i in items if i["kind"] == "entity")["text"] == entity_text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["metadata", "format", "results", "summary", "check", "status", "view", "message", "unique_id",
         "generated_at", "pass", "warn", "fail", "dbt_version"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=JSON, sqlfeat_format=st.booleans())
def test_run_results_of_any_shape_are_read_or_ignored_never_crashed_on(tmp_path, document, sqlfeat_format):
    if sqlfeat_format and isinstance(document, dict):
        document["metadata"] = {**(document.get("metadata") if isinstance(document.get("metadata"), dict) else {}),
                                "format": FORMAT}  # fmt: skip
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(document))
    loaded = read_run_results(path)
    assert loaded is None or loaded["metadata"]["format"] == FORMAT


DBT_RUN_RESULTS = {
    "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v5.json", "dbt_version": "1.7.4",
                 "generated_at": "2024-01-11T00:00:00Z"},
    "results": [{"status": "success", "unique_id": "model.shop.orders", "message": "OK", "execution_time": 0.1}],
    "elapsed_time": 1.0, "args": {},
}  # fmt: skip


@pytest.mark.parametrize("content", [
    json.dumps(DBT_RUN_RESULTS), "[1, 2]", "not json {", "", '"text"', "\xff\xfe",
    json.dumps({"metadata": {"format": FORMAT}, "results": "x"}),
    json.dumps({"metadata": {"format": FORMAT, "generated_at": "2024"}, "summary": {"pass": 1, "warn": 0, "fail": 0},
                "results": [{"check": "freshness", "status": "pass"}]}),
], ids=["dbt", "list", "invalid", "empty", "string", "binary", "bad-results", "result-without-message"])  # fmt: skip
def test_docs_generate_ignores_a_foreign_run_results(repo, tmp_path, content):
    (repo / "target").mkdir()
    (repo / "target" / "run_results.json").write_bytes(content.encode("latin-1" if content == "\xff\xfe" else "utf-8"))
    result = docs(repo, "generate", "--output", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    assert "freshness is unknown" in (tmp_path / "site" / "index.html").read_text()


def test_docs_generate_reads_its_own_run_results(repo, tmp_path):
    with FeatureStore(repo_path=repo) as store:
        from datetime import datetime, timezone

        run_checks(store, CheckOptions(now=datetime(2024, 1, 11, tzinfo=timezone.utc)))
    assert read_run_results(repo / "target" / "run_results.json") is not None
    assert docs(repo, "generate").exit_code == 0
    index = (repo / "target" / "catalog" / "index.html").read_text()
    assert "freshness is unknown" not in index and "Last <code>sqlfeat check</code>" in index
