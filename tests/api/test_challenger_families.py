"""Every family in shadow: one trained model of each (tests/zoo.py) with a copy of its version 1 as the
challenger; predict (and stream score where the family streams) answer with the champion, the
challenger's answers are recorded beside them, and the report's agreement, by the kind of outcome
the family declares, is complete (the two sides are the same model)."""

from __future__ import annotations

import json
from typing import Any

from shopfloor.jobs.registering import register_version
from shopfloor.tasks import catalog
from zoo import Member, build_zoo

Api = Any
#: Full agreement by the kind of outcome a family declares.
AGREED = {
    "label": ("same_class", 1.0),
    "value": ("mean_abs_difference", 0.0),
    "alarm": ("alarm_agreement", 1.0),
}


def _zoo_with_challengers(api: Api) -> dict[str, Member]:
    """The zoo, each model with version 2 a copy of version 1 (its files stored again) and production at 1."""
    zoo = build_zoo(api)
    store, sealed = api.platform.store, api.platform.sealed
    for member in zoo.values():
        mv = store.get_version("default", member.name, 1)
        files = {f: sealed.get("default", f"{mv.artifact}/{f}", digest) for f, digest in mv.files.items()}
        register_version(
            api.platform, tenant="default", model=member.name, task=mv.task, files=files, report=mv.report,
            input_schema=mv.input_schema, lineage=mv.lineage,
        )
        store.set_alias("default", member.name, "production", 1)
    return zoo


def _send(api: Api, member: Member, route: str, request_id: str) -> None:
    headers = {**api.headers("consumer"), "X-Request-ID": request_id}
    url = f"/v1/models/{member.name}/{route}"
    response = api.client.post(url, json={"records": member.records}, headers=headers)
    assert response.status_code == 200, (member.task, route, response.text)
    assert response.json()["version"] == 1, member.task


def test_every_family_runs_its_challenger_in_shadow(api_with: Any) -> None:
    api = api_with(_zoo_with_challengers)
    zoo: dict[str, Member] = api.made
    builder = api.headers("builder")
    checked = []
    for family, member in zoo.items():
        caps = catalog.capabilities(member.task)
        setting = f"/v1/models/{member.name}/challenger"
        shadow = api.client.put(setting, json={"mode": "shadow", "version": 2}, headers=builder)
        assert shadow.status_code == 200, shadow.text
        routes = [r for r, served in (("predict", caps.predict), ("score", caps.stream)) if served]
        for route in routes:
            _send(api, member, route, f"{family}-{route}")
        assert api.platform.challengers.queue.wait_idle(60)
        api.platform.prediction_log.flush()
        exported = api.client.get(f"/v1/models/{member.name}/predictions", headers=builder)
        rows = [json.loads(line) for line in exported.text.splitlines()]
        for route in routes:
            mine = [r for r in rows if r["request_id"] == f"{family}-{route}"]
            sides = {(r["source"], r["version"]) for r in mine}
            assert sides == {("champion:served", 1), ("challenger:shadow", 2)}, (family, route, mine)
            champion = [r["answer"] for r in mine if r["source"] == "champion:served"]
            challenger = [r["answer"] for r in mine if r["source"] == "challenger:shadow"]
            assert champion and len(champion) == len(challenger), (family, route, mine)
            assert json.dumps(champion, sort_keys=True) == json.dumps(challenger, sort_keys=True), family
        report = api.client.get(f"/v1/models/{member.name}/challenger/report", headers=builder).json()
        assert report["compared"]["records"] == len(rows) // 2, report
        assert caps.outcomes is not None and report["kind"] == caps.outcomes.kind, report
        measure, value = AGREED[caps.outcomes.kind]
        assert report["agreement"]["measure"] == measure and report["agreement"]["value"] == value, report
        if caps.stream:  # the challenger continued a stream state of its own
            assert api.platform.store.list_stream_assets("default", member.name, 2), family
        assert api.client.put(setting, json={"mode": "off"}, headers=builder).status_code == 200
        checked.append((family, tuple(routes)))
    assert len(checked) == len(zoo) and sum("score" in routes for _, routes in checked) >= 2
