"""The load rows of the fault matrix: many `ask` processes on one history, and a large batch with failures."""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from holysheep_tui.simulator import Pacing, RecordedRequest, RelaySimulator
from holysheep_tui.store import HistoryStore

pytestmark = pytest.mark.slow

FAST = Pacing(first_token_delay=0.0, tokens_per_second=None)
CONFIG = "[profiles.holysheep.retry]\nbase_delay = 0.02\nmax_delay = 0.1\n"


@pytest.fixture
def relay(make_simulator: Callable[..., RelaySimulator]) -> RelaySimulator:
    return make_simulator(pacing=FAST)


def test_50_concurrent_asks_share_one_history_without_losing_a_row(
    relay: RelaySimulator,
    tmp_path: Path,
    cli: Any,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    data = tmp_path / "共享数据"
    env = {"HOLYSHEEP_DATA_DIR": str(data)}
    prompts = [f"第{i}个并发问题：上下文窗口有多大？" for i in range(50)]
    procs = [
        cli.popen("ask", "--base-url", relay.base_url, "-q", prompt, stdin=subprocess.DEVNULL, env=env)
        for prompt in prompts
    ]
    deadline = time.monotonic() + 180  # hang guard for all 50
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    for code, out, err in results:
        assert code == 0, err
        assert "locked" not in err.lower() and "warning" not in err.lower(), err
        assert out.strip()
    assert len(chats(relay)) == 50
    with HistoryStore.open(data / "history.db") as store:
        convs = store.list_conversations(limit=1000)
        assert len(convs) == 50
        stored: dict[str, str] = {}
        for conv in convs:
            prompt, answer = store.get_conversation(conv.id).messages
            assert answer.status == "complete" and answer.content
            stored[prompt.content] = answer.content
    assert sorted(stored) == sorted(prompts)
    for (_code, out, _err), text in zip(results, prompts, strict=True):
        assert out.rstrip("\n") == stored[text].rstrip("\n"), "each process stored its own answer"
    metrics = (data / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(metrics) == 50 and all(json.loads(line) for line in metrics), "no interleaved metrics lines"


def test_batch_of_1000_at_concurrency_16_with_5_percent_failures_accounts_for_every_item(
    relay: RelaySimulator,
    tmp_path: Path,
    cli: Any,
    chats: Callable[[RelaySimulator], list[RecordedRequest]],
) -> None:
    items = []
    for i in range(1000):
        item: dict[str, str] = {"id": f"题{i:04d}", "prompt": f"第{i}题：请简短回答价格问题"}
        if i % 20 == 0:  # 50 failures: half permanent (500), half fail once then answer (503 once)
            item["model"] = "kimi-k2+500" if i % 40 == 0 else f"kimi-k2+503x1,len={100 + i}"
        items.append(item)
    src = tmp_path / "题目.jsonl"
    src.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in items) + "\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "结果.jsonl"
    proc = cli(
        "batch", str(src), "-o", str(out), "--base-url", relay.base_url, "-c", "16", "--max-retries", "2", "-q",
        timeout=240, env={"HOLYSHEEP_CONFIG": str(config), "HOLYSHEEP_DATA_DIR": str(tmp_path / "数据")},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # some items failed
    assert "Traceback" not in proc.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in rows}
    assert len(rows) == 1000 and sorted(by_id) == sorted(x["id"] for x in items), "every item exactly once"
    statuses = Counter(r["status"] for r in rows)
    assert statuses == {"ok": 975, "error": 25}
    for i, item in enumerate(items):
        row = by_id[item["id"]]
        # "attempts" counts whole answers; retries before the first byte happen inside one and show server-side.
        if i % 40 == 0:
            assert row["status"] == "error" and row["attempts"] == 1 and row["error"]["status"] == 500
        elif i % 20 == 0:
            assert row["status"] == "ok" and row["attempts"] == 1 and row["content"]
            assert relay.attempts(item["model"]) == 2, "a transient failure costs exactly one retry"
        else:
            assert row["status"] == "ok" and row["attempts"] == 1 and row["content"]
    assert relay.attempts("kimi-k2+500") == 25 * 3, "retries are bounded by --max-retries"
    assert len(chats(relay)) == 950 + 25 * 3 + 25 * 2
