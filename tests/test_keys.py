"""Key lookup order, api_key_cmd, masking, keyring failure messages and the `holysheep key` CLI.

Keyring backends here are real keyring plug-ins loaded by keyring itself through
PYTHON_KEYRING_BACKEND (tests/keyring_backends.py, copied to a temp module); the real Secret Service is exercised in
test_keys_secret_service.py.
"""

from __future__ import annotations

import json
import os
import pickle
import selectors
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from holysheep_tui.config import Profile
from holysheep_tui.errors import EXIT_AUTH, EXIT_OK, EXIT_USAGE, ConfigError, KeyMissingError, KeyringError
from holysheep_tui.secrets import (
    KeyringUnavailableError,
    ResolvedKey,
    Secret,
    delete_key,
    key_status,
    keyring_store,
    keyring_timeout,
    mask,
    resolve_key,
    store_key,
)
from tests import keyring_backends

KEY = "sk-hs-钥匙测试"  # non-ASCII keys exist only in these in-process tests; the CLI refuses them
ASCII_KEY = "sk-hs-test-0123456789abcdefWXYZ"
OTHER_KEY = "sk-hs-other-9876543210zyxwQRST"


@pytest.fixture
def backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Makes the test backends importable here and in subprocesses; a fresh keyring guard per test."""
    module_dir = keyring_backends.install(tmp_path / "backends", "hs_test_backends")
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.setenv("PYTHONPATH", str(module_dir))
    monkeypatch.setenv("TEST_KEYRING_FILE", str(tmp_path / "测试-keyring.json"))
    monkeypatch.setattr(keyring_store, "_GUARD", keyring_store._Guard())
    sys.modules.pop("hs_test_backends", None)
    yield module_dir
    released = sys.modules.get("hs_test_backends")
    if released is not None:
        released.RELEASE.set()  # lets any hung keyring thread finish
        sys.modules.pop("hs_test_backends", None)


def use_backend(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", f"hs_test_backends.{name}")


def stored(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "测试-keyring.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def key_script(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "密码管理器.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(script)]


# --- masking and hiding ------------------------------------------------------------------------------


def test_mask_shows_only_the_last_four_characters() -> None:
    assert mask(ASCII_KEY) == "****WXYZ"
    assert mask("sk-短密钥") == "****"  # too short to reveal any of it


def test_repr_and_str_of_a_resolved_key_never_contain_it() -> None:
    resolved = ResolvedKey(Secret(ASCII_KEY), "environment variable HOLYSHEEP_API_KEY")
    for text in (repr(resolved), str(resolved), f"{resolved}", repr(resolved.value), str(resolved.value)):
        assert ASCII_KEY not in text
        assert "0123456789" not in text
    assert "****WXYZ" in repr(resolved.value)
    assert resolved.value.get_secret_value() == ASCII_KEY
    assert resolved.value == Secret(ASCII_KEY) and resolved.value != Secret(OTHER_KEY)
    with pytest.raises(TypeError):
        pickle.dumps(resolved)


# --- lookup order ----------------------------------------------------------------------------------


def test_profile_env_variable_beats_holysheep_api_key() -> None:
    profile = Profile(api_key_env="WORK_RELAY_KEY")
    env = {"WORK_RELAY_KEY": f"  {OTHER_KEY}\n", "HOLYSHEEP_API_KEY": ASCII_KEY}
    found = resolve_key("工作", profile, environ=env)
    assert found.value.get_secret_value() == OTHER_KEY
    assert found.source == "environment variable WORK_RELAY_KEY"
    found = resolve_key("工作", profile, environ={"WORK_RELAY_KEY": "", "HOLYSHEEP_API_KEY": ASCII_KEY})
    assert found.source == "environment variable HOLYSHEEP_API_KEY"


def test_a_key_from_the_environment_never_loads_keyring() -> None:
    code = (
        "import sys; from holysheep_tui.config import Profile; from holysheep_tui.secrets import resolve_key; "
        "loaded = 'keyring' in sys.modules; found = resolve_key('工作', Profile()); "
        "print(loaded, 'keyring' in sys.modules, found.source)"
    )
    env = {**os.environ, "HOLYSHEEP_API_KEY": ASCII_KEY}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    on_import, after_lookup, source = proc.stdout.strip().split(maxsplit=2)
    assert (on_import, after_lookup) == ("False", "False")
    assert source == "environment variable HOLYSHEEP_API_KEY"


def test_environment_beats_keyring_which_beats_command(
    backends: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(monkeypatch, "FileStore")
    assert store_key("工作", ASCII_KEY) == "hs_test_backends.FileStore"
    profile = Profile(api_key_cmd=key_script(tmp_path, f"print({OTHER_KEY!r})"))

    from_env = resolve_key("工作", profile, environ={"HOLYSHEEP_API_KEY": KEY})
    assert (from_env.value.get_secret_value(), from_env.source) == (
        KEY,
        "environment variable HOLYSHEEP_API_KEY",
    )

    from_keyring = resolve_key("工作", profile, environ={})
    assert from_keyring.value.get_secret_value() == ASCII_KEY
    assert from_keyring.source == "keyring (hs_test_backends.FileStore)"

    assert delete_key("工作") is True
    from_cmd = resolve_key("工作", profile, environ={})
    assert from_cmd.value.get_secret_value() == OTHER_KEY
    assert from_cmd.source.startswith("command [")


def test_no_key_anywhere_without_a_keyring_names_what_works_here() -> None:
    with pytest.raises(KeyMissingError) as caught:
        resolve_key("工作", Profile(), environ={})
    text = caught.value.user_text()
    assert "HOLYSHEEP_API_KEY" in text and "api_key_cmd" in text
    assert "key set" not in text  # it cannot work without a keyring (issue 15 item 7)
    assert "No system keyring is available" in text


# --- api_key_cmd -------------------------------------------------------------------------------------


def test_command_output_first_line_is_the_key(tmp_path: Path) -> None:
    cmd = key_script(tmp_path, f"print('  {ASCII_KEY}  '); print('url: https://例子.cn')")
    found = resolve_key("工作", Profile(api_key_cmd=cmd), environ={})
    assert found.value.get_secret_value() == ASCII_KEY


def test_failing_command_reports_status_and_stderr_but_never_its_output(tmp_path: Path) -> None:
    cmd = key_script(
        tmp_path,
        f"""
        import sys
        print({ASCII_KEY!r})
        print("gpg: 解密失败: {ASCII_KEY}", file=sys.stderr)
        sys.exit(3)
        """,
    )
    with pytest.raises(KeyMissingError) as caught:
        resolve_key("工作", Profile(api_key_cmd=cmd), environ={})
    text = caught.value.user_text()
    assert "exit status 3" in text
    assert "解密失败" in text
    assert ASCII_KEY not in text


def test_command_that_hangs_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    cmd = key_script(
        tmp_path,
        f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open({str(pids)!r}, "w") as f:
            f.write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(120)
        """,
    )
    with pytest.raises(KeyMissingError) as caught:
        resolve_key("工作", Profile(api_key_cmd=cmd), environ={}, timeout=3)
    assert "did not finish within 3 s" in caught.value.message
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), f"process {pid} of api_key_cmd survived"


def _alive(pid: int) -> bool:
    """True while pid runs; a zombie waiting for its parent counts as gone. Bounded wait for the kill."""
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        threading.Event().wait(0.02)
    return True


def test_missing_or_silent_command_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyMissingError, match="Cannot run api_key_cmd .*没有这个命令"):
        resolve_key("工作", Profile(api_key_cmd=["没有这个命令-hs"]), environ={})
    silent = key_script(tmp_path, "print('')")
    with pytest.raises(KeyMissingError, match="printed nothing"):
        resolve_key("工作", Profile(api_key_cmd=silent), environ={})


# --- keyring failures --------------------------------------------------------------------------------


def test_no_keyring_refuses_to_save_and_gives_the_ways_out() -> None:
    with pytest.raises(KeyringUnavailableError) as caught:
        store_key("工作", ASCII_KEY)
    assert caught.value.reason == "none"
    text = caught.value.user_text()
    assert "HOLYSHEEP_API_KEY" in text
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in text
    assert ASCII_KEY not in text


def test_null_backend_save_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    with pytest.raises(KeyringUnavailableError) as caught:
        store_key("工作", ASCII_KEY)
    assert caught.value.reason == "null"
    assert "disabled" in caught.value.message
    assert delete_key("工作") is False
    with pytest.raises(KeyMissingError):
        resolve_key("工作", Profile(), environ={})


def test_backend_from_keyringrc_is_honoured_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    rc = Path(os.environ["XDG_CONFIG_HOME"]) / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text("# 测试\n[backend]\ndefault-keyring=keyring.backends.null.Keyring\n", encoding="utf-8")
    with pytest.raises(KeyringUnavailableError) as caught:
        store_key("工作", ASCII_KEY)
    assert caught.value.reason == "null"
    assert str(rc) in caught.value.message


def test_misconfigured_backend_is_told_apart(backends: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, "不存在")
    with pytest.raises(KeyringUnavailableError) as caught:
        resolve_key("工作", Profile(), environ={})
    assert caught.value.reason == "misconfigured"
    assert "PYTHON_KEYRING_BACKEND=hs_test_backends.不存在" in caught.value.message
    # the environment variable still works
    found = resolve_key("工作", Profile(), environ={"HOLYSHEEP_API_KEY": ASCII_KEY})
    assert found.value.get_secret_value() == ASCII_KEY


def test_locked_keyring_is_told_apart_and_the_command_still_works(
    backends: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(monkeypatch, "Locked")
    with pytest.raises(KeyringUnavailableError) as caught:
        resolve_key("工作", Profile(), environ={})
    assert caught.value.reason == "locked"
    assert "Unlock" in caught.value.user_text()
    with pytest.raises(KeyringUnavailableError, match="locked"):
        store_key("工作", ASCII_KEY)
    cmd = key_script(tmp_path, f"print({OTHER_KEY!r})  # 备用")
    assert resolve_key("工作", Profile(api_key_cmd=cmd), environ={}).value.get_secret_value() == OTHER_KEY


def test_hung_keyring_times_out_once_then_counts_as_unavailable(
    backends: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(monkeypatch, "Hanging")
    with pytest.raises(KeyringUnavailableError) as caught:
        resolve_key("工作", Profile(), environ={}, timeout=0.5)
    assert caught.value.reason == "timeout"
    assert "did not answer within 0.5 s" in caught.value.message
    with pytest.raises(KeyringUnavailableError, match="did not answer"):
        store_key("工作", ASCII_KEY, timeout=30)  # not asked again: fails at once
    hung = [t for t in threading.enumerate() if t.name == "holysheep-keyring"]
    assert len(hung) == 1 and hung[0].daemon
    found = resolve_key("工作", Profile(), environ={"HOLYSHEEP_API_KEY": ASCII_KEY})
    assert found.source == "environment variable HOLYSHEEP_API_KEY"


def test_backend_error_messages_never_contain_the_key(
    backends: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(monkeypatch, "Leaky")
    with pytest.raises(KeyringError) as caught:
        store_key("工作", ASCII_KEY)
    assert "磁盘已满" in caught.value.message
    assert ASCII_KEY not in caught.value.user_text()
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_timeout_comes_from_the_environment() -> None:
    assert keyring_timeout({}) == 10.0
    assert keyring_timeout({"HOLYSHEEP_KEYRING_TIMEOUT": "2.5"}) == 2.5
    with pytest.raises(ConfigError, match="HOLYSHEEP_KEYRING_TIMEOUT"):
        keyring_timeout({"HOLYSHEEP_KEYRING_TIMEOUT": "十秒"})


def test_status_reports_source_backend_and_mask(backends: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, "FileStore")
    store_key("工作", ASCII_KEY)
    status = key_status("工作", Profile(), environ={"HOLYSHEEP_API_KEY": OTHER_KEY})
    assert status.source == "environment variable HOLYSHEEP_API_KEY"
    assert status.masked == "****QRST"
    assert (status.backend, status.stored) == ("hs_test_backends.FileStore", True)
    dumped = json.dumps(status.to_json(), ensure_ascii=False) + repr(status)
    assert ASCII_KEY not in dumped and OTHER_KEY not in dumped


# --- the CLI, as a real subprocess ------------------------------------------------------------------


def holysheep(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "holysheep_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,  # hang guard
    )


@pytest.fixture
def config_with_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "配置.toml"
    path.write_text('[profiles."工作"]\nmodel = "deepseek-chat"  # 深度求索\n', encoding="utf-8")
    monkeypatch.setenv("HOLYSHEEP_CONFIG", str(path))
    return path


def test_cli_set_status_delete(
    backends: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config_with_profile: Path
) -> None:
    use_backend(monkeypatch, "FileStore")
    done = holysheep("key", "set", "--profile", "工作", stdin=ASCII_KEY + "\n")
    assert done.returncode == EXIT_OK, done.stderr
    assert stored(tmp_path) == {"holysheep-tui/工作": ASCII_KEY}  # trailing newline stripped
    assert "****WXYZ" in done.stdout
    assert ASCII_KEY not in done.stdout + done.stderr

    status = holysheep("key", "status", "--profile", "工作", "--json")
    assert status.returncode == EXIT_OK, status.stderr
    data = json.loads(status.stdout)
    assert data["source"] == "keyring (hs_test_backends.FileStore)"
    assert data["masked"] == "****WXYZ"
    assert ASCII_KEY not in status.stdout

    assert holysheep("key", "delete", "--profile", "工作").returncode == EXIT_OK
    assert stored(tmp_path) == {}
    again = holysheep("key", "delete", "--profile", "工作")
    assert again.returncode == EXIT_OK and "nothing to delete" in again.stderr

    missing = holysheep("key", "status", "--profile", "工作")
    assert missing.returncode == EXIT_AUTH
    assert "HOLYSHEEP_API_KEY" in missing.stderr and "holysheep key set --profile 工作" in missing.stderr


def test_cli_set_refuses_empty_or_malformed_input(backends: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, "FileStore")
    empty = holysheep("key", "set", stdin="\n")
    assert empty.returncode == EXIT_USAGE and "empty" in empty.stderr
    two_lines = holysheep("key", "set", stdin=f"{ASCII_KEY}\n{OTHER_KEY}\n")
    assert two_lines.returncode == EXIT_USAGE
    assert ASCII_KEY not in two_lines.stderr
    chinese = holysheep("key", "set", stdin="密钥\n")
    assert chinese.returncode == EXIT_USAGE


def test_cli_unknown_profile_is_a_usage_error(config_with_profile: Path) -> None:
    done = holysheep("key", "status", "--profile", "不存在")
    assert done.returncode == EXIT_USAGE
    assert "工作" in done.stderr and "holysheep" in done.stderr


def test_cli_without_keyring_refuses_set_and_uses_the_variable() -> None:
    refused = holysheep("key", "set", stdin=ASCII_KEY)
    assert refused.returncode == EXIT_AUTH
    assert "No system keyring" in refused.stderr and "HOLYSHEEP_API_KEY" in refused.stderr
    status = holysheep("key", "status", env={"HOLYSHEEP_API_KEY": ASCII_KEY})
    assert status.returncode == EXIT_OK
    assert "****WXYZ from environment variable HOLYSHEEP_API_KEY" in status.stdout
    assert ASCII_KEY not in status.stdout + status.stderr


def test_cli_reports_a_hung_keyring_and_exits(backends: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, "Hanging")
    monkeypatch.setenv("HOLYSHEEP_KEYRING_TIMEOUT", "1")
    status = holysheep("key", "status")
    assert status.returncode == EXIT_AUTH
    assert "did not answer within 1 s" in status.stderr
    refused = holysheep("key", "set", stdin=ASCII_KEY)
    assert refused.returncode == EXIT_AUTH and "did not answer within 1 s" in refused.stderr


def test_cli_set_on_a_terminal_prompts_without_echo(
    backends: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_backend(monkeypatch, "FileStore")
    master, slave = os.openpty()
    # The child makes the pty its controlling terminal, as a login shell would, then runs the CLI.
    launcher = (
        "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
        "os.execv(sys.executable, [sys.executable, '-m', 'holysheep_tui', 'key', 'set'])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    try:
        seen = _read_until(master, b"(input hidden): ")
        assert b"API key for profile 'holysheep'" in seen
        os.write(master, ASCII_KEY.encode() + b"\n")
        seen += _read_until(master, b"in the keyring")
        assert proc.wait(timeout=30) == EXIT_OK
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        os.close(master)
    assert ASCII_KEY.encode() not in seen  # not echoed, not printed
    assert b"****WXYZ" in seen
    assert stored(tmp_path) == {"holysheep-tui/holysheep": ASCII_KEY}


def _read_until(fd: int, marker: bytes) -> bytes:
    """Read from a pty until marker appears; bounded by a 30 s deadline."""
    data = b""
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while marker not in data and time.monotonic() < deadline:
            if sel.select(timeout=0.5):
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                data += chunk
    return data
