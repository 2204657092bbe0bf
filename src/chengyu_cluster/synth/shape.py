"""The shape `chengyu synth` draws from: area seats, divisions, input mix, rates and sizes.

Every number here is either read from the seeds or an assumption labelled as one; the
generator's module docstring says where each comes from.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# ---- the areas' seats ------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    seat: str  # the member's area code, or a label of a rest-of group seat
    group: str  # member | rest_of_sichuan | rest_of_chongqing | rest_of_china
    province: str  # 510000 | 500000 | other
    lat: float
    lon: float
    counties: tuple[str, ...]  # GB/T 2260 county-level codes firms of this seat are placed in
    gdp_yi: float  # mass: GDP in 亿元 (see the docstring for where each comes from)


SEATS = [
    # members (seeds/areas.csv); GDP from seeds/reported_figures.csv where it exists
    Seat(
        "510100",
        "member",
        "510000",
        30.66,
        104.06,
        (
            "510104",
            "510105",
            "510106",
            "510107",
            "510108",
            "510112",
            "510113",
            "510114",
            "510115",
            "510116",
            "510117",
            "510121",
            "510181",
            "510185",
        ),
        13889.39,
    ),  # Chengdu 2017, F0140
    Seat(
        "510600",
        "member",
        "510000",
        31.13,
        104.40,
        ("510603", "510604", "510623", "510681", "510682", "510683"),
        1960.6,
    ),  # Deyang 2017, F0149
    Seat(
        "511400",
        "member",
        "510000",
        30.06,
        103.83,
        ("511402", "511403", "511421", "511423", "511424", "511425"),
        1117.23,
    ),  # Meishan 2017, F0152
    Seat("512000", "member", "510000", 30.12, 104.65, ("512002", "512021", "512022"), 943.4),  # Ziyang 2017, F0155
    Seat("500112", "member", "500000", 29.78, 106.62, ("500112",), 1293.35),  # Yubei 2016, F0190
    Seat("500105", "member", "500000", 29.61, 106.57, ("500105",), 1000.0),  # Jiangbei: assumed
    Seat("500116", "member", "500000", 29.29, 106.26, ("500116",), 1401.59),  # Jiangjin 2023, F0177
    Seat("500118", "member", "500000", 29.37, 105.93, ("500118",), 900.0),  # Yongchuan: assumed
    # rest of Sichuan: Sichuan 2017 (36,980, F0130) less the four members, over four seats
    Seat("SC-Mianyang", "rest_of_sichuan", "510000", 31.47, 104.68, ("510703", "510704"), 19070 / 4),
    Seat("SC-Yibin", "rest_of_sichuan", "510000", 28.77, 104.63, ("511502",), 19070 / 4),
    Seat("SC-Nanchong", "rest_of_sichuan", "510000", 30.84, 106.11, ("511302",), 19070 / 4),
    Seat("SC-Luzhou", "rest_of_sichuan", "510000", 28.87, 105.44, ("510502",), 19070 / 4),
    # rest of Chongqing: Chongqing 2017 (19,425, F0136) less the members (about 4,600), three seats
    Seat(
        "CQ-Main",
        "rest_of_chongqing",
        "500000",
        29.56,
        106.57,
        ("500103", "500106", "500107", "500108", "500109", "500113"),
        14800 * 0.6,
    ),
    Seat("CQ-Wanzhou", "rest_of_chongqing", "500000", 30.81, 108.41, ("500101",), 14800 * 0.2),
    Seat("CQ-Fuling", "rest_of_chongqing", "500000", 29.70, 107.39, ("500102",), 14800 * 0.2),
    # rest of China: out-of-register counterparts only; mass assumed (about 14 times Sichuan +
    # Chongqing in GDP), spread over representative cities
    Seat("CN-Xian", "rest_of_china", "other", 34.34, 108.94, ("610113",), 80000),
    Seat("CN-Wuhan", "rest_of_china", "other", 30.59, 114.31, ("420106",), 80000),
    Seat("CN-Shanghai", "rest_of_china", "other", 31.23, 121.47, ("310115",), 120000),
    Seat("CN-Suzhou", "rest_of_china", "other", 31.30, 120.59, ("320505",), 100000),
    Seat("CN-Hangzhou", "rest_of_china", "other", 30.27, 120.16, ("330106",), 80000),
    Seat("CN-Shenzhen", "rest_of_china", "other", 22.54, 114.06, ("440305",), 120000),
    Seat("CN-Beijing", "rest_of_china", "other", 39.90, 116.41, ("110108",), 100000),
    Seat("CN-Changchun", "rest_of_china", "other", 43.82, 125.32, ("220104",), 40000),
]

# Jiangbei and Yongchuan have no GDP figure in the seeds; their mass above is assumed.

# Classes (GB/T 4754-2017) a firm of each division is given; the first is the most common.
DIVISION_CLASSES = {
    "C29": ("C2913", "C2922"),  # rubber parts; plastic sheets, pipes and profiles
    "C31": ("C3130", "C3120"),  # steel rolling; steel making
    "C32": ("C3252", "C3216"),  # aluminium rolling; aluminium smelting
    "C33": ("C3311", "C3391", "C3393"),  # structural metal; iron castings; forgings
    "C34": ("C3453", "C3412", "C3441", "C3451", "C3491"),  # gears; engines; pumps; bearings; robots
    "C35": ("C3511", "C3591"),  # mining machinery; environmental protection machinery
    "C36": ("C3670", "C3611", "C3612", "C3660"),  # parts; ICE vehicles; new-energy vehicles; bodies
    "C37": ("C3712", "C3741", "C3751", "C3752"),  # rolling stock; aircraft; motorcycles; their parts
    "C38": ("C3811", "C3812", "C3821", "C3841"),  # generators; motors; transformers; Li-ion batteries
    "C39": ("C3982", "C3973", "C3911"),  # circuit boards; integrated circuits; computers
    "C40": ("C4011", "C4015"),  # industrial automation; laboratory instruments
    "C43": ("C4330", "C4350"),  # repair of general machinery; of transport equipment
}
# Divisions outside the panel (seeds/sectors.csv) and C39: assumed shares of a province's firms.
EXTRA_DIVISION_SHARE = {
    "510000": {"C39": 0.15, "C29": 0.06, "C31": 0.06, "C32": 0.05},
    "500000": {"C39": 0.12, "C29": 0.06, "C31": 0.05, "C32": 0.05},
}
# Stylised input mix: buyer division -> seller division -> share of its purchases (assumed).
INPUT_MIX = {
    "C36": {
        "C36": 0.35,
        "C33": 0.10,
        "C34": 0.08,
        "C38": 0.12,
        "C39": 0.08,
        "C29": 0.10,
        "C31": 0.08,
        "C32": 0.06,
        "C40": 0.02,
        "C35": 0.01,
    },
    "C37": {
        "C37": 0.30,
        "C33": 0.10,
        "C34": 0.12,
        "C38": 0.12,
        "C39": 0.10,
        "C31": 0.08,
        "C32": 0.10,
        "C40": 0.05,
        "C29": 0.03,
    },
    "C34": {
        "C34": 0.25,
        "C33": 0.15,
        "C31": 0.20,
        "C32": 0.08,
        "C38": 0.12,
        "C39": 0.05,
        "C40": 0.05,
        "C29": 0.05,
        "C35": 0.05,
    },
    "C35": {"C35": 0.20, "C34": 0.20, "C33": 0.15, "C31": 0.15, "C38": 0.12, "C39": 0.06, "C40": 0.07, "C32": 0.05},
    "C38": {"C38": 0.30, "C32": 0.20, "C31": 0.08, "C39": 0.15, "C33": 0.08, "C29": 0.10, "C34": 0.05, "C40": 0.04},
    "C39": {"C39": 0.55, "C38": 0.12, "C32": 0.08, "C29": 0.10, "C33": 0.05, "C40": 0.05, "C34": 0.05},
    "C40": {"C40": 0.25, "C39": 0.30, "C38": 0.15, "C33": 0.10, "C32": 0.08, "C29": 0.07, "C34": 0.05},
    "C33": {"C31": 0.45, "C32": 0.20, "C33": 0.20, "C34": 0.08, "C29": 0.07},
    "C43": {"C34": 0.25, "C38": 0.20, "C33": 0.20, "C39": 0.10, "C40": 0.10, "C36": 0.05, "C37": 0.05, "C29": 0.05},
    "C29": {"C29": 0.60, "C34": 0.15, "C33": 0.15, "C38": 0.10},
    "C31": {"C31": 0.70, "C34": 0.15, "C35": 0.10, "C33": 0.05},
    "C32": {"C32": 0.70, "C34": 0.15, "C35": 0.10, "C38": 0.05},
}
# Assumed output factors by calendar month (mean 1): low at the Spring Festival, high in December.
SEASONAL = [0.80, 0.75, 1.02, 0.98, 1.00, 1.06, 0.97, 0.97, 1.04, 0.98, 1.05, 1.18]

PARETO_MIN_YUAN = 20e6  # the above-scale threshold
PARETO_ALPHA = 1.08
SIZE_CAP_YUAN = 150e9
ANNUAL_GROWTH = (7327.8 / 5840) ** (1 / 3) - 1  # F0038 -> F0039: about 7.9 % a year
INTERMEDIATE_SHARE = 0.80  # F0210: 0.808
OUTPUT_PER_EMPLOYEE_YUAN = 1.1e6  # assumed
P_YTD = 0.80
P_RELOCATE, P_RECLASS = 0.02, 0.03
EXIT_RATE, P_OPEN_DURING = 0.03, 0.15
P_RED, P_RED_FULL = 0.015, 0.70
P_LATE1, P_LATE2 = 0.04, 0.01
BORDER_FACTOR = 0.5
INTERNAL_KM = 20.0
OUTSIDE_LOCAL_FACTOR = 0.3  # out-of-register firms in Sichuan and Chongqing: small ones


# ---- the seeds the shape is read from ---------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def division_weights(project_dir: Path) -> dict[tuple[str, str], float]:
    """(seat, division) -> weight of the count of register firms there (see the docstring)."""
    priors = _read_csv(project_dir / "seeds" / "estimation_priors.csv")
    specialties = _read_csv(project_dir / "seeds" / "area_specialties.csv")
    base = {
        (p["area_code"], p["sector_code"]): float(p["value"])
        for p in priors
        if p["prior_kind"] == "baseline_sector_share"
    }
    multiplier = {p["claim_strength"]: float(p["value"]) for p in priors if p["prior_kind"] == "specialty_multiplier"}
    intensity = {
        p["area_code"]: float(p["value"]) for p in priors if p["prior_kind"] == "relative_industrial_intensity"
    }
    claims: dict[tuple[str, str], float] = {}
    for s in specialties:
        key = (s["area_code"], s["sector_code"])
        claims[key] = max(claims.get(key, 1.0), multiplier.get(s["claim_strength"], 1.0))
    weights = {}
    for seat in SEATS:
        if seat.group == "rest_of_china":
            continue
        shares = {div: base.get((seat.province, div), 0.0) for div in DIVISION_CLASSES}
        shares.update(EXTRA_DIVISION_SHARE[seat.province])
        total = sum(shares.values())
        for div, share in shares.items():
            w = seat.gdp_yi * intensity.get(seat.seat, 1.0) * share / total * claims.get((seat.seat, div), 1.0)
            if w > 0:
                weights[(seat.seat, div)] = w
    return weights
