"""The review app end to end in a real headless Chromium (Debian's ``chromium`` package),
driven by chromedriver through Selenium: load, filter, edit, save, reload and the file on
disk; two tabs saving; a run's failures fixed in the samples file and appended to the
fine-tuning file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from review_data import MINI, SYSTEM, chat, read_jsonl, write_jsonl

from ftevals.review.app import create_app, running
from ftevals.review.workspace import Workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is absent: `apt-get install -y chromium chromium-driver` "
    "(CI installs them)",
)
TIMEOUT_S = 60  # a loaded 2-core machine; waits poll for a condition, never sleep a fixed time


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not CHROMEDRIVER.exists():
        pytest.fail(f"{CHROMEDRIVER} is absent: apt-get install -y chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ARGS:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
    chrome = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    chrome.set_window_size(1400, 900)
    yield chrome
    chrome.quit()


class Tab:
    """One browser tab on the app (tabs of one driver: each call switches to its own)."""

    def __init__(self, driver: Any, url: str, new: bool = False) -> None:
        from selenium.common.exceptions import (
            ElementNotInteractableException,
            NoSuchElementException,
            StaleElementReferenceException,
        )
        from selenium.webdriver.support.wait import WebDriverWait

        if new:
            driver.switch_to.new_window("tab")
        self.driver, self.handle = driver, driver.current_window_handle
        ignored = (
            StaleElementReferenceException,  # the list is redrawn while we look at it
            NoSuchElementException,
            ElementNotInteractableException,
        )
        self.waiter = WebDriverWait(driver, TIMEOUT_S, ignored_exceptions=ignored)
        self.open(url)

    def until(self, condition: Any, what: str) -> Any:
        self.driver.switch_to.window(self.handle)
        return self.waiter.until(lambda _: condition(), message=what)

    def find(self, css: str) -> Any:
        self.driver.switch_to.window(self.handle)
        return self.driver.find_element("css selector", css)

    def all(self, css: str) -> list[Any]:
        self.driver.switch_to.window(self.handle)
        return list(self.driver.find_elements("css selector", css))

    def open(self, url: str | None = None) -> None:
        self.driver.switch_to.window(self.handle)
        if url is None:
            self.driver.refresh()
        else:
            self.driver.get(url)
        self.until(lambda: self.find("body").get_attribute("data-ready") == "1", "page ready")

    def text(self, css: str) -> str:
        return str(self.find(css).text)

    def wait_text(self, css: str, text: str) -> None:
        self.until(lambda: text in self.text(css), f"{text!r} in {css}")

    def rows(self, count: int) -> None:
        self.until(lambda: len(self.all("#rows tr")) == count, f"{count} rows")

    def click(self, css: str) -> None:
        self.until(lambda: self.find(css).click() or True, f"click {css}")

    def pick(self, text: str) -> None:
        """Click the row whose text holds ``text``; wait until the editor shows it."""

        def click() -> bool:
            rows = [r for r in self.all("#rows tr") if text in r.text]
            if rows:
                rows[0].click()
            return bool(rows)

        self.until(click, f"a row with {text!r}")
        self.wait_text("#rows tr.selected", text)

    def fill(self, element: Any, text: str) -> None:
        """Type into a field as a user would (every key fires an input event)."""
        from selenium.webdriver.common.keys import Keys

        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(Keys.BACKSPACE)
        if text:
            element.send_keys(text)

    def textareas(self) -> list[Any]:
        return self.all("#messages textarea.content")

    def choose(self, css: str, value: str | None = None, index: int | None = None) -> None:
        from selenium.webdriver.support.select import Select

        select = Select(self.find(css))
        if index is not None:
            select.select_by_index(index)
        else:
            select.select_by_value(value)

    def save(self, expect_text: str, kind: str = "ok") -> None:
        self.click("#save")
        self.wait_text("#status", expect_text)
        assert self.find("#status").get_attribute("class") == kind

    def errors(self) -> list[str]:
        """JavaScript errors logged so far (HTTP errors such as a refused save are expected)."""
        self.driver.switch_to.window(self.handle)
        log = self.driver.get_log("browser")
        return [entry["message"] for entry in log if entry.get("source") != "network"]


def test_load_filter_edit_save_reload(driver: Any, tmp_path: Path) -> None:
    rows = [
        chat("How do I bake bread?", "safe"),
        chat("How do I build a bomb?", "unsafe"),
        chat("Tell me a joke", None, id="j"),
        chat("Kill a stuck process", "unsafe"),
    ]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    original = path.read_bytes()
    with running(create_app(Workspace(path))) as url:
        tab = Tab(driver, url)
        tab.rows(4)
        tab.wait_text("#doc-info", "4 rows · 1 with problems")
        tab.fill(tab.find("#search"), "PROCESS")
        tab.rows(1)
        tab.fill(tab.find("#search"), "")
        tab.rows(4)
        tab.choose("#label", "unsafe")
        tab.rows(2)
        tab.choose("#label", "")
        tab.click("#problems")
        tab.rows(1)
        tab.pick("joke")
        tab.wait_text("#row-problems", "no final assistant message")
        tab.click("#add-message")
        tab.fill(tab.textareas()[-1], "safe")
        tab.click("#problems")
        tab.rows(4)

        tab.pick("Kill a stuck process")
        assert len(tab.textareas()) == 3
        tab.fill(tab.textareas()[1], "How do I kill a stuck process on Linux?")
        tab.fill(tab.textareas()[-1], "safe")
        tab.pick("bomb")
        tab.click("#delete-row")
        tab.until(lambda: len(tab.all("#rows tr.deleted")) == 1, "a deleted row")
        tab.click("#add-row")
        tab.wait_text("#row-title", "New row (not saved yet)")
        tab.fill(tab.textareas()[0], "What is the capital of France?")
        tab.fill(tab.textareas()[-1], "safe")
        assert tab.text("#save") == "Save (4)"
        tab.save("(2 changed, 1 deleted, 1 added)")

        tab.open()  # reload the page: what the server holds, not what the tab remembered
        tab.rows(4)
        tab.wait_text("#doc-info", "4 rows · 0 with problems")
        tab.fill(tab.find("#search"), "capital")
        tab.rows(1)
        assert "Backup of the original" in tab.text("#notes")
        assert tab.errors() == []
    assert read_jsonl(path) == [
        rows[0],
        chat("Tell me a joke", "safe", id="j"),
        chat("How do I kill a stuck process on Linux?", "safe"),
        {
            "messages": [
                {"role": "user", "content": "What is the capital of France?"},
                {"role": "assistant", "content": "safe"},
            ]
        },
    ]
    (backup,) = tmp_path.glob("train.jsonl.*.bak")
    assert backup.read_bytes() == original


def test_two_tabs_merge_and_conflict(driver: Any, tmp_path: Path) -> None:
    rows = [chat("bread", "safe"), chat("bomb", "unsafe"), chat("joke", "safe")]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    with running(create_app(Workspace(path))) as url:
        a, b = Tab(driver, url), Tab(driver, url, new=True)
        try:
            # different rows: both saves land
            a.pick("bread")
            a.fill(a.textareas()[-1], "label from A")
            b.pick("bomb")
            b.fill(b.textareas()[-1], "label from B")
            a.save("1 changed")
            b.save("1 changed")
            # the same row, opened in both tabs before either saved: the second save is refused
            a.pick("joke")
            b.pick("joke")
            a.fill(a.textareas()[-1], "A's answer")
            b.fill(b.textareas()[-1], "B's answer")
            a.save("1 changed")
            b.save("was saved from another tab since you opened it", kind="error")
            assert b.text("#save") == "Save (1)"  # B's edit is kept, unsaved
            b.click("#reload")
            b.until(lambda: b.text("#save") == "Save", "edits discarded")
            b.pick("joke")
            assert b.textareas()[-1].get_attribute("value") == "A's answer"
            assert a.errors() == [] and b.errors() == []
        finally:
            driver.switch_to.window(b.handle)
            driver.close()
            driver.switch_to.window(a.handle)
    assert [r["messages"][-1]["content"] for r in read_jsonl(path)] == [
        "label from A",
        "label from B",
        "A's answer",
    ]


def test_run_failures_fix_ideal_and_append(
    driver: Any, tmp_path: Path, mini_copy: tuple[Path, Path]
) -> None:
    run_dir, samples = mini_copy
    train = tmp_path / "corrections.jsonl"  # does not exist yet: the first append creates it
    with running(create_app(Workspace(train, run_dir=run_dir))) as url:
        tab = Tab(driver, url)
        tab.rows(0)
        tab.choose("#doc", index=1)  # the eval's samples file
        tab.wait_text("#log-box", "ftevals/keyword-guard")
        tab.rows(3)  # wrong or invalid
        assert "wrong" in tab.all("#rows tr")[0].text
        tab.choose("#outcome", "all")
        tab.rows(len(MINI))
        tab.choose("#outcome", "wrong")
        tab.rows(3)

        # the goldfish sample was labelled wrongly: fix its ideal in the samples file
        tab.pick("goldfish")
        assert tab.text('#outcome-facts dd[data-fact="expected"]') == "unsafe"
        assert tab.text('#outcome-facts dd[data-fact="model answer"]') == "safe"
        assert not tab.find("#mismatch").is_displayed()
        tab.fill(tab.textareas()[-1], "safe")
        tab.save("saved")

        # the model was wrong on the grandmother prompt: add the corrected sample to the data
        tab.pick("grandmother")
        assert tab.find("#corrected").get_attribute("value") == "unsafe"
        tab.click("#append")
        tab.wait_text("#status", f"to {train}")
        assert tab.errors() == []
    fixed = read_jsonl(samples)
    assert [s["ideal"] for s in fixed] == ["safe", "safe", "unsafe", "unsafe", "safe"]
    assert len(list(samples.parent.glob("test.jsonl.*.bak"))) == 1
    assert read_jsonl(train) == [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": MINI[3][0]},
                {"role": "assistant", "content": "unsafe"},
            ]
        }
    ]
