"""A real freedesktop Secret Service for tests: gnome-keyring in a private D-Bus session.

``start_secret_service()`` starts ``dbus-daemon`` and an unlocked ``gnome-keyring-daemon`` on scratch
XDG dirs, waits until the bus says ``org.freedesktop.secrets`` is owned by that daemon, and returns a
handle whose ``env`` runs subprocesses inside it. Nothing touches a developer's own keyring: the bus
is private and DISPLAY/WAYLAND_DISPLAY are removed so no prompt can wait for a human. Teardown is by
PID only. Missing programs skip the tests, or fail them when ``CI`` is set.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REQUIRED_PROGRAMS = ("dbus-daemon", "gnome-keyring-daemon", "secret-tool")
SECRETS_NAME = "org.freedesktop.secrets"
_GUILT_IFACE = "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface"
_START_LIMIT = 15.0


class SecretServiceUnavailable(RuntimeError):
    pass


def skip_or_fail(reason: str) -> None:
    """Skip outside CI; in CI a missing Secret Service is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure; run scripts/system-deps.sh)")
    pytest.skip(f"{reason}; run scripts/system-deps.sh as root to install them")


def missing_programs() -> list[str]:
    return [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]


def _bus_call(address: str, method: str, signature: str, *body: Any) -> Any:
    from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped,unused-ignore]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped,unused-ignore]

    bus = DBusAddress(
        "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
    )
    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(new_method_call(bus, method, signature, body), timeout=5)
    return reply.body


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGCONT (it may be stopped), SIGTERM, SIGKILL after 5 s; by PID only."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class SecretService:
    root: Path
    bus_address: str
    password: str
    env: dict[str, str]
    """Environment for subprocesses that should use this Secret Service."""
    bus: subprocess.Popen[bytes]
    daemon: subprocess.Popen[bytes]
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = Path(self.env["HOME"])

    @property
    def daemon_pid(self) -> int:
        return self.daemon.pid

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def owner_pid(self) -> int:
        (owner,) = _bus_call(self.bus_address, "GetNameOwner", "s", SECRETS_NAME)
        (pid,) = _bus_call(self.bus_address, "GetConnectionUnixProcessID", "s", owner)
        return int(pid)

    def _connection(self) -> Any:
        from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped,unused-ignore]

        return open_dbus_connection(bus=self.bus_address)

    def is_locked(self) -> bool:
        import secretstorage

        with self._connection() as conn:
            return bool(secretstorage.get_default_collection(conn).is_locked())

    def lock(self) -> None:
        import secretstorage

        with self._connection() as conn:
            secretstorage.get_default_collection(conn).lock()

    def unlock(self) -> None:
        """Unlock the default collection with its password, without any prompt."""
        import secretstorage
        from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped,unused-ignore]
        from secretstorage.util import format_secret, open_session

        with self._connection() as conn:
            collection = secretstorage.get_default_collection(conn)
            session = open_session(conn)
            secret = format_secret(session, self.password.encode(), "text/plain")
            service = DBusAddress("/org/freedesktop/secrets", bus_name=SECRETS_NAME, interface=_GUILT_IFACE)
            msg = new_method_call(
                service, "UnlockWithMasterPassword", "o(oayays)", (collection.collection_path, secret)
            )
            reply = conn.send_and_get_reply(msg, timeout=5)
            if reply.header.message_type.name == "error":
                raise SecretServiceUnavailable(f"unlock failed: {reply.body}")

    def log(self) -> str:
        path = self.root / "daemon.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        _stop(self.daemon)
        _stop(self.bus)
        shutil.rmtree(self.root, ignore_errors=True)


def _read_address(bus: subprocess.Popen[bytes], limit: float) -> str:
    assert bus.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(bus.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=limit):
            raise SecretServiceUnavailable("dbus-daemon printed no address")
    line = bus.stdout.readline().decode().strip()
    if not line:
        raise SecretServiceUnavailable(f"dbus-daemon exited with status {bus.poll()}")
    return line


def _wait_for_owner(address: str, daemon: subprocess.Popen[bytes], limit: float) -> None:
    # Ask the bus, never org.freedesktop.secrets itself: that would activate a second, locked daemon.
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SecretServiceUnavailable(f"gnome-keyring-daemon exited with status {daemon.returncode}")
        (owned,) = _bus_call(address, "NameHasOwner", "s", SECRETS_NAME)
        if owned:
            return
        time.sleep(0.02)
    raise SecretServiceUnavailable(f"{SECRETS_NAME} got no owner within {limit:g} s")


def base_env(root: Path) -> dict[str, str]:
    """The current environment minus anything that could reach a real keyring or a human."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOLYSHEEP_", "XDG_", "DBUS_", "PYTHON_KEYRING"))
        and k not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env["HOME"] = str(root / "home")
    env["XDG_CONFIG_HOME"] = str(root / "home" / "config")
    env["XDG_DATA_HOME"] = str(root / "home" / "data")
    env["XDG_CACHE_HOME"] = str(root / "home" / "cache")
    return env


def start_secret_service(password: str = "钥匙-password-1") -> SecretService:
    missing = missing_programs()
    if missing:
        raise SecretServiceUnavailable(f"not installed: {', '.join(missing)}")
    # Short path: a unix socket path must stay under 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="hs-ss-"))
    for sub in ("data", "run", "home"):
        (root / sub).mkdir(mode=0o700)
    env = base_env(root)
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:path={root}/bus"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    daemon: subprocess.Popen[bytes] | None = None
    try:
        address = _read_address(bus, _START_LIMIT)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        daemon_env = {**env, "XDG_DATA_HOME": str(root / "data"), "XDG_RUNTIME_DIR": str(root / "run")}
        # Anything the bus activates later uses the scratch dirs too.
        subprocess.run(
            ["dbus-update-activation-environment", "XDG_DATA_HOME", "XDG_RUNTIME_DIR"],
            env=daemon_env,
            check=False,
            timeout=_START_LIMIT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with open(root / "daemon.log", "wb") as log:
            daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=daemon_env,
            )
        assert daemon.stdin is not None
        daemon.stdin.write(password.encode())  # --unlock reads it with no trailing newline
        daemon.stdin.close()
        _wait_for_owner(address, daemon, _START_LIMIT)
        service = SecretService(
            root=root, bus_address=address, password=password, env=env, bus=bus, daemon=daemon
        )
        if service.owner_pid() != daemon.pid:
            raise SecretServiceUnavailable("org.freedesktop.secrets is owned by another process")
        if service.is_locked():
            raise SecretServiceUnavailable("the default collection is locked after --unlock")
        return service
    except BaseException as exc:
        log_text = (root / "daemon.log").read_text(errors="replace") if (root / "daemon.log").exists() else ""
        if daemon is not None:
            _stop(daemon)
        _stop(bus)
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, SecretServiceUnavailable) and log_text:
            raise SecretServiceUnavailable(f"{exc}; daemon log:\n{log_text}") from None
        raise


@pytest.fixture(scope="session", name="secret_service")
def secret_service_fixture() -> Iterator[SecretService]:
    """One private D-Bus session with an unlocked gnome-keyring for the whole test session."""
    missing = missing_programs()
    if missing:
        skip_or_fail(f"no real Secret Service: {', '.join(missing)} not installed")
    service = start_secret_service()
    try:
        yield service
    finally:
        service.close()
