# Shopfloor server image: `docker build -t shopfloor .`
# Stage 1 installs the pinned dependencies (CPU-only PyTorch through constraints.txt) into a virtual
# environment; stage 2 copies that environment into a slim image that runs as an unprivileged user.
# One image serves every role: `shopfloor serve --role api|worker|all` and `dask worker`.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/shopfloor && /opt/shopfloor/bin/pip install -q -U pip
WORKDIR /src
COPY requirements.lock constraints.txt ./
# torch==2.13.0+cpu is pinned in requirements.lock; the CPU wheel index is the only one that has it,
# so no CUDA library can be pulled in.
RUN /opt/shopfloor/bin/pip install -q \
        --extra-index-url https://download.pytorch.org/whl/cpu \
        -c constraints.txt -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/shopfloor/bin/pip install -q --no-deps . \
    && find /opt/shopfloor -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 shopfloor \
    && useradd --system --uid 10001 --gid shopfloor --home-dir /var/lib/shopfloor --create-home shopfloor
COPY --from=build /opt/shopfloor /opt/shopfloor
ENV PATH=/opt/shopfloor/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SHOPFLOOR_HOME=/var/lib/shopfloor \
    SHOPFLOOR_HOST=0.0.0.0 \
    SHOPFLOOR_PORT=8000
USER 10001:10001
WORKDIR /var/lib/shopfloor
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["shopfloor"]
CMD ["serve", "--role", "all"]
