"""The relay simulator: a real HTTP/1.1 server on loopback that speaks the OpenAI chat API.

``RelaySimulator`` owns the server thread and the request log; ``handler`` answers the requests.
"""

from __future__ import annotations

import hmac
import threading
from types import TracebackType

from holysheep_tui.simulator.handler import RelayServer
from holysheep_tui.simulator.request_log import RecordedRequest, RequestLog
from holysheep_tui.simulator.scenarios import DEMO_PACING, Pacing

__all__ = ["RecordedRequest", "RelaySimulator"]


class RelaySimulator:
    """An OpenAI-compatible relay on loopback: ``with RelaySimulator(pacing=FULL_SPEED) as sim: ...``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        require_key: str | None = None,
        pacing: Pacing | None = None,
        balance: str | None = "110.00",
        balance_currency: str = "CNY",
    ) -> None:
        self.host = host
        self.port = port
        self.pacing = pacing or DEMO_PACING
        self._key = require_key
        self.balance = balance
        """What ``GET /user/balance`` reports (DeepSeek's shape); None: that path is 404."""
        self.balance_currency = balance_currency
        self.balance_status: int | None = None
        """Set to an HTTP status (e.g. 503) to make ``GET /user/balance`` fail with it."""
        self.log = RequestLog()
        """What the handler saw; tests read it through ``requests``, ``attempts`` and the waits."""
        self.stopping = threading.Event()
        """Set by ``stop()``: handlers abandon their answers."""
        self._server: RelayServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"RelaySimulator({self.base_url if self._server else 'stopped'})"

    # ---- lifecycle ----

    def start(self) -> RelaySimulator:
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = RelayServer((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="relay-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.close_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RelaySimulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        host, port = self._server.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"

    # ---- what tests look at ----

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.log.snapshot()

    @property
    def errors(self) -> list[str]:
        """Tracebacks of failures inside the simulator itself (should stay empty)."""
        return self.log.errors()

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``n`` requests have arrived; TimeoutError otherwise."""
        return self.log.wait(lambda records: len(records) >= n, f"{n} requests", timeout)

    def wait_for_finished(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``n`` requests have been fully handled (answered, cut or abandoned)."""
        return self.log.wait(
            lambda records: sum(r.finished for r in records) >= n, f"{n} finished requests", timeout
        )

    def attempts(self, key: str) -> int:
        """How many chat requests carried this exact model string (plus ``|header`` when one was sent)."""
        return self.log.attempts(key)

    def reset(self) -> None:
        """Forget recorded requests and attempt counts."""
        self.log.reset()

    def key_ok(self, authorization: str | None) -> bool:
        """Whether an Authorization header passes; any does when no key is required."""
        if self._key is None:
            return True
        expected = f"Bearer {self._key}".encode()
        return authorization is not None and hmac.compare_digest(authorization.encode(), expected)
