"""Form input checked by the API's own request models, so that the console accepts exactly what
the API accepts and reports a mistake at the field where it was made."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shopfloor.errors import InvalidInput

Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], body: dict[str, Any], what: str, root: str = "body") -> Model:
    """``body`` as a ``model``; :class:`InvalidInput` naming up to five places
    (``root.field.index``) when it does not validate."""
    try:
        return model(**body)
    except ValidationError as exc:
        errors = [{"loc": [root, *map(str, e["loc"])], "msg": e["msg"]} for e in exc.errors()]
        where = "; ".join(f"{'.'.join(e['loc'][1:]) or root}: {e['msg']}" for e in errors[:5])
        raise InvalidInput(f"the {what} is not valid: {where}", errors=errors) from None
