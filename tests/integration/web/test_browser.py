"""The review page in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium): a
reviewer rejects one query and edits another with the keyboard, then records a failed search from the
playground; the library must then see exactly those decisions, and a re-index must keep them.

Set REVIEW_SCREENSHOTS=<folder> to keep a screenshot of each page there (docs/ holds the committed ones).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import chunk_queries_of, rules
from support import SAMPLE_DOCS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EDITED = "How long does a new PIV card take to arrive?"
FAILED_SEARCH = "badge for the building"


def _browser_or_skip(profile: Path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        msg = f"browser test needs {', '.join(missing)}: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") or os.environ.get("RAG_AUGMENT_REQUIRE_BROWSER"):
            pytest.fail(msg)  # CI installs them: a missing browser there is a broken setup, not a skip
        pytest.skip(msg)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        opts.add_argument(flag)
    return webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))


@pytest.mark.integration
def test_review_with_the_keyboard_and_record_a_failed_search(running, index, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("REVIEW_SCREENSHOTS") or tmp_path / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    doc = "getting-started/piv.md"
    chunk_id = next(r["parent_id"] for r in index.export_rows() if r["doc_id"] == doc)
    before = chunk_queries_of(index, chunk_id)
    server = running()
    driver = _browser_or_skip(tmp_path / "chromium-profile")
    wait = WebDriverWait(driver, 20)
    try:
        # ---- queue: j to the second query, r rejects it; the selection moves on; e edits that one -----
        driver.get(f"{server.url}/queue?doc={doc}")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        rows = driver.find_elements(By.CSS_SELECTOR, "li.q")
        assert len(rows) >= 3
        ids = [r.get_attribute("data-id") for r in rows]
        assert set(ids) <= set(before) and ids[0].split("::")[0] == chunk_id
        driver.save_screenshot(str(shots / "queue.png"))
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys("j")
        assert "sel" in rows[1].get_attribute("class")
        body.send_keys("r")
        wait.until(lambda d: "decided-reject" in rows[1].get_attribute("class"))
        wait.until(lambda d: "sel" in rows[2].get_attribute("class"))
        driver.switch_to.active_element.send_keys("e")
        box = rows[2].find_element(By.CSS_SELECTOR, 'input[name="edited_text"]')
        wait.until(lambda d: d.switch_to.active_element == box)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(EDITED, Keys.ENTER)
        wait.until(lambda d: "decided-edit" in rows[2].get_attribute("class"))
        assert rows[2].find_element(By.CSS_SELECTOR, ".qtext").text == EDITED
        driver.save_screenshot(str(shots / "queue-decided.png"))

        # ---- search playground: type a query, name the right chunk (third hit) with one click ---------------
        driver.get(f"{server.url}/search")
        field = driver.find_element(By.ID, "q")
        field.send_keys(FAILED_SEARCH, Keys.ENTER)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "li.hit")) >= 3)
        hit = driver.find_elements(By.CSS_SELECTOR, "li.hit")[2]
        target = hit.find_element(By.CSS_SELECTOR, "code.cid").text
        hit.find_element(By.CSS_SELECTOR, "button.right-chunk").click()
        wait.until(lambda d: hit.find_element(By.CSS_SELECTOR, "button.right-chunk").text.startswith("Recorded #"))
        driver.save_screenshot(str(shots / "search.png"))

        # the round a person runs next (`rag-augment feedback apply`); the page then shows rank before -> after
        server.app.state.review.writer.flush()
        index.apply_feedback(rules())
        driver.get(f"{server.url}/feedback")
        assert FAILED_SEARCH in driver.find_element(By.ID, "feedback-records").text
        assert "Round 1" in driver.find_element(By.TAG_NAME, "main").text
        driver.save_screenshot(str(shots / "feedback.png"))
        driver.get(f"{server.url}/diversity")
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) >= 4
        driver.save_screenshot(str(shots / "diversity.png"))
    finally:
        driver.quit()
        server.stop()  # ends the writer's batch: the lexical index is rebuilt

    for name in ("queue", "search", "feedback", "diversity"):
        assert (shots / f"{name}.png").stat().st_size > 10_000

    # ---- the library sees exactly those decisions -------------------------------------------------------
    rejected, edited = before[ids[1]], before[ids[2]]
    after = chunk_queries_of(index, chunk_id)
    assert ids[1] not in after and ids[2] not in after
    new = [q for q in after.values() if q["text"] == EDITED]
    assert len(new) == 1 and new[0]["provenance"]["review_status"] == "edited"
    untouched = set(before) - {ids[1], ids[2]}
    assert untouched <= set(after)
    assert all(after[q]["provenance"].get("review_status") == before[q]["provenance"].get("review_status")
               for q in untouched)
    book = sorted((r["decision"], r["text"], r.get("edited_text", "")) for r in index.review_book.decisions.values())
    assert book == sorted([("reject", rejected["text"], ""), ("edit", edited["text"], EDITED)])
    exported = {r["query_id"]: r for r in index.export_rows()}
    assert ids[1] not in exported and ids[2] not in exported
    assert exported[new[0]["query_id"]]["review_status"] == "edited"
    with index.feedback_store() as fb:
        recs = fb.list(index.store.name)
    assert [(r.query, r.chunk_id, r.verdict) for r in recs] == [(FAILED_SEARCH, target, "flagged_wrong")]
    assert not index._state().get("lexical_dirty")

    # ---- a re-index that regenerates the document's queries keeps the decisions ---------------------------
    index.delete_document(doc)
    index.index_path(SAMPLE_DOCS, rules())
    texts = {q["text"]: q for q in chunk_queries_of(index, chunk_id).values()}
    assert rejected["text"] not in texts and edited["text"] not in texts
    assert texts[EDITED]["provenance"]["review_status"] == "edited"
    assert {before[q]["text"] for q in untouched} <= set(texts)
