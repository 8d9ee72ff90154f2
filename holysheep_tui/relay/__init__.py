"""Talking to the relay: the HTTP client, SSE decoding, chat-stream parsing, wire types, error bodies, retries and rate limits. Knows nothing of history, money or screens."""
