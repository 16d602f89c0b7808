"""The results store: one SQLite file per project, one row per (experiment, point, seed).

Why SQLite in WAL mode: every result is one atomic ``INSERT`` (a crash, even ``SIGKILL``, leaves either the whole
row or nothing), readers (``iclab results ls``, the report) never block the writer, and the file is a standard
format users can open elsewhere. ``synchronous=NORMAL`` makes a committed row survive a process crash; only an
OS crash or power loss may drop the last few rows, never corrupt the file.

Tables: ``iclab_meta`` (application name and schema version), ``results`` (the rows), ``sweeps`` (one row per
call of :func:`iclab.sweep.run`: which points it covered and how long it took, used by the report).

A file that is not an iclab store, or has a newer schema, raises ``ValueError`` before anything is written to it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import json
import math
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from iclab import __version__
from iclab.sweep.config import SCHEMA_VERSION, to_jsonable
from iclab.validation import UserInputError, check_choice

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_PATH = Path("iclab-results.sqlite")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS iclab_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    experiment TEXT NOT NULL,
    point_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    iclab_version TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    wall_time REAL,
    UNIQUE (experiment, point_hash, seed)
);
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY,
    experiment TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    elapsed REAL,
    executor TEXT,
    n_tasks INTEGER,
    n_computed INTEGER,
    n_failed INTEGER,
    points TEXT NOT NULL
);
"""

_UPSERT = """
INSERT INTO results (experiment, point_hash, seed, config, metrics, status, error, iclab_version, timestamp, wall_time)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (experiment, point_hash, seed) DO UPDATE SET
    config = excluded.config, metrics = excluded.metrics, status = excluded.status, error = excluded.error,
    iclab_version = excluded.iclab_version, timestamp = excluded.timestamp, wall_time = excluded.wall_time
WHERE results.status != 'ok'
"""


class StoreWriteError(UserInputError):
    """The store cannot be written: its disk is full, or its file or folder is read-only. Rows committed before
    stay intact and readable (each row is one atomic transaction)."""


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
_READONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


@contextlib.contextmanager
def _writing(path, what: str, readonly: bool = False):
    """Turn the OS's and SQLite's "disk full" and "read-only" errors while writing ``path`` into one clear
    :class:`StoreWriteError`; any other error, or a write to a store opened ``readonly`` (a bug), propagates."""
    try:
        yield
    except (sqlite3.OperationalError, OSError) as e:
        if readonly:
            raise
        text = str(e).lower()
        code = getattr(e, "errno", None) if isinstance(e, OSError) else None
        if code in _FULL or "disk is full" in text:
            why, advice = "the disk is full", "free some space, or pass --store PATH on another disk"
        elif "disk i/o error" in text:
            why, advice = "the disk reported an I/O error (full or failing)", "check the disk, or pass --store PATH"
        elif code in _READONLY or "readonly" in text or "read-only" in text or "unable to open" in text:
            why, advice = "its file or folder is read-only", "pass --store PATH in a writable folder"
        else:
            raise
        raise StoreWriteError(f"store {path} cannot be written ({what}): {why}; the rows stored before are intact "
                              f"and readable; {advice}") from None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _ro_uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _ro_connect(path: Path, **kwargs) -> sqlite3.Connection:
    """A read-only connection. A WAL store on a read-only folder (a read-only mount, an archive) cannot create
    its shared-memory file, so SQLite refuses even to read it; there, where no writer can exist, it is opened as
    immutable instead."""
    con = sqlite3.connect(_ro_uri(path), uri=True, **kwargs)
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return con
    except sqlite3.OperationalError:
        if os.access(path.resolve().parent, os.W_OK):
            raise
        con.close()
    return sqlite3.connect(_ro_uri(path) + "&immutable=1", uri=True, **kwargs)


def check_store_file(path: Path) -> None:
    """Raise ``ValueError`` unless ``path`` is an iclab store this version can read; never writes to it."""
    if path.is_dir():
        raise UserInputError(f"store must be a file (got directory {path})")
    with open(path, "rb") as f:
        head = f.read(16)
    if head != _SQLITE_MAGIC:
        raise UserInputError(f"store {path} is not an SQLite file, so not an iclab results store")
    try:
        con = _ro_connect(path)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = dict(con.execute("SELECT key, value FROM iclab_meta")) if "iclab_meta" in tables else {}
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise UserInputError(f"store {path} is not a readable SQLite database ({e})") from None
    if meta.get("application") != "iclab" or "results" not in tables:
        raise UserInputError(f"store {path} is an SQLite file but not an iclab results store")
    version = int(meta.get("schema_version", "0"))
    if version > SCHEMA_VERSION:
        raise UserInputError(f"store {path} has schema version {version}, newer than this iclab "
                         f"({__version__} reads <= {SCHEMA_VERSION}); upgrade iclab")


class Store:
    """An open results store.

    ``Store(path)`` opens or creates ``path``; ``Store(":memory:")`` keeps results for this process only;
    ``readonly=True`` opens an existing store without writing (``ValueError`` if it does not exist).
    """

    def __init__(self, path: str | Path = DEFAULT_PATH, *, readonly: bool = False):
        self.readonly = readonly
        if str(path) == ":memory:":
            self.path = None
            self._con = sqlite3.connect(":memory:", isolation_level=None)
            self._init_schema()
            return
        self.path = Path(path)
        exists = self.path.exists() and (self.path.is_dir() or self.path.stat().st_size > 0)
        if exists:
            check_store_file(self.path)
        elif readonly:
            raise UserInputError(f"store {self.path} does not exist (run a sweep first, or pass --store PATH)")
        if readonly:
            self._con = _ro_connect(self.path, isolation_level=None, timeout=30)
            return
        with _writing(self.path, "opening it"):
            if not exists:
                self._create(self.path)
            self._con = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")

    def _create(self, path: Path) -> None:
        """Build the empty store beside ``path`` and link it into place, so no reader ever sees it half made."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        self._con = sqlite3.connect(str(tmp), isolation_level=None)
        self._con.execute("PRAGMA journal_mode = WAL")  # persistent: stored in the file header
        self._init_schema()
        self._con.close()
        try:
            if path.exists():  # an empty file: nothing to lose
                os.replace(tmp, path)
            else:
                os.link(tmp, path)  # fails if another process created the store meanwhile: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    def _init_schema(self) -> None:
        with self._transaction():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._con.execute(stmt)
            self._con.executemany("INSERT OR IGNORE INTO iclab_meta VALUES (?, ?)",
                                  [("application", "iclab"), ("schema_version", str(SCHEMA_VERSION)),
                                   ("created", _now())])

    @contextlib.contextmanager
    def _transaction(self):
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    # -- writing ------------------------------------------------------------------------------------------------

    def put(self, experiment: str, point_hash: str, seed: int, config: dict[str, Any], *,
            metrics: dict[str, Any] | None = None, error: str | None = None, wall_time: float | None = None) -> bool:
        """Record one result atomically: ``metrics`` (status ok) or ``error`` (status failed).

        A failed row is replaced by the next attempt; an ok row is never replaced (returns False then).
        """
        status = "failed" if error is not None else "ok"
        config_json = json.dumps(to_jsonable(config, "config"), sort_keys=True)
        metrics_json = None if metrics is None else json.dumps(to_jsonable(metrics, "metrics"))
        with _writing(self.path, "writing a result", self.readonly):
            cur = self._con.execute(_UPSERT, (experiment, point_hash, int(seed), config_json, metrics_json, status,
                                              error, __version__, _now(), wall_time))
        return cur.rowcount > 0

    def begin_sweep(self, experiment: str, points: list[tuple[str, int]], executor: str, n_tasks: int) -> int:
        with _writing(self.path, "starting a sweep", self.readonly):
            cur = self._con.execute(
                "INSERT INTO sweeps (experiment, started, executor, n_tasks, points) VALUES (?, ?, ?, ?, ?)",
                (experiment, _now(), executor, n_tasks, json.dumps(points)))
        return cur.lastrowid

    def end_sweep(self, sweep_id: int, *, elapsed: float, n_computed: int, n_failed: int) -> None:
        with _writing(self.path, "finishing a sweep", self.readonly):
            self._con.execute("UPDATE sweeps SET finished = ?, elapsed = ?, n_computed = ?, n_failed = ? "
                              "WHERE id = ?", (_now(), elapsed, n_computed, n_failed, sweep_id))

    # -- reading ------------------------------------------------------------------------------------------------

    def status(self, experiment: str) -> dict[tuple[str, int], str]:
        """``{(point_hash, seed): 'ok' | 'failed'}`` for every stored row of ``experiment``."""
        rows = self._con.execute("SELECT point_hash, seed, status FROM results WHERE experiment = ?", (experiment,))
        return {(h, s): st for h, s, st in rows}

    def rows(self, experiment: str | None = None, *, status: str | None = None) -> list[dict[str, Any]]:
        """Stored rows as dicts with parsed ``config`` and ``metrics``, in insertion order."""
        sql, args = "SELECT * FROM results", []
        where = []
        if experiment is not None:
            where.append("experiment = ?")
            args.append(experiment)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        cur = self._con.execute(sql + " ORDER BY id", args)
        names = [c[0] for c in cur.description]
        out = []
        for r in cur:
            row = dict(zip(names, r, strict=True))
            row["config"] = json.loads(row["config"])
            row["metrics"] = json.loads(row["metrics"]) if row["metrics"] is not None else None
            out.append(row)
        return out

    def count(self, experiment: str | None = None) -> int:
        if experiment is None:
            return self._con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._con.execute("SELECT COUNT(*) FROM results WHERE experiment = ?", (experiment,)).fetchone()[0]

    def experiments(self) -> list[str]:
        return [r[0] for r in self._con.execute("SELECT DISTINCT experiment FROM results ORDER BY experiment")]

    def summary(self) -> pd.DataFrame:
        """One row per experiment: points, ok and failed rows, total compute time, last write."""
        import pandas as pd

        cur = self._con.execute(
            "SELECT experiment, COUNT(DISTINCT point_hash), SUM(status = 'ok'), SUM(status = 'failed'), "
            "SUM(wall_time), MAX(timestamp) FROM results GROUP BY experiment ORDER BY experiment")
        return pd.DataFrame(cur.fetchall(), columns=["experiment", "points", "ok", "failed", "compute_s", "last"])

    def mean_wall_time(self, experiment: str) -> float | None:
        """Mean wall time of the successful rows of ``experiment`` (None when there are none)."""
        return self._con.execute("SELECT AVG(wall_time) FROM results WHERE experiment = ? AND status = 'ok'",
                                 (experiment,)).fetchone()[0]

    def last_sweep(self, experiment: str) -> dict[str, Any] | None:
        """The latest sweep of ``experiment`` (prefer finished ones), with ``points`` as ``[(hash, seeds)]``."""
        cur = self._con.execute("SELECT * FROM sweeps WHERE experiment = ? ORDER BY finished IS NULL, id DESC "
                                "LIMIT 1", (experiment,))
        r = cur.fetchone()
        if r is None:
            return None
        row = dict(zip([c[0] for c in cur.description], r, strict=True))
        row["points"] = [tuple(p) for p in json.loads(row["points"])]
        return row

    def to_frame(self, experiment: str | None = None, *, status: str | None = None) -> pd.DataFrame:
        """Flat table: experiment, point_hash, seed, config columns, metric columns, wall_time, status, ..."""
        import pandas as pd

        records = []
        for r in self.rows(experiment, status=status):
            records.append({"experiment": r["experiment"], "point_hash": r["point_hash"], "seed": r["seed"],
                            **r["config"], **(r["metrics"] or {}), "wall_time": r["wall_time"],
                            "status": r["status"], "error": r["error"], "iclab_version": r["iclab_version"],
                            "timestamp": r["timestamp"]})
        return pd.DataFrame.from_records(records)

    def export(self, out: str | Path, fmt: str, experiment: str | None = None) -> Path:
        """Write :meth:`to_frame` to ``out`` as ``csv`` or ``parquet``; returns the path.

        Parquet needs one type per column: see :func:`parquet_frame`. A column Parquet still cannot write is a
        bug of this export, never the user's input: it raises ``RuntimeError`` (a traceback), not ``ValueError``.
        """
        check_choice("format", fmt, ("csv", "parquet"))
        df = self.to_frame(experiment)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            df.to_csv(out, index=False)
            return out
        import pyarrow as pa

        try:
            parquet_frame(df).to_parquet(out, index=False)
        except (pa.ArrowException, ValueError, TypeError) as e:  # ArrowInvalid is a ValueError: not input
            raise RuntimeError(f"iclab could not write {out} as Parquet: {e}") from e
        return out


_SPECIAL = {"inf": math.inf, "+inf": math.inf, "infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf,
            "nan": math.nan}


def _as_float(v) -> float | None:
    """A stored number as a float: ints, floats and the strings of special values ("inf": κ = ∞ in configs)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        return _SPECIAL.get(v.strip().lower())
    return None


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def parquet_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with one Parquet type per column; numbers stay numbers.

    Per object column, by what its non-missing values are:

    - numbers and special-value strings ("inf", "nan"): float64 (κ = ∞ is stored as the string "inf" in configs,
      so a κ column mixes 0.5 and "inf": it becomes a float column holding inf);
    - lists only: a list column (missing values as None); lists of numbers hold floats (inf and NaN included);
    - dicts, or lists mixed with scalars: their JSON text;
    - anything else mixed (numbers with words, booleans with numbers): strings (missing values as None).
    """
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        col = out[c]
        if col.dtype != object and not pd.api.types.is_string_dtype(col):
            continue  # already one numeric or boolean type
        present = [v for v in col if not _missing(v)]
        if not present:
            out[c] = col.map(lambda v: None)
        elif all(_as_float(v) is not None for v in present):
            if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
                out[c] = col.map(lambda v: None if _missing(v) else v).astype("Int64")
            else:
                out[c] = col.map(lambda v: math.nan if _missing(v) else _as_float(v)).astype("float64")
        elif all(isinstance(v, list) for v in present):
            out[c] = col.map(lambda v: _list_value(v) if isinstance(v, list) else None)
        elif all(isinstance(v, str) for v in present):
            out[c] = col.map(lambda v: None if _missing(v) else v)
        elif any(isinstance(v, (list, dict)) for v in present):
            out[c] = col.map(lambda v: None if _missing(v) else json.dumps(v))
        else:
            out[c] = col.map(lambda v: None if _missing(v) else str(v))
    return out


def _list_value(v: list):
    """A list for Parquet: numbers (special-value strings included) as floats, else each item's JSON text."""
    if all(_as_float(x) is not None for x in v):
        return [_as_float(x) for x in v]
    if all(isinstance(x, str) for x in v):
        return v
    return [json.dumps(x) for x in v]
