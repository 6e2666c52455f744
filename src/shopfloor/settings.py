"""One settings tree for the whole platform, read from ``SHOPFLOOR_*`` environment variables.

Nothing else in the package reads ``os.environ`` for configuration: build a
:class:`Settings` with :func:`get_settings` (cached) or directly in tests.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import (
    AliasChoices,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

#: An S3 bucket name as AWS, MinIO and Ceph all accept it.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
#: A DNS host name (labels of letters, digits and '-'), as webhook targets name them.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")


class Settings(BaseSettings):
    """Every ``SHOPFLOOR_`` setting, with its default for the embedded (laptop) mode."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    home: Path = Field(
        Path(".shopfloor"), description="Directory for the SQLite registry, artifacts and run files."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the registry; default: SQLite file in the home directory."
    )
    artifacts_url: str | None = Field(
        None, description="Where datasets and model artifacts live; default: file://<home>/artifacts."
    )
    s3_endpoint_url: str | None = Field(
        None,
        description="Endpoint of the S3-compatible store of an s3:// artifacts URL (MinIO, Ceph RGW: "
        "http(s)://host:port); none means AWS S3 itself.",
    )
    s3_region: str | None = Field(
        None, description="Region of the s3:// bucket (AWS S3; MinIO and Ceph accept any)."
    )
    s3_access_key_id: str | None = Field(
        None, description="Access key id for the s3:// store; none: the usual AWS credential chain."
    )
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret access key for the s3:// store.")
    s3_timeout_s: float = Field(
        3.0,
        gt=0,
        le=300,
        description="Connect and read timeout of each call to the s3:// store: an endpoint that does "
        "not answer fails a request within (attempts x timeout), then answers 503.",
    )
    s3_max_attempts: int = Field(
        2, ge=1, le=10, description="Attempts per call to the s3:// store (first try included)."
    )
    artifact_cache_dir: Path | None = Field(
        None,
        description="With s3:// artifacts: where each host keeps the model files it loaded, by content "
        "digest and sealed with the tenant's key; default: <home>/artifact-cache.",
    )
    artifact_cache_mb: float = Field(
        4096.0, gt=0, description="Most MB the local artifact cache keeps; the least recently used go first."
    )
    store_outage_wait_s: float = Field(
        600.0,
        ge=0,
        description="How long a job whose result is ready waits for an unreachable artifact store "
        "before it fails (a trained model is not thrown away for a short outage).",
    )
    host: str = Field("127.0.0.1", description="Address `shopfloor serve` binds to.")
    port: int = Field(8000, description="Port `shopfloor serve` listens on.")
    workers: int = Field(1, ge=1, description="Number of API worker processes.")
    role: Literal["api", "worker", "all"] = Field(
        "all",
        description="What `shopfloor serve` runs: `api` (HTTP only), `worker` (the job runner only, "
        "no HTTP port) or `all` (both).",
    )
    job_workers: int = Field(
        1, ge=1, description="How many jobs run at the same time (each in its own process)."
    )
    job_threads: int = Field(
        2,
        ge=1,
        le=256,
        description="Threads one job's fits may use (LightGBM, scikit-learn, torch). Give each job "
        "its share of the host's cores when several run side by side: a Dask worker started with "
        "`--nthreads 1` on a host with as many workers as cores runs with 1.",
    )
    mode: Literal["development", "production"] = Field(
        "development", description="`production` refuses to start without an explicit secret key."
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Server secret used to hash API keys; default: generated once into <home>/secret.key.",
    )
    master_key: SecretStr | None = Field(
        None,
        description="Master key (64 hex characters, 256 bits) that wraps every tenant's data key; "
        "default: generated once into <home>/master.key (development mode only).",
    )
    master_key_file: Path | None = Field(
        None, description="A file holding the master key instead of SHOPFLOOR_MASTER_KEY."
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="Operator token for GET /metrics (at least 32 characters): every tenant's series "
        "and the process metrics; tenant admin and metrics keys see only their tenant's series.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (JSON list); none by default.",
    )
    rate_limit_per_minute: int = Field(
        6000, ge=1, description="Requests per minute per API key (default for tenants without their own)."
    )
    tenant_requests_per_minute: int = Field(
        30000, ge=1, description="Requests per minute per tenant (default for tenants without their own)."
    )
    tenant_max_concurrent_jobs: int = Field(
        4, ge=1, description="Queued plus running jobs per tenant (default for tenants without their own)."
    )
    tenant_max_storage_mb: float = Field(
        20480.0, gt=0, description="Stored datasets and artifacts per tenant, in MB (default)."
    )
    max_upload_mb: float = Field(200.0, gt=0, description="Largest accepted dataset upload, in MB.")
    max_records_per_request: int = Field(
        1000, ge=1, description="Most records in one predict or explain call."
    )
    tenant_heavy_requests: int = Field(
        1,
        ge=1,
        description="CPU-heavy requests (explain, synchronous optimize, forecast, hub embed and classify, "
        "dataset and batch uploads) "
        "one tenant runs at once in each API process; more wait up to 10 s for a slot, then get a 429.",
    )
    model_cache_size: int = Field(16, ge=1, description="Loaded models kept in memory per API process.")
    predict_batch_wait_ms: float = Field(
        1.0,
        ge=0,
        le=50,
        description="Online predict: requests for the same model version that an API process reads "
        "together are scored in one model call; a batch waits at most this long for its requests "
        "(0: no batching). A request alone never waits.",
    )
    predict_batch_max_records: int = Field(
        256, ge=1, description="Most records one batched model call of online predict scores."
    )
    hub_dir: Path | None = Field(
        None,
        description="Folder of local sentence-transformers / Hugging Face checkpoints served by the hub "
        "besides the built-in all-MiniLM-L6-v2 (one sub-folder per model).",
    )
    hub_cache: Path | None = Field(
        None,
        description="Where the hub keeps the ONNX exports of its text encoders, made once on first use "
        "(several servers may share it); default: <home>/hub-cache.",
    )
    hub_variant: Literal["torch", "onnx", "int8"] = Field(
        "int8", description="How the hub runs text encoders unless a request names one."
    )
    vision_backbone_dir: Path | None = Field(
        None,
        description="Folder holding a pretrained ResNet with basic blocks (torchvision resnet18/34 "
        "tensor names) as model.safetensors: image classification fine-tunes it and image anomaly "
        "detection takes its patch features from it; without it both work from scratch. Jobs "
        "name it `default` in options.backbone.",
    )
    vision_backbones_dir: Path | None = Field(
        None,
        description="Folder whose sub-folders each hold another pretrained ResNet as model.safetensors; "
        "an image job picks one by its sub-folder name in options.backbone (names only, never paths).",
    )
    stream_assets_per_model: int = Field(
        10000,
        ge=1,
        description="Assets whose streaming window is kept per model version; the least recent go first.",
    )
    stream_cache_mb: float = Field(
        64.0,
        ge=0,
        description="Memory per API process for the stream states it last wrote (sealed, as in the "
        "registry): the next call of such a stream skips the registry read, and its write applies only "
        "if no other process moved the stream meanwhile. 0: every call reads the registry.",
    )
    prediction_log_buffer: int = Field(
        100_000,
        ge=100,
        description="Logged predictions one API or job process buffers before writing them; beyond it "
        "new ones are dropped and counted (shopfloor_prediction_log_records_total{outcome=\"dropped\"}).",
    )
    prediction_log_flush_s: float = Field(
        1.0, gt=0, le=60, description="How often each process writes its buffered logged predictions."
    )
    prediction_log_max_record_kb: int = Field(
        64,
        ge=1,
        le=10240,
        description="Largest logged entry (inputs and answer), in KiB; larger inputs are logged as their "
        "size and SHA-256 only.",
    )
    prediction_log_retention_days: int = Field(
        30,
        ge=1,
        le=3650,
        description="Days logged predictions and their feedback are kept (default for tenants without "
        "their own, see `shopfloor tenants retention set`).",
    )
    challenger_queue: int = Field(
        1000,
        ge=1,
        description="Requests one API process keeps waiting for a challenger's run off the request path "
        "(shadow, and the other side of a canary); beyond it new ones are dropped and counted "
        "(shopfloor_challenger_requests_total{outcome=\"dropped\"}).",
    )
    challenger_threads: int = Field(
        1,
        ge=1,
        le=16,
        description="Threads per API process that run challengers off the request path (the requests of "
        "one model always on the same thread, in order).",
    )
    prediction_log_sweep_s: float = Field(
        600.0,
        gt=0,
        description="How often each API process removes logged predictions past their retention (safe "
        "with several servers sweeping at once).",
    )
    job_poll_interval_s: float = Field(
        0.5, gt=0, description="How often the job runner looks for queued jobs."
    )
    job_heartbeat_timeout_s: float = Field(
        60.0, gt=0, description="A running job whose heartbeat is older than this is marked failed."
    )
    dask_scheduler: str | None = Field(
        None,
        description="Address of a Dask scheduler (tcp://host:8786 or tls://...): jobs then run on its "
        "workers, started with `dask worker` and the same SHOPFLOOR_ settings; default: jobs run "
        "in local processes.",
    )
    default_time_budget_s: float = Field(
        300.0, gt=0, description="Training time budget when a job gives none."
    )
    access_log: bool = Field(False, description="Log every request (costs throughput on the predict path).")
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json`: every log line of the API, runner and job processes is one JSON object "
        "(time, level, logger, message, request_id, tenant, job_id).",
    )
    otlp_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "SHOPFLOOR_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "otlp_endpoint"
        ),
        description="Base URL of an OTLP/HTTP collector (also read from OTEL_EXPORTER_OTLP_ENDPOINT); "
        "spans go to <url>/v1/traces. Unset: no tracing, nothing of OpenTelemetry is loaded.",
    )
    otel_service_name: str = Field(
        "shopfloor", max_length=100, description="The service.name of the spans this server sends."
    )
    shutdown_grace_s: int = Field(
        8,
        ge=1,
        le=3600,
        description="Seconds open HTTP requests get to finish after SIGTERM (new connections are refused "
        "meanwhile); then their connections are closed.",
    )
    job_drain_s: float = Field(
        30.0,
        ge=0,
        le=86400,
        description="Seconds running jobs get to finish after SIGTERM; a job still running then is "
        "stopped and handed back to the queue (queued again, its attempt counted) for the next runner.",
    )
    lookout_scheduler_poll_s: float = Field(
        15.0,
        ge=0,
        le=3600,
        description="How often each API process looks for Lookout for Equipment inference scheduler windows "
        "that are due (every process and host may: each window is scored by one of them); 0: this process "
        "runs none.",
    )
    alert_eval_interval_s: float = Field(
        30.0,
        ge=0,
        le=86400,
        description="How often each API process evaluates the alert rules that are due (every process "
        "and host may: each rule is evaluated by one of them per interval); 0: this process evaluates none.",
    )
    alert_delivery_poll_s: float = Field(
        1.0,
        ge=0,
        le=3600,
        description="How often each API process looks for alert webhooks to send or retry; 0: none.",
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names alert webhooks may go to (JSON list; `*.example.com` allows its "
        "sub-domains). None by default: a rule with a webhook target is refused.",
    )
    webhook_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks (CIDR, JSON list) whose addresses alert webhooks may go to, whatever "
        "the host name; checked again on every delivery against the addresses the name resolves to.",
    )
    webhook_timeout_s: float = Field(
        5.0, gt=0, le=120, description="Timeout of one webhook delivery attempt, in seconds."
    )
    webhook_max_attempts: int = Field(
        6, ge=1, le=20, description="Attempts per webhook delivery (first one included)."
    )
    webhook_backoff_s: float = Field(
        5.0, gt=0, le=3600, description="Wait before the first retry of a webhook; doubled for each next one."
    )
    webhook_backoff_max_s: float = Field(
        600.0, gt=0, le=86400, description="Longest wait between two attempts of one webhook delivery."
    )
    source_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names of the S3-compatible endpoints tenants may register as sources "
        "(JSON list; `*.example.com` allows its sub-domains). None by default: no source can be added.",
    )
    source_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks (CIDR, JSON list) whose addresses source endpoints may be at, whatever "
        "the host name; checked when a source is added and again on every call to it.",
    )
    source_timeout_s: float = Field(
        5.0,
        gt=0,
        le=300,
        description="Connect and read timeout of each call to a tenant's source, in seconds.",
    )
    source_max_attempts: int = Field(
        2, ge=1, le=10, description="Attempts per call to a tenant's source (first try included)."
    )
    alert_delivery_retention_days: float = Field(
        30.0, gt=0, description="Finished webhook deliveries older than this are deleted."
    )
    data_dir: Path = Field(
        Path(__file__).resolve().parents[2].parent / "shared" / "data",
        description="Where the sample datasets live (tests and benchmarks only).",
    )

    @field_validator("otlp_endpoint")
    @classmethod
    def _http_endpoint(cls, url: str | None) -> str | None:
        if url is not None and not url.strip():
            return None
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("the OTLP endpoint must be an http:// or https:// URL (OTLP over HTTP)")
        return url

    @field_validator("webhook_allowed_hosts", "source_allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str], info: ValidationInfo) -> list[str]:
        setting = f"SHOPFLOOR_{str(info.field_name).upper()}"
        networks = setting.replace("_HOSTS", "_NETWORKS")
        found = []
        for host in hosts:
            name = host.strip().lower().rstrip(".")
            bare = name.removeprefix("*.")
            if not _HOST.fullmatch(bare) or _is_address(bare):
                raise ValueError(
                    f"{setting}: {host!r} is not a host name (use names like "
                    f"hooks.example.com or *.example.com; addresses go in {networks})"
                )
            found.append(name)
        return found

    @field_validator("metrics_token")
    @classmethod
    def _long_metrics_token(cls, token: SecretStr | None) -> SecretStr | None:
        # It reads every tenant's series: a guessable token would undo the per-tenant view.
        if token is not None and len(token.get_secret_value()) < 32:
            raise ValueError("SHOPFLOOR_METRICS_TOKEN must be at least 32 characters long")
        return token

    @field_validator("dask_scheduler")
    @classmethod
    def _dask_address(cls, address: str | None) -> str | None:
        if address is None or address == "":
            return None
        scheme, sep, rest = address.partition("://")
        if not sep or scheme not in ("tcp", "tls") or not rest or ":" not in rest:
            raise ValueError("SHOPFLOOR_DASK_SCHEDULER must be a scheduler address like tcp://host:8786")
        return address

    @field_validator("artifacts_url")
    @classmethod
    def _known_artifacts_url(cls, url: str | None) -> str | None:
        # Refused at start, in words: a typo here would otherwise surface at the first upload.
        if url is None:
            return None
        parsed = urlparse(url)
        if parsed.scheme in ("", "file"):
            if not (parsed.path if parsed.scheme else url):
                raise ValueError("SHOPFLOOR_ARTIFACTS_URL names no directory; use file:///abs/path")
            return url
        if parsed.scheme != "s3":
            raise ValueError(
                f"SHOPFLOOR_ARTIFACTS_URL has the unsupported scheme {parsed.scheme!r}: use "
                "file:///abs/path (a local or mounted directory) or s3://bucket/prefix (S3-compatible store)"
            )
        if not _BUCKET.fullmatch(parsed.netloc):
            raise ValueError(
                f"SHOPFLOOR_ARTIFACTS_URL {url!r} names no valid bucket: use s3://bucket/prefix, the "
                "bucket 3 to 63 lower-case letters, digits, '.' or '-'"
            )
        if parsed.query or parsed.fragment or any(p in (".", "..") for p in parsed.path.split("/")):
            raise ValueError(
                f"SHOPFLOOR_ARTIFACTS_URL {url!r}: the prefix after the bucket must be a plain path"
            )
        return url

    @field_validator("s3_endpoint_url")
    @classmethod
    def _http_s3_endpoint(cls, url: str | None) -> str | None:
        if url is not None and (urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc):
            raise ValueError(f"SHOPFLOOR_S3_ENDPOINT_URL {url!r} must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _s3_keys_in_pairs(self) -> Settings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError(
                "SHOPFLOOR_S3_ACCESS_KEY_ID and SHOPFLOOR_S3_SECRET_ACCESS_KEY go together: "
                "set both or neither"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        # A generated secret on disk is fine on a laptop; a production server must be given one.
        if self.mode == "production" and self.secret_key is None:
            raise ValueError("SHOPFLOOR_SECRET_KEY must be set when SHOPFLOOR_MODE=production")
        if self.mode == "production" and self.master_key is None and self.master_key_file is None:
            raise ValueError(
                "SHOPFLOOR_MASTER_KEY or SHOPFLOOR_MASTER_KEY_FILE must be set when SHOPFLOOR_MODE=production"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'registry.db').resolve()}"

    @property
    def resolved_artifacts_url(self) -> str:
        return self.artifacts_url or f"file://{(self.home / 'artifacts').resolve()}"

    @property
    def resolved_artifact_cache_dir(self) -> Path:
        return self.artifact_cache_dir or self.home / "artifact-cache"

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def hub_cache_dir(settings: Settings) -> Path:
    """Where the hub keeps the ONNX exports of its text encoders (made once, on first use)."""
    return settings.hub_cache or settings.home / "hub-cache"


def metrics_dir(settings: Settings) -> Path:
    """Where every process of one server leaves its metrics snapshot."""
    return settings.home / "run" / "metrics"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
