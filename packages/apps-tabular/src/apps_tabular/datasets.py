"""Data that ships with the package: generated (seeded) tables, made in memory on use.

No real mixed-type table with a checked licence was available offline when this package was written
(the Palmer penguins table, CC0, could not be downloaded, and the tables bundled with installed
packages are all-continuous), so both sets here are GENERATED, with a planted signal, from a seed:
the same arguments give the same rows on every machine. See the README ("Data").
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = ["synthetic_census", "synthetic_ratings", "PlantedRatings"]

_WORKCLASS = ["private", "self-emp", "federal-gov", "local-gov", "state-gov", "without-pay"]
_EDUCATION = ["hs-grad", "some-college", "assoc", "bachelors", "masters", "prof-school", "doctorate", "11th"]
_EDU_YEARS = [9, 10, 11, 13, 14, 15, 16, 7]
_MARITAL = ["married", "never-married", "divorced", "separated", "widowed"]
_OCCUPATION = [
    "tech-support",
    "craft-repair",
    "sales",
    "exec-managerial",
    "prof-specialty",
    "handlers-cleaners",
    "machine-op",
    "adm-clerical",
    "farming-fishing",
    "transport",
    "armed-forces",  # rare
    "priv-house-serv",  # rare
]


def synthetic_census(n_rows: int = 5000, seed: int = 0) -> pd.DataFrame:
    """A GENERATED census-like table (not real data) with a planted signal, for examples and tests.

    Columns: `age` (int), `workclass`, `education`, `education_num` (int), `marital_status`, `occupation`
    (two rare levels), `hours_per_week` (float, 5% missing), `capital_gain` (float, mostly 0),
    `signup_date` (a date), and the target `salary` (`"<50k"` / `">=50k"`). The target is drawn from a
    logistic model of education, age (peaking near 50), hours, marriage, occupation and capital gain, so
    no model can be perfect (about 85% is the best accuracy). Categoricals miss 2-4% of their values.
    """
    if n_rows < 10:
        raise ValueError(f"synthetic_census: n_rows must be >= 10, got {n_rows}")
    rng = np.random.default_rng(seed)
    n = n_rows
    age = np.clip(rng.normal(40, 13, n), 17, 90).astype(np.int64)
    edu = rng.choice(len(_EDUCATION), n, p=[0.3, 0.2, 0.08, 0.18, 0.09, 0.04, 0.03, 0.08])
    marital = rng.choice(len(_MARITAL), n, p=[0.46, 0.32, 0.14, 0.04, 0.04])
    occ_p = np.array([3, 12, 11, 12, 12, 5, 7, 11, 3, 5, 0.2, 0.4])
    occ = rng.choice(len(_OCCUPATION), n, p=occ_p / occ_p.sum())
    work = rng.choice(len(_WORKCLASS), n, p=[0.7, 0.11, 0.03, 0.07, 0.08, 0.01])
    hours = np.clip(rng.normal(40, 11, n), 1, 99).round()
    gain = np.where(rng.random(n) < 0.08, rng.lognormal(8.5, 1.0, n), 0.0).round()
    days = rng.integers(0, 5 * 365, n)
    signup = pd.Timestamp("2015-01-01") + pd.to_timedelta(days, unit="D")
    occ_effect = np.array([0.4, -0.1, 0.1, 0.9, 0.8, -0.9, -0.6, -0.3, -0.9, -0.4, 0.0, -1.2])
    years = np.array(_EDU_YEARS)[edu]
    logit = (
        -1.6
        + 0.45 * (years - 10)
        - 0.0018 * (age - 50) ** 2
        + 0.035 * (hours - 40)
        + np.where(marital == 0, 1.3, 0.0)
        + occ_effect[occ]
        + np.where(gain > 0, 1.6, 0.0)
        + np.where(work == 1, 0.3, 0.0)
    )
    salary = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), ">=50k", "<50k")
    df = pd.DataFrame(
        {
            "age": age,
            "workclass": np.array(_WORKCLASS, dtype=object)[work],
            "education": np.array(_EDUCATION, dtype=object)[edu],
            "education_num": years.astype(np.int64),
            "marital_status": np.array(_MARITAL, dtype=object)[marital],
            "occupation": np.array(_OCCUPATION, dtype=object)[occ],
            "hours_per_week": hours,
            "capital_gain": gain,
            "signup_date": signup,
            "salary": salary,
        }
    )
    df.loc[rng.random(n) < 0.03, "workclass"] = None
    df.loc[rng.random(n) < 0.04, "occupation"] = None
    df.loc[rng.random(n) < 0.05, "hours_per_week"] = np.nan
    return df


class PlantedRatings(NamedTuple):
    """Generated ratings and the truth they were drawn from (the planted factors, biases and noise)."""

    ratings: pd.DataFrame  # columns user, item, rating
    user_factors: np.ndarray  # (n_users, n_factors)
    item_factors: np.ndarray  # (n_items, n_factors)
    user_bias: np.ndarray  # (n_users,)
    item_bias: np.ndarray  # (n_items,)
    mean: float
    noise: float  # std of the noise added to each rating: the best achievable MSE is noise**2

    @property
    def noise_floor(self) -> float:
        """The MSE of a model that knows the planted truth exactly."""
        return self.noise**2


def synthetic_ratings(
    n_users: int = 1000,
    n_items: int = 500,
    n_ratings: int = 100_000,
    n_factors: int = 2,
    noise: float = 0.5,
    seed: int = 0,
) -> PlantedRatings:
    """GENERATED ratings with planted user/item factors (seeded): each distinct (user, item) pair is rated
    `mean + user_bias + item_bias + user_factors · item_factors + noise`, users as `u<k>`, items as `i<k>`.

    The planted item biases and factors are returned with the ratings, so a model's recovery can be
    checked (`collab_learner` should find the item biases and reach an MSE near `noise_floor`).
    """
    if n_ratings > n_users * n_items:
        raise ValueError(f"synthetic_ratings: {n_ratings} ratings exceed the {n_users * n_items} user-item pairs")
    rng = np.random.default_rng(seed)
    uf = rng.normal(0, 0.6, (n_users, n_factors))
    itf = rng.normal(0, 0.6, (n_items, n_factors))
    ub, ib = rng.normal(0, 0.3, n_users), rng.normal(0, 0.6, n_items)
    pairs = rng.choice(n_users * n_items, n_ratings, replace=False)
    u, i = pairs // n_items, pairs % n_items
    mean = 3.5
    r = mean + ub[u] + ib[i] + (uf[u] * itf[i]).sum(1) + rng.normal(0, noise, n_ratings)
    df = pd.DataFrame(
        {
            "user": np.char.add("u", u.astype(str)).astype(object),
            "item": np.char.add("i", i.astype(str)).astype(object),
            "rating": r.astype(np.float32),
        }
    )
    return PlantedRatings(df, uf, itf, ub, ib, mean, noise)
