"""Keys typed right after launch (issue 15 item 5, issue 17 item 3): `holysheep --demo` on a real
pseudo-terminal, typed at 0.15-0.3 s after the spawn and a prompt plus Enter at 0.35 s, before the app's
first frame; all of it reaches the prompt and is sent, and the terminal is left as it was found."""

from __future__ import annotations

import termios
import time

import pytest

from tests.test_startup_pty import ANSWER_END, READY, Pty, launched

TYPED = (
    (0.15, "你好"),
    (0.22, "ab"),
    (0.30, "，价格"),
    (0.35, "是多少\r"),
)
SENT = "你好ab，价格是多少"


def type_at_moments(app: Pty) -> None:
    """Each piece at its moment after the spawn (the moments drive the input; nothing is timed)."""
    start = time.monotonic()
    for moment, text in TYPED:
        while time.monotonic() - start < moment:
            app._read(0.005)
        app.type(text)


@pytest.mark.parametrize("launches", [1, 2], ids=["first-launch", "from-the-start-up-cache"])
def test_keys_typed_during_start_up_reach_the_prompt_and_are_sent(launches: int) -> None:
    for _ in range(launches - 1):  # the second launch draws its first frame from the cache
        with launched("--demo") as earlier:
            earlier.wait_for(READY)
            assert earlier.quit() == 0
    with launched("--demo") as app:
        type_at_moments(app)
        app.wait_for(ANSWER_END, timeout=60)
        assert f"收到你的问题：「{SENT}」" in app.text.replace("\n", "")
        assert app.quit() == 0
        lflag = termios.tcgetattr(app.master)[3]
    assert lflag & termios.ICANON and lflag & termios.ECHO  # the shell gets its terminal back
    assert "Traceback" not in app.text
