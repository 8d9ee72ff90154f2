"""Deterministic answer text for the simulator: a token splitter and Markdown-rich replies.

Tokens: each CJK character is one token; each run of ASCII word characters or of other
punctuation is one token, carrying the whitespace before it. Joining tokens gives back the text,
so usage counts always equal what was streamed.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

_CJK = (
    "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0002fa1f"
)
TOKEN_RE = re.compile(rf"\s*(?:[{_CJK}]|[A-Za-z0-9_]+|[^\sA-Za-z0-9_{_CJK}]+)|\s+")
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD_RE = re.compile(r"[A-Za-z]+")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into tokens whose concatenation is ``text``."""
    return TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    return sum(1 for _ in TOKEN_RE.finditer(text))


def is_chinese(text: str) -> bool:
    """True when the text has at least as many Han characters as Latin words."""
    han = len(_HAN_RE.findall(text))
    return han > 0 and han >= len(_WORD_RE.findall(text))


def seed_of(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8], "big")


# ---- models ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    owned_by: str
    context_window: int
    thinking: bool = False
    vision: bool = False
    """Reads ``image_url`` parts (as the price data's ``ModelPrice.vision`` says; a test holds them equal)."""

    @property
    def usage_style(self) -> str:
        """``moonshot`` (usage inside choices[0]), ``deepseek`` (cache-hit fields) or ``openai``."""
        if self.id.startswith(("kimi-", "moonshot-")):
            return "moonshot"
        return "deepseek" if self.id.startswith("deepseek-") else "openai"


MODELS: dict[str, ModelSpec] = {
    m.id: m
    for m in (
        ModelSpec("kimi-k2", "moonshotai", 131072),
        ModelSpec("kimi-k2-thinking", "moonshotai", 262144, thinking=True),
        ModelSpec("moonshot-v1-8k", "moonshotai", 8192),
        ModelSpec("moonshot-v1-32k", "moonshotai", 32768),
        ModelSpec("deepseek-v3.2", "deepseek", 128000),
        ModelSpec("deepseek-reasoner", "deepseek", 128000, thinking=True),
        ModelSpec("gpt-4.1", "openai", 1047576, vision=True),
        ModelSpec("claude-sonnet-4.5", "anthropic", 200000, vision=True),
        ModelSpec("gemini-2.5-flash", "google", 1048576, vision=True),
    )
}


# ---- building blocks ---------------------------------------------------------------------------

_PY = """```python
import httpx

with httpx.stream(
    "POST",
    "https://api.holysheep.ai/v1/chat/completions",
    headers={"Authorization": f"Bearer {api_key}"},
    json={"model": "kimi-k2", "stream": True, "messages": [{"role": "user", "content": "你好"}]},
    timeout=60,
) as response:
    for line in response.iter_lines():
        if line.startswith("data:") and line != "data: [DONE]":
            print(line[5:].strip())
```"""

_BASH = """```bash
# 流式请求：-N 关闭 curl 的输出缓冲
curl -N https://api.holysheep.ai/v1/chat/completions \\
  -H "Authorization: Bearer $HOLYSHEEP_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "deepseek-v3.2", "stream": true, "messages": [{"role": "user", "content": "你好"}]}'
```"""

_JSON = """```json
{
  "model": "kimi-k2",
  "stream": true,
  "stream_options": {"include_usage": true},
  "messages": [
    {"role": "system", "content": "你是一个简洁的助手。"},
    {"role": "user", "content": "用三句话解释人民币结算的好处"}
  ],
  "max_tokens": 1024
}
```"""

_SQL = """```sql
-- 按模型统计最近 7 天的花费与 p95 首字延迟
SELECT model,
       COUNT(*)                AS requests,
       SUM(cost_usd)           AS cost_usd,
       MAX(ttft_ms)            AS worst_ttft_ms
FROM metrics
WHERE started_at >= datetime('now', '-7 days')
GROUP BY model
ORDER BY cost_usd DESC;
```"""

_TABLE_ZH = """| 模型 | 输出价格 ($/MTok) | 上下文窗口 | 适合场景 |
|------|------------------:|-----------:|----------|
| GPT-4.1 | 8.00 | 1,047,576 | 复杂推理、长文档 |
| Claude Sonnet 4.5 | 15.00 | 200,000 | 代码审查、写作 |
| Gemini 2.5 Flash | 2.50 | 1,048,576 | 批量摘要 |
| DeepSeek V3.2 | 0.42 | 128,000 | 高性价比日常任务 |"""

_TABLE_EN = """| Scenario | Standard billing | HolySheep billing | Saved per year |
|----------|-----------------:|------------------:|---------------:|
| All DeepSeek V3.2 | ¥30,660 | ¥4,200 | ¥26,460 |
| 50/50 DeepSeek / GPT-4.1 | ¥307,330 | ¥42,100 | ¥265,230 |
| Claude Sonnet 4.5 heavy | ¥1,095,000 | ¥150,000 | ¥945,000 |"""

_ZH_PARAS = (
    "在成本方面，HolySheep 按 ¥1 = $1 结算，而市场汇率约为 ¥7.3，所以同样的美元标价，"
    "用人民币支付时实际花费大约只有原来的七分之一。",
    "延迟通常由两部分组成：中转节点本身的开销（一般在 50 毫秒以内）和上游模型生成首个 token 的时间。"
    "真正影响体验的是后者，所以建议同时观察首字延迟和 p95。",
    "人民币结算的另一个好处是可以直接使用微信或支付宝充值，不再需要国际信用卡，"
    "财务对账也更简单：账单上的金额就是实际支付的金额。",
    "如果遇到 429，请先看响应头里的 `Retry-After`，按它给出的秒数等待后再重试；"
    "不要在已经收到部分回答之后自动重试，否则用户会看到重复的内容。",
    "流式输出时，每个 `data:` 行都是一个 JSON 片段，最后以 `data: [DONE]` 结束。"
    "客户端应当按字节缓冲，因为一个汉字的 UTF-8 编码可能被拆在两个网络包里。",
    "对于长对话，记得估算上下文长度：`moonshot-v1-8k` 只有 8K 的窗口，"
    "超出后会返回 `context_length_exceeded`，这时可以换用 `moonshot-v1-32k` 或 `kimi-k2`。",
)

_EN_PARAS = (
    "On cost, the relay bills at ¥1 = $1 instead of the ~¥7.3 market rate, so a team paying in RMB "
    "spends roughly one seventh of what the same dollar price would cost through a card.",
    "Latency has two parts: the relay hop itself (usually under 50 ms) and the upstream model's time "
    "to first token. Watch the p95 of time to first token, not just the average.",
    "Streaming answers arrive as `data:` lines of JSON, ending with `data: [DONE]`. A robust client "
    "buffers bytes, not characters, because a multi-byte character can be split across reads.",
    "When the relay answers 429, honour the `Retry-After` header and back off with jitter; never retry "
    "silently once part of the answer has already been shown.",
    "See the [OpenAI chat completions reference](https://platform.openai.com/docs/api-reference/chat) "
    "for the request fields, and [HolySheep](https://www.holysheep.ai) for keys and pricing.",
)

_ZH_HEADINGS = ("## 成本对比", "## 延迟与稳定性", "## 人民币结算", "### 接入步骤", "## 常见错误", "### 小结")
_EN_HEADINGS = ("## Cost", "## Latency", "## Getting started", "### Error handling", "## Summary")

_ZH_BULLETS = """- **成本**：¥1 = $1，按人民币结算，省去约 85% 的汇率损耗
- **延迟**：中转开销通常低于 50 ms，首字延迟取决于上游模型
- **支付**：支持微信、支付宝，无需国际信用卡
- **兼容**：OpenAI 兼容接口，只需修改 `base_url`"""

_EN_BULLETS = """- **Cost**: billed in RMB at ¥1 = $1
- **Latency**: relay overhead usually below 50 ms
- **Compatibility**: OpenAI-shaped API, change only `base_url`
- **Payments**: WeChat Pay and Alipay"""

_ZH_STEPS = """1. 在控制台创建 API Key，并设置环境变量 `HOLYSHEEP_API_KEY`
2. 把 `base_url` 改为 `https://api.holysheep.ai/v1`
3. 选择模型，例如 `kimi-k2` 或 `deepseek-v3.2`
4. 打开流式输出，并记录首字延迟和 token 用量"""

_EN_STEPS = """1. Create a key and export it as `HOLYSHEEP_API_KEY`
2. Point `base_url` at `https://api.holysheep.ai/v1`
3. Pick a model such as `kimi-k2` or `gpt-4.1`
4. Stream the answer and record time to first token"""

_ZH_QUOTES = (
    "> 提示：不要把 API Key 写进代码仓库，使用环境变量或系统钥匙串保存。",
    "> 注意：`insufficient_quota` 虽然是 429，但它表示余额不足，重试没有意义。",
)
_EN_QUOTES = (
    "> Tip: keep the API key in the keyring or an environment variable, never in a file you commit.",
)

_CODE_BLOCKS = (_PY, _BASH, _JSON, _SQL)


def _blocks(rng: random.Random, chinese: bool) -> list[str]:
    """A shuffled pool of Markdown blocks, mostly in the reply language."""
    if chinese:
        pool = [*_ZH_PARAS, _ZH_BULLETS, _ZH_STEPS, _TABLE_ZH, *_ZH_QUOTES, *_CODE_BLOCKS, _EN_PARAS[0]]
        headings = list(_ZH_HEADINGS)
    else:
        pool = [*_EN_PARAS, _EN_BULLETS, _EN_STEPS, _TABLE_EN, *_EN_QUOTES, *_CODE_BLOCKS, _ZH_PARAS[0]]
        headings = list(_EN_HEADINGS)
    rng.shuffle(pool)
    out: list[str] = []
    for i, block in enumerate(pool):
        if i % 3 == 0:
            out.append(headings[(i // 3) % len(headings)])
        out.append(block)
    return out


def _filler(tokens: int, rng: random.Random) -> str:
    """Prose of exactly ``tokens`` tokens (no leading whitespace)."""
    parts: list[str] = []
    have = 0
    paras = [*_ZH_PARAS, *_EN_PARAS]
    while have < tokens:
        para = paras[rng.randrange(len(paras))]
        parts.append(para)
        have += count_tokens(para) + 1
    return "".join(split_tokens(" ".join(parts))[:tokens])


def mixed_markdown(tokens: int, seed: int = 0) -> str:
    """Mixed Chinese/English Markdown of exactly ``tokens`` tokens (headings, lists, a table, code)."""
    if tokens <= 0:
        return ""
    rng = random.Random(seed)
    out: list[str] = []
    have = 0
    language = seed % 2 == 0
    while True:
        for block in _blocks(rng, chinese=language):
            piece = block if not out else "\n\n" + block
            n = count_tokens(piece)
            if have + n > tokens:
                rest = tokens - have
                if rest:
                    out.append(_filler(rest, rng) if not out else "\n\n" + _filler(rest, rng))
                return "".join(out)
            out.append(piece)
            have += n
            if have == tokens:
                return "".join(out)
        language = not language


# ---- demo replies --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    content: str
    reasoning: str = ""


def _quote(prompt: str, limit: int = 40) -> str:
    line = " ".join(prompt.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _topic_blocks(prompt: str, chinese: bool) -> list[str]:
    """Blocks that fit what was asked, put first."""
    p = prompt.lower()
    picks: list[str] = []
    if any(w in p for w in ("python", "代码", "code", "httpx", "示例")):
        picks.append(_PY)
    if any(w in p for w in ("curl", "bash", "shell", "命令")):
        picks.append(_BASH)
    if any(w in p for w in ("sql", "数据库", "统计", "database")):
        picks.append(_SQL)
    if any(w in p for w in ("json", "请求体", "request body")):
        picks.append(_JSON)
    if any(w in p for w in ("价格", "成本", "费用", "price", "cost", "便宜")):
        picks.append(_TABLE_ZH if chinese else _TABLE_EN)
    if any(w in p for w in ("延迟", "latency", "速度", "慢")):
        picks.append(_ZH_PARAS[1] if chinese else _EN_PARAS[1])
    if any(w in p for w in ("人民币", "支付", "微信", "支付宝", "rmb", "pay")):
        picks.append(_ZH_PARAS[2])
    return picks


def demo_reply(model: str, prompt: str, *, thinking: bool = False, variant: int = 0) -> Reply:
    """A plausible Markdown answer to ``prompt``; the same prompt always gives the same answer."""
    chinese = is_chinese(prompt)
    rng = random.Random(seed_of(prompt) + variant)
    quote = _quote(prompt)
    if chinese:
        head = f"**{model}**（HolySheep 本地模拟器）收到你的问题：「{quote}」。下面分几点回答。"
        tail = "以上是模拟器生成的示例回答，内容固定、可重复，适合演示和测试。还有其他问题吗？"
    else:
        head = f"**{model}** (HolySheep local simulator) here. You asked: “{quote}”. Here is a short answer."
        tail = "This is a canned demo answer from the simulator: same prompt, same answer. Anything else?"
    picks = _topic_blocks(prompt, chinese)
    pool = [b for b in _blocks(rng, chinese) if b not in picks and not b.startswith("#")]
    all_headings = _ZH_HEADINGS if chinese else _EN_HEADINGS
    headings = list(all_headings[:-1])
    rng.shuffle(headings)
    body: list[str] = [head]
    for i, block in enumerate([*picks, *pool][: max(4, len(picks) + 2)]):
        if i % 2 == 0:
            body.append(headings[(i // 2) % len(headings)])
        body.append(block)
    body += [all_headings[-1], tail]
    reasoning = ""
    if thinking:
        if chinese:
            reasoning = (
                f"用户问的是「{quote}」。先确认关键点：成本、延迟和结算方式。"
                "回答应当结构清晰：先给结论，再列要点，最后给一个可以直接运行的示例。"
            )
        else:
            reasoning = (
                f"The user asks: “{quote}”. Key points to cover: cost, latency, how billing works. "
                "Answer with a conclusion first, then a list, then a runnable example."
            )
    return Reply(content="\n\n".join(body), reasoning=reasoning)


def prose(tokens: int, seed: int = 0) -> str:
    """Plain prose of exactly ``tokens`` tokens."""
    return _filler(tokens, random.Random(seed)) if tokens > 0 else ""


# ---- the answer plan ---------------------------------------------------------------------------

TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = '{"city": "上海", "unit": "celsius"}'
REFUSAL_TEXT = "抱歉，我无法协助处理这个请求。I'm sorry, I can't help with that."


@dataclass(slots=True)
class ChoicePlan:
    """The tokens one choice streams, already cut to ``max_tokens``."""

    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_args: list[str] = field(default_factory=list)
    tool: bool = False
    finish: str = "stop"

    @property
    def completion_tokens(self) -> int:
        tool = count_tokens(TOOL_NAME) if self.tool else 0
        return len(self.reasoning) + len(self.content) + len(self.refusal) + len(self.tool_args) + tool


def prompt_text(messages: list[dict[str, object]]) -> tuple[str, list[str]]:
    """The last user message and every message's text."""
    texts: list[str] = []
    last_user = ""
    for msg in messages:
        content = msg.get("content")
        if isinstance(content, list):
            text = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        else:
            text = content if isinstance(content, str) else ""
        texts.append(text)
        if msg.get("role") == "user":
            last_user = text
    return last_user, texts


def prompt_usage(texts: list[str], images: list[int] | None = None, image_tokens: int = 0) -> tuple[int, int]:
    """(prompt_tokens, cached_tokens): earlier turns count as a cached prefix; each message's images
    (``images[i]`` of them) count ``image_tokens`` each."""
    counts = [count_tokens(t) + 4 for t in texts]
    if images:
        counts = [c + n * image_tokens for c, n in zip(counts, images, strict=False)]
    return sum(counts), sum(counts[:-1])


def plan_answer(
    spec: ModelSpec,
    prompt: str,
    *,
    n: int = 1,
    max_tokens: int | None = None,
    length: int | None = None,
    faults: frozenset[str] = frozenset(),
    finish: str | None = None,
    preface: str = "",
) -> list[ChoicePlan]:
    """What each of ``n`` choices will say; ``faults`` may ask for reasoning, a refusal, tools, a 1 MB text.
    ``preface`` (what the prompt carried besides text) opens each answer."""
    plans: list[ChoicePlan] = []
    thinking = spec.thinking or bool(faults & {"reasoningdup", "reasoningfield", "googlethought"})
    for variant in range(n):
        reply = demo_reply(spec.id, prompt, thinking=thinking, variant=variant)
        content = reply.content
        if length is not None:
            content = mixed_markdown(length, seed=seed_of(prompt) + variant)
        elif "bigchunk" in faults:
            base = mixed_markdown(4000, seed=seed_of(prompt) + variant)
            content = "\n\n".join([base] * (1_000_000 // len(base.encode()) + 1))
        plan = ChoicePlan(reasoning=split_tokens(reply.reasoning))
        if "refusal" in faults:
            plan.refusal = split_tokens(REFUSAL_TEXT)
        elif "tools" in faults:
            plan.content = split_tokens("我来查一下上海的天气。")
            plan.tool, plan.tool_args, plan.finish = True, split_tokens(TOOL_ARGUMENTS), "tool_calls"
        else:
            plan.content = split_tokens(f"{preface}\n\n{content}" if preface else content)
        if max_tokens is not None and plan.completion_tokens > max_tokens:
            budget = max_tokens
            for name in ("reasoning", "content", "refusal", "tool_args"):
                tokens: list[str] = getattr(plan, name)
                setattr(plan, name, tokens[:budget])
                budget = max(0, budget - len(tokens))
            plan.tool = plan.tool and bool(plan.tool_args)
            plan.finish = "length"
        if finish:
            plan.finish = finish
        plans.append(plan)
    return plans


def usage_body(
    spec: ModelSpec, prompt_tokens: int, cached: int, plans: list[ChoicePlan]
) -> dict[str, object]:
    completion = sum(p.completion_tokens for p in plans)
    usage: dict[str, object] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
    }
    if spec.usage_style == "deepseek":
        usage["prompt_cache_hit_tokens"] = cached
        usage["prompt_cache_miss_tokens"] = prompt_tokens - cached
    else:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    reasoning = sum(len(p.reasoning) for p in plans)
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def completion_body(
    spec: ModelSpec,
    plans: list[ChoicePlan],
    usage: dict[str, object],
    *,
    cid: str,
    created: int,
    reasoning_fields: tuple[str, ...] = ("reasoning_content",),
) -> dict[str, object]:
    """The non-streaming ``chat.completion`` object."""
    choices = []
    for i, plan in enumerate(plans):
        message: dict[str, object] = {"role": "assistant", "content": "".join(plan.content) or None}
        if plan.reasoning:
            message.update(dict.fromkeys(reasoning_fields, "".join(plan.reasoning)))
        if plan.refusal:
            message["refusal"] = "".join(plan.refusal)
        if plan.tool:
            message["tool_calls"] = [
                {"id": f"call_{i}", "type": "function",
                 "function": {"name": TOOL_NAME, "arguments": "".join(plan.tool_args)}}
            ]  # fmt: skip
        choices.append({"index": i, "message": message, "finish_reason": plan.finish})
    return {"id": cid, "object": "chat.completion", "created": created, "model": spec.id,
            "choices": choices, "usage": usage}  # fmt: skip
