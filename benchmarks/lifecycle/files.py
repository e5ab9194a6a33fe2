"""The committed per-query files of a lifecycle run, under benchmarks/lifecycle/results/<set>/:

    run.json          the configuration, how the set was ordered and split, the rival's tuning, each feedback round
                      and each tune, the machine and the command
    scored.jsonl.gz   one row per scored query: queries used before it, nDCG@10, R@10 and first relevant rank of
                      every system, whether its document held a real or feedback query by then
    use.jsonl.gz      one row per used query: its rank when searched, click / fix / thumbs-down, and what the
                      feedback round that handled it did

Gzip is written with mtime 0, so the same run gives the same bytes.
"""
from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
RUN, SCORED, USE, TABLE, CURVE = "run.json", "scored.jsonl.gz", "use.jsonl.gz", "table.md", "curve.png"


def _write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        f.write("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows).encode("utf-8"))
    path.write_bytes(buf.getvalue())


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_json_gz(path: Path, record: dict[str, Any]) -> None:
    """One JSON record, gzip-compressed the same way (the studies of users' queries keep theirs so)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:
        f.write(json.dumps(record, sort_keys=True).encode("utf-8"))
    path.write_bytes(buf.getvalue())


def read_json_gz(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def write_run(folder: Path, result: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN).write_text(json.dumps(result["run"], indent=1, sort_keys=True) + "\n", encoding="utf-8")
    _write_jsonl_gz(folder / SCORED, result["scored"])
    _write_jsonl_gz(folder / USE, result["use"])


def read_run(folder: Path) -> dict[str, Any]:
    return {"run": json.loads((folder / RUN).read_text(encoding="utf-8")),
            "scored": _read_jsonl_gz(folder / SCORED), "use": _read_jsonl_gz(folder / USE)}
