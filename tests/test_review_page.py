"""The review page in a real headless browser (Debian's chromium driven by Selenium): groups, a pair side
by side with its heat map, "not a duplicate" said once and kept after a rescan; and what the server
refuses (paths outside the index, a non-loopback address without --public)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def server(edited_library, tmp_path):
    folder, db = edited_library
    log = tmp_path / "serve.log"
    for _ in range(3):  # another process may take the free port before the server binds it: try another
        port = _free_port()
        with open(log, "ab") as output:
            process = subprocess.Popen([sys.executable, "-m", "neardupd.cli", "serve", "--db", str(db), "--port",
                                        str(port)], stdout=output, stderr=output)
        url = f"http://127.0.0.1:{port}"
        if _answers(url, process):
            break
        process.wait(10)
    else:
        raise AssertionError(f"the server never answered: {log.read_text()}")
    yield url, folder, db
    process.terminate()
    process.wait(10)


def _answers(url: str, process: subprocess.Popen) -> bool:
    """Whether our server answers within 30 s: False at once if it stopped (its port was taken), and
    an answer while it has stopped came from another process's server on that port."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/", timeout=2).read()
            time.sleep(0.2)  # a server that failed to bind exits at once
            return process.poll() is None
        except OSError:
            if process.poll() is not None:
                return False
            time.sleep(0.1)
    process.kill()
    return False


@pytest.fixture()
def browser():
    if not (os.path.exists(CHROMEDRIVER) and os.path.exists(CHROMIUM)):
        pytest.skip("chromium and chromium-driver are not installed (`make test` installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _click_and_wait(browser, button) -> None:
    """Click, and wait until the page the click loads has replaced the button's (a click returns
    before; chromium may report the old node as "not in the document" rather than stale)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    def replaced(_) -> bool:
        try:
            button.is_enabled()
        except WebDriverException:  # StaleElementReferenceException is one
            return True
        return False

    button.click()
    WebDriverWait(browser, 30).until(replaced)


def _loaded(driver, element) -> bool:
    return driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", element)


def test_a_pair_is_seen_side_by_side_and_said_not_a_duplicate_once(server, browser, cli, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    url, folder, db = server
    browser.get(url + "/")
    assert "1 groups" in browser.find_element(By.TAG_NAME, "header").text
    thumbs = browser.find_elements(By.CSS_SELECTOR, ".group img")
    assert len(thumbs) == 3
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")  # lazy thumbnails load in view
    deadline = time.monotonic() + 30
    while not all(_loaded(browser, image) for image in thumbs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_loaded(browser, image) for image in thumbs)
    assert "keep: orig.jpg" in browser.find_element(By.CSS_SELECTOR, ".keeper").text
    links = {link.find_element(By.XPATH, "..").text: link
             for link in browser.find_elements(By.CSS_SELECTOR, "a.pair-link")}
    crop_link = next(link for text, link in links.items() if "crop.jpg" in text)
    pair_url = crop_link.get_attribute("href")
    crop_link.click()
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("/pair/"))
    for name in ("a", "b", "heat"):
        image = browser.find_element(By.ID, name)
        deadline = time.monotonic() + 30
        while not _loaded(browser, image) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _loaded(browser, image), name
    assert "cropped to the part" in browser.find_element(By.ID, "words").text
    browser.save_screenshot(str(tmp_path / "pair-view.png"))
    assert (tmp_path / "pair-view.png").stat().st_size > 10_000
    _click_and_wait(browser, browser.find_element(By.ID, "not-duplicate"))  # the decision is in
    cli("scan", "--db", str(db), str(folder))  # a rescan does not bring it back
    browser.get(url + "/")
    hrefs = [link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "a.pair-link")]
    assert hrefs and pair_url not in hrefs  # crop.jpg is still half.jpg's copy, shown with that pair
    pairs = [json.loads(line) for line in cli("dupes", "--db", str(db), "--json").stdout.splitlines()]
    names = [sorted(os.path.basename(pair[side]) for side in ("a", "b")) for pair in pairs]
    assert ["crop.jpg", "orig.jpg"] not in names and ["crop.jpg", "half.jpg"] in names


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as err:
        return err.code


def test_only_indexed_files_are_served(server):
    url, folder, _ = server
    assert _status(url + "/thumb/1/160.jpg") == 200
    for path in ("/thumb/../../etc/passwd", "/thumb/%2e%2e/%2e%2e/etc/passwd", "/thumb/999/160.jpg",
                 "/thumb/1/161.jpg", "/pair/1/999", "/heat/2/1", f"/{folder}/orig.jpg"):
        assert _status(url + path) in (404, 400), path


def test_another_address_than_loopback_needs_public(edited_library, cli):
    _, db = edited_library
    refused = cli("serve", "--db", str(db), "--host", "0.0.0.0", "--port", str(_free_port()), check=False)
    assert refused.returncode == 64 and "--public" in refused.stderr


def test_dupes_html_is_one_self_contained_page(edited_library, browser, cli, tmp_path):
    """Opened from disk with no server: every thumbnail is inline, the words are there."""
    from selenium.webdriver.common.by import By

    _, db = edited_library
    out = tmp_path / "copies.html"
    assert "1 group(s)" in cli("dupes", "--db", str(db), "--html", str(out)).stdout
    page = out.read_text()
    assert 'src="/' not in page and "http" not in page.split("<body>", 1)[1]
    browser.get(out.as_uri())
    images = browser.find_elements(By.TAG_NAME, "img")
    assert len(images) == 3 and all(_loaded(browser, image) for image in images)
    assert "cropped to the part" in browser.find_element(By.TAG_NAME, "body").text


def test_a_group_is_decided_from_the_list_a_file_kept_or_none_a_copy(server, browser, cli):
    """"keep this one" makes a copy the kept file (chosen by decided); "none of these are copies" says
    it of every pair of different files in the group, which then leave the page and `dupes` (an exact
    copy is the same bytes: it stays)."""
    from selenium.webdriver.common.by import By

    url, folder, db = server
    shutil.copy(folder / "orig.jpg", folder / "orig (1).jpg")  # an exact copy: no pair with the original's digest
    cli("scan", "--db", str(db), str(folder))
    browser.get(url + "/")
    half = next(form for form in browser.find_elements(By.CSS_SELECTOR, ".file")
                if "half.jpg" in form.text).find_element(By.CSS_SELECTOR, "button.keep-this")
    _click_and_wait(browser, half)
    header = browser.find_element(By.CSS_SELECTOR, ".group div").text
    assert "keep half.jpg" in header and "(chosen by decided)" in header, header
    plan = json.loads(cli("act", "--plan", "--json", "--db", str(db)).stdout)
    assert plan["keep"].endswith("/half.jpg") and plan["rule"] == "decided"
    _click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "button.not-copies"))
    # every pair of different files is decided; the exact copy is the same bytes, and stays one
    assert "1 groups" in browser.find_element(By.TAG_NAME, "header").text
    shown = {element.text for element in browser.find_elements(By.CSS_SELECTOR, ".file .name")}
    assert shown == {"orig.jpg", "orig (1).jpg"}, shown
    pairs = [json.loads(line) for line in cli("dupes", "--db", str(db), "--json").stdout.splitlines()]
    assert [sorted(os.path.basename(pair[side]) for side in ("a", "b")) for pair in pairs] == [["orig (1).jpg",
                                                                                                "orig.jpg"]]
    assert "keep" in cli("decide", "list", "--db", str(db)).stdout  # the file decision stays
