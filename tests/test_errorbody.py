"""Error bodies as providers, relays and proxies really send them, and how each is classified."""

from __future__ import annotations

import json

import pytest

from holysheep_tui.relay.error_body import ErrorInfo, classify_error, clean_text, parse_error_body

OPENAI_QUOTA = json.dumps(
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
).encode()

OPENAI_BAD_KEY = (
    b'{\n    "error": {\n        "message": "Incorrect API key provided: sk-abc1234*************wxyz. '
    b'You can find your API key at https://platform.openai.com/account/api-keys.",\n'
    b'        "type": "invalid_request_error",\n        "param": null,\n        "code": "invalid_api_key"\n    }\n}\n'
)

OPENAI_CONTEXT = json.dumps(
    {
        "error": {
            "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
            "type": "invalid_request_error",
            "param": "messages",
            "code": "context_length_exceeded",
        }
    }
).encode()

DEEPSEEK_BALANCE = json.dumps(
    {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None, "code": "invalid_request_error"}}
).encode()

MOONSHOT_CONTEXT = json.dumps(
    {
        "error": {
            "message": "Invalid request: Your request exceeded model token limit: 8192",
            "type": "invalid_request_error",
        }
    },
    ensure_ascii=False,
).encode()

RELAY_BALANCE_ZH = json.dumps(
    {"error": {"message": "用户余额不足，请充值后重试", "type": "new_api_error", "code": "insufficient_user_quota"}},
    ensure_ascii=False,
).encode()

GOOGLE_ARRAY = json.dumps(
    [
        {
            "error": {
                "code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED",
            }
        }
    ]
).encode()

OPENROUTER_WRAPPED = json.dumps(
    {
        "error": {
            "message": "Provider returned error",
            "code": 429,
            "metadata": {
                "raw": json.dumps(
                    {"error": {"message": "请求过于频繁，请稍后再试 (rate limit reached for requests)", "type": "rate_limit_reached_error"}},
                    ensure_ascii=False,
                ),
                "provider_name": "Moonshot AI",
            },
        },
        "user_id": "user_2abc",
    },
    ensure_ascii=False,
).encode()

OPENROUTER_RAW_TEXT = json.dumps(
    {
        "error": {
            "message": "Provider returned error",
            "code": 502,
            "metadata": {"raw": "upstream connect error or disconnect/reset before headers", "provider_name": "DeepInfra"},
        }
    }
).encode()

NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

CLOUDFLARE_NO_TITLE = (
    "<!DOCTYPE html><html><head><style>body{color:red}</style><script>var x=1;</script></head>"
    "<body><h1 class='big'>Error 524 &amp; <b>超时</b></h1><p>A timeout occurred</p></body></html>"
).encode()


def test_openai_object_gives_message_code_and_type() -> None:
    info = parse_error_body(OPENAI_QUOTA, "application/json")
    assert info.message == "You exceeded your current quota, please check your plan and billing details."
    assert info.code == "insufficient_quota"
    assert info.type == "insufficient_quota"


def test_insufficient_quota_at_429_is_quota_not_rate_limit() -> None:
    assert classify_error(429, parse_error_body(OPENAI_QUOTA)) == "quota"


def test_bad_key_is_auth_and_masks_key_like_text() -> None:
    info = parse_error_body(OPENAI_BAD_KEY)
    assert info.message is not None and info.message.startswith("Incorrect API key provided: sk-")
    assert classify_error(401, info) == "auth"
    leaked = parse_error_body('{"error": "invalid key sk-live0123456789abcdefghijkl; header Bearer abcdefgh12345678"}')
    assert leaked.message == "invalid key sk-***; header Bearer ***"
    assert "0123456789" not in leaked.raw_excerpt


def test_code_as_number_and_as_string() -> None:
    assert parse_error_body(b'{"error": {"message": "\xe9\x99\x90\xe6\xb5\x81", "code": 429}}').code == "429"
    assert parse_error_body(b'{"error": {"message": "x", "code": "rate_limit_exceeded"}}').code == "rate_limit_exceeded"
    # A numeric code stands in for a missing status (in-stream errors).
    assert classify_error(None, parse_error_body(b'{"error": {"message": "\xe9\x99\x90\xe6\xb5\x81", "code": 429}}')) == "rate_limit"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": "模型负载过高"}', "模型负载过高"),
        ('{"message": "Invalid token 无效的令牌"}', "Invalid token 无效的令牌"),
        ('{"detail": "Not authenticated 未认证"}', "Not authenticated 未认证"),
        ('{"detail": [{"loc": ["body", "messages"], "msg": "field required 缺少字段", "type": "missing"}]}', "field required 缺少字段"),
        ('{"object": "error", "message": "模型 qwen 不存在", "type": "NotFoundError", "code": 404}', "模型 qwen 不存在"),
        ('{"error_msg": "余额不足", "error_code": 17}', "余额不足"),
    ],
)
def test_other_json_shapes(body: str, message: str) -> None:
    assert parse_error_body(body).message == message


def test_google_json_array() -> None:
    info = parse_error_body(GOOGLE_ARRAY)
    assert info.message == "Resource has been exhausted (e.g. check quota)."
    assert info.code == "429"
    assert info.type == "RESOURCE_EXHAUSTED"
    assert classify_error(429, info) == "rate_limit"


def test_openrouter_prefers_message_inside_metadata_raw() -> None:
    info = parse_error_body(OPENROUTER_WRAPPED)
    assert info.message == "Moonshot AI: 请求过于频繁，请稍后再试 (rate limit reached for requests)"
    assert info.type == "rate_limit_reached_error"
    assert classify_error(429, info) == "rate_limit"


def test_openrouter_raw_text_is_included_with_the_outer_message() -> None:
    info = parse_error_body(OPENROUTER_RAW_TEXT)
    assert info.message == "Provider returned error (DeepInfra): upstream connect error or disconnect/reset before headers"
    assert info.code == "502"
    assert classify_error(None, info) == "server"


def test_openrouter_raw_that_is_not_usable_keeps_the_outer_message() -> None:
    body = {"error": {"message": "Provider returned error", "code": 400, "metadata": {"raw": "   ", "provider_name": "X"}}}
    assert parse_error_body(body).message == "Provider returned error"


def test_nginx_html_gives_the_title_never_the_html() -> None:
    info = parse_error_body(NGINX_502, "text/html")
    assert info.message == "502 Bad Gateway"
    assert "<" not in info.raw_excerpt
    assert classify_error(502, info) == "server"


def test_html_without_title_uses_the_first_h1_stripped_of_tags() -> None:
    info = parse_error_body(CLOUDFLARE_NO_TITLE)  # detected without a content type
    assert info.message == "Error 524 & 超时"
    assert "var x" not in info.raw_excerpt and "color:red" not in info.raw_excerpt


def test_plain_text_empty_and_whitespace_bodies() -> None:
    assert parse_error_body(b"upstream request timeout \xe8\xb6\x85\xe6\x97\xb6\n", "text/plain") == ErrorInfo(
        "upstream request timeout 超时", None, None, "upstream request timeout 超时"
    )
    assert parse_error_body(b"") == ErrorInfo(None, None, None, "")
    assert parse_error_body("  \n ") == ErrorInfo(None, None, None, "")
    assert parse_error_body(None) == ErrorInfo(None, None, None, "")


def test_broken_json_falls_back_to_text() -> None:
    info = parse_error_body(b'{"error": {"message": "\xe6\x88\xaa\xe6\x96\xad', "application/json")
    assert info.message == '{"error": {"message": "截断'


def test_invalid_utf8_and_odd_json_do_not_crash() -> None:
    assert parse_error_body(b"\xff\xfe bad \x80").message == "\ufffd\ufffd bad \ufffd"
    assert parse_error_body(b"[1, 2, 3]").message is None
    assert parse_error_body(b'{"error": {"code": null, "message": null}}') == ErrorInfo(
        None, None, None, '{"error": {"code": null, "message": null}}'
    )
    assert parse_error_body(b"[" * 5000 + b"]" * 5000).message is not None  # too deep: kept as text
    assert parse_error_body(12345).message == "12345"


def test_messages_are_shortened_and_stripped_of_control_characters() -> None:
    body = {"error": {"message": "\x1b[31m红色\x1b[0m line1\nline2\x07\x00 " + "长" * 1000}}
    info = parse_error_body(body)
    assert info.message is not None
    assert info.message.startswith("红色 line1 line2 长")
    assert len(info.message) <= 300 and info.message.endswith("…")
    assert not any(ord(c) < 32 or c == "\x7f" for c in info.message)
    assert len(parse_error_body(b"x" * 100_000).raw_excerpt) <= 300


def test_clean_text_removes_bidi_overrides() -> None:
    assert clean_text("abc\u202edef\u2066") == "abc def"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, OPENAI_BAD_KEY, "auth"),
        (403, b'{"error": {"message": "Forbidden \xe7\xa6\x81\xe6\xad\xa2\xe8\xae\xbf\xe9\x97\xae"}}', "auth"),
        (402, b'{"error": {"message": "Payment Required"}}', "quota"),
        (402, DEEPSEEK_BALANCE, "quota"),
        (400, DEEPSEEK_BALANCE, "quota"),
        (403, RELAY_BALANCE_ZH, "quota"),
        (429, OPENAI_QUOTA, "quota"),
        (429, b'{"error": {"message": "request failed", "code": "insufficient_quota"}}', "quota"),
        (429, b'{"error": {"message": "request failed", "type": "billing_hard_limit_reached"}}', "quota"),
        (429, b'{"error": {"message": "This request requires more credits, or fewer max_tokens.", "code": 429}}', "quota"),
        (429, b'{"error": {"message": "Rate limit reached for gpt-4.1 on tokens per min (TPM)", "code": "rate_limit_exceeded"}}', "rate_limit"),
        (429, "当前请求过于频繁".encode(), "rate_limit"),
        (404, b'{"error": {"message": "The model `kimi-k3` does not exist", "code": "model_not_found"}}', "model_not_found"),
        (503, json.dumps({"error": {"message": "当前分组 default 下对于模型 kimi-k3 无可用渠道", "code": "model_not_found"}}, ensure_ascii=False).encode(), "model_not_found"),
        (400, b'{"error": {"message": "Invalid model: gpt-9 not found"}}', "model_not_found"),
        (400, OPENAI_CONTEXT, "context_too_long"),
        (400, MOONSHOT_CONTEXT, "context_too_long"),
        (400, b'{"error": {"code": 400, "message": "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).", "status": "INVALID_ARGUMENT"}}', "context_too_long"),
        (400, b'{"error": {"message": "prompt is too long: 250000 tokens > 200000 maximum", "type": "invalid_request_error"}}', "context_too_long"),
        (413, b'{"error": {"message": "Request too large", "type": "request_too_large"}}', "context_too_long"),
        (400, json.dumps({"error": {"message": "输入内容超出上下文长度限制"}}, ensure_ascii=False).encode(), "context_too_long"),
        (400, b'{"error": {"message": "temperature must be <= 2"}}', "bad_request"),
        (422, b'{"detail": "Unprocessable"}', "bad_request"),
        (500, b'{"error": {"message": "Internal error"}}', "server"),
        (502, NGINX_502, "server"),
        (503, b"Service Unavailable", "server"),
        (None, b"", "unknown"),
        (None, b'{"error": {"message": "Overloaded", "type": "overloaded_error"}}', "server"),
        (None, b'{"error": {"message": "x", "type": "rate_limit_error"}}', "rate_limit"),
        (None, b'{"error": {"message": "maximum context length is 8192 tokens"}}', "context_too_long"),
        (301, b"moved", "unknown"),
    ],
)
def test_classify(status: int | None, body: bytes, kind: str) -> None:
    assert classify_error(status, parse_error_body(body)) == kind
