"""`python -m tooling.stack up|down|status|env|start|stop`: see tooling/stack/README.md."""

from __future__ import annotations

import argparse
import sys
import time

from . import api, provider
from .services import SERVICES


def _names(value: str) -> list[str]:
    return [n for n in value.split(",") if n]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tooling.stack", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start the servers (all, or --only) and wait until ready")
    up.add_argument("--only", type=_names, help=f"comma-separated subset of {','.join(SERVICES)}")
    up.add_argument("--provider", choices=provider.PROVIDERS, default="auto")
    up.add_argument("--no-install", action="store_true", help="do not apt-get install")
    down = sub.add_parser("down", help="stop every server and delete the stack dir")
    down.add_argument("--keep", action="store_true", help="keep the data dir")
    sub.add_parser("status", help="table of services: pid, port, state")
    sub.add_parser("env", help="export lines for PRISM_*_URL / PRISM_KAFKA_BOOTSTRAP")
    start = sub.add_parser("start", help="start stopped services again, keeping their data")
    start.add_argument("names", nargs="+", choices=list(SERVICES))
    stop = sub.add_parser("stop", help="stop services, keeping their data")
    stop.add_argument("names", nargs="+", choices=list(SERVICES))
    stop.add_argument("--kill", action="store_true", help="SIGKILL at once (simulate a crash)")
    args = p.parse_args(argv)

    try:
        if args.cmd == "up":
            t0 = time.monotonic()
            eps = api.up(
                args.only, provider_name=args.provider, install_missing=not args.no_install
            )
            print(f"stack up in {time.monotonic() - t0:.1f}s; endpoints:")
            for ep in eps.values():
                print(f"  {ep.env_var}={ep.url}" + ("  (external)" if ep.external else ""))
        elif args.cmd == "down":
            api.down(keep=args.keep)
        elif args.cmd == "status":
            print(f"{'NAME':<9} {'PID':>7} {'PORT':>6}  {'STATE':<8} URL")
            for row in api.status():
                pid = str(row.pid) if row.pid else "-"
                print(f"{row.name:<9} {pid:>7} {row.port:>6}  {row.state:<8} {row.url}")
        elif args.cmd == "env":
            print("\n".join(api.env_lines()))
        elif args.cmd == "start":
            api.up(args.names)
        elif args.cmd == "stop":
            for name in args.names:
                api.stop(name, kill=args.kill)
    except api.ServiceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
