"""``/data``: the store's catalog, and uploads imported with the store's own checks."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from tests.api.conftest import submit, wait_for

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_catalog_lists_the_shipped_sample(api):
    body = api.get("/data").json()
    spx = [s for s in body["data"] if s["symbol"] == "SPX"]
    assert body["count"] == len(body["data"]) >= 2
    assert spx and spx[0]["timeframe"] == "1d" and spx[0]["bars"] > 4000
    assert spx[0]["first"].startswith("1999") and spx[0]["last"] > spx[0]["first"]


def test_an_uploaded_csv_is_imported_and_jobs_can_use_it(api):
    r = api.post(
        "/data",
        params={"symbol": "ACME", "timeframe": "1d", "name": "acme.csv"},
        content=(DATA / "yahoo_acme.csv").read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["rows_read"] == 6 and report["added"] == 6 and report["rows_bad"] == 0
    assert report["series"] == [{"symbol": "ACME", "timeframe": "1d", "added": 6, "changed": 0, "unchanged": 0}]
    assert any(s["symbol"] == "ACME" and s["bars"] == 6 for s in api.get("/data").json()["data"])

    again = api.post(
        "/data", params={"symbol": "ACME", "name": "acme.csv"}, content=(DATA / "yahoo_acme.csv").read_bytes()
    )
    assert again.status_code == 201 and again.json()["unchanged"] == 6 and again.json()["added"] == 0

    job = wait_for(
        api,
        submit(
            api,
            {"kind": "backtest", "strategy": "sma_cross", "data": {"symbol": "ACME"}, "params": {"fast": 2, "slow": 5}},
        )["id"],
    )
    assert job["status"] == "done", job["error"]


def test_an_uploaded_parquet_file_is_imported(api, sp500_df):
    buf = io.BytesIO()
    sp500_df.tail(300).to_parquet(buf, index=False)
    r = api.post(
        "/data",
        params={"symbol": "SPY300", "name": "spy.parquet"},
        content=buf.getvalue(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 300


def test_bad_rows_are_refused_with_the_reasons(api):
    r = api.post(
        "/data", params={"symbol": "BAD", "name": "bad_rows.csv"}, content=(DATA / "bad_rows.csv").read_bytes()
    )
    assert r.status_code == 422
    detail = r.json()["detail"][0]
    assert detail["loc"] == ["body"] and "bad_rows.csv" in detail["msg"]
    problems = detail["report"]["problems"]
    assert problems and all(p["source"] == "bad_rows.csv" and p["reason"] for p in problems)
    assert all(s["symbol"] != "BAD" for s in api.get("/data").json()["data"])

    kept = api.post(
        "/data",
        params={"symbol": "BAD", "name": "bad_rows.csv", "skip_bad": True},
        content=(DATA / "bad_rows.csv").read_bytes(),
    )
    assert kept.status_code == 201 and kept.json()["rows_skipped"] > 0


def test_files_that_are_not_bars_are_refused(api):
    for content, name in [
        (b"", "empty.csv"),
        (b"a,b\n1,2\n", "ab.csv"),
        (b"PAR1garbage", "x.parquet"),
        (pd.DataFrame({"x": [1]}).to_csv().encode(), "x.csv"),
    ]:
        r = api.post("/data", params={"symbol": "NOPE", "name": name}, content=content)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["detail"][0]["msg"]
    assert (
        api.post(
            "/data", params={"symbol": "X", "timeframe": "7 parsecs"}, content=(DATA / "yahoo_acme.csv").read_bytes()
        ).status_code
        == 422
    )


def test_jobs_see_bars_uploaded_after_earlier_jobs_read_the_symbol(api, sp500_df):
    spec = {
        "kind": "walk_forward",
        "strategy": "sma_cross",
        "data": {"symbol": "GROW"},
        "train": 60,
        "test": 20,
        "space": {"fast": [5], "slow": [20]},
    }
    first = sp500_df.iloc[-400:-300]
    buf = io.BytesIO()
    first.to_parquet(buf, index=False)
    assert (
        api.post("/data", params={"symbol": "GROW", "name": "grow.parquet"}, content=buf.getvalue()).status_code == 201
    )
    before = submit(api, spec)["items"]  # the service now holds GROW's 100 bars in memory
    buf = io.BytesIO()
    sp500_df.iloc[-300:].to_parquet(buf, index=False)
    assert (
        api.post("/data", params={"symbol": "GROW", "name": "more.parquet"}, content=buf.getvalue()).status_code == 201
    )
    after = submit(api, spec)["items"]
    assert after > before  # 400 bars make more walk-forward windows than 100


def test_upload_options_null_rows_and_delete(api):
    r = api.post(
        "/data",
        params={"symbol": "LAST", "name": "last_price.csv", "columns": "close=Last,volume=Vol.Traded"},
        content=(DATA / "last_price.csv").read_bytes(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 48 and r.json()["ignored_columns"] == []
    r = api.post(
        "/data", params={"symbol": "YNULL", "name": "yahoo_nulls.csv"}, content=(DATA / "yahoo_nulls.csv").read_bytes()
    )
    assert r.status_code == 201 and (r.json()["rows_empty"], r.json()["added"]) == (2, 30)
    r = api.post(
        "/data",
        params={"symbol": "DAYS", "name": "d.csv", "date_format": "%d/%m/%Y"},
        content=(DATA / "spx_ambiguous_dates.csv").read_bytes(),
    )
    assert r.status_code == 201 and r.json()["added"] == 7
    bad = api.post(
        "/data",
        params={"symbol": "DAYS", "name": "d.csv", "columns": "close"},
        content=(DATA / "spx_ambiguous_dates.csv").read_bytes(),
    )
    assert bad.status_code == 422 and "field=column" in bad.json()["detail"][0]["msg"]

    gone = api.delete("/data/LAST", params={"timeframe": "1h"})
    assert gone.status_code == 200, gone.text
    assert [(s["symbol"], s["timeframe"], s["bars"]) for s in gone.json()["data"]] == [("LAST", "1h", 48)]
    again = api.delete("/data/LAST")
    assert again.status_code == 404 and "no bars for symbol 'LAST'" in again.json()["detail"]
    assert all(s["symbol"] != "LAST" for s in api.get("/data").json()["data"])
