"""``holysheep simulate``: run the local relay simulator until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from holysheep_tui.config import is_loopback_host
from holysheep_tui.errors import EXIT_OK, UsageError
from holysheep_tui.i18n import _
from holysheep_tui.simulator import DEMO_PACING, Pacing, RelaySimulator


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help=_("run the local OpenAI-compatible relay simulator"),
        description=_(
            "Serve an OpenAI-compatible relay simulator on loopback: /v1/models and "
            "/v1/chat/completions with realistic pacing and fault scenarios chosen by model suffix "
            "(e.g. kimi-k2+429). Prints the base URL, then serves until Ctrl-C. See docs/SIMULATOR.md."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help=_("port to listen on (default: 0, a free port)"))
    parser.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default: 127.0.0.1)"))
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help=_("allow listening on a non-loopback address (no real auth!)"),
    )
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument(
        "--require-key", metavar="KEY", help=_("answer 401 unless 'Authorization: Bearer KEY' is sent")
    )
    keys.add_argument(
        "--require-key-env", metavar="VAR", help=_("like --require-key, reading KEY from variable VAR")
    )
    parser.add_argument(
        "--tps",
        type=float,
        default=DEMO_PACING.tokens_per_second,
        help=_("tokens per second, 0 for full speed (default: {default:g})").format(
            default=DEMO_PACING.tokens_per_second
        ),
    )
    parser.add_argument(
        "--ttft",
        type=float,
        default=DEMO_PACING.first_token_delay,
        help=_("seconds before the first token (default: {default:g})").format(
            default=DEMO_PACING.first_token_delay
        ),
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=DEMO_PACING.chunk_tokens,
        help=_("tokens per streamed chunk (default: {default})").format(default=DEMO_PACING.chunk_tokens),
    )
    parser.set_defaults(func=run)




def run(args: argparse.Namespace) -> int:
    if not is_loopback_host(args.host) and not args.allow_remote:
        raise UsageError(
            _(
                "refusing to listen on {host}: the simulator is for local testing and anyone who can "
                "reach it could use it"
            ).format(host=args.host),
            hint=_("use --host 127.0.0.1, or pass --allow-remote if you really mean it"),
        )
    key = args.require_key
    if args.require_key_env:
        key = os.environ.get(args.require_key_env)
        if not key:
            raise UsageError(
                _("--require-key-env: the environment variable {name} is not set").format(
                    name=args.require_key_env
                )
            )
    if args.tps < 0 or args.ttft < 0 or args.chunk_tokens < 1:
        raise UsageError(_("--tps and --ttft must be >= 0 and --chunk-tokens >= 1"))
    if not 0 <= args.port <= 65535:
        raise UsageError(
            _("--port must be from 0 to 65535 (0 picks a free port), not {port}").format(port=args.port)
        )
    pacing = Pacing(args.ttft, args.tps or None, args.chunk_tokens)
    sim = RelaySimulator(args.host, args.port, require_key=key, pacing=pacing)
    try:
        sim.start()
    except OSError as exc:
        raise UsageError(
            _("cannot listen on {host}:{port}: {reason}").format(
                host=args.host, port=args.port, reason=exc.strerror or exc
            ),
            hint=_("choose another --port, or --port 0 for a free one"),
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(sim.base_url, flush=True)
        print("holysheep simulate: " + _("serving; Ctrl-C to stop"), file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sim.stop()
    return EXIT_OK
