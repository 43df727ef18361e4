"""``bastion guard``: check prompts and responses, measure the guard, run the proxy.

Exit codes (the same for every subcommand):

* 0: allowed (``scan``: nothing flagged; ``eval``: finished; ``serve``: stopped)
* 1: flagged or blocked (``scan``: the text, or any row of ``--jsonl``, was flagged)
* 2: error (bad arguments, unreadable policy or input file, ...)

Starlette and uvicorn are imported inside ``serve`` only, so ``bastion --help`` and
``bastion guard scan`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from bastion.errors import BastionError
from bastion.guard import Context, Guard, load_policy

if TYPE_CHECKING:
    from bastion.audit import AuditEvent, AuditSink
    from bastion.guard.extraction import ExtractionDetector

F = TypeVar("F", bound=Callable[..., Any])

EXIT_ALLOWED, EXIT_FLAGGED, EXIT_ERROR = 0, 1, 2


def policy_option(func: F) -> F:
    return click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Policy file (TOML or YAML). Default: the shipped default policy.",
    )(func)


def _fail(exc: BastionError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_ERROR)


def _guard(policy_path: Path | None) -> Guard:
    return Guard(load_policy(policy_path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def guard() -> None:
    """The LLM firewall: check prompts and responses, or proxy an OpenAI-compatible API.

    Exit codes: 0 allowed, 1 flagged or blocked, 2 error.
    """


def _rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any] | None]]:
    for n, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            yield n, None
            continue
        yield n, row if isinstance(row, dict) and isinstance(row.get("text"), str) else None


@guard.command()
@click.argument("text", required=False)
@click.option("--output", "is_output", is_flag=True, help="Check TEXT as a model response.")
@click.option(
    "--jsonl",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Check one JSON object per line (field 'text'); '-' reads standard input.",
)
@click.option(
    "--system-prompt",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="The protected system prompt (output checks: prompt leakage).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@policy_option
def scan(
    *,
    text: str | None,
    is_output: bool,
    jsonl: IO[str] | None,
    system_prompt: IO[str] | None,
    as_json: bool,
    policy_path: Path | None,
) -> None:
    """Check TEXT (a prompt; '-' reads standard input) and print the verdict.

    With --jsonl, rows stream out as they come in, each with 'flagged', 'score',
    'verdict' and 'rules' added.
    """
    try:
        g = _guard(policy_path)
        ctx = Context(system_prompt=system_prompt.read() if system_prompt else None)
        check = g.check_output if is_output else g.check_input
        if jsonl is not None:
            if text is not None:
                raise click.UsageError("give TEXT or --jsonl, not both")
            any_flagged = False
            for n, row in _rows(jsonl):
                if row is None:
                    click.echo(f"error: line {n}: not a JSON object with a 'text' string", err=True)
                    sys.exit(EXIT_ERROR)
                result = check(row["text"], ctx)
                any_flagged |= result.flagged
                out = row | {
                    "flagged": result.flagged,
                    "score": round(result.score, 4),
                    "verdict": result.verdict.label,
                    "rules": [r.rule for r in result.triggered],
                }
                click.echo(json.dumps(out, ensure_ascii=False))
            sys.exit(EXIT_FLAGGED if any_flagged else EXIT_ALLOWED)
        if text is None:
            raise click.UsageError("give TEXT, '-' for standard input, or --jsonl FILE")
        if text == "-":
            text = sys.stdin.read()
        result = check(text, ctx)
    except BastionError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        reasons = ", ".join(result.reasons) or "-"
        click.echo(f"{result.verdict.label}\tscore={result.score:.3f}\treasons={reasons}")
    sys.exit(EXIT_FLAGGED if result.flagged else EXIT_ALLOWED)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "-"


@guard.command(name="eval")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--output", "is_output", is_flag=True, help="The rows are model responses.")
@policy_option
def eval_(*, file: IO[str], is_output: bool, policy_path: Path | None) -> None:
    """Measure the guard on labelled rows (JSONL: 'text', 'label' = benign or an attack kind).

    Prints, per label, how many rows were flagged (recall for attack labels, false
    positive rate for benign), then precision, recall and FPR overall and per rule.
    """
    try:
        g = _guard(policy_path)
    except BastionError as exc:
        _fail(exc)
        return
    check = g.check_output if is_output else g.check_input
    per_label: Counter[str] = Counter()
    flagged_label: Counter[str] = Counter()
    rule_label: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for n, row in _rows(file):
        if row is None or not isinstance(row.get("label"), str):
            click.echo(f"error: line {n}: needs 'text' and 'label' strings", err=True)
            sys.exit(EXIT_ERROR)
        label = row["label"]
        result = check(row["text"])
        per_label[label] += 1
        flagged_label[label] += result.flagged
        for r in result.triggered:
            rule_label[r.rule][label] += 1
    click.echo(_table(per_label, flagged_label, rule_label))


def _table(
    per_label: Counter[str], flagged: Counter[str], rule_label: dict[str, Counter[str]]
) -> str:
    lines = ["label\trows\tflagged\trate (recall; FPR for benign)"]
    for label in sorted(per_label):
        lines.append(
            f"{label}\t{per_label[label]}\t{flagged[label]}\t"
            f"{_ratio(flagged[label], per_label[label])}"
        )
    benign = per_label.get("benign", 0)
    attacks = sum(v for k, v in per_label.items() if k != "benign")

    def prf(hits: Counter[str]) -> str:
        tp = sum(v for k, v in hits.items() if k != "benign")
        fp = hits.get("benign", 0)
        return f"{_ratio(tp, tp + fp)}\t{_ratio(tp, attacks)}\t{_ratio(fp, benign)}"

    lines += ["", "who\tprecision\trecall\tFPR", f"pipeline\t{prf(flagged)}"]
    for rule in sorted(rule_label):
        lines.append(f"{rule}\t{prf(rule_label[rule])}")
    return "\n".join(lines)


@guard.command()
@click.option(
    "--upstream", required=True, help="Base URL of the upstream API, e.g. http://127.0.0.1:8000/v1."
)
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="JSON file of client API key digests (see 'bastion guard keygen').",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8088, show_default=True, type=int)
@click.option(
    "--redis-url",
    default=None,
    help="Share rate-limit counters and extraction-detector state in Redis.",
)
@click.option(
    "--audit-db",
    default=None,
    help="Write audit events (extraction alerts, throttles, blocks) to the tamper-evident "
    "log in this database (sqlite:///PATH or postgresql://...). Default: only the "
    "bastion.guard.audit logger.",
)
@click.option(
    "--audit-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The audit log's checkpoint signing key (created if missing).  "
    "[default: DATA_DIR/audit-log.key]",
)
@click.option(
    "--metrics",
    "with_metrics",
    is_flag=True,
    help="Serve Prometheus metrics (counts of extraction actions) on GET /metrics.",
)
@click.option(
    "--no-extraction",
    is_flag=True,
    help="Turn the model-extraction detector off (the policy's [guard.extraction] is ignored).",
)
@click.option("--requests-per-minute", default=60, show_default=True, type=int)
@click.option("--tokens-per-minute", default=100_000, show_default=True, type=int)
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=int)
@click.option("--upstream-timeout", default=60.0, show_default=True, type=float)
@click.option(
    "--system-prompt",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Your application's system prompt, protected against leaks.",
)
@click.option("--canary", default=None, help="Canary token embedded in your system prompt.")
@click.option("--allow-host", multiple=True, help="Host responses may link or embed (repeatable).")
@policy_option
def serve(
    *,
    upstream: str,
    keys_file: Path,
    host: str,
    port: int,
    redis_url: str | None,
    audit_db: str | None,
    audit_key: Path | None,
    no_extraction: bool,
    with_metrics: bool,
    requests_per_minute: int,
    tokens_per_minute: int,
    max_body_bytes: int,
    upstream_timeout: float,
    system_prompt: IO[str] | None,
    canary: str | None,
    allow_host: tuple[str, ...],
    policy_path: Path | None,
) -> None:
    """Run the OpenAI-compatible guard proxy in front of UPSTREAM.

    The upstream's own API key, if it needs one, is read from BASTION_UPSTREAM_API_KEY.
    The model-extraction detector runs as the policy's [guard.extraction] table says; its
    state is in memory, or in Redis with --redis-url.
    """
    try:
        import uvicorn

        from bastion.guard.proxy import (
            KeyStore,
            ProxyConfig,
            RedisRateLimiter,
            create_app,
        )
        from bastion.guard.proxy.ratelimit import MemoryRateLimiter, RateLimiter
    except ImportError:
        click.echo("error: the proxy needs the guard extra", err=True)
        click.echo("hint: pip install 'bastion-ml[guard]'", err=True)
        sys.exit(EXIT_ERROR)
    closers: list[Callable[[], None]] = []
    try:
        limiter: RateLimiter = RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
        g = _guard(policy_path)
        sink = _audit_sink(audit_db, audit_key, closers)
        metrics = None
        if with_metrics:
            from bastion.monitoring.metrics import Metrics, MetricsSink
            from bastion.monitoring.sinks import FanOutSink

            metrics = Metrics()
            sink = FanOutSink([sink, MetricsSink(metrics)])
        config = ProxyConfig(
            upstream=upstream,
            keys=KeyStore.load(keys_file),
            guard=g,
            limiter=limiter,
            upstream_api_key=os.environ.get("BASTION_UPSTREAM_API_KEY"),
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            max_body_bytes=max_body_bytes,
            upstream_timeout=upstream_timeout,
            system_prompt=system_prompt.read() if system_prompt else None,
            canary=canary,
            url_allowlist=allow_host,
            extraction=None if no_extraction else _detector(g, redis_url, sink),
            metrics=metrics,
            # blocks, unknown keys and rate limits into the tamper-evident log and the
            # metrics (without either, the bastion.guard.audit logger has them already)
            audit=sink if audit_db is not None or metrics is not None else None,
        )
    except BastionError as exc:
        _fail(exc)
        return
    try:
        uvicorn.run(create_app(config), host=host, port=port, log_level="info", ws="none")
    finally:
        for close in closers:
            close()


class _LogSink:
    """Audit events as JSON lines on the ``bastion.guard.audit`` logger."""

    def emit(self, event: AuditEvent) -> None:
        import logging

        from bastion.audit.canonical import event_to_dict

        logging.getLogger("bastion.guard.audit").warning(json.dumps(event_to_dict(event)))


def _audit_sink(
    audit_db: str | None, audit_key: Path | None, closers: list[Callable[[], None]]
) -> AuditSink:
    """The logger, plus the tamper-evident log when ``--audit-db`` is given."""
    if audit_db is None:
        return _LogSink()
    from bastion.audit.checkpoint import NoteSigner
    from bastion.audit.log import AuditLog
    from bastion.db import make_engine, migrate
    from bastion.monitoring.sinks import FanOutSink

    data_dir = Path(os.environ.get("BASTION_DATA_DIR") or "~/.bastion").expanduser()
    key = audit_key or data_dir / "audit-log.key"
    key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = make_engine(audit_db)
    migrate(engine)
    log = AuditLog(engine, signer=NoteSigner.load_or_create(key, "bastion.local/audit"))
    closers += [log.close, engine.dispose]
    return FanOutSink([_LogSink(), log])


def _detector(g: Guard, redis_url: str | None, sink: AuditSink) -> ExtractionDetector | None:
    settings = g.policy.extraction
    if not settings.enabled:
        return None
    from bastion.guard.extraction import ExtractionDetector, MemoryStore, RedisStore, StateStore

    store: StateStore = (
        RedisStore(redis_url, ttl=settings.state_ttl)
        if redis_url
        else MemoryStore(max_clients=settings.max_clients)
    )
    return ExtractionDetector(settings, store=store, audit=sink)


@guard.command(name="reset-client")
@click.argument("key_id")
@click.option("--source", default=None, help="Also forget this source address.")
@click.option("--redis-url", required=True, help="The Redis the proxies keep their state in.")
@click.option("--audit-db", default=None, help="Record the reset in this tamper-evident log.")
@click.option("--audit-key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The audit log's checkpoint signing key.")  # fmt: skip
def reset_client(
    *, key_id: str, source: str | None, redis_url: str, audit_db: str | None,
    audit_key: Path | None,
) -> None:  # fmt: skip
    """Lift an extraction re-authentication or block: forget KEY_ID's detector state.

    Do it after contacting the key's owner; the reset is an audit event.
    """
    import asyncio

    from bastion.guard.extraction import ExtractionDetector, RedisStore

    closers: list[Callable[[], None]] = []
    try:
        sink = _audit_sink(audit_db, audit_key, closers)
        detector = ExtractionDetector(store=RedisStore(redis_url), audit=sink)

        async def run() -> None:
            try:
                await detector.reset(key_id, source)
            finally:
                await detector.close()

        asyncio.run(run())
    except BastionError as exc:
        _fail(exc)
    finally:
        for close in closers:
            close()
    click.echo(f"reset: key:{key_id}" + (f" and addr:{source}" if source else ""))


@guard.command()
@click.argument("key_id")
@click.option("--requests-per-minute", type=int, default=None)
@click.option("--tokens-per-minute", type=int, default=None)
def keygen(*, key_id: str, requests_per_minute: int | None, tokens_per_minute: int | None) -> None:
    """Make a client API key. Prints the key (shown once) to stderr and the JSON entry
    to store in the --keys file to stdout."""
    from bastion.guard.proxy.keys import generate_key

    key, digest = generate_key()
    entry: dict[str, Any] = {"id": key_id, "sha256": digest}
    if requests_per_minute:
        entry["requests_per_minute"] = requests_per_minute
    if tokens_per_minute:
        entry["tokens_per_minute"] = tokens_per_minute
    click.echo(f"API key for {key_id} (store it now; it is not kept): {key}", err=True)
    click.echo(json.dumps(entry))
