"""The dashboard's JSON API through Starlette's test client, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

import storage  # noqa: E402
from nas._dashboard._app import create_app  # noqa: E402
from tests.nas_tests.dashboard_tests.conftest import XSS  # noqa: E402
from tests.nas_tests.dashboard_tests.conftest import record  # noqa: E402

TOKEN = "s3cret-token-of-24-chars"


def rows(columns: dict) -> list[dict]:
    """The API's trial columns as one dict per trial, as the page builds them."""
    assert {len(v) for v in (columns["number"], columns["state"], columns["worker"],
                             columns["finished"], columns["ok"], *columns["metrics"].values())
            } == {len(columns["id"])}
    workers = columns["workers"]
    return [{"id": columns["id"][i], "n": columns["number"][i],
             "s": columns["states"][columns["state"][i]],
             "w": None if columns["worker"][i] is None else workers[columns["worker"][i]],
             "t1": columns["finished"][i], "ok": bool(columns["ok"][i]),
             "m": {k: v[i] for k, v in columns["metrics"].items() if v[i] is not None}}
            for i in range(len(columns["id"]))]


def client(url: str, **kwargs) -> TestClient:
    return TestClient(create_app(url, **kwargs), base_url="http://127.0.0.1")


def test_studies_have_counts_and_the_best_feasible_value_per_objective(filled: str) -> None:
    with client(filled) as c:
        body = c.get("/api/studies").json()
    by_name = {s["name"]: s for s in body["studies"]}
    hw = by_name["hw"]
    assert hw["counts"] == {"QUEUED": 0, "RUNNING": 1, "COMPLETE": 10, "FAILED": 1, "PRUNED": 0}
    # Trials 8 and 9 have more params but break sram_kb <= 7: the best feasible is trial 7.
    assert hw["best"]["params"]["value"] == 700.0 and hw["best"]["params"]["trial"] == 7
    assert hw["best"]["latency_ms"]["value"] == 1.0
    assert by_name["other"]["searcher"] == "tpe"
    assert "password" not in body["storage"]


def test_the_study_then_only_what_changed(filled: str) -> None:
    with client(filled) as c:
        first = c.get("/api/studies/hw").json()
        by_number = {r["n"]: r for r in rows(first["trials"])}
        assert len(by_number) == 12 and first["study"]["objectives"] == {"params": "max",
                                                                   "latency_ms": "min"}
        assert [by_number[i]["ok"] for i in range(10)] == [True] * 8 + [False] * 2
        assert by_number[3]["m"] == {"params": 300.0, "latency_ms": 4.0, "sram_kb": 3.0}
        assert by_number[10]["s"] == "FAILED" and by_number[11]["s"] == "RUNNING"
        assert by_number[11]["w"] == "w2" and by_number[11]["m"] == {}
        assert sorted(first["trials"]["metrics"]) == ["latency_ms", "params", "sram_kb"]

        later = (datetime.now(UTC) + timedelta(seconds=1)).replace(tzinfo=None)
        quiet = c.get("/api/studies/hw/changes", params={"since": later.isoformat() + "Z"}).json()
        assert quiet["trials"]["number"] == [11]  # only the RUNNING one

        with storage.connect(filled) as db:
            running = db.trials("hw", state="RUNNING")[0].id
            db.finish_trial(running, {"params": 50.0, "latency_ms": 0.5, "sram_kb": 1.0})
            (new,) = record(db, "hw", range(30, 31), lambda i: {"params": 1.0,
                                                               "latency_ms": 9.0})
        changed = c.get("/api/studies/hw/changes", params={"since": first["cursor"]}).json()
        got = {r["id"]: r for r in rows(changed["trials"])}
        assert got[running]["s"] == "COMPLETE" and got[running]["m"]["latency_ms"] == 0.5
        assert new in got and not got[new]["ok"]  # no sram_kb: the constraint fails
        assert c.get("/api/studies/hw/changes", params={"since": "soon"}).status_code == 400


def test_a_reload_brings_the_kept_columns_up_to_date(filled: str) -> None:
    # The server keeps each study's columns between loads: a reload must show what changed
    # since, and a study deleted and made again under its name must not show the old trials.
    with client(filled) as c:
        first = {r["n"]: r for r in rows(c.get("/api/studies/hw").json()["trials"])}
        with storage.connect(filled) as db:
            running = db.trials("hw", state="RUNNING")[0].id
            db.finish_trial(running, {"params": 50.0, "latency_ms": 0.5, "sram_kb": 1.0,
                                      "energy_mj": 2.0})
            (new,) = record(db, "hw", range(30, 31), lambda i: {"params": 1.0,
                                                               "latency_ms": 9.0})
        again = c.get("/api/studies/hw").json()
        second = {r["id"]: r for r in rows(again["trials"])}
        assert len(second) == len(first) + 1 and again["study"]["counts"]["RUNNING"] == 0
        assert second[running]["s"] == "COMPLETE" and second[running]["ok"]
        assert second[running]["m"] == {"params": 50.0, "latency_ms": 0.5, "sram_kb": 1.0,
                                        "energy_mj": 2.0}
        assert second[new]["m"] == {"params": 1.0, "latency_ms": 9.0} and not second[new]["ok"]
        assert second[running]["t1"] > 1.7e12  # epoch milliseconds
        unchanged = {r["n"]: r for r in second.values() if r["n"] < 10}
        assert unchanged == {n: r for n, r in first.items() if n < 10}

        with storage.connect(filled) as db:
            db.delete_study("hw", force=True)
            db.create_study("hw", objectives={"params": "max"}, searcher="random")
            record(db, "hw", range(40, 42), lambda i: {"params": float(i)})
        remade = rows(c.get("/api/studies/hw").json()["trials"])
        assert sorted(r["m"]["params"] for r in remade) == [40.0, 41.0]
        assert all(r["ok"] for r in remade)  # the new study has no constraint


def test_where_filters_use_the_safe_parser(filled: str) -> None:
    with client(filled) as c:
        ids = c.get("/api/studies/hw/match", params={"where": "latency_ms < 3 or params >= 900"})
        number = {r["id"]: r["n"] for r in rows(c.get("/api/studies/hw").json()["trials"])}
        assert sorted(number[i] for i in ids.json()["ids"]) == [0, 1, 9]
        for evil in ("__import__('os').system('true')", "1; DROP TABLE trials", "params <"):
            bad = c.get("/api/studies/hw/match", params={"where": evil})
            assert bad.status_code == 400 and "\n" not in bad.json()["error"]
        unknown = c.get("/api/studies/hw/match", params={"where": "accuracy > 0.5"})
        assert unknown.status_code == 400 and "latency_ms" in unknown.json()["error"]
    with storage.connect(filled) as db:
        assert len(db.trials("hw")) == 12


def test_csv_keeps_the_state_and_where_filters(filled: str) -> None:
    with client(filled) as c:
        response = c.get("/api/studies/hw/trials.csv",
                         params={"state": "COMPLETE", "where": "params >= 500"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [int(r["trial"]) for r in rows] == [5, 6, 7, 8, 9]
    assert rows[0]["params"] == "500.0" and rows[0]["state"] == "COMPLETE"


def test_a_trial_has_its_graph_costs_per_device_and_a_download(filled: str) -> None:
    with client(filled) as c:
        trials = rows(c.get("/api/studies/hw").json()["trials"])
        failed = next(r for r in trials if r["s"] == "FAILED")
        body = c.get(f"/api/trials/{failed['id']}").json()
        assert body["trial"]["error"] == "CUDA out of memory"
        assert body["trial"]["worker"] == "w1" and body["study"]["name"] == "hw"
        nodes = body["graph"]["nodes"]
        assert nodes[0]["op"] == "input" and nodes[-1]["op"] == "output"
        heads = [n for n in nodes if n["kind"] in ("softmax", "linear", "relu")]
        assert len(heads) == 2 * len(body["trial"]["arch"]["layers"])  # two heads per layer
        assert {n["row"] for n in heads[:2]} == {1}  # a layer's heads side by side
        assert len(body["graph"]["edges"]) >= len(nodes) - 1

        costs = {d["device"]: d for d in c.get(f"/api/trials/{failed['id']}/costs").json()
                 ["costs"]}
        assert costs["stm32f746"]["costs"]["sram_kb"] > 0
        assert costs["mpc-lan"]["costs"]["mpc_rounds"] > 0
        assert "nas calibrate --device cpu" in costs["cpu"]["error"]

        download = c.get(f"/api/trials/{failed['id']}/download")
        assert f"trial-{failed['id']}.json" in download.headers["content-disposition"]
        assert download.json()["error"] == "CUDA out of memory"
        missing = c.get("/api/trials/999999")
        assert missing.status_code == 404 and "999999" in missing.json()["error"]
        assert c.get("/api/studies/nope").status_code == 404


def test_every_api_call_needs_the_token_when_one_is_set(filled: str) -> None:
    with client(filled, token=TOKEN, loopback_only=False) as c:
        assert c.get("/").status_code == 200  # the page itself holds no data
        for path in ("/api/studies", "/api/studies/hw", "/api/studies/hw/trials.csv"):
            assert c.get(path).status_code == 401
            assert c.get(path, headers={"X-NAS-Token": TOKEN[:-1] + "x"}).status_code == 401
            assert c.get(path, headers={"X-NAS-Token": TOKEN}).status_code == 200
            assert c.get(path, params={"token": TOKEN}).status_code == 200


def test_loopback_answers_only_loopback_names_and_forbids_inline_script(filled: str) -> None:
    with client(filled) as c:
        page = c.get("/")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert c.get("/api/studies").status_code == 200
        assert c.get("/api/studies", headers={"host": "evil.example:8080"}).status_code == 400
        assert c.get("/static/app.js").headers["content-type"].startswith("text/javascript")


def test_user_data_comes_back_as_data(filled: str) -> None:
    with storage.connect(filled) as db:
        db.create_study(XSS, objectives={"<b>m</b>": "min"})
        record(db, XSS, range(1), lambda i: {"<b>m</b>": 1.0})
    with client(filled) as c:
        names = [s["name"] for s in c.get("/api/studies").json()["studies"]]
        assert XSS in names
        body = c.get(f"/api/studies/{XSS}").json()
        assert rows(body["trials"])[0]["m"] == {"<b>m</b>": 1.0}
        # JSON responses are never sniffed as HTML.
        assert c.get("/api/studies").headers["content-type"] == "application/json"


def test_the_dashboard_reads_through_a_read_only_connection(filled: str) -> None:
    from nas._dashboard._source import Source

    source = Source(filled)
    try:
        assert [s["name"] for s in source.studies()] == ["hw", "other"]
        with pytest.raises(storage.StorageInternalError, match="read-?only"):
            source._db.create_study("x", objectives={"a": "min"})
    finally:
        source.close()
