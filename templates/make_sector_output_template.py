"""Write templates/sector_output_template.xlsx: a blank yearbook-style sheet for
`chengyu validate/build --sector-output FILE.xlsx` (README, "Your own figures join the fit").

    .venv/bin/python templates/make_sector_output_template.py [OUT.xlsx]

Every value cell is left blank and the title names no area or year, so the template as
shipped is refused until someone fills it in from a published table: it holds no figure.
The division names are the panel's (seeds/sectors.csv, GB/T 4754-2017).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font

HERE = Path(__file__).resolve().parent
TITLE = "地区名 规模以上工业分行业总产值（年份）"
NOTES = [
    "注：1. 把标题中的“地区名”“年份”换成数据所属的地区（seeds/areas.csv 的中文名，如 德阳市）和年份（如 2022年）。",
    "2. 单位写在数值列表头的括号里：元、万元、亿元或万亿元。只填已公布的数字（年鉴、统计局发布），没有的留空。",
    "3. 合计行不是分行业数字；“其中”行是上一行的一部分，不重复计算。其他行业（如 纺织业）可以照抄，读入时跳过。",
    "Note: replace 地区名 and 年份 in the title with the area (its Chinese name in seeds/areas.csv) and the year "
    "(e.g. 2022年); the unit goes in brackets in the value header; fill in only published figures, leave the rest "
    "blank. A 合计 (total) row is no division figure; a 其中 row is part of the row above and is not counted again.",
]


def panel_divisions() -> list[tuple[str, str]]:
    with (HERE.parent / "seeds" / "sectors.csv").open(encoding="utf-8", newline="") as f:
        return [(row["sector_code"], row["name_zh"]) for row in csv.DictReader(f)]


def build(out: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "工业总产值"
    ws["A1"] = TITLE
    ws.merge_cells("A1:C1")
    ws["A1"].font = Font(bold=True, size=14)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([])
    ws.append(["代码", "行业", "工业总产值（万元）"])
    ws.append(["", "合计", None])
    for code, name in panel_divisions():
        ws.append([code, name, None])
    ws.append([])
    for note in NOTES:
        ws.append([note])
    ws.column_dimensions["A"].width = 8
    ws.column_dimensions["B"].width = 44
    ws.column_dimensions["C"].width = 22
    book.save(out)


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "sector_output_template.xlsx")
