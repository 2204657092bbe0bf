"""Render a Superset dashboard in headless Chromium (Debian's chromium + chromedriver, driven by
Selenium from the Superset environment) as a logged-in user, wait until every chart has drawn,
save a screenshot and print, as JSON, what each chart holder shows.

    <superset env>/bin/python tests/superset_screenshot.py URL USER PASSWORD DASHBOARD_PATH PNG
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HOLDER = '[data-test="dashboard-component-chart-holder"]'
STATE = (
    """
return Array.from(document.querySelectorAll(arguments[0])).map(h => ({
    title: (h.querySelector('[data-test="editable-title"], .header-title, [data-test="slice-header"]') """
    """|| {}).innerText || '',
    canvas: h.querySelectorAll('canvas').length,
    svg: h.querySelectorAll('svg').length,
    table_rows: h.querySelectorAll('table tbody tr').length,
    markdown: Boolean(h.closest('.dashboard-markdown') || h.querySelector('.dashboard-markdown')),
    loading: h.querySelectorAll('.loading, [data-test="loading-indicator"]').length,
    error: (h.querySelector('[data-test="chart-error"], .alert-danger, [role="alert"]') || {}).innerText || '',
    text: h.innerText.slice(0, 400),
}));
"""
)


def drawn(holder: dict) -> bool:
    """A chart has drawn (a canvas, table rows or an error); a markdown holder has its text."""
    if holder["loading"]:
        return False
    return bool(holder["canvas"] or holder["table_rows"] or holder["error"] or (holder["markdown"] and holder["text"]))


def wait_until_drawn(driver, deadline: float) -> tuple[list[dict], bytes]:
    """Poll until every holder has drawn and the picture no longer changes between two polls
    (the last animation has ended), or until the deadline: the test then reports what was
    shown. Returns the holders' state and the picture."""
    previous = b""
    while True:
        state = driver.execute_script(STATE, HOLDER)
        done = bool(state) and all(drawn(h) for h in state)
        picture = driver.get_screenshot_as_png() if done else b""
        if (picture and picture == previous) or time.monotonic() > deadline:
            return state, picture or driver.get_screenshot_as_png()
        previous = picture
        time.sleep(0.5)


def main() -> None:
    url, user, password, path, png = sys.argv[1:6]
    # A browser session cookie from Superset's login form, which wants a CSRF token: ask the
    # API for one (logged in by JWT) in the same cookie session, then post the form.
    http = requests.Session()
    token = http.post(
        url + "/api/v1/security/login", json={"username": user, "password": password, "provider": "db"}, timeout=60
    ).json()["access_token"]
    csrf = http.get(
        url + "/api/v1/security/csrf_token/", headers={"Authorization": "Bearer " + token}, timeout=60
    ).json()["result"]
    login = http.post(
        url + "/login/",
        data={"username": user, "password": password, "csrf_token": csrf},
        headers={"Referer": url + "/login/"},
        timeout=60,
        allow_redirects=False,
    )
    cookie = http.cookies.get("session")
    if login.status_code not in (302, 303) or not cookie:
        raise SystemExit(f"login through /login/ failed: HTTP {login.status_code} {login.text[:500]}")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        # The whole dashboard in the window: Superset draws only the charts in view.
        "--window-size=1600,3200",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    try:
        driver.set_page_load_timeout(120)
        driver.get(url + "/health")
        driver.add_cookie({"name": "session", "value": cookie, "path": "/"})
        driver.get(url + path)
        started = time.monotonic()
        state, picture = wait_until_drawn(driver, deadline=started + 120)
        Path(png).write_bytes(picture)
        undrawn = [h["title"] or h["text"][:40] for h in state if not drawn(h)]
        waited = f"{time.monotonic() - started:.1f} s" + (f" (not drawn: {undrawn})" if undrawn else "")
        print(json.dumps({"charts": state, "title": driver.title, "url": driver.current_url, "waited": waited}))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
