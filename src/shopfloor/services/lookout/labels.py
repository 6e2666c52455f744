"""Label groups and labels: time ranges of the equipment's history rated ANOMALY, NO_ANOMALY or
NEUTRAL, kept in the registry. A model of the facade reads its label group's ranges
(:func:`anomaly_ranges`) to evaluate, never to learn from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.registry.clock import now
from shopfloor.registry.ids import new_id
from shopfloor.registry.lookout_data_entities import Label, LabelGroup
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services import audit
from shopfloor.services.lookout.operations import Operation, arn, epoch, page, parse, table

GROUP = r"^[0-9a-zA-Z_-]{1,200}$"
Time = AwareDatetime | float


def _when(value: Time) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromtimestamp(float(value), UTC)


class CreateGroup(BaseModel):
    model_config = ConfigDict(extra="ignore")
    LabelGroupName: str = Field(pattern=GROUP)
    FaultCodes: list[str] = Field(default_factory=list, max_length=50)
    ClientToken: str = Field(min_length=1, max_length=256)


class GroupName(BaseModel):
    LabelGroupName: str = Field(pattern=GROUP)


class UpdateGroup(GroupName):
    FaultCodes: list[str] = Field(default_factory=list, max_length=50)


class ListGroups(BaseModel):
    LabelGroupNameBeginsWith: str | None = None
    NextToken: str | None = None
    MaxResults: int | None = None


class CreateLabel(BaseModel):
    model_config = ConfigDict(extra="ignore")
    LabelGroupName: str = Field(pattern=GROUP)
    StartTime: Time
    EndTime: Time
    Rating: Literal["ANOMALY", "NO_ANOMALY", "NEUTRAL"]
    FaultCode: str | None = Field(None, max_length=200)
    Notes: str | None = Field(None, max_length=1024)
    Equipment: str | None = Field(None, max_length=200)
    ClientToken: str = Field(min_length=1, max_length=256)

    @field_validator("StartTime", "EndTime")
    @classmethod
    def _finite(cls, value: Time) -> Time:
        if isinstance(value, float) and not (0 <= value < 253402300800):
            raise ValueError("a time in seconds since 1970")
        return value


class LabelRef(GroupName):
    LabelId: str = Field(min_length=1, max_length=40)


class ListLabels(GroupName):
    IntervalStartTime: Time | None = None
    IntervalEndTime: Time | None = None
    FaultCode: str | None = None
    Equipment: str | None = None
    NextToken: str | None = None
    MaxResults: int | None = None


def _group_view(principal: Principal, g: LabelGroup) -> dict[str, Any]:
    return {
        "LabelGroupName": g.name,
        "LabelGroupArn": arn(principal, "label-group", g.name),
        "CreatedAt": epoch(g.created_at),
        "UpdatedAt": epoch(g.updated_at),
    }


def _label_view(principal: Principal, label: Label) -> dict[str, Any]:
    return {
        "LabelGroupName": label.group,
        "LabelId": label.id,
        "LabelGroupArn": arn(principal, "label-group", label.group),
        "StartTime": epoch(label.start),
        "EndTime": epoch(label.end),
        "Rating": label.rating,
        "FaultCode": label.fault_code,
        "Equipment": label.equipment,
        "CreatedAt": epoch(label.created_at),
    }


def create_group(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateGroup, request)
    group = platform.store.add_label_group(
        LabelGroup(principal.tenant, req.LabelGroupName, req.FaultCodes, req.ClientToken, now(), now())
    )
    audit.record(platform, principal, "lookout.label_group.create", group.name)
    return {"LabelGroupName": group.name, "LabelGroupArn": arn(principal, "label-group", group.name)}


def describe_group(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    group = platform.store.get_label_group(principal.tenant, parse(GroupName, request).LabelGroupName)
    return {**_group_view(principal, group), "FaultCodes": group.fault_codes}


def list_groups(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListGroups, request)
    groups = platform.store.list_label_groups(principal.tenant, req.LabelGroupNameBeginsWith)
    chunk, token = page(groups, req.NextToken, req.MaxResults)
    return {"LabelGroupSummaries": [_group_view(principal, g) for g in chunk], "NextToken": token}


def update_group(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(UpdateGroup, request)
    platform.store.update_label_group(principal.tenant, req.LabelGroupName, req.FaultCodes)
    audit.record(platform, principal, "lookout.label_group.update", req.LabelGroupName)
    return {}


def delete_group(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    name = parse(GroupName, request).LabelGroupName
    platform.store.delete_label_group(principal.tenant, name)
    audit.record(platform, principal, "lookout.label_group.delete", name)
    return {}


def create_label(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(CreateLabel, request)
    start, end = _when(req.StartTime), _when(req.EndTime)
    if end <= start:
        raise InvalidInput(
            "EndTime must be after StartTime",
            errors=[{"loc": ["body", "EndTime"], "msg": "not after StartTime"}],
        )
    group = platform.store.get_label_group(principal.tenant, req.LabelGroupName)
    if req.FaultCode is not None and group.fault_codes and req.FaultCode not in group.fault_codes:
        raise InvalidInput(
            f"FaultCode {req.FaultCode!r} is not one of label group {group.name!r}'s: "
            + ", ".join(group.fault_codes),
            errors=[{"loc": ["body", "FaultCode"], "msg": "unknown fault code"}],
        )
    label = platform.store.add_label(
        Label(
            id=new_id("label"),
            tenant=principal.tenant,
            group=group.name,
            start=start,
            end=end,
            rating=req.Rating,
            client_token=req.ClientToken,
            created_at=now(),
            fault_code=req.FaultCode,
            notes=req.Notes,
            equipment=req.Equipment,
        )
    )
    audit.record(platform, principal, "lookout.label.create", label.id, group=group.name, rating=label.rating)
    return {"LabelId": label.id}


def describe_label(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(LabelRef, request)
    label = platform.store.get_label(principal.tenant, req.LabelGroupName, req.LabelId)
    return {**_label_view(principal, label), "Notes": label.notes}


def list_labels(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(ListLabels, request)
    start = _when(req.IntervalStartTime) if req.IntervalStartTime is not None else None
    end = _when(req.IntervalEndTime) if req.IntervalEndTime is not None else None
    labels = [
        label
        for label in platform.store.list_labels(principal.tenant, req.LabelGroupName, start, end)
        if (req.FaultCode is None or label.fault_code == req.FaultCode)
        and (req.Equipment is None or label.equipment == req.Equipment)
    ]
    chunk, token = page(labels, req.NextToken, req.MaxResults)
    return {"LabelSummaries": [_label_view(principal, label) for label in chunk], "NextToken": token}


def delete_label(platform: Platform, principal: Principal, request: dict[str, Any]) -> dict[str, Any]:
    req = parse(LabelRef, request)
    platform.store.delete_label(principal.tenant, req.LabelGroupName, req.LabelId)
    audit.record(platform, principal, "lookout.label.delete", req.LabelId, group=req.LabelGroupName)
    return {}


def anomaly_ranges(platform: Platform, tenant: str, group: str) -> list[tuple[datetime, datetime]]:
    """The ``(start, end)`` of the group's labels rated ANOMALY, in time order (NotFound for an
    unknown group): what a model of the facade evaluates its detections against."""
    return [(x.start, x.end) for x in platform.store.list_labels(tenant, group) if x.rating == "ANOMALY"]


OPERATIONS = table(
    Operation("CreateLabelGroup", Permission.DATASETS_WRITE, create_group),
    Operation("DescribeLabelGroup", Permission.DATASETS_READ, describe_group),
    Operation("ListLabelGroups", Permission.DATASETS_READ, list_groups),
    Operation("UpdateLabelGroup", Permission.DATASETS_WRITE, update_group),
    Operation("DeleteLabelGroup", Permission.DATASETS_WRITE, delete_group),
    Operation("CreateLabel", Permission.DATASETS_WRITE, create_label),
    Operation("DescribeLabel", Permission.DATASETS_READ, describe_label),
    Operation("ListLabels", Permission.DATASETS_READ, list_labels),
    Operation("DeleteLabel", Permission.DATASETS_WRITE, delete_label),
)
