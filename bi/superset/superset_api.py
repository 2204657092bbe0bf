"""A small client of Superset's REST API: log in, then call /api/v1 with the session's
CSRF token (works against a stock Superset 6, whose CSRF protection is on)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import requests

DASHBOARD = Path(__file__).resolve().parent / "dashboard"
# The dashboard's database entry carries the URI of docs/access.md with this placeholder path.
PLACEHOLDER = "/abs/path/warehouse/chengyu.duckdb"


class Superset:
    def __init__(self, url: str, username: str, password: str, timeout: float = 120):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        token = self.call(
            "POST",
            "/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": True},
        )
        self.http.headers["Authorization"] = "Bearer " + token["access_token"]
        self.http.headers["X-CSRFToken"] = self.call("GET", "/api/v1/security/csrf_token/")["result"]
        self.http.headers["Referer"] = self.url

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=self.timeout, **kwargs)

    def call(self, method: str, path: str, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"Superset {method} {path}: HTTP {response.status_code}: {response.text[:2000]}")
        return response.json()


def dashboard_bundle(warehouse: Path, source: Path = DASHBOARD) -> bytes:
    """The dashboard folder as the ZIP Superset imports, pointed at this warehouse path."""
    warehouse = Path(warehouse).absolute()  # not resolved: the symlink to the current version
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted(source.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            if path.parent.name == "databases":
                text = text.replace(PLACEHOLDER, str(warehouse))
            bundle.writestr(f"chengyu_dashboard/{path.relative_to(source).as_posix()}", text)
    return buffer.getvalue()


def import_dashboard(superset: Superset, warehouse: Path) -> dict:
    """Import (or replace) the database entry, datasets, charts and dashboard."""
    files = {"formData": ("chengyu_dashboard.zip", dashboard_bundle(warehouse), "application/zip")}
    return superset.call("POST", "/api/v1/dashboard/import/", files=files, data={"overwrite": "true"})
