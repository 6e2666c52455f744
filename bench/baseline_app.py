"""The baseline for bench/serve_tabular.py: the least a FastAPI + uvicorn predict endpoint can do.

It loads the model files Shopfloor stored (exported into ``--model-dir`` with a
``task`` file naming the task family) through the same estimator class and
calls the same ``estimator.predict(records)``; no authentication, no
validation, no metrics, no access log. The difference from Shopfloor's
``POST /v1/models/{name}/predict`` is therefore framework and platform overhead.

    python bench/baseline_app.py --model-dir DIR --port 8100 --workers 2
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

MODEL_DIR_ENV = "BASELINE_MODEL_DIR"
TASK_FILE = "task"


def load_estimator(model_dir: Path) -> Any:
    from shopfloor.tasks.catalog import estimator_class

    task = (model_dir / TASK_FILE).read_text().strip()
    files = {p.name: p.read_bytes() for p in model_dir.iterdir() if p.is_file() and p.name != TASK_FILE}
    return estimator_class(task).load(files)


def create_app() -> FastAPI:
    """Factory run in each uvicorn worker; the model directory comes from ``BASELINE_MODEL_DIR``."""
    estimator = load_estimator(Path(os.environ[MODEL_DIR_ENV]))
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {"predictions": estimator.predict(body["records"])}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ[MODEL_DIR_ENV] = str(args.model_dir.resolve())  # inherited by the worker processes
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    uvicorn.run("baseline_app:create_app", factory=True, app_dir=str(Path(__file__).resolve().parent),
                host=args.host, port=args.port, workers=args.workers, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
