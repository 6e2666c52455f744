"""Personal data is masked before a table is stored or profiled; the policy is the tenant's own."""

from __future__ import annotations

import pandas as pd

from conftest import Api

ORDERS = (
    "order,text,hours\n"
    "1,Ann Lee replaced hyd pump seal; call +49 89 1234 5678,2.5\n"
    "2,bucket cyl leaking - report to ann.lee@plant.example,1.0\n"
    "3,Annual service done by A. Lee,4.0\n"
    "4,L/H BUCKET CYL LEAKING.,0.5\n"
)


def _upload(api: Api, name: str) -> dict:
    response = api.client.post(
        "/v1/datasets",
        files={"file": (f"{name}.csv", ORDERS.encode(), "text/csv")},
        data={"name": name},
        headers=api.headers("builder"),
    )
    assert response.status_code == 201, response.text
    return response.json()


def _stored_texts(api: Api, dataset_id: str) -> list[str]:
    from shopfloor.services.datasets import load_frame

    dataset = api.platform.store.get_dataset("default", dataset_id)
    return load_frame(api.platform, dataset)["text"].tolist()


def test_builtin_detectors_mask_before_storing_and_profiling(api: Api) -> None:
    dataset = _upload(api, "orders")
    assert dataset["masking"]["totals"] == {"phone": 1, "email": 1}
    assert dataset["masking"]["columns"] == {"text": {"phone": 1, "email": 1}}
    texts = _stored_texts(api, dataset["id"])
    assert "[PHONE]" in texts[0] and "[EMAIL]" in texts[1] and "+49" not in " ".join(texts)
    profile = next(c for c in dataset["columns"] if c["name"] == "text")
    assert "ann.lee@plant.example" not in str(profile)


def test_tenant_names_and_reversible_pseudonyms(api: Api) -> None:
    admin = api.headers("admin")
    body = {"names": ["Ann Lee"], "patterns": [{"name": "ORDER", "regex": r"WO-\d{6}"}], "reversible": True}
    response = api.client.put("/v1/masking", json=body, headers=admin)
    assert response.status_code == 200, response.text
    assert api.client.get("/v1/masking", headers=admin).json() == body
    dataset = _upload(api, "orders-named")
    assert dataset["masking"]["totals"]["name"] == 2  # "Ann Lee" and "A. Lee"; "Annual" untouched
    texts = _stored_texts(api, dataset["id"])
    tokens = {word.strip(";,.") for text in texts for word in text.split() if word.startswith("[NAME_")}
    assert len(tokens) == 1, texts  # one person, one stable pseudonym
    assert texts[2].startswith("Annual service")
    preview = api.client.post("/v1/masking/preview", json={"text": "Ann Lee, WO-123456"}, headers=admin)
    assert preview.status_code == 200
    assert preview.json()["counts"] == {"name": 1, "ORDER": 1}
    assert tokens.pop() in preview.json()["text"]


def test_bad_policies_are_refused_with_their_place(api: Api) -> None:
    admin = api.headers("admin")
    regex = ["body", "patterns", 0, "regex"]
    cases = {
        "empty match": ({"patterns": [{"name": "X", "regex": "a*"}]}, regex),
        "nested quantifier": ({"patterns": [{"name": "X", "regex": "(a+)+b"}]}, regex),
        "bad regex": ({"patterns": [{"name": "X", "regex": "(unclosed"}]}, regex),
        "blank name": ({"names": [" "]}, ["body", "names", 0]),
    }
    for case, (body, loc) in cases.items():
        response = api.client.put("/v1/masking", json=body, headers=admin)
        assert response.status_code == 422, (case, response.text)
        assert response.json()["errors"][0]["loc"] == loc, (case, response.json())
    assert api.client.get("/v1/masking", headers=admin).json()["names"] == []
    builder = api.client.put("/v1/masking", json={"names": ["Ann Lee"]}, headers=api.headers("builder"))
    assert builder.status_code == 403


def test_numbers_are_left_alone(api: Api) -> None:
    frame = pd.DataFrame({"part": ["SN 4471-22", "P/N 0815-4471"], "torque": [45.5, 12.0]})
    response = api.client.post(
        "/v1/datasets",
        files={"file": ("parts.csv", frame.to_csv(index=False).encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert response.status_code == 201 and response.json()["masking"] is None
    from shopfloor.services.datasets import load_frame

    stored = load_frame(api.platform, api.platform.store.get_dataset("default", response.json()["id"]))
    assert stored["part"].tolist() == ["SN 4471-22", "P/N 0815-4471"]
