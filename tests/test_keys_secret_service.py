"""`holysheep key` against a real freedesktop Secret Service: gnome-keyring in a private D-Bus session.

Every command runs as a real subprocess inside that session; results are cross-checked with
libsecret's `secret-tool` and with a second Python process. Without gnome-keyring these tests skip,
unless CI is set, where they fail.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from holysheep_tui.errors import EXIT_AUTH, EXIT_OK
from tests.secret_service import SecretService, secret_service_fixture  # noqa: F401  (the fixture)

pytestmark = pytest.mark.keyring

SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
KEY = "sk-hs-realkeyring-0123456789-ABCD"
ENV_KEY = "sk-hs-from-environment-5555-EFGH"
CMD_KEY = "sk-hs-from-command-7777-IJKL"


@pytest.fixture
def env(
    secret_service: SecretService, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """The private session's environment, with a config holding a profile unique to this test."""
    profile = f"工作-{request.node.name[5:30]}"
    config = tmp_path / "配置.toml"
    cmd = [sys.executable, "-c", f"print({CMD_KEY!r})  # 密码管理器"]
    config.write_text(
        f'default_profile = "{profile}"\n[profiles."{profile}"]\nmodel = "deepseek-chat"\n'
        f"api_key_cmd = {json.dumps(cmd, ensure_ascii=False)}\n",
        encoding="utf-8",
    )
    result = {**secret_service.env, "HOLYSHEEP_CONFIG": str(config), "HOLYSHEEP_PROFILE_UNDER_TEST": profile}
    yield result
    # leave the shared keyring clean for the next test
    if not secret_service.is_locked():
        secret_tool(secret_service.env, "clear", "service", "holysheep-tui", "username", profile)


def profile_of(env: dict[str, str]) -> str:
    return env["HOLYSHEEP_PROFILE_UNDER_TEST"]


def holysheep(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "holysheep_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,  # hang guard
    )


def secret_tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["secret-tool", *args], capture_output=True, text=True, env=env, timeout=30)


def python(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def test_daemon_is_ours_and_unlocked(secret_service: SecretService) -> None:
    assert secret_service.owner_pid() == secret_service.daemon_pid
    assert not secret_service.is_locked()


def test_set_status_delete_through_the_real_daemon(
    secret_service: SecretService, env: dict[str, str]
) -> None:
    profile = profile_of(env)
    done = holysheep(env, "key", "set", stdin=KEY + "\n")
    assert done.returncode == EXIT_OK, done.stderr
    assert SECRET_SERVICE_BACKEND in done.stdout and "****ABCD" in done.stdout

    # another client (libsecret) reads exactly the key, without the newline
    lookup = secret_tool(env, "lookup", "service", "holysheep-tui", "username", profile)
    assert (lookup.returncode, lookup.stdout) == (0, KEY)

    # a second Python process reads it through keyring and through our lookup
    other = python(
        env,
        "import keyring.core as k; k.init_backend(limit=k.recommended); "
        f"print(type(k.get_keyring()).__module__, k.get_password('holysheep-tui', {profile!r}))",
    )
    assert other.stdout.split() == ["keyring.backends.SecretService", KEY], other.stderr
    ours = python(
        env,
        "from holysheep_tui import config; from holysheep_tui.secrets import resolve_key; "
        "name, p = config.resolve_profile(config.load_config()); r = resolve_key(name, p); "
        "print(r.source, r.value.get_secret_value() == " + repr(KEY) + ")",
    )
    assert ours.stdout.strip() == f"keyring ({SECRET_SERVICE_BACKEND}) True", ours.stderr

    status = holysheep(env, "key", "status", "--json")
    assert status.returncode == EXIT_OK, status.stderr
    data = json.loads(status.stdout)
    assert data["keyring"]["backend"] == SECRET_SERVICE_BACKEND
    assert data["keyring"]["stored"] is True
    assert data["source"] == f"keyring ({SECRET_SERVICE_BACKEND})"
    assert data["masked"] == "****ABCD"
    assert KEY not in status.stdout

    deleted = holysheep(env, "key", "delete")
    assert deleted.returncode == EXIT_OK, deleted.stderr
    gone = secret_tool(env, "lookup", "service", "holysheep-tui", "username", profile)
    assert gone.returncode != 0 and gone.stdout == ""
    again = holysheep(env, "key", "delete")
    assert again.returncode == EXIT_OK and "nothing to delete" in again.stderr


def test_environment_beats_keyring_which_beats_command(env: dict[str, str]) -> None:
    def source(extra: dict[str, str]) -> str:
        done = holysheep({**env, **extra}, "key", "status", "--json")
        assert done.returncode == EXIT_OK, done.stderr
        return str(json.loads(done.stdout)["source"])

    assert source({}).startswith("command [")  # nothing stored yet
    assert holysheep(env, "key", "set", stdin=KEY).returncode == EXIT_OK
    assert source({}) == f"keyring ({SECRET_SERVICE_BACKEND})"
    assert source({"HOLYSHEEP_API_KEY": ENV_KEY}) == "environment variable HOLYSHEEP_API_KEY"


def test_no_plaintext_copy_on_disk(
    secret_service: SecretService, env: dict[str, str], tmp_path: Path
) -> None:
    assert holysheep(env, "key", "set", stdin=KEY).returncode == EXIT_OK
    assert (secret_service.data_dir / "keyrings" / "login.keyring").is_file()
    needle = KEY.encode()
    searched = 0
    for root in {secret_service.root, tmp_path, Path(os.environ["HOME"])}:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink():
                searched += 1
                assert needle not in path.read_bytes(), f"plaintext key found in {path}"
    assert searched > 0


def test_locked_keyring_is_reported_fast_and_the_variable_still_works(
    secret_service: SecretService, env: dict[str, str]
) -> None:
    assert holysheep(env, "key", "set", stdin=KEY).returncode == EXIT_OK
    no_cmd = {**env, "HOLYSHEEP_CONFIG": str(Path(env["HOLYSHEEP_CONFIG"]).with_name("无命令.toml"))}
    Path(no_cmd["HOLYSHEEP_CONFIG"]).write_text(
        f'default_profile = "{profile_of(env)}"\n[profiles."{profile_of(env)}"]\n', encoding="utf-8"
    )
    secret_service.lock()
    try:
        assert secret_service.is_locked()
        status = holysheep(no_cmd, "key", "status")
        assert status.returncode == EXIT_AUTH
        assert "locked" in status.stderr and "HOLYSHEEP_API_KEY" in status.stderr
        refused = holysheep(no_cmd, "key", "set", stdin=ENV_KEY)
        assert refused.returncode == EXIT_AUTH and "locked" in refused.stderr
        with_var = holysheep({**no_cmd, "HOLYSHEEP_API_KEY": ENV_KEY}, "key", "status")
        assert with_var.returncode == EXIT_OK
        assert "from environment variable HOLYSHEEP_API_KEY" in with_var.stdout
        assert "locked" in with_var.stdout
    finally:
        secret_service.unlock()
    assert not secret_service.is_locked()
    status = holysheep(no_cmd, "key", "status", "--json")
    assert json.loads(status.stdout)["source"] == f"keyring ({SECRET_SERVICE_BACKEND})"


def test_hung_daemon_times_out_and_the_process_exits(
    secret_service: SecretService, env: dict[str, str]
) -> None:
    hung = {**env, "HOLYSHEEP_KEYRING_TIMEOUT": "1.5"}
    os.kill(secret_service.daemon_pid, signal.SIGSTOP)
    try:
        status = holysheep(hung, "key", "status")
        assert "did not answer within 1.5 s" in status.stdout
        # the api_key_cmd after the keyring still gives a key
        assert status.returncode == EXIT_OK and "from command [" in status.stdout
        refused = holysheep(hung, "key", "set", stdin=KEY)
        assert refused.returncode == EXIT_AUTH
        assert "did not answer within 1.5 s" in refused.stderr and "HOLYSHEEP_API_KEY" in refused.stderr
    finally:
        os.kill(secret_service.daemon_pid, signal.SIGCONT)
    assert secret_service.owner_pid() == secret_service.daemon_pid
    assert holysheep(env, "key", "set", stdin=KEY).returncode == EXIT_OK


def test_null_backend_refuses_to_save(secret_service: SecretService, env: dict[str, str]) -> None:
    refused = holysheep(
        {**env, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}, "key", "set", stdin=KEY
    )
    assert refused.returncode == EXIT_AUTH
    assert "disabled" in refused.stderr and refused.stdout == ""
    lookup = secret_tool(env, "lookup", "service", "holysheep-tui", "username", profile_of(env))
    assert lookup.stdout == ""


def test_without_dbus_there_is_no_keyring_but_the_variable_works(env: dict[str, str]) -> None:
    no_bus = {k: v for k, v in env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    refused = holysheep(no_bus, "key", "set", stdin=KEY)
    assert refused.returncode == EXIT_AUTH
    assert "No system keyring" in refused.stderr and "HOLYSHEEP_API_KEY" in refused.stderr
    status = holysheep({**no_bus, "HOLYSHEEP_API_KEY": ENV_KEY}, "key", "status", "--json")
    data = json.loads(status.stdout)
    assert data["source"] == "environment variable HOLYSHEEP_API_KEY"
    assert data["keyring"]["reason"] == "none"
