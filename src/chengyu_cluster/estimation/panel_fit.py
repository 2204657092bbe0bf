"""Fit an estimated panel to every reported figure, and propagate the priors' uncertainty.

The estimated sector-output panel (area x division x year) starts from *priors*: a
central value per cell with an uncertainty. Reported figures are *constraints*: linear
forms over cells - a level (a sum of cells equals, is at least or at most a value), a
growth rate between two sums, a share of one sum in another - each hard (must hold
exactly) or soft (penalised, with a tolerance). This module finds the panel closest to
the priors that satisfies the hard constraints and honours the soft ones as far as the
priors let it, and draws a seeded Monte Carlo sample of panels for intervals.

The estimator (docs/estimator.md has the derivation and the reasons for it):

    minimise   1/2 (x - p)' S^-1 (x - p)  +  1/2 sum_soft (r_j / sd_j)^2
    subject to hard constraints (=, >=, <=) and x >= 0

where p is the prior panel, S the prior covariance (built from uncertainty components:
independent cell noise, a common factor shared by a group of cells, a Dirichlet-like
reallocation within a group that leaves the group's total unchanged) and r_j the
residual of soft constraint j in its normalised unit. It is the generalised
least-squares (Gaussian conditioning) update, solved through its dual - one variable per
constraint, only sign bounds - by a primal active-set method (Nocedal & Wright, algorithm
16.3), so the cost grows with the number of constraints, not cells; hard equalities that
repeat or combine others are left out first. The fitted panel is x = p + S A' lambda.

Monte Carlo: samples of the posterior of the same model, inequalities and x >= 0 included
(monte_carlo): the Gaussian given the equalities, whitened, then truncated to the
inequality rows and positivity by coordinate-wise Gibbs sampling.

Beside it: calibration.py (leave one figure out) and panel_tables.py (the long tables of the
dbt Python models in, pandas tables out).

Pure functions of NumPy arrays; no I/O, no DuckDB, no dbt.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize, sparse
from scipy.linalg.blas import dger as blas_dger
from scipy.special import log_ndtr, ndtri_exp

#: Standard normal quantile of 0.95: a central 90 % interval is the median +- Z90 sd.
Z90 = 1.6448536269514722
#: A soft constraint's standard deviation is its tolerance divided by this: the tolerance
#: is read as a two-sd half-width, so a fit pulled to the edge of the tolerance is two
#: standard deviations away from the figure.
SOFT_SD_PER_TOLERANCE = 2.0
#: Hard constraints enter the dual with this ridge (in the normalised unit squared), so
#: duplicated or conflicting hard rows never make the system singular. A feasible hard
#: constraint is then met to about 1e-10 of its scale.
HARD_RIDGE = 1e-12
#: Numerical slack when a hard constraint's residual is checked (normalised unit).
HARD_CHECK = 1e-7
#: The solver keeps at most this many bytes of dual systems (one per set of positivity rows).
M_BYTES_CACHE = 256 * 2**20
#: Gibbs sweeps per draw of the truncated posterior (each chain starts at the central fit).
GIBBS_SWEEPS = 8

EQ, GE, LE = "=", ">=", "<="
SENSES = (EQ, GE, LE)
KINDS = ("level", "growth", "share")


def _first(items: Sequence[str], sep: str = ", ", n: int = 10) -> str:
    """The first n items joined, and how many more there are (thousands of user rows)."""
    more = f"{sep}and {len(items) - n} more" if len(items) > n else ""
    return sep.join(items[:n]) + more


class InfeasibleConstraintsError(ValueError):
    """The hard constraints (with x >= 0) cannot all hold at once.

    ``violations`` maps each constraint id that the least-violation fit could not meet to
    its shortfall in the constraint's normalised unit (relative to the target for levels,
    in rate units for growth and share).
    """

    def __init__(self, violations: Mapping[str, float], related: Sequence[str] = ()):
        self.violations = dict(violations)
        self.related = list(related)
        listed = _first(
            "; ".join(f"{cid} misses by {gap:.4g}" for cid, gap in self.violations.items()).split("; "), "; "
        )
        also = f" It shares cells with the hard constraints {_first(self.related)}." if self.related else ""
        super().__init__(
            "The hard constraints cannot all hold together with non-negative cells. The smallest total "
            f"violation leaves: {listed}.{also} Make one of them soft, widen its tolerance, or correct the "
            "figure."
        )


# --------------------------------------------------------------------------------------
# Constraints
# --------------------------------------------------------------------------------------

Terms = tuple[tuple[Hashable, float], ...]


def _terms(cells: Mapping[Hashable, float] | Iterable[Hashable]) -> Terms:
    if isinstance(cells, Mapping):
        items = [(k, float(c)) for k, c in cells.items()]
    else:
        items = [(k, 1.0) for k in cells]
    merged: dict[Hashable, float] = {}
    for key, coef in items:
        merged[key] = merged.get(key, 0.0) + coef
    return tuple(merged.items())


@dataclass(frozen=True)
class Constraint:
    """One reported figure as a constraint on the panel.

    kind ``level``: sum_i terms_i x_i (sense) target, the target in the panel's unit;
        tolerance is relative to |target| (0.01 = 1 %).
    kind ``growth``: sum(numerator) / sum(denominator) - 1 (sense) target, e.g. later
        year over earlier year; linearised as sum(num) - (1 + target) sum(den) (sense) 0;
        tolerance in rate units (0.005 = half a percentage point).
    kind ``share``: sum(numerator) / sum(denominator) (sense) target; linearised as
        sum(num) - target sum(den) (sense) 0; tolerance in share units.

    ``hard`` constraints are met exactly (tolerance is then only the check's allowance);
    soft ones are penalised with standard deviation tolerance / 2 and reported as not met
    when the fitted residual exceeds the tolerance.
    """

    constraint_id: str
    kind: str
    sense: str
    numerator: Terms
    target: float
    tolerance: float
    hard: bool = True
    denominator: Terms = ()
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.constraint_id}: kind must be one of {KINDS}, not {self.kind!r}")
        if self.sense not in SENSES:
            raise ValueError(f"{self.constraint_id}: sense must be one of {SENSES}, not {self.sense!r}")
        if not self.numerator:
            raise ValueError(f"{self.constraint_id}: no cells")
        if self.kind != "level" and not self.denominator:
            raise ValueError(f"{self.constraint_id}: a {self.kind} constraint needs a denominator")
        if self.kind == "level" and self.denominator:
            raise ValueError(f"{self.constraint_id}: a level constraint has no denominator")
        if not (math.isfinite(self.target) and math.isfinite(self.tolerance)) or self.tolerance < 0:
            raise ValueError(f"{self.constraint_id}: target and tolerance must be finite, tolerance >= 0")
        if not self.hard and self.tolerance <= 0:
            raise ValueError(f"{self.constraint_id}: a soft constraint needs a tolerance above 0")

    # Constructors named after the kinds of figure they encode.
    @classmethod
    def level(cls, constraint_id, cells, target, *, tolerance=0.0, hard=True, note=""):
        """The sum of ``cells`` (a mapping key -> coefficient, or an iterable of keys) equals target."""
        return cls(constraint_id, "level", EQ, _terms(cells), float(target), float(tolerance), hard, (), note)

    @classmethod
    def lower_bound(cls, constraint_id, cells, target, *, tolerance=0.0, hard=True, note=""):
        """'Over', 'broke through': the sum of ``cells`` is at least target."""
        return cls(constraint_id, "level", GE, _terms(cells), float(target), float(tolerance), hard, (), note)

    @classmethod
    def upper_bound(cls, constraint_id, cells, target, *, tolerance=0.0, hard=True, note=""):
        """'Under', 'not more than': the sum of ``cells`` is at most target."""
        return cls(constraint_id, "level", LE, _terms(cells), float(target), float(tolerance), hard, (), note)

    @classmethod
    def growth(cls, constraint_id, later, earlier, rate, *, sense=EQ, tolerance=0.0, hard=True, note=""):
        """sum(later) / sum(earlier) - 1 = rate (0.05 for 5 %)."""
        return cls(
            constraint_id, "growth", sense, _terms(later), float(rate), float(tolerance), hard, _terms(earlier), note
        )

    @classmethod
    def share(cls, constraint_id, part, whole, share, *, sense=EQ, tolerance=0.0, hard=True, note=""):
        """sum(part) / sum(whole) = share (0.3 for 30 %)."""
        return cls(
            constraint_id, "share", sense, _terms(part), float(share), float(tolerance), hard, _terms(whole), note
        )

    def cells(self) -> set[Hashable]:
        return {k for k, _ in self.numerator} | {k for k, _ in self.denominator}


# --------------------------------------------------------------------------------------
# Priors and their uncertainty
# --------------------------------------------------------------------------------------


def log_sd_from_range(low, high, coverage: float = 0.90):
    """Standard deviation of log(x) for a lognormal whose central ``coverage`` interval is
    [low, high]: ln(high / low) / (2 z), z the normal quantile (1.645 for 90 %).

    Example: a range of 0.5x to 2x the prior as a 90 % interval gives
    ln(4) / (2 * 1.645) = 1.386 / 3.290 = 0.4214.
    """
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + coverage / 2))
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    if np.any(low <= 0) or np.any(high < low):
        raise ValueError("a range needs 0 < low <= high")
    return np.log(high / low) / (2 * z)


def _group_index(groups: Sequence[Hashable | None]) -> dict[Hashable, np.ndarray]:
    out: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        if g is None or (isinstance(g, float) and math.isnan(g)):
            continue
        out.setdefault(g, []).append(i)
    return {g: np.asarray(ix, dtype=int) for g, ix in out.items()}


def _per_group(sd, groups: dict[Hashable, np.ndarray]) -> dict[Hashable, float]:
    if isinstance(sd, Mapping):
        missing = [g for g in groups if g not in sd]
        if missing:
            raise ValueError(f"no standard deviation for groups {missing[:5]}")
        return {g: float(sd[g]) for g in groups}
    return {g: float(sd) for g in groups}


@dataclass(frozen=True)
class Independent:
    """Independent multiplicative noise per cell: log(x_i / p_i) ~ N(0, sd_i^2)."""

    sd: np.ndarray


@dataclass(frozen=True)
class CommonFactor:
    """One multiplicative shock shared by every cell of a group (e.g. an area's level in
    all divisions and years): log(factor_g) ~ N(0, sd_g^2). ``groups[i]`` is cell i's
    group or None; ``sd`` a number or a mapping group -> sd."""

    groups: tuple
    sd: float | Mapping[Hashable, float]


@dataclass(frozen=True)
class ShareNoise:
    """Reallocation that keeps totals: the shares of a group's parts are Dirichlet with
    mean = the prior shares and concentration 1/sd^2 - 1, so a share s has standard
    deviation sd * sqrt(s (1 - s)) (a share of one half: sd / 2). ``sd`` below 1; a
    number or a mapping group -> sd.

    Without ``blocks``, every cell of a group is a part and the group's total is kept.
    With ``blocks`` and ``parts`` (e.g. group = area, block = area x year, part =
    division) one share vector is drawn per group and applied in every block, each block
    keeping its own total: a division mix that is uncertain but persistent over the years.
    """

    groups: tuple
    sd: float | Mapping[Hashable, float]
    blocks: tuple | None = None
    parts: tuple | None = None


Component = Independent | CommonFactor | ShareNoise


@dataclass
class PriorPanel:
    """Cells with a prior value and uncertainty.

    keys: one hashable key per cell (e.g. (area, division, year)).
    prior: the central (median) prior value; NaN where no defensible prior exists, with
        the reason in ``null_reason`` - such a cell stays NULL unless a hard single-cell
        figure gives it exactly.
    components: the uncertainty components; their covariances add up.
    """

    keys: list
    prior: np.ndarray
    components: list = field(default_factory=list)
    null_reason: list = field(default_factory=list)

    def __post_init__(self):
        self.keys = list(self.keys)
        self.prior = np.asarray(self.prior, dtype=float)
        n = len(self.keys)
        if self.prior.shape != (n,):
            raise ValueError("prior must have one value per key")
        if len(set(self.keys)) != n:
            raise ValueError("keys must be unique")
        if np.any(self.prior[np.isfinite(self.prior)] < 0):
            raise ValueError("priors must be >= 0")
        if not self.null_reason:
            self.null_reason = [None] * n
        if len(self.null_reason) != n:
            raise ValueError("null_reason must have one entry per key")
        for i in np.flatnonzero(~np.isfinite(self.prior)):
            if not self.null_reason[i]:
                self.null_reason[i] = "no defensible prior"
        for comp in self.components:
            if isinstance(comp, Independent):
                if np.shape(comp.sd) != (n,):
                    raise ValueError("Independent.sd needs one value per cell")
            elif len(comp.groups) != n:
                raise ValueError(f"{type(comp).__name__}.groups needs one entry per cell")
            if isinstance(comp, ShareNoise):
                if (comp.blocks is None) != (comp.parts is None):
                    raise ValueError("ShareNoise needs both blocks and parts, or neither")
                if comp.blocks is not None and not (len(comp.blocks) == len(comp.parts) == n):
                    raise ValueError("ShareNoise.blocks and .parts need one entry per cell")
                sds = _per_group(comp.sd, _group_index(comp.groups)).values()
                if any(not (0 <= s < 1) for s in sds):
                    raise ValueError("ShareNoise.sd must be in [0, 1)")
        self.index = {k: i for i, k in enumerate(self.keys)}

    @classmethod
    def from_ranges(cls, keys, prior, low, high, *, coverage=0.90, null_reason=None):
        """Independent lognormal priors whose ``coverage`` interval is [low, high]."""
        prior = np.asarray(prior, dtype=float)
        low = np.where(np.isfinite(prior), np.asarray(low, dtype=float), 1.0)
        high = np.where(np.isfinite(prior), np.asarray(high, dtype=float), 1.0)
        sd = np.where(np.isfinite(prior), log_sd_from_range(low, high, coverage), 0.0)
        return cls(keys, prior, [Independent(sd)], list(null_reason or []))

    @property
    def has_prior(self) -> np.ndarray:
        return np.isfinite(self.prior)

    def covariance(self) -> np.ndarray:
        """The prior covariance (computed once per panel: the cross-validation refits reuse it)."""
        if getattr(self, "_covariance", None) is None:
            self._covariance = self._build_covariance()
        return self._covariance

    def _build_covariance(self) -> np.ndarray:
        """The prior covariance, linearised at the prior (units of the panel, squared).

        Independent: diag(sd_i^2 p_i^2). CommonFactor: sd_g^2 v v' with v = p on the group.
        ShareNoise: with x_i = P_b p_i rho_k / sum_(m in b) p_m rho_m (b the cell's block,
        k its part, rho = drawn share / mean share), the linearisation is
        sd^2 J diag(1/s) J' with J_i = p_i (e_k - w_b), s the group's mean shares and w_b
        block b's shares. Its rows sum to zero within a block, so it moves cells without
        moving a block's total; for a single block it is sd^2 (P diag(p) - p p').
        """
        p = np.where(self.has_prior, self.prior, 0.0)
        n = len(p)
        cov = np.zeros((n, n))
        for comp in self.components:
            if isinstance(comp, Independent):
                cov[np.diag_indices(n)] += (np.asarray(comp.sd, dtype=float) * p) ** 2
            elif isinstance(comp, CommonFactor):
                groups = _group_index(comp.groups)
                sds = _per_group(comp.sd, groups)
                for g, ix in groups.items():
                    cov[np.ix_(ix, ix)] += sds[g] ** 2 * np.outer(p[ix], p[ix])
            else:
                for ix, s2, part, block, mean_share, block_share in _share_layout(comp, p):
                    J = -block_share[block] * p[ix][:, None]
                    J[np.arange(len(ix)), part] += p[ix]
                    cov[np.ix_(ix, ix)] += s2 * (J / mean_share) @ J.T
        return cov

    def draw(self, n_draws: int, rng: np.random.Generator) -> np.ndarray:
        """``n_draws`` prior panels (n_draws x cells): Dirichlet shares first, then the
        lognormal common factors and cell noise, all with median 1 (the prior is the
        median). Cells without a prior are NaN in every draw."""
        p = np.where(self.has_prior, self.prior, 0.0)
        x = np.tile(p, (n_draws, 1))
        for comp in self.components:
            if isinstance(comp, ShareNoise):
                for ix, s2, part, block, mean_share, _ in _share_layout(comp, p):
                    shares = rng.dirichlet((1.0 / s2 - 1.0) * mean_share, size=n_draws)
                    weighted = x[:, ix] * (shares / mean_share)[:, part]  # p_i rho_k
                    n_blocks = int(block.max()) + 1
                    totals = np.zeros((n_draws, n_blocks))
                    new_totals = np.zeros((n_draws, n_blocks))
                    for b in range(n_blocks):
                        totals[:, b] = x[:, ix[block == b]].sum(axis=1)
                        new_totals[:, b] = weighted[:, block == b].sum(axis=1)
                    x[:, ix] = weighted * (totals / new_totals)[:, block]
        for comp in self.components:
            if isinstance(comp, CommonFactor):
                groups = _group_index(comp.groups)
                sds = _per_group(comp.sd, groups)
                for g, ix in groups.items():
                    x[:, ix] *= np.exp(sds[g] * rng.standard_normal(n_draws))[:, None]
            elif isinstance(comp, Independent):
                x *= np.exp(np.asarray(comp.sd, dtype=float) * rng.standard_normal((n_draws, len(p))))
        x[:, ~self.has_prior] = np.nan
        return x


def _share_layout(comp: ShareNoise, p: np.ndarray):
    """Per group of a ShareNoise component: the cells with a positive prior, sd^2, each
    cell's part and block (0-based), the group's mean share per part and each block's
    shares (blocks x parts). Groups with fewer than two parts or sd 0 are skipped."""
    groups = _group_index(comp.groups)
    sds = _per_group(comp.sd, groups)
    for g, ix in groups.items():
        ix = ix[p[ix] > 0]
        if sds[g] == 0 or len(ix) < 2:
            continue
        if comp.blocks is None:
            part = np.arange(len(ix))
            block = np.zeros(len(ix), dtype=int)
        else:
            part_labels = {lab: j for j, lab in enumerate(dict.fromkeys(comp.parts[i] for i in ix))}
            block_labels = {lab: j for j, lab in enumerate(dict.fromkeys(comp.blocks[i] for i in ix))}
            part = np.array([part_labels[comp.parts[i]] for i in ix])
            block = np.array([block_labels[comp.blocks[i]] for i in ix])
        n_parts, n_blocks = int(part.max()) + 1, int(block.max()) + 1
        if n_parts < 2:
            continue
        by_block = np.zeros((n_blocks, n_parts))
        np.add.at(by_block, (block, part), p[ix])
        mean_share = by_block.sum(axis=0) / by_block.sum()
        block_share = by_block / by_block.sum(axis=1, keepdims=True)
        yield ix, sds[g] ** 2, part, block, mean_share, block_share


# --------------------------------------------------------------------------------------
# Compiling constraints to normalised rows
# --------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Evaluable constraints as rows over the free cells, each in '>=' or '=' form and
    divided by its scale, so residuals are relative (levels) or in rate units."""

    ids: list
    constraints: list
    A: np.ndarray  # rows x free cells
    b: np.ndarray  # rows
    scale: np.ndarray  # rows: what a unit of the normalised residual is worth
    sign: np.ndarray  # +1, or -1 where a '<=' row was negated
    ineq: np.ndarray  # bool
    hard: np.ndarray  # bool
    sd: np.ndarray  # soft standard deviation (normalised), 0 for hard


def _coef_vector(terms: Terms, index, n) -> np.ndarray:
    a = np.zeros(n)
    for key, coef in terms:
        a[index[key]] += coef
    return a


def _compile(panel: PriorPanel, constraints: Sequence[Constraint]):
    """Fixed cells, evaluable rows, and the status of every constraint."""
    n = len(panel.keys)
    unknown = sorted({repr(k) for c in constraints for k in c.cells() if k not in panel.index})
    if unknown:
        raise ValueError(f"constraints name cells that are not in the panel: {', '.join(unknown[:5])}")
    ids = [c.constraint_id for c in constraints]
    if len(set(ids)) != len(ids):
        raise ValueError("constraint ids must be unique")

    has_prior = panel.has_prior
    # A cell without a prior is known only where a hard single-cell level figure gives it.
    fixed: dict[int, float] = {}
    for c in constraints:
        if c.kind == "level" and c.sense == EQ and c.hard and len(c.numerator) == 1:
            key, coef = c.numerator[0]
            i = panel.index[key]
            if not has_prior[i] and coef != 0:
                value = c.target / coef
                if i in fixed and not math.isclose(fixed[i], value, rel_tol=max(c.tolerance, 1e-12)):
                    raise InfeasibleConstraintsError({c.constraint_id: abs(value - fixed[i]) / abs(value)})
                fixed[i] = value

    status: dict[str, str] = {}
    rows = []
    p = np.where(has_prior, panel.prior, 0.0)
    fixed_vec = np.zeros(n)
    for i, v in fixed.items():
        fixed_vec[i] = v
    for c in constraints:
        cells = sorted(panel.index[k] for k in c.cells())  # panel order: the message below is reproducible
        missing = [panel.keys[i] for i in cells if not has_prior[i] and i not in fixed]
        if missing:
            status[c.constraint_id] = (
                "not evaluable: names cells without a prior or figure: "
                + ", ".join(map(str, missing[:4]))
                + (" ..." if len(missing) > 4 else "")
            )
            continue
        num = _coef_vector(c.numerator, panel.index, n)
        if c.kind == "level":
            a, b = num, c.target
            scale = abs(c.target) if c.target != 0 else float(np.abs(a) @ np.where(has_prior, p, fixed_vec))
        else:
            den = _coef_vector(c.denominator, panel.index, n)
            factor = (1.0 + c.target) if c.kind == "growth" else c.target
            a, b = num - factor * den, 0.0
            scale = float(den @ np.where(has_prior, p, fixed_vec))
        if not scale > 0:
            status[c.constraint_id] = "not evaluable: its scale (target or prior denominator) is zero"
            continue
        # Cells fixed by a figure move to the right-hand side.
        b = b - float(a[~has_prior] @ fixed_vec[~has_prior])
        a = np.where(has_prior, a, 0.0)
        sign = -1.0 if c.sense == LE else 1.0
        status[c.constraint_id] = "fitted"
        rows.append((c, sign * a / scale, sign * b / scale, scale, sign))

    free = np.flatnonzero(has_prior)
    m = len(rows)
    out = _Rows(
        ids=[r[0].constraint_id for r in rows],
        constraints=[r[0] for r in rows],
        A=np.array([r[1][free] for r in rows]).reshape(m, len(free)),
        b=np.array([r[2] for r in rows], dtype=float),
        scale=np.array([r[3] for r in rows], dtype=float),
        sign=np.array([r[4] for r in rows], dtype=float),
        ineq=np.array([r[0].sense != EQ for r in rows], dtype=bool),
        hard=np.array([r[0].hard for r in rows], dtype=bool),
        sd=np.array([0.0 if r[0].hard else r[0].tolerance / SOFT_SD_PER_TOLERANCE for r in rows]),
    )
    return fixed, free, out, status


# --------------------------------------------------------------------------------------
# The solver: a bound-constrained QP in the multipliers
# --------------------------------------------------------------------------------------


class _Dual:
    """max_l  -1/2 l'Ml + l'(b - A p)  s.t. l_j >= 0 for inequality rows, M = A S A' + D,
    D = diag(sd^2) for soft rows and a tiny ridge for hard ones; x = p + S A' l.

    Solved by the primal active-set method for convex QP (Nocedal & Wright, Numerical
    Optimization, 2006, algorithm 16.3) applied to the dual, whose only constraints are
    the sign bounds on the inequality multipliers: a warm start from the central fit's
    active set usually finishes in one linear solve of the active rows.

    Positivity rows (x_i / p_i >= 0) are added as hard inequalities for cells that a
    solution would make negative, until none is.
    """

    def __init__(self, cov: np.ndarray, rows: _Rows, prior: np.ndarray, nonnegative: bool = True):
        self.cov = cov
        self.rows = rows
        self.prior = prior
        G = cov @ rows.A.T
        self.G_base = G
        closeness = rows.A @ G
        top = float(np.max(np.diag(closeness), initial=0.0))
        ridge = np.where(rows.hard, HARD_RIDGE * (top if top > 0 else 1.0), 0.0)
        self.reg_base = rows.sd**2 + ridge
        self.M_base = closeness + np.diag(self.reg_base)
        top = float(np.max(np.diag(self.M_base), initial=0.0))
        self.ridge = HARD_RIDGE * (top if top > 0 else 1.0)
        self.movable = np.diag(cov) > 0
        self.nonnegative = nonnegative
        self._systems: dict[tuple, tuple] = {}

    def system(self, extra: list[int]):
        """M, inequality mask and regularisation for the base rows plus positivity rows.
        A positivity row e_i'/p_i needs no new product with S: A S e_i = G[i, :]'."""
        key = tuple(extra)
        if key in self._systems:
            return self._systems[key]
        r = self.rows
        if not extra:
            out = (self.M_base, r.ineq, self.reg_base)
        else:
            ex = np.asarray(extra, dtype=int)
            cross = self.G_base[ex, :].T / self.prior[ex]  # A S e_i / p_i
            corner = self.cov[np.ix_(ex, ex)] / np.outer(self.prior[ex], self.prior[ex])
            corner = corner + self.ridge * np.eye(len(ex))
            M = np.block([[self.M_base, cross], [cross.T, corner]])
            ineq = np.concatenate([r.ineq, np.ones(len(ex), dtype=bool)])
            reg = np.concatenate([self.reg_base, np.full(len(ex), self.ridge)])
            out = (M, ineq, reg)
        if len(self._systems) < 16 and M_BYTES_CACHE > sum(v[0].nbytes for v in self._systems.values()):
            self._systems[key] = out
        return out

    def move(self, lam: np.ndarray, extra: list[int]) -> np.ndarray:
        """S A' l: the fit's departure from the prior."""
        m = len(self.rows.b)
        dx = self.G_base @ lam[:m]
        if extra:
            ex = np.asarray(extra, dtype=int)
            dx = dx + self.cov[:, ex] @ (lam[m:] / self.prior[ex])
        return dx

    def rhs(self, p: np.ndarray, b: np.ndarray, extra: list[int]) -> np.ndarray:
        r0 = b - self.rows.A @ p
        if extra:
            ex = np.asarray(extra, dtype=int)
            r0 = np.concatenate([r0, -p[ex] / self.prior[ex]])
        return r0

    @staticmethod
    def active_set(M, r0, ineq, free0):
        """min 1/2 l'Ml - r0'l  s.t. l_j >= 0 (j in ineq), from the working set free0
        (the multipliers allowed off their bound). Returns l, the working set and the
        number of linear solves."""
        m = len(r0)
        free = np.asarray(free0, dtype=bool) | ~ineq
        lam = np.zeros(m)
        tol = 1e-12 * max(1.0, float(np.max(np.abs(r0), initial=0.0)))
        for it in range(1, 20 * m + 20):
            target = np.zeros(m)
            if free.any():
                target[free] = linalg.cho_solve(linalg.cho_factor(M[np.ix_(free, free)]), r0[free])
            blocked = free & ineq & (target < -tol)
            if blocked.any():
                # Step from the feasible l towards the target until the first multiplier
                # reaches its bound; that row leaves the working set.
                with np.errstate(divide="ignore", invalid="ignore"):
                    step = np.where(blocked, lam / (lam - target), np.inf)
                t = float(np.clip(np.min(step), 0.0, 1.0))
                lam = lam + t * (target - lam)
                leaving = blocked & (step <= t + 1e-15)
                lam[leaving] = 0.0
                free &= ~leaving
                continue
            lam = target
            gradient = M @ lam - r0  # = A x - b + D l: must be >= 0 on rows at the bound
            entering = ineq & ~free & (gradient < -tol)
            if not entering.any():
                return lam, free, it
            free[int(np.argmin(np.where(entering, gradient, np.inf)))] = True
        raise RuntimeError("active-set iterations did not converge")  # pragma: no cover

    def solve(self, p: np.ndarray, b: np.ndarray, warm: tuple[list[int], np.ndarray] | None = None):
        """Fit one prior draw. Returns x, all multipliers (base rows first), positivity
        cells, the working set (for warm starts), whether the warm start held (one linear
        solve, no positivity row added) and 1/2 (x-p)' S^-1 (x-p)."""
        extra = list(warm[0]) if warm else []
        free0 = np.asarray(warm[1], dtype=bool) if warm else np.zeros(len(self.rows.b) + len(extra), dtype=bool)
        held = warm is not None
        for _ in range(len(p) + 1):
            M, ineq, reg = self.system(extra)
            r0 = self.rhs(p, b, extra)
            if len(free0) != len(r0):
                free0 = np.concatenate([free0, np.zeros(len(r0) - len(free0), dtype=bool)])
            lam, free, n_solves = self.active_set(M, r0, ineq, free0)
            held = held and n_solves == 1
            x = p + self.move(lam, extra)
            known = set(extra)
            neg = (
                []
                if not self.nonnegative
                else [i for i in np.flatnonzero((x < -1e-9 * self.prior) & self.movable) if i not in known]
            )
            if not neg:
                # 1/2 (x-p)' S^-1 (x-p) = 1/2 l' A S A' l, read off the dual without inverting S.
                closeness = 0.5 * float(lam @ (M @ lam) - lam @ (reg * lam))
                return (np.maximum(x, 0.0) if self.nonnegative else x), lam, extra, free, held, closeness
            extra = extra + neg
            free0 = np.concatenate([free, np.ones(len(neg), dtype=bool)])
            held = False
        raise RuntimeError("positivity loop did not converge")  # pragma: no cover


def _without_dependent_equalities(rows: _Rows) -> _Rows:
    """The rows with every hard equality that is a linear combination of the others left out
    (a rank-revealing QR of the hard equality rows): thousands of user figures over the same
    cells reduce to at most one row per cell, so the dual stays small. The rows left out are
    consequences of the kept ones (the feasibility check has already shown they hold
    together) and are audited with the rest; their multipliers are zero."""
    hard_eq = np.flatnonzero(rows.hard & ~rows.ineq)
    if len(hard_eq) < 2:
        return rows
    # The rows are in yuan (a level row is cells / target: coefficients of 1e-12 next to a
    # right-hand side of 1), so rounding or a relative rank threshold would see every level
    # row as [0, ..., 0, 1] and drop independent figures. Scaling each column (cells and
    # the right-hand side) by its largest entry, then each row to unit length, changes no
    # linear dependence among the rows and brings the entries near 1.
    A = np.hstack([rows.A[hard_eq], rows.b[hard_eq, None]])
    col = np.max(np.abs(A), axis=0)
    A = A / np.where(col > 0, col, 1.0)
    norm = np.linalg.norm(A, axis=1)
    A = A / np.where(norm > 0, norm, 1.0)[:, None]
    # Exact repeats first (cheap), then a pivoted QR of the distinct rows.
    _, first = np.unique(np.round(A, 12), axis=0, return_index=True)
    distinct = hard_eq[np.sort(first)]
    A = A[np.isin(hard_eq, distinct)]
    _, r, pivots = linalg.qr(A.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-10 * max(float(diag[0]), 1e-300))) if len(diag) else 0
    if rank == len(hard_eq):
        return rows
    keep = np.ones(len(rows.b), dtype=bool)
    keep[hard_eq] = False
    keep[distinct[pivots[:rank]]] = True
    ix = np.flatnonzero(keep)
    return _Rows(
        [rows.ids[i] for i in ix],
        [rows.constraints[i] for i in ix],
        rows.A[ix],
        rows.b[ix],
        rows.scale[ix],
        rows.sign[ix],
        rows.ineq[ix],
        rows.hard[ix],
        rows.sd[ix],
    )


def _check_feasible(cov_diag, p, rows: _Rows, nonnegative: bool = True):
    """Least total violation of the hard rows over x >= 0 (cells with no prior variance
    held at their prior): an LP with elastic slacks. Raises InfeasibleConstraintsError
    naming the rows that cannot be met."""
    hard = np.flatnonzero(rows.hard)
    if len(hard) == 0:
        return
    A = rows.A[hard]
    b = rows.b[hard]
    movable = cov_diag > 0
    # In units of the prior (x = p z): coefficients near 1, not 1e-12, which the LP
    # solver would drop as zero. Movable cells have p > 0 (their variance scales with p).
    Am = A[:, movable] * p[movable]
    b_eff = b - A[:, ~movable] @ p[~movable]
    k = len(hard)
    nv = Am.shape[1]
    eq = ~rows.ineq[hard]
    # variables: x (movable), u >= 0 (shortfall), v >= 0 (excess, equalities only)
    c = np.concatenate([np.zeros(nv), np.ones(k), np.ones(k)])
    # Sparse blocks: thousands of user rows make dense slack identities of gigabytes.
    eye = sparse.identity(k, format="csr")
    Am_sparse = sparse.csr_matrix(Am)
    A_eq = sparse.hstack([Am_sparse, eye, -eye], format="csr")[np.flatnonzero(eq)]
    b_eq = b_eff[eq]
    # A x + u >= b  ->  -A x - u <= -b
    A_ub = sparse.hstack([-Am_sparse, -eye, sparse.csr_matrix((k, k))], format="csr")[np.flatnonzero(~eq)]
    b_ub = -b_eff[~eq]
    bounds = [(0 if nonnegative else None, None)] * nv + [(0, None)] * (2 * k)
    res = optimize.linprog(
        c,
        A_ub=A_ub if len(b_ub) else None,
        b_ub=b_ub if len(b_ub) else None,
        A_eq=A_eq if len(b_eq) else None,
        b_eq=b_eq if len(b_eq) else None,
        bounds=bounds,
        method="highs",
    )
    if res.status != 0:  # pragma: no cover - the elastic LP is always feasible and bounded
        raise RuntimeError(f"feasibility check failed: {res.message}")
    gap = res.x[nv : nv + k] + res.x[nv + k :]
    tol = np.array([max(rows.constraints[j].tolerance, HARD_CHECK) for j in hard])
    if np.any(gap > tol):
        missed = [j for j, g in zip(hard, gap, strict=True) if g > 1e-12]
        # The hard rows sharing a cell with a missed one are the ones it conflicts with.
        touching = set()
        for j in missed:
            cells = rows.A[j] != 0
            touching |= {rows.ids[h] for h in hard if h != j and np.any(rows.A[h][cells] != 0)}
        raise InfeasibleConstraintsError(
            {rows.ids[j]: float(gap[list(hard).index(j)]) for j in missed},
            sorted(touching - {rows.ids[j] for j in missed}),
        )


def check_levels_feasible(levels: Sequence[tuple]) -> None:
    """Whether hard levels ``(id, cells, target)`` or ``(id, cells, target, sense)`` can all
    hold with non-negative cells: the feasibility check of fit_panel (the same elastic LP),
    for figures on their own, e.g. a user's file in `chengyu validate`. Raises
    InfeasibleConstraintsError naming the rows."""
    cons = [
        Constraint(cid, "level", sense[0] if sense else EQ, _terms(cells), target, 0.0)
        for cid, cells, target, *sense in levels
    ]
    if not cons:
        return
    keys = sorted({k for c in cons for k in c.cells()}, key=repr)
    # Cells in units of a typical cell, so the LP's coefficients are near 1.
    typical = float(np.median([abs(c.target) / len(c.numerator) for c in cons])) or 1.0
    panel = PriorPanel(keys, np.full(len(keys), typical), [Independent(np.ones(len(keys)))])
    _, free, rows, _ = _compile(panel, cons)
    _check_feasible(np.ones(len(free)), panel.prior[free], rows)


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass
class ConstraintResult:
    constraint_id: str
    kind: str
    sense: str
    hard: bool
    target: float
    fitted: float | None  # the fitted quantity: the level, the growth rate, the share
    prior_value: float | None  # the same quantity on the prior panel
    residual: float | None  # fitted - target, in the target's unit
    normalised_residual: float | None  # relative to |target| (levels) or in rate units
    tolerance: float
    met: bool | None
    binding: bool | None  # its multiplier is not zero: it moved the fit
    multiplier: float | None
    status: str
    note: str = ""


@dataclass
class FitResult:
    keys: list
    value: np.ndarray  # fitted panel, NaN where NULL
    prior: np.ndarray
    basis_reason: list  # None for fitted cells; why a cell is NULL or fixed
    constraints: list  # ConstraintResult per constraint, input order
    objective: float
    _solver: object = None
    _fixed: dict = None
    _free: np.ndarray = None
    _rows: _Rows = None
    _warm: tuple = None
    _x_free: np.ndarray = None

    def constraint(self, constraint_id: str) -> ConstraintResult:
        return next(c for c in self.constraints if c.constraint_id == constraint_id)

    def __getitem__(self, key) -> float:
        return float(self.value[self.keys.index(key)])


def _quantity(c: Constraint, x: np.ndarray, index) -> float:
    num = sum(coef * x[index[k]] for k, coef in c.numerator)
    if c.kind == "level":
        return float(num)
    den = sum(coef * x[index[k]] for k, coef in c.denominator)
    if den == 0:
        return float("nan")
    return float(num / den - 1.0) if c.kind == "growth" else float(num / den)


def _met(c: Constraint, normalised: float) -> bool:
    tol = max(c.tolerance, HARD_CHECK)
    if c.sense == EQ:
        return abs(normalised) <= tol
    if c.sense == GE:
        return normalised >= -tol
    return normalised <= tol


def _exact_cells(rows: _Rows, free: np.ndarray, index, has_prior) -> tuple[np.ndarray, np.ndarray]:
    """Free cells a hard single-cell level figure gives exactly, and their values: the fit
    meets them to about 1e-10 of their size (the ridge); they are set to the figure."""
    position = {cell: j for j, cell in enumerate(free)}
    cells, values = [], []
    for c in rows.constraints:
        if c.kind == "level" and c.sense == EQ and c.hard and len(c.numerator) == 1:
            key, coef = c.numerator[0]
            i = index[key]
            if has_prior[i] and coef != 0:
                cells.append(position[i])
                values.append(c.target / coef)
    return np.asarray(cells, dtype=int), np.asarray(values, dtype=float)


def fit_panel(panel: PriorPanel, constraints: Sequence[Constraint], *, nonnegative: bool = True) -> FitResult:
    """The panel closest to the priors (in the prior covariance's metric) that meets every
    hard constraint, with soft constraints penalised. Raises InfeasibleConstraintsError
    when the hard constraints cannot all hold."""
    constraints = list(constraints)
    fixed, free, rows, status = _compile(panel, constraints)
    cov_full = panel.covariance()
    cov = cov_full[np.ix_(free, free)]
    p = panel.prior[free]
    _check_feasible(np.diag(cov), p, rows, nonnegative)
    all_ids = rows.ids
    rows = _without_dependent_equalities(rows)
    solver = _Dual(cov, rows, p, nonnegative)
    x_free, lam_all, extra, active, _, closeness = solver.solve(p, rows.b)
    lam = lam_all[: len(rows.b)]
    snap = _exact_cells(rows, free, panel.index, panel.has_prior)
    x_free[snap[0]] = snap[1]

    n = len(panel.keys)
    value = np.full(n, np.nan)
    value[free] = x_free
    reason = [None] * n
    for i in range(n):
        if not panel.has_prior[i]:
            if i in fixed:
                value[i] = fixed[i]
                reason[i] = "no prior; given exactly by a figure"
            else:
                reason[i] = panel.null_reason[i]

    # Residuals and checks in each figure's own terms.
    lam_by_id = dict.fromkeys(all_ids, 0.0) | dict(zip(rows.ids, lam, strict=True))
    prior_full = np.where(panel.has_prior, panel.prior, value)  # fixed cells count at their value
    results = []
    for c in constraints:
        st = status[c.constraint_id]
        if st != "fitted":
            results.append(
                ConstraintResult(
                    c.constraint_id,
                    c.kind,
                    c.sense,
                    c.hard,
                    c.target,
                    None,
                    None,
                    None,
                    None,
                    c.tolerance,
                    None,
                    None,
                    None,
                    st,
                    c.note,
                )
            )
            continue
        fitted = _quantity(c, value, panel.index)
        prior_q = _quantity(c, prior_full, panel.index)
        residual = fitted - c.target
        normalised = residual / abs(c.target) if c.kind == "level" and c.target != 0 else residual
        if c.kind == "level" and c.target == 0:
            normalised = residual / float(np.abs(_coef_vector(c.numerator, panel.index, n)) @ np.nan_to_num(value))
        mult = float(lam_by_id[c.constraint_id])
        results.append(
            ConstraintResult(
                c.constraint_id,
                c.kind,
                c.sense,
                c.hard,
                c.target,
                fitted,
                prior_q,
                residual,
                normalised,
                c.tolerance,
                _met(c, normalised),
                abs(mult) > 1e-9,
                mult,
                st,
                c.note,
            )
        )

    failed_hard = {r.constraint_id: abs(r.normalised_residual) for r in results if r.hard and r.met is False}
    if failed_hard:  # pragma: no cover - the LP check catches these first
        raise InfeasibleConstraintsError(failed_hard)

    # Objective: closeness to the priors plus the soft penalties at the fit.
    r_norm = rows.A @ x_free - rows.b
    short = np.where(rows.ineq, np.minimum(r_norm, 0.0), r_norm)
    soft = ~rows.hard
    objective = closeness + 0.5 * float(np.sum((short[soft] / rows.sd[soft]) ** 2))

    return FitResult(
        list(panel.keys),
        value,
        panel.prior.copy(),
        reason,
        results,
        objective,
        solver,
        fixed,
        free,
        rows,
        (extra, active),
        x_free,
    )


# --------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------


@dataclass
class MonteCarloResult:
    keys: list
    draws: np.ndarray  # n_draws x cells, NaN where NULL
    seed: int

    def quantiles(self, qs=(5, 50, 95)) -> np.ndarray:
        """Per-cell percentiles (rows: qs); NaN for NULL cells."""
        out = np.full((len(qs), self.draws.shape[1]), np.nan)
        ok = ~np.all(np.isnan(self.draws), axis=0)
        if ok.any():
            out[:, ok] = np.percentile(self.draws[:, ok], qs, axis=0)
        return out

    def share_of_draws(self, flag: np.ndarray) -> np.ndarray:
        """Share of draws in which a boolean flag (n_draws x anything) holds."""
        return np.mean(np.asarray(flag, dtype=bool), axis=0)


def monte_carlo(
    panel: PriorPanel,
    constraints: Sequence[Constraint],
    *,
    n_draws: int = 200,
    seed: int = 20240601,
    fit: FitResult | None = None,
    sweeps: int = GIBBS_SWEEPS,
) -> MonteCarloResult:
    """``n_draws`` samples of the posterior of the fit's own model (docs/estimator.md): the
    Gaussian prior (the covariance the fit uses) conditioned on every figure and on x >= 0.

    1. The equality rows (hard ones exactly, soft ones as Gaussian observations) give a
       Gaussian N(m, C) by conditioning, the hard rows met exactly by projection; x = m + L z
       with L = C^(1/2) the symmetric square root, so z is standard normal and every x meets
       the hard equalities.
    2. The inequality rows (a soft one through its noise e, sd = tolerance / 2: the probit
       likelihood Phi((a x - b) / sd)) and positivity (x_i >= 0) are linear inequalities
       F z >= g of the whitened coordinates; z is drawn from N(0, I) truncated to them by
       coordinate-wise Gibbs sampling (Rodriguez-Yam, Davis & Scharf 2004): each coordinate
       from its univariate truncated normal on the interval the rows leave it.

    One independent chain per draw, ``sweeps`` sweeps from the central fit: every draw is
    distinct, no proposal is rejected. Seeded: the same seed gives identical draws. A cell
    fixed exactly by a figure has zero width; hard rows hold in every draw."""
    fit = fit or fit_panel(panel, constraints)
    rng = np.random.default_rng(seed)
    rows, free, solver = fit._rows, fit._free, fit._solver
    mean, L, L_inverse = _equality_posterior(solver, rows)
    F, g, z0 = _truncation_rows(solver, rows, mean, L, L_inverse, fit._x_free)
    Z = _gibbs_whitened(F, g, z0, n_draws, sweeps, rng)
    X = mean[None, :] + Z[:, : L.shape[1]] @ L.T
    if solver.nonnegative:
        X = np.maximum(X, 0.0)  # rounding only: every draw meets x >= 0 to ~1e-12 of its sd
    snap = _exact_cells(rows, free, panel.index, panel.has_prior)
    X[:, snap[0]] = snap[1]
    out = np.full((n_draws, len(panel.keys)), np.nan)
    for i, v in fit._fixed.items():
        out[:, i] = v
    out[:, free] = X
    return MonteCarloResult(list(panel.keys), out, seed)


def _equality_posterior(solver: _Dual, rows: _Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Gaussian posterior given the equality rows, as its mean m, its symmetric square
    root L = C^(1/2) (cells x cells) and the pseudo-inverse of that root: x = m + L z with
    z ~ N(0, I). Directions a hard equality fixes have no variance.

    The symmetric root, not the eigenvectors themselves: eigenvectors of a repeated
    eigenvalue (cells with the same prior sd) are any basis of their space, and which one
    LAPACK returns turns on the last bits of the inputs. DuckDB and Spark sum the priors in
    different orders (1 ulp apart), so a Gibbs sampler in eigen-coordinates drew different
    panels on the two engines; C^(1/2) = V diag(sqrt(w)) V' is the same whatever basis V is,
    and moves with the inputs continuously."""
    eq = ~rows.ineq
    noise = rows.sd[eq] ** 2 + np.where(rows.hard[eq], solver.ridge, 0.0)
    gain, cov_eq = _gaussian_update(solver.cov, rows.A[eq], noise)
    mean = solver.prior + gain @ (rows.b[eq] - rows.A[eq] @ solver.prior)
    # The ridge keeps the hard rows' system invertible but leaves each fixed direction a
    # variance of about ridge; beside a row with a large variance (a microdata cell) that is
    # more than the eigenvalue cut below, and the draws would break the hard figure. So the
    # hard rows are met exactly by projection: m onto them, C onto their null space.
    hard = eq & rows.hard
    if hard.any():
        A_hard = rows.A[hard]
        A_plus = linalg.pinv(A_hard)
        mean = mean + A_plus @ (rows.b[hard] - A_hard @ mean)
        P = np.eye(len(mean)) - A_plus @ A_hard
        cov_eq = P @ cov_eq @ P.T
        cov_eq = (cov_eq + cov_eq.T) / 2.0
    n = len(mean)
    if cov_eq.size == 0:
        return mean, np.zeros((n, n)), np.zeros((n, n))
    # In units of the prior's largest variance (yuan squared, 1e22, slows LAPACK's eigensolver
    # five-fold); directions kept relative to it: when hard figures fix every cell, what is
    # left is the ridge's rounding, however it compares with itself.
    unit = float(np.max(np.diag(solver.cov), initial=0.0)) or 1.0
    values, vectors = linalg.eigh(cov_eq / unit, driver="evd")
    keep = values > 1e-10
    V, root = vectors[:, keep], np.sqrt(values[keep] * unit)
    return mean, (V * root) @ V.T, (V / root) @ V.T


def _truncation_rows(
    solver: _Dual, rows: _Rows, mean: np.ndarray, L: np.ndarray, L_inverse: np.ndarray, x_fit: np.ndarray
):
    """The inequality rows and positivity as F z >= g over the whitened coordinates z (L's
    columns, then one noise coordinate per soft inequality row), each row scaled to unit
    length so slacks are in standard deviations; and the central fit's coordinates, the
    chains' start (it meets every row)."""
    ineq = rows.ineq
    G, b, sd = rows.A[ineq], rows.b[ineq], rows.sd[ineq]
    soft = sd > 0
    noise = np.zeros((len(G), int(soft.sum())))
    noise[np.flatnonzero(soft), np.arange(int(soft.sum()))] = sd[soft]
    parts_F = [np.hstack([G @ L, noise])]
    parts_g = [b - G @ mean]
    prior_sd = [np.sqrt(np.einsum("ij,jk,ik->i", G, solver.cov, G) + sd**2)]
    if solver.nonnegative:
        parts_F.append(np.hstack([L, np.zeros((len(L), int(soft.sum())))]))
        parts_g.append(-mean)
        prior_sd.append(np.sqrt(np.diag(solver.cov)))
    F, g = np.vstack(parts_F), np.concatenate(parts_g)
    norm = np.linalg.norm(F, axis=1)
    live = norm > 1e-9 * np.concatenate(prior_sd)  # rows the equalities fix: nothing moves them
    F, g = F[live] / norm[live, None], g[live] / norm[live]
    shortfall = np.maximum((b - G @ x_fit)[soft] / sd[soft], 0.0)  # a soft bound the fit misses: its noise
    return F, g, np.concatenate([L_inverse @ (x_fit - mean), shortfall])


def _gibbs_whitened(
    F: np.ndarray, g: np.ndarray, z0: np.ndarray, n_chains: int, sweeps: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_chains`` independent draws (n_chains x coordinates) of z ~ N(0, I) truncated to
    F z >= g, by coordinate-wise Gibbs sampling, ``sweeps`` sweeps from ``z0``. Given the
    others, coordinate k is N(0, 1) on the interval where every row keeps a slack >= 0."""
    d = len(z0)
    if len(F) == 0:  # nothing truncates: independent normals
        return rng.standard_normal((n_chains, d))
    Z = np.tile(z0[:, None], (1, n_chains))  # coordinates x chains

    # The running slacks are updated in place each step and computed afresh every sweep (no
    # drift), against rows tightened by 1e-5 sd: every row holds after rounding.
    def fresh_slack():
        return np.maximum(F @ Z - g[:, None] - 1e-5, 0.0)

    slack = fresh_slack()  # rows x chains, in sd units
    # Per coordinate: the rows it moves up, then down, and 1 / |coefficient| (one gather a step).
    # Coefficients below 1e-9 (rows have unit length) are ignored: a move of z_k can then break
    # such a row by < 1e-8 sd.
    columns = []
    for k in range(d):
        f = F[:, k]
        n_up = int(np.sum(f > 1e-9))
        rows_k = np.concatenate([np.flatnonzero(f > 1e-9), np.flatnonzero(f < -1e-9)])
        columns.append((rows_k, n_up, (1.0 / np.abs(f[rows_k]))[:, None], f))
    room_buffer = np.empty_like(slack)
    for _ in range(max(1, sweeps)):
        for k, (rows_k, n_up, inv, f) in enumerate(columns):
            room = room_buffer[: len(rows_k)]  # how far z_k can move before row j binds
            np.take(slack, rows_k, axis=0, out=room)
            np.multiply(room, inv, out=room)
            np.maximum(room, 0.0, out=room)  # a slack rounded below 0 stays put
            zk = Z[k]
            low = zk - np.minimum.reduce(room[:n_up], axis=0, initial=np.inf)
            high = zk + np.minimum.reduce(room[n_up:], axis=0, initial=np.inf)
            new = np.where(low <= high, _truncated_standard_normal(low, high, rng), zk)
            blas_dger(1.0, new - zk, f, a=slack.T, overwrite_a=True)  # slack += f dz', in place
            Z[k] = new
        slack = fresh_slack()  # no drift of the running update
    return Z.T


def _truncated_standard_normal(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """N(0, 1) truncated to [low, high], by the inverse CDF on the side of the interval nearer
    zero, in log space (stable far into either tail)."""
    flip = low > 0  # mirror an upper-tail interval
    a, b = np.where(flip, -high, low), np.where(flip, -low, high)
    log_a, log_b = log_ndtr(a), log_ndtr(b)
    u = rng.uniform(size=len(a))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = ndtri_exp(log_b + np.log(u + (1.0 - u) * np.exp(log_a - log_b)))
    z = np.where(np.isfinite(z), z, np.where(np.isfinite(a), a, b))
    z = np.clip(z, a, b)
    return np.where(flip, -z, z)


def _gaussian_update(cov: np.ndarray, A: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gain K = S A' (A S A' + diag(noise))^-1 and the conditional covariance S - K A S of
    a Gaussian with covariance S observed through the rows A (with that noise)."""
    if len(A) == 0:
        return np.zeros((cov.shape[0], 0)), cov
    SA = cov @ A.T
    M = A @ SA + np.diag(noise)
    try:
        gain = linalg.cho_solve(linalg.cho_factor(M), SA.T).T
    except linalg.LinAlgError:  # rows that repeat each other exactly: least squares
        gain = linalg.lstsq(M, SA.T)[0].T
    return gain, cov - gain @ SA.T
