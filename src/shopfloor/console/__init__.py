"""The browser console: server-rendered pages over the same services as the API.

``install(app)`` adds its pages, its static files and its error pages to the API's app. Pages read
the families' declarations (``tasks.catalog``) and name none of them.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from shopfloor.console import (
    admin,
    alerts,
    datasets,
    home,
    jobs,
    models,
    monitoring,
    optimise,
    retraining,
    scoring,
    signin,
    train,
    tryit,
)
from shopfloor.console.errors import TAG, html_problem
from shopfloor.console.render import HERE, STATIC_URL

__all__ = ["html_problem", "install"]


def install(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="console-static")
    pages = (signin, home, datasets, train, jobs, scoring, models, monitoring, retraining, alerts, tryit)
    for module in (*pages, optimise, admin):
        app.include_router(module.router, tags=[TAG], include_in_schema=False)
