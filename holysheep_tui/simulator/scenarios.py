"""What a simulator request asks for: models, scenario strings, error replies and the answer plan.

A scenario rides on the model name after ``+`` (``kimi-k2+429``, ``gpt-4.1+cut,tps=20``) or in an
``X-Sim-Scenario`` header. docs/SIMULATOR.md describes every token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from holysheep_tui.simulator.content import MODELS, TOOL_NAME, ChoicePlan, ModelSpec, count_tokens

SCENARIO_HEADER = "x-sim-scenario"


STATUS_SCENARIOS = frozenset(
    {
        "400",
        "400ctx",
        "401",
        "402",
        "403",
        "404",
        "408",
        "413",
        "429",
        "429ra0",
        "quota",
        "500",
        "502",
        "503",
        "504",
        "errarray",
        "errraw",
        "errtext",
    }
)
FAULTS = frozenset(
    {
        "cut", "reset", "stall", "hang", "nodone", "malformed", "inerror", "eventerror", "bigchunk", "tiny",
        "splitutf8", "badutf8", "crlf", "nospace", "comments", "n2", "tools", "reasoningdup",
        "reasoningfield", "emptyfirst", "usageboth", "refusal", "ascii", "fast", "googlethought",
        "lonesurrogate", "hugeusage", "floodline", "flooddata",
    }
)  # fmt: skip
_PARAMS = {"len", "tps", "ttft", "chunk", "stall", "finish"}
_TOKEN_RE = re.compile(r"^([a-z0-9]+?)(?:x(\d+))?$")
_PARAM_RE = re.compile(r"^([a-z]+)=([A-Za-z0-9_.]+)$")
DEFAULT_STALL = 60.0


@dataclass(frozen=True, slots=True)
class Pacing:
    """``tokens_per_second=None`` streams at full speed."""

    first_token_delay: float = 0.0
    tokens_per_second: float | None = None
    chunk_tokens: int = 3


DEMO_PACING = Pacing(first_token_delay=0.4, tokens_per_second=60.0, chunk_tokens=3)
FULL_SPEED = Pacing()


class ScenarioError(ValueError):
    """A scenario string the simulator does not understand."""


@dataclass(frozen=True, slots=True)
class Scenario:
    status: str | None = None
    faults: frozenset[str] = frozenset()
    length: int | None = None
    tps: float | None = None
    ttft: float | None = None
    chunk: int | None = None
    stall: float = DEFAULT_STALL
    finish: str | None = None

    def has(self, fault: str) -> bool:
        return fault in self.faults

    def pacing(self, base: Pacing) -> Pacing:
        """``base`` with this request's ``fast``, ``tps=`` and ``ttft=`` applied."""
        if self.has("fast"):
            base = replace(base, first_token_delay=0.0, tokens_per_second=None)
        if self.tps is not None:
            base = replace(base, tokens_per_second=self.tps if self.tps > 0 else None)
        if self.ttft is not None:
            base = replace(base, first_token_delay=max(0.0, self.ttft))
        return base

    @property
    def reasoning_fields(self) -> tuple[str, ...]:
        if self.has("reasoningfield"):
            return ("reasoning",)
        return ("reasoning_content", "reasoning") if self.has("reasoningdup") else ("reasoning_content",)


def split_model(model: str) -> tuple[str, str]:
    base, _, suffix = model.partition("+")
    return base, suffix


def parse_scenario(text: str, attempt: int = 1) -> Scenario:
    """Parse ``text`` for the ``attempt``-th request (1-based); ``NAMExK`` is active while attempt <= K."""
    status: str | None = None
    faults: set[str] = set()
    params: dict[str, str] = {}
    for raw in text.split(","):
        token = raw.strip().lower()
        if not token:
            continue
        if m := _PARAM_RE.match(token):
            name, value = m.groups()
            if name not in _PARAMS:
                raise ScenarioError(f"unknown simulator parameter `{name}`")
            params[name] = value
            continue
        m = _TOKEN_RE.match(token)
        if not m or (m.group(1) not in STATUS_SCENARIOS and m.group(1) not in FAULTS):
            raise ScenarioError(f"unknown simulator scenario `{token}`")
        name, times = m.group(1), m.group(2)
        if times is not None and attempt > int(times):
            continue
        if name in STATUS_SCENARIOS:
            status = status or name
        else:
            faults.add(name)
    try:
        length = int(params["len"]) if "len" in params else None
        tps = float(params["tps"]) if "tps" in params else None
        ttft = float(params["ttft"]) if "ttft" in params else None
        chunk = max(1, int(params["chunk"])) if "chunk" in params else None
        stall = float(params.get("stall", DEFAULT_STALL))
    except ValueError as exc:
        raise ScenarioError(f"bad simulator parameter value in `{text}`") from exc
    if "stall" in params and "hang" not in faults:
        faults.add("stall")
    return Scenario(status, frozenset(faults), length, tps, ttft, chunk, stall, params.get("finish"))


# ---- error replies -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ErrorReply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def error_reply(
    status: int,
    message: str,
    type_: str,
    code: str | int | None,
    *,
    param: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> ErrorReply:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return ErrorReply(status, json.dumps(body, ensure_ascii=False).encode(), headers=headers)


def model_not_found(model: str) -> ErrorReply:
    return error_reply(404, f"The model `{model}` does not exist", "invalid_request_error", "model_not_found")


_NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def status_reply(name: str, spec: ModelSpec) -> ErrorReply:
    """The HTTP error a status scenario answers with."""
    window = spec.context_window
    table: dict[str, ErrorReply] = {
        "400": error_reply(400, "Invalid request: 'temperature' must be between 0 and 2 / 参数错误",
                           "invalid_request_error", "invalid_request", param="temperature"),
        "400ctx": error_reply(
            400,
            f"This model's maximum context length is {window} tokens. However, your messages resulted in "
            f"{window + 1024} tokens. Please reduce the length of the messages.",
            "invalid_request_error", "context_length_exceeded", param="messages"),
        "401": error_reply(401, "Incorrect API key provided / API Key 无效", "invalid_request_error",
                           "invalid_api_key"),
        "402": error_reply(402, "Insufficient balance / 余额不足", "insufficient_balance", "insufficient_balance"),
        "403": error_reply(403, f"This key is not allowed to use model `{spec.id}` / 无权访问该模型",
                           "permission_error", "permission_denied"),
        "404": model_not_found(spec.id),
        "408": error_reply(408, "Request timed out / 请求超时", "timeout_error", "request_timeout"),
        "413": error_reply(413, "Request entity too large / 请求体过大", "invalid_request_error",
                           "request_too_large"),
        "429": error_reply(429, "Rate limit reached for requests / 请求过于频繁，请稍后再试", "rate_limit_error",
                           "rate_limit_exceeded", headers=(("Retry-After", "1"),)),
        "429ra0": error_reply(429, "Rate limit reached for requests / 请求过于频繁，请稍后再试",
                              "rate_limit_error", "rate_limit_exceeded"),
        "quota": error_reply(429, "You exceeded your current quota, please check your plan and billing "
                             "details. / 额度已用完", "insufficient_quota", "insufficient_quota"),
        "500": error_reply(500, "The server had an error while processing your request / 服务器内部错误",
                           "server_error", "internal_error"),
        "502": ErrorReply(502, _NGINX_502, "text/html"),
        "503": error_reply(503, "The engine is currently overloaded / 服务繁忙，请稍后再试", "server_error",
                           "service_unavailable"),
        "504": error_reply(504, "Gateway timeout: the upstream model did not answer in time / 上游响应超时",
                           "server_error", "gateway_timeout"),
        "errarray": ErrorReply(400, json.dumps([{"error": {"code": 400, "status": "INVALID_ARGUMENT",
                               "message": "Request contains an invalid argument. / 请求参数无效"}}],
                               ensure_ascii=False).encode()),
        "errraw": ErrorReply(502, json.dumps({"error": {"message": "Provider returned error", "code": 502,
                             "metadata": {"provider_name": "Moonshot", "raw": json.dumps({"error": {
                                 "message": "upstream overloaded / 上游过载", "type": "engine_overloaded_error"}},
                                 ensure_ascii=False)}}}, ensure_ascii=False).encode()),
        "errtext": ErrorReply(500, b"Internal Server Error", "text/plain"),
    }  # fmt: skip
    return table[name]


# ---- reading a chat request ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatAsk:
    """A well-formed chat request, reduced to what the simulator needs."""

    model: str
    spec: ModelSpec
    suffix: str
    messages: list[dict[str, object]]
    max_tokens: int | None
    n: int
    stream: bool
    include_usage: bool


def _bad(message: str, param: str | None = None) -> ErrorReply:
    return error_reply(400, message, "invalid_request_error", None, param=param)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def read_chat(body: object, parsed: bool) -> ChatAsk | ErrorReply:
    """Validate a /chat/completions body the way OpenAI does: a 400 or 404 reply, or the request."""
    if not parsed or not isinstance(body, dict):
        return _bad("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _bad("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return _bad("'messages' is a required property and must be a non-empty array", "messages")
    base, suffix = split_model(model)
    spec = MODELS.get(base)
    if spec is None:
        return model_not_found(base)
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None and not _positive_int(limit):
        return _bad("max_tokens must be a positive integer", "max_tokens")
    n = body.get("n", 1)
    if not _positive_int(n) or n > 8:
        return _bad("n must be an integer from 1 to 8", "n")
    opts = body.get("stream_options")
    include = isinstance(opts, dict) and opts.get("include_usage") is True
    return ChatAsk(model, spec, suffix, messages, limit, n, body.get("stream") is True, include)


def context_error(spec: ModelSpec, prompt_tokens: int, limit: int | None) -> ErrorReply:
    asked = prompt_tokens + (limit or 0)
    return error_reply(
        400,
        f"This model's maximum context length is {spec.context_window} tokens. However, you requested "
        f"{asked} tokens ({prompt_tokens} in the messages, {limit or 0} in the completion). "
        "Please reduce the length of the messages or completion.",
        "invalid_request_error",
        "context_length_exceeded",
        param="messages",
    )


def model_object(spec: ModelSpec) -> dict[str, object]:
    return {"id": spec.id, "object": "model", "created": 1735689600, "owned_by": spec.owned_by,
            "context_window": spec.context_window}  # fmt: skip


# ---- the stream as a list of steps -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes for the socket. ``alone``: its own HTTP chunk, flushed at once, never coalesced."""

    data: bytes
    tokens: int = 0
    answer: bool = False
    events: int = 1
    alone: bool = False


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


@dataclass(frozen=True, slots=True)
class Hangup:
    """Close the connection without the terminating chunk; ``reset`` sends a TCP RST."""

    reset: bool = False


Step = Send | Pause | Hangup
_BAD_MARK = "\ue000"  # replaced by invalid UTF-8 bytes in the ``badutf8`` scenario
_LONE_MARK = "\ue001"  # replaced by the JSON escape of a lone surrogate in ``lonesurrogate``
_FLOOD = 640  # pieces of 64 KiB: 40 MiB
_FLOOD_LINE = ("洪" * 21845).encode()  # the rest of a line that never ends
_FLOOD_DATA = ("data: 洪水\n" * 5041).encode()  # data lines of an event that never ends
_GOOGLE_THOUGHT = {"google": {"thought": True}}


def hostile_usage(usage: dict[str, object]) -> dict[str, object]:
    """``hugeusage``: counts past 2**63, a float of 1e300 and a negative one, all valid JSON."""
    huge = {"prompt_tokens": 2**63, "completion_tokens": 2**64 + 1, "total_tokens": 10**30}
    cached = {"prompt_tokens_details": {"cached_tokens": 1e300}, "cached_tokens": -7}
    return {**usage, **huge, **cached, "completion_tokens_details": {"reasoning_tokens": 2**70}}


class _Sse:
    def __init__(self, sc: Scenario) -> None:
        self.eol = "\r\n" if sc.has("crlf") else "\n"
        self.data = "data:" if sc.has("nospace") else "data: "
        self.comments = sc.has("comments")
        self.ascii = sc.has("ascii")
        self.marked = sc.has("badutf8") or sc.has("lonesurrogate")
        self.count = 0

    def raw(self, payload: str, *, event: str | None = None) -> bytes:
        self.count += 1
        eol = self.eol
        head = ""
        if self.comments:
            head = f": keep-alive{eol}{eol}" if self.count % 4 == 0 else ""
            head += f"id: {self.count}{eol}event: {event or 'message'}{eol}"
        elif event:
            head = f"event: {event}{eol}"
        text = f"{head}{self.data}{payload}{eol}{eol}".encode()
        if not self.marked:
            return text
        lone = text.replace(_LONE_MARK.encode(), b"\\ud800").replace(b"\\ue001", b"\\ud800")
        return lone.replace(_BAD_MARK.encode(), b"\xff\xfe")

    def obj(self, obj: dict[str, object], *, event: str | None = None) -> bytes:
        return self.raw(json.dumps(obj, ensure_ascii=self.ascii, separators=(",", ":")), event=event)


def _split_utf8(data: bytes) -> list[bytes]:
    """Cut ``data`` inside its first multi-byte character."""
    for i, byte in enumerate(data):
        if byte >= 0xC0:
            return [data[: i + 1], data[i + 1 :]]
    return [data]


Delta = dict[str, object]


def _pieces(
    plan: ChoicePlan, sc: Scenario, chunk: int, reasoning_fields: tuple[str, ...]
) -> list[tuple[Delta, int]]:
    """(delta, tokens) for every answer chunk of one choice."""
    out: list[tuple[Delta, int]] = []

    def group(tokens: list[str], make: Callable[[str], Delta]) -> None:
        if sc.has("tiny"):
            for token in tokens:
                for j, char in enumerate(token):
                    out.append((make(char), 1 if j == len(token) - 1 else 0))
            return
        size = len(tokens) if sc.has("bigchunk") and tokens is plan.content else chunk
        for start in range(0, len(tokens), size):
            part = tokens[start : start + size]
            out.append((make("".join(part)), len(part)))

    google = sc.has("googlethought")  # thoughts as flagged content, in <thought> tags the answer closes
    if google:
        group(plan.reasoning, lambda t: {"content": t, "extra_content": _GOOGLE_THOUGHT})
    else:
        group(plan.reasoning, lambda t: dict.fromkeys(reasoning_fields, t))
    thoughts = len(out)
    group(plan.content, lambda t: {"content": t})
    if google and 0 < thoughts < len(out):
        for at, tag in ((0, "<thought>"), (thoughts, "</thought>")):
            out[at] = ({**out[at][0], "content": f"{tag}{out[at][0]['content']}"}, out[at][1])
    group(plan.refusal, lambda t: {"content": None, "refusal": t} if t else {"refusal": t})
    if plan.tool:
        call = {
            "index": 0,
            "id": "call_0",
            "type": "function",
            "function": {"name": TOOL_NAME, "arguments": ""},
        }
        out.append(({"tool_calls": [call]}, count_tokens(TOOL_NAME)))
        group(plan.tool_args, lambda t: {"tool_calls": [{"index": 0, "function": {"arguments": t}}]})
    return out


def stream_steps(
    spec: ModelSpec,
    sc: Scenario,
    plans: list[ChoicePlan],
    usage: dict[str, object],
    *,
    include_usage: bool,
    chunk_tokens: int,
    cid: str,
    created: int,
) -> list[Step]:
    """Every write of one SSE answer, faults included, in order."""
    sse = _Sse(sc)
    steps: list[Step] = []
    eol = sse.eol

    def chunk(choices: list[dict[str, object]], **extra: object) -> dict[str, object]:
        return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": spec.id,
                "choices": choices, **extra}  # fmt: skip

    if sc.has("comments"):
        preface = f"retry: 3000{eol}{eol}: OPENROUTER PROCESSING{eol}{eol}: OPENROUTER PROCESSING{eol}{eol}"
        steps.append(Send(preface.encode(), events=0))
    if sc.has("emptyfirst"):
        steps.append(Send(sse.obj(chunk([]))))
    for i in range(len(plans)):
        role = {"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        steps.append(Send(sse.obj(chunk([role]))))

    per_choice = [_pieces(p, sc, sc.chunk or chunk_tokens, sc.reasoning_fields) for p in plans]
    answer: list[Step] = []
    for j in range(max((len(p) for p in per_choice), default=0)):
        for i, pieces in enumerate(per_choice):
            if j >= len(pieces):
                continue
            delta, tokens = pieces[j]
            if sc.has("badutf8") and j == len(pieces) // 2 and "content" in delta:
                delta = {"content": f"{delta['content']}{_BAD_MARK}"}
            if sc.has("lonesurrogate") and j == len(pieces) // 2 and "content" in delta:
                delta = {**delta, "content": f"{delta['content']}{_LONE_MARK}"}
            data = sse.obj(chunk([{"index": i, "delta": delta, "finish_reason": None}]))
            if sc.has("splitutf8") and len(parts := _split_utf8(data)) == 2:
                answer.append(Send(parts[0], answer=True, events=0, alone=True))
                answer.append(Send(parts[1], tokens, answer=True, alone=True))
            else:
                answer.append(Send(data, tokens, answer=True))

    middle = max(1, len(answer) // 2) if answer else 0
    error = {
        "message": "Upstream provider error: 上游模型服务暂时不可用",
        "type": "upstream_error",
        "code": 502,
    }
    if sc.has("cut") or sc.has("reset"):
        return [*steps, *answer[:middle], Hangup(reset=sc.has("reset"))]
    if sc.has("floodline") or sc.has("flooddata"):
        head = Send(b'data: {"choices":[{"index":0,"delta":{"content":"' if sc.has("floodline") else b"")
        flood = _FLOOD_LINE if sc.has("floodline") else _FLOOD_DATA
        return [*steps, *answer[:middle], head, *(Send(flood, events=0) for _ in range(_FLOOD)), Hangup()]
    if sc.has("inerror"):
        return [*steps, *answer[:middle], Send(sse.obj({"error": error}))]
    if sc.has("eventerror"):
        return [*steps, *answer[:middle], Send(sse.obj({"error": error}, event="error"))]
    if sc.has("stall"):
        answer.insert(middle, Pause(sc.stall))
    if sc.has("malformed"):
        bad = f'{{"id":"{cid}","choices":[{{"index":0,"delta":{{"content":"未闭合的 JSON'
        answer.insert(middle, Send(sse.raw(bad)))
    steps += answer

    for i, plan in enumerate(plans):
        finish: dict[str, object] = {"index": i, "delta": {}, "finish_reason": plan.finish}
        if (spec.usage_style == "moonshot" or sc.has("usageboth")) and i == len(plans) - 1:
            finish["usage"] = usage
        steps.append(Send(sse.obj(chunk([finish]))))
    if include_usage and (spec.usage_style != "moonshot" or sc.has("usageboth")):
        steps.append(Send(sse.obj(chunk([], usage=usage))))
    if not sc.has("nodone"):
        steps.append(Send(sse.raw("[DONE]")))
    return steps
