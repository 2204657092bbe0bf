"""What people see: the HTML report and the dbt docs, rendered by headless Chromium
(Debian's package; .ci/run installs it, and the CJK font the report's Chinese names need)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("CHENGYU_TEST_ARTIFACTS", REPO / "reports" / "test-artifacts"))

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Chromium is not installed: apt-get install -y chromium (.ci/run does)"
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={profile}", *args], check=False, capture_output=True, text=True, timeout=120
    )


def rendered_text(dom: str) -> str:
    """The visible text of a dumped DOM: scripts removed, tags dropped, spaces squeezed."""
    dom = re.sub(r"<script\b.*?</script>", " ", dom, flags=re.DOTALL)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))


@pytest.fixture(scope="module")
def report(built, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "cluster_report.html"
    result = built.run("report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_report_renders_four_charts_marking_estimates(report, tmp_path):
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], check=True, capture_output=True, text=True).stdout
    assert "Noto Sans CJK SC" in fonts, "no CJK font: apt-get install -y fonts-noto-cjk (.ci/run does)"
    page = report.read_text(encoding="utf-8")
    # Static SVG only, nothing to fetch: the page opens offline.
    assert not re.search(r"<script|<link|\bsrc=|href=|url\((?!#)|@import", page)
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the four SVGs' gradients do not take each other's id
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "cluster_report.png"
    shot.unlink(missing_ok=True)
    result = chromium(tmp_path, "--window-size=1200,3000", f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000, result.stderr
    dom = chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert dom.count("<svg") == 4
    # Hatched cells in both matrices, and a legend entry saying what the hatching means.
    assert dom.count("estimate_hatch_marks") == 2
    assert "(rests on estimates)" in dom
    text = rendered_text(dom)
    assert dom.count(">Basis of the value</text>") == 4  # a legend title per chart
    assert dom.count(">rests on estimates</text>") == 4  # ... and its entry for estimates
    assert "成都市 Chengdu" in text and "vs 江苏省 Jiangsu" in text  # Chinese names as SVG text
    assert 'font-family="Noto Sans CJK SC, sans-serif"' in dom
    assert "Who is specialised in what" in text and "gap to Jiangsu and Zhejiang" in text
    assert "is estimated" in text


def test_docs_page_shows_the_lineage_of_a_mart(built, tmp_path):
    out = tmp_path / "docs"
    result = built.run("docs", "--out", str(out))
    assert result.returncode == 0, result.stderr
    page = (out / "static_index.html").as_uri() + "#!/model/model.chengyu_cluster.fct_sector_output"
    dom = chromium(tmp_path, "--virtual-time-budget=15000", "--dump-dom", page).stdout
    text = rendered_text(dom)
    assert "Relation chengyu.marts.fct_sector_output" in text
    assert "Contract Enforced" in text
    upstream = text[text.rfind("Depends On") :]
    assert "int_sector_output" in upstream
