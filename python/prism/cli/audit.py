"""`prism audit ship`: copy audit JSON-lines files to a Kafka topic, outside a gateway.

The same shipper `prism serve` / `prism proxy` run for `server.audit.kafka` (ADR-010):
follows each --file across rotation, at least once, keyed by namespace, resuming from
`<file>.kafka-offset`. Use it for the admin's file of a separate `prism admin`, or to
ship from another host. Runs until SIGINT/SIGTERM (then drains), or with --once until
the files are shipped to their end.

Exit codes: 0 when everything was shipped, 1 when Kafka did not take it all (the rest
stays in the files; run again), 2 for bad options.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from prism.errors import ConfigError

audit = typer.Typer(help="The audit log (ADR-010).", no_args_is_help=True)

_FLAGS = {"bootstrap_servers": "--bootstrap", "topic": "--topic"}


@audit.command("ship")
def ship(
    file: Annotated[
        list[Path],
        typer.Option("--file", "-f", help="Audit JSON-lines file to follow (repeatable)."),
    ],
    bootstrap: Annotated[str, typer.Option(help="Kafka brokers, HOST:PORT[,HOST:PORT...].")],
    topic: Annotated[str, typer.Option(help="Kafka topic (must exist).")] = "prism-audit",
    checkpoint: Annotated[
        bool,
        typer.Option(help="Resume from <file>.kafka-offset (else: each file from its start)."),
    ] = True,
    once: Annotated[
        bool, typer.Option("--once", help="Ship what the files hold now, then exit.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Follow audit files and produce each line to a Kafka topic (at least once)."""
    from prism.audit.background import ShipperThread
    from prism.audit.follow import FileFollower
    from prism.audit.shipper import AuditShipper
    from prism.cli.serve import LOG_LEVELS, fail, setup_logging
    from prism.proxy.runtime import install_signal_handlers
    from prism.security_config import parse_audit_kafka

    if log_level.lower() not in LOG_LEVELS:
        fail(f"--log-level: must be one of {', '.join(LOG_LEVELS)}", 2)
    setup_logging(log_level)
    try:
        kafka = parse_audit_kafka(
            {"bootstrap_servers": bootstrap, "topic": topic, "checkpoint": checkpoint}, "@"
        )
    except ConfigError as err:
        text = str(err)
        for field, flag in _FLAGS.items():
            text = text.replace(f"@.{field}", flag)
        fail(text.replace("@: ", ""), 2)
    paths = [p.expanduser().absolute() for p in file]
    followers = [FileFollower(p, use_checkpoint=kafka.checkpoint) for p in paths]
    shipper = AuditShipper(followers, kafka.bootstrap_servers, kafka.topic)
    if once:
        drained = asyncio.run(shipper.run(until_caught_up=True))
    else:
        stop = install_signal_handlers()
        thread = ShipperThread(shipper).start()
        stop.wait()
        drained = thread.stop()
    typer.echo(f"prism: shipped {shipper.shipped} audit lines to topic {kafka.topic}")
    if not drained:
        fail("Kafka did not take every line; the rest stays in the files (run again)", 1)
