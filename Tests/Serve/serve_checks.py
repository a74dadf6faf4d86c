#!/usr/bin/env python3
"""End-to-end checks of `hamrun serve`: each scenario starts real servers on loopback ports and
talks to them with the official `openai` package (and, where a test needs control of the socket
— a client that disconnects, a malformed body — with plain HTTP from the standard library).

    serve_checks.py --hamrun .build/debug/hamrun SCENARIO

Run by Tests/HamrunTests/ServeTests.swift (`swift test`); exits non-zero with the reason and the
server's log when a check fails. Scenarios: api, chat, errors, concurrency, cancel, timeout, auth,
sigterm, soak, nginx.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import openai

MODEL = "shakespeare-hamburger"  # the embedded model's name (its directory's)


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


SERVERS = []  # for their logs when a check fails


class Server:
    """A `hamrun serve` process on a free loopback port, ready (GET /health is 200)."""

    def __init__(self, hamrun, *flags, ready=True):
        SERVERS.append(self)
        self.log = []
        self.proc = subprocess.Popen([hamrun, "serve", "--port", "0", *flags], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        self.port = None
        listening = threading.Event()

        def drain():
            for line in self.proc.stdout:
                self.log.append(line)
                match = re.search(r"listening on http://[^:]+:(\d+)", line)
                if match and self.port is None:
                    self.port = int(match.group(1))
                    listening.set()
            listening.set()

        threading.Thread(target=drain, daemon=True).start()
        expect(listening.wait(60) and self.port, "the server did not start listening:\n" + "".join(self.log))
        self.base = f"http://127.0.0.1:{self.port}"
        if ready:
            self.wait_ready()

    def wait_ready(self, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise CheckFailed("/health never became 200")

    def client(self, **kw):
        kw.setdefault("api_key", "unused")
        return openai.OpenAI(base_url=self.base + "/v1", max_retries=0, timeout=120, **kw)

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, headers, body bytes); `body` is bytes or something to send as JSON."""
        if body is not None and not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, _, data = self.request(method, path, body, headers)
        return status, json.loads(data)

    def metrics(self, headers=None):
        """Prometheus text → {"name{labels}": value}."""
        status, _, data = self.request("GET", "/metrics", headers=headers)
        expect(status == 200, f"/metrics answered {status}")
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def wait_metric(self, name, predicate, seconds=60):
        deadline = time.monotonic() + seconds
        value = None
        while time.monotonic() < deadline:
            value = self.metrics().get(name)
            if value is not None and predicate(value):
                return value
            time.sleep(0.02)
        raise CheckFailed(f"{name} is {value}; it never reached the expected value")

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise CheckFailed("no VmRSS")

    def terminate(self, seconds=30):
        """SIGTERM, then the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise CheckFailed(f"the server did not exit within {seconds} s of SIGTERM")

    def tail(self):
        return "".join(self.log[-40:])


class RawStream:
    """A streaming request on a socket of its own, read event by event, that can be dropped."""

    def __init__(self, server, path, body):
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        # The response takes the socket over (Connection: close): keep it to close it for real.
        self.sock = self.conn.sock
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def events(self):
        """Each `data:` payload (parsed JSON, or the string "[DONE]")."""
        while True:
            line = self.response.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\n")
            if line.startswith("data: "):
                payload = line[len("data: "):]
                yield payload if payload == "[DONE]" else json.loads(payload)

    def drop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.response.close()
        self.conn.close()


def send_and_leave_open(server, path, body):
    """A request whose client waits on its socket without reading; close it to disconnect."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    data = json.dumps(body).encode()
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def completion_text(server, prompt, max_tokens, **extra):
    """A non-streaming completion's text, finish reason and usage."""
    status, body = server.json("POST", "/v1/completions", {"prompt": prompt, "max_tokens": max_tokens, **extra})
    expect(status == 200, f"completion answered {status}: {body}")
    choice = body["choices"][0]
    return choice["text"], choice["finish_reason"], body["usage"]


def stream_text(server, prompt, max_tokens, **extra):
    """A streaming completion, read by hand: its text, finish reason, usage and event count."""
    stream = RawStream(server, "/v1/completions", {"prompt": prompt, "max_tokens": max_tokens, "stream": True,
                                                   "stream_options": {"include_usage": True}, **extra})
    expect(stream.status == 200, f"stream answered {stream.status}")
    text, finish, usage, done = "", None, None, False
    for event in stream.events():
        if event == "[DONE]":
            done = True
            break
        expect("error" not in event, f"stream error: {event}")
        if event["choices"]:
            text += event["choices"][0]["text"]
            finish = event["choices"][0]["finish_reason"] or finish
        else:
            usage = event["usage"]
    stream.drop()
    expect(done, "the stream ended without [DONE]")
    return text, finish, usage


# MARK: scenarios

def scenario_api(hamrun):
    """Chat and completions through the openai client, streaming and not; usage, finish_reason,
    stop strings, HAMburger's extras, timings, tokenize/detokenize, errors as the SDK sees them."""
    server = Server(hamrun)
    client = server.client()
    try:
        expect([m.id for m in client.models.list().data] == [MODEL], "/v1/models does not list the model")
        expect(client.models.retrieve(MODEL).id == MODEL, "/v1/models/{id}")

        # A greedy completion equals `hamrun generate`'s output for the same request.
        prompt = "ROMEO:"
        full = client.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0)
        text = full.choices[0].text
        generated = subprocess.run([hamrun, "generate", "--prompt", prompt, "--max-tokens", "24"], capture_output=True,
                                   text=True, check=True).stdout
        expect(generated == text + "\n", f"server {text!r} != hamrun generate {generated!r}")
        expect(full.choices[0].finish_reason == "length", f"finish_reason {full.choices[0].finish_reason}")
        usage = full.usage
        expect(usage.completion_tokens == 24 and usage.prompt_tokens > 0
               and usage.total_tokens == usage.prompt_tokens + 24, f"usage {usage}")
        extra = usage.model_extra
        expect(0 < extra["macro_steps"] <= 24, f"macro_steps {extra}")
        expect(0 < extra["kv_slots"] <= usage.prompt_tokens + 24, f"kv_slots {extra}")
        timings = full.model_extra["timings"]
        expect(timings["predicted_n"] == 24 and timings["prompt_n"] == usage.prompt_tokens and timings["cache_n"] == 0
               and timings["predicted_ms"] > 0, f"timings {timings}")
        expect(usage.prompt_tokens_details.cached_tokens == 0, f"cached tokens on a fresh server: {usage}")

        # /metrics counts it under vLLM's names (hamrun: instead of vllm:).
        metrics = server.metrics()
        for name, value in [("hamrun:generation_tokens_total", 24), ("hamrun:prompt_tokens_total", usage.prompt_tokens),
                            ("hamrun:macro_steps_total", extra["macro_steps"]),
                            ('hamrun:request_success_total{finished_reason="length"}', 1),
                            ("hamrun:time_to_first_token_seconds_count", 1), ("hamrun:inter_token_latency_seconds_count", 23),
                            ("hamrun:request_queue_time_seconds_count", 1), ("hamrun:e2e_request_latency_seconds_count", 1),
                            ("hamrun:num_requests_running", 0), ("hamrun:num_requests_waiting", 0),
                            ("hamrun:kv_cache_usage_perc", 0), ("hamrun:kv_cache_used_bytes", 0)]:
            expect(metrics.get(name) == value, f"/metrics {name} is {metrics.get(name)}, expected {value}")
        expect(metrics.get("hamrun:kv_cache_budget_bytes", 0) > 0, "no KV budget in /metrics")
        expect(any(k.startswith("hamrun:time_to_first_token_seconds_bucket{") for k in metrics), "no TTFT histogram buckets")

        # The same request streamed: the same text, the finish reason, then a usage chunk with no choices.
        chunks = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stream=True,
                                                stream_options={"include_usage": True}))
        pieces = [c.choices[0].text for c in chunks if c.choices]
        expect("".join(pieces) == text, f"streamed {''.join(pieces)!r} != {text!r}")
        expect([c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length", "stream finish_reason")
        expect(chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 24
               and chunks[-1].usage.prompt_tokens == usage.prompt_tokens, f"usage chunk {chunks[-1]}")
        expect(chunks[-1].usage.model_extra["macro_steps"] == extra["macro_steps"], "stream macro_steps")
        # vLLM's continuous_usage_stats (GuideLLM asks for it): every chunk counts the tokens so far.
        continuous = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stream=True,
                                                    stream_options={"include_usage": True, "continuous_usage_stats": True}))
        counts = [c.usage.completion_tokens for c in continuous if c.choices]
        expect(counts == sorted(counts) and counts[-1] == 24 and continuous[-1].usage.completion_tokens == 24,
               f"continuous usage {counts}")
        plain = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=0, stream=True))
        expect(all(c.choices for c in plain) and all(c.usage is None for c in plain), "usage sent without include_usage")

        # Token ids as the prompt: the same ids give the same text.
        status, tokenized = server.json("POST", "/tokenize", {"content": prompt})
        expect(status == 200 and tokenized["tokens"], f"/tokenize {status} {tokenized}")
        by_ids = client.completions.create(model=MODEL, prompt=tokenized["tokens"], max_tokens=24, temperature=0)
        expect(by_ids.choices[0].text == text, "a prompt as ids differs from the same prompt as text")
        status, plain_ids = server.json("POST", "/tokenize", {"content": prompt, "add_special": False})
        status, detok = server.json("POST", "/detokenize", {"tokens": plain_ids["tokens"]})
        expect(status == 200 and detok["content"] == prompt, f"/detokenize {detok}")

        # Stop strings: one that spans two streamed pieces cuts the text before it, is never sent,
        # and ends with finish_reason "stop" — streaming and not.
        boundary = next(i for i in range(1, len(pieces)) if len(pieces[i - 1]) >= 2 and len(pieces[i]) >= 2
                        and sum(map(len, pieces[:i])) >= 4)
        stop = pieces[boundary - 1][-2:] + pieces[boundary][:2]
        expected = text[:text.index(stop)]
        cut = client.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stop=[stop, "qqqzz"])
        expect(cut.choices[0].text == expected and cut.choices[0].finish_reason == "stop",
               f"stop {stop!r}: {cut.choices[0].text!r} ({cut.choices[0].finish_reason}), expected {expected!r}")
        expect(cut.usage.completion_tokens < 24, "usage counts tokens after the stop string")
        streamed_cut = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=24, temperature=0, stop=stop,
                                                      stream=True, stream_options={"include_usage": True}))
        expect("".join(c.choices[0].text for c in streamed_cut if c.choices) == expected, "streamed stop string")
        expect(streamed_cut[-1].usage.completion_tokens == cut.usage.completion_tokens, "streamed stop usage")
        expect([c.choices[0].finish_reason for c in streamed_cut if c.choices][-1] == "stop", "streamed stop reason")

        # Chat: the model's chat format; the stream's first delta carries the role.
        messages = [{"role": "system", "content": "Thou art a poet."}, {"role": "user", "content": "Speak of love."}]
        chat = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0)
        reply = chat.choices[0].message
        expect(reply.role == "assistant" and reply.content and chat.object == "chat.completion", f"chat {chat}")
        expect(chat.choices[0].finish_reason in ("stop", "length"), "chat finish_reason")
        expect(chat.usage.model_extra["kv_slots"] > 0 and "timings" in chat.model_extra, "chat extras")
        deltas = list(client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0,
                                                     stream=True, stream_options={"include_usage": True}))
        expect(deltas[0].choices[0].delta.role == "assistant", "the first chat chunk carries no role")
        expect("".join(d.choices[0].delta.content or "" for d in deltas if d.choices) == reply.content,
               "streamed chat differs from the chat reply")
        expect(deltas[-1].choices == [] and deltas[-1].usage.total_tokens == chat.usage.total_tokens, "chat usage chunk")
        expect(client.chat.completions.create(model=MODEL, messages=messages, max_completion_tokens=16,
                                              temperature=0).choices[0].message.content == reply.content,
               "max_completion_tokens differs from max_tokens")

        # Sampling with a seed repeats; HAMburger's confidence and mode are taken.
        seeded = [client.completions.create(model=MODEL, prompt=prompt, max_tokens=16, temperature=0.9, top_p=0.95,
                                            seed=11, extra_body={"top_k": 40}).choices[0].text for _ in range(2)]
        expect(seeded[0] == seeded[1], f"the same seed gave {seeded}")
        base = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0, extra_body={"mode": "base"})
        expect(base.usage.model_extra["macro_steps"] == 12, f"mode base takes one token per step: {base.usage}")
        eager = client.completions.create(model=MODEL, prompt=prompt, max_tokens=12, temperature=0,
                                          extra_body={"confidence": 0.0})
        expect(eager.usage.completion_tokens == 12, "confidence 0")

        # Errors as the SDK raises them.
        for call, kind, param in [
            (lambda: client.completions.create(model=MODEL, prompt=prompt, n=2), openai.BadRequestError, "n"),
            (lambda: client.completions.create(model="gpt-4", prompt=prompt), openai.NotFoundError, "model"),
            (lambda: client.chat.completions.create(model=MODEL, messages=[]), openai.BadRequestError, "messages"),
            (lambda: client.completions.create(model=MODEL, prompt=prompt, temperature=9, stream=True),
             openai.BadRequestError, "temperature"),
            (lambda: client.completions.create(model=MODEL, prompt=[4095, 99999]), openai.BadRequestError, "prompt"),
            (lambda: client.completions.create(model=MODEL, prompt="to be " * 3000), openai.BadRequestError, "prompt"),
        ]:
            try:
                call()
                raise CheckFailed(f"no error for the request on param {param}")
            except kind as error:
                expect(error.param == param and error.type == "invalid_request_error" or kind is openai.NotFoundError,
                       f"{kind.__name__}: param {error.param}, type {error.type}")
        # The health check and the server are fine afterwards.
        expect(server.json("GET", "/health")[0] == 200, "unhealthy after errors")

        # /health answers while a long prompt (most of the context) is being prefilled.
        status, long_ids = server.json("POST", "/tokenize", {"content": "To be, or not to be, that is the question. " * 400})
        long_ids = long_ids["tokens"][:1900]
        done = threading.Event()
        threading.Thread(target=lambda: (client.completions.create(model=MODEL, prompt=long_ids, max_tokens=2), done.set()),
                         daemon=True).start()
        answered_while_running = 0
        while not done.is_set():
            status, health = server.json("GET", "/health")
            expect(status == 200, f"/health answered {status} during a long prefill")
            answered_while_running += health["running"] == 1 and not done.is_set()
            time.sleep(0.005)
        expect(answered_while_running > 0, "/health never answered while the long prompt ran")
        print(f"/health answered {answered_while_running} times while a {len(long_ids)}-token prompt ran")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status} after SIGTERM")


def scenario_chat(hamrun):
    """The real model (SmolLM2-135M-Instruct, GGUF, Tools/fetch-models): /v1/chat/completions uses
    its chat format (ChatML) exactly as `hamrun generate --chat` does, and a Japanese reply, whose
    characters span several tokens, streams with every character whole; and with --prefix-cache a
    chat's next turn reuses the KV of the turn before."""
    cache = os.environ.get("HAMRUN_CACHE", os.path.expanduser("~/.cache/hamrun"))
    gguf = os.path.join(cache, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
    expect(os.path.exists(gguf), f"no {gguf} (Tools/fetch-models fetches it)")
    server = Server(hamrun, "--model", gguf, ready=False)
    # While the weights load (on the engine's thread, after listening) /health is 503, then 200.
    loading = []
    while True:
        status, body = server.json("GET", "/health")
        if status == 200:
            break
        loading.append(status)
        expect(status == 503 and body["error"]["type"] == "unavailable_error", f"/health while loading: {status} {body}")
        time.sleep(0.005)
    print(f"/health answered 503 {len(loading)} times while the model loaded")
    client = server.client()
    try:
        name = client.models.list().data[0].id
        question = "Translate 'thank you' into Japanese."
        generated = subprocess.run([hamrun, "generate", "--model", gguf, "--chat", "--prompt", question, "--max-tokens", "20"],
                                   capture_output=True, text=True, check=True).stdout
        messages = [{"role": "user", "content": question}]
        reply = client.chat.completions.create(model=name, messages=messages, max_tokens=20, temperature=0)
        text = reply.choices[0].message.content
        expect(generated == text + "\n", f"chat {text!r} != hamrun generate --chat {generated!r}")
        chunks = list(client.chat.completions.create(model=name, messages=messages, max_tokens=20, temperature=0,
                                                     stream=True))
        pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        expect("".join(pieces) == text, f"streamed {''.join(pieces)!r} != {text!r}")
        expect(any(ord(ch) > 0x3000 for ch in text), f"the reply {text!r} has no Japanese to test with")
        # The last piece may end in U+FFFD where max_tokens cut a character, as a whole decode does.
        broken = [p for p in pieces[:-1] if "\ufffd" in p]
        expect(not broken, f"pieces with a broken character: {broken}")
        expect(len(pieces) > 3, "the reply came in too few pieces to test splitting")

        # A chat's next turn resends its history. Without --prefix-cache nothing is reused.
        history = [{"role": "system", "content": "You are a concise geography tutor. Answer in one short sentence."},
                   {"role": "user", "content": "What is the capital of France?"}]
        first = client.chat.completions.create(model=name, messages=history, max_tokens=16, temperature=0)
        history += [{"role": "assistant", "content": first.choices[0].message.content},
                    {"role": "user", "content": "And the capital of Italy?"}]
        second = client.chat.completions.create(model=name, messages=history, max_tokens=16, temperature=0)
        expect(second.usage.prompt_tokens_details.cached_tokens == 0, f"cached without --prefix-cache: {second.usage}")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")

    # With it, turn 2 reuses turn 1's KV: OpenAI's prompt_tokens_details.cached_tokens, llama-server's
    # timings.cache_n, vLLM's counters; the cached blocks are not counted as in use.
    server = Server(hamrun, "--model", gguf, "--prefix-cache")
    try:
        client = server.client()
        first = client.chat.completions.create(model=name, messages=history[:2], max_tokens=16, temperature=0)
        expect(first.usage.prompt_tokens_details.cached_tokens == 0, f"turn 1 on a fresh server: {first.usage}")
        turn2 = client.chat.completions.create(model=name, messages=history, max_tokens=16, temperature=0)
        cached = turn2.usage.prompt_tokens_details.cached_tokens
        expect(first.usage.prompt_tokens <= cached < turn2.usage.prompt_tokens,
               f"turn 2 reused {cached} of {turn2.usage.prompt_tokens} prompt tokens; turn 1 had {first.usage.prompt_tokens}")
        timings = turn2.model_extra["timings"]
        expect(timings["cache_n"] == cached and timings["prompt_n"] == turn2.usage.prompt_tokens - cached, f"timings {timings}")
        metrics = server.metrics()
        expect(metrics.get("hamrun:prefix_cache_hits") == cached, f"hamrun:prefix_cache_hits {metrics.get('hamrun:prefix_cache_hits')}")
        expect(metrics.get("hamrun:prefix_cache_queries") == first.usage.prompt_tokens + turn2.usage.prompt_tokens,
               "hamrun:prefix_cache_queries")
        expect(metrics.get("hamrun:prefix_cache_bytes", 0) > 0, "hamrun:prefix_cache_bytes")
        expect(metrics.get("hamrun:kv_cache_used_bytes") == 0, "cached KV counted as in use")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_errors(hamrun):
    """A table of malformed requests: each gets its OpenAI-style error object with the right
    status (and param where there is one), and the server stays healthy after each."""
    chat, text = "/v1/chat/completions", "/v1/completions"
    hello = [{"role": "user", "content": "hi"}]

    def c(**fields):
        return {"messages": hello, **fields}

    def t(**fields):
        return {"prompt": "hi", **fields}

    table = [
        # (method, path, body, status, param)
        ("POST", chat, b"{", 400, None),
        ("POST", chat, b"", 400, None),
        ("POST", chat, b"[]", 400, None),
        ("POST", chat, b'"hi"', 400, None),
        ("POST", chat, b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', 400, None),
        ("POST", chat, b"[" * 100000, 400, None),
        ("POST", chat, {"max_tokens": 4}, 400, "messages"),
        ("POST", chat, {"messages": "hi"}, 400, "messages"),
        ("POST", chat, {"messages": []}, 400, "messages"),
        ("POST", chat, {"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role"),
        ("POST", chat, {"messages": [{"role": 5, "content": "hi"}]}, 400, "messages[0].role"),
        ("POST", chat, {"messages": [{"role": "user"}]}, 400, "messages[0].content"),
        ("POST", chat, {"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
        ("POST", chat, {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, 400, None),
        ("POST", chat, c(max_tokens="ten"), 400, "max_tokens"),
        ("POST", chat, c(max_tokens=0), 400, "max_tokens"),
        ("POST", chat, c(max_tokens=-5), 400, "max_tokens"),
        ("POST", chat, c(max_tokens=10 ** 12), 400, "max_tokens"),
        ("POST", chat, c(max_tokens=4, max_completion_tokens=8), 400, "max_completion_tokens"),
        ("POST", chat, c(temperature=5), 400, "temperature"),
        ("POST", chat, c(temperature="hot"), 400, "temperature"),
        ("POST", chat, c(top_p=0), 400, "top_p"),
        ("POST", chat, c(top_p=1.5), 400, "top_p"),
        ("POST", chat, c(top_k=-1), 400, "top_k"),
        ("POST", chat, c(seed="x"), 400, "seed"),
        ("POST", chat, c(seed=1.5), 400, "seed"),
        ("POST", chat, c(n=2), 400, "n"),
        ("POST", chat, c(stream="yes"), 400, "stream"),
        ("POST", chat, c(stream_options={"include_usage": True}), 400, "stream_options"),
        ("POST", chat, c(stop=[str(i) for i in range(17)]), 400, "stop"),
        ("POST", chat, c(stop=[1]), 400, "stop[0]"),
        ("POST", chat, c(stop=[""]), 400, "stop"),
        ("POST", chat, c(frobnicate=True), 400, "frobnicate"),
        ("POST", chat, c(presence_penalty=1), 400, "presence_penalty"),
        ("POST", chat, c(logprobs=True), 400, "logprobs"),
        ("POST", chat, c(tools=[{"type": "function", "function": {"name": "f"}}]), 400, "tools"),
        ("POST", chat, c(response_format={"type": "json_object"}), 400, "response_format"),
        ("POST", chat, c(mode="turbo"), 400, "mode"),
        ("POST", chat, c(confidence=2), 400, "confidence"),
        ("POST", chat, c(model="gpt-4"), 404, "model"),
        ("POST", chat, c(prompt="hi"), 400, "prompt"),
        ("POST", text, {"max_tokens": 4}, 400, "prompt"),
        ("POST", text, t(prompt=[]), 400, "prompt"),
        ("POST", text, t(prompt=["a", "b"]), 400, "prompt"),
        ("POST", text, t(prompt=[1, 99999]), 400, "prompt"),
        ("POST", text, t(prompt=[1, -3]), 400, "prompt[1]"),
        ("POST", text, t(prompt="to be " * 3000), 400, "prompt"),
        ("POST", text, t(echo=True), 400, "echo"),
        ("POST", text, t(messages=hello), 400, "messages"),
        ("POST", "/tokenize", {"content": 3}, 400, "content"),
        ("POST", "/detokenize", {"tokens": [99999]}, 400, "tokens"),
        ("POST", "/detokenize", {"tokens": "abc"}, 400, "tokens"),
        ("GET", chat, None, 405, None),
        ("POST", "/v1/models", b"{}", 405, None),
        ("DELETE", "/health", None, 405, None),
        ("GET", "/v1/models/gpt-4", None, 404, "model"),
        ("GET", "/nowhere", None, 404, None),
        ("POST", chat, b"{" + b" " * (9 << 20) + b"}", 413, None),
    ]
    expect(len(table) >= 25, "the table is short")
    server = Server(hamrun)
    failures = []
    try:
        for method, path, body, status, param in table:
            shown = (body if isinstance(body, (dict, list)) else (body or b"")[:60])
            try:
                got, headers, data = server.request(method, path, body, headers={"Content-Type": "application/json"})
            except (ConnectionError, http.client.HTTPException) as error:
                failures.append(f"{method} {path} {shown}: {error}")
                continue
            try:
                error = json.loads(data)["error"]
                problem = None
                if got != status:
                    problem = f"status {got}, expected {status}"
                elif set(error) != {"message", "type", "param", "code"} or not error["message"]:
                    problem = f"not an OpenAI error object: {error}"
                elif param is not None and error["param"] != param:
                    problem = f"param {error['param']!r}, expected {param!r}"
                elif status == 405 and "Allow" not in headers and "allow" not in headers:
                    problem = "405 without Allow"
            except (ValueError, KeyError, TypeError):
                problem = f"status {got}, body not an error object: {data[:200]!r}"
            if problem:
                failures.append(f"{method} {path} {shown}: {problem}")
            health = server.request("GET", "/health")[0]
            if health != 200:
                failures.append(f"after {method} {path} {shown}: /health is {health}")
        # Still serving.
        expect(completion_text(server, "ROMEO:", 4, temperature=0)[2]["completion_tokens"] == 4, "no longer serving")
    finally:
        status = server.terminate()
    expect(not failures, f"{len(failures)} of {len(table)} malformed requests went wrong:\n" + "\n".join(failures))
    expect(status == 0, f"exit status {status}")
    print(f"{len(table)} malformed requests answered as expected")

    # A model that fails to load (on the engine's thread, after listening): one error line naming
    # the tensor, a non-zero exit, no hang.
    work = tempfile.mkdtemp(prefix="hamrun-badmodel-")
    try:
        model = os.path.join(work, "bad")
        shutil.copytree(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Models", MODEL), model)
        with open(os.path.join(model, "config.json")) as file:
            config = json.load(file)
        config["intermediate_size"] += 8
        with open(os.path.join(model, "config.json"), "w") as file:
            json.dump(config, file)
        result = subprocess.run([hamrun, "serve", "--model", model, "--port", "0"], capture_output=True, text=True, timeout=60)
        expect(result.returncode != 0 and "hamrun: error:" in result.stderr and "model.safetensors" in result.stderr,
               f"a model that cannot load: exit {result.returncode}, {result.stderr[-400:]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


PROMPTS = ["ROMEO:", "JULIET:", "First Citizen:", "KING RICHARD III:", "HAMLET:\nTo be", "O, ", "My lord, ",
           "What say you", "MENENIUS:\nWhy,", "Good morrow", "Now is the winter", "CORIOLANUS:", "Sweet ", "I pray thee",
           "Thou art", "Let me"]


def scenario_concurrency(hamrun):
    """32 concurrent streaming clients (greedy and seeded sampling): none lost or failed, each stream
    identical to the same request alone. /health answers while they run."""
    server = Server(hamrun, "--parallel", "8", "--max-queue", "64")
    try:
        requests = []
        for i in range(32):
            extra = {"temperature": 0} if i % 2 == 0 else {"temperature": 0.9, "seed": 1000 + i}
            requests.append((PROMPTS[i % len(PROMPTS)], 12 + (i * 7) % 29, extra))
        alone = [completion_text(server, p, n, **e) for p, n, e in requests]
        results = [None] * len(requests)
        errors = []

        def client(i):
            try:
                results[i] = stream_text(server, requests[i][0], requests[i][1], **requests[i][2])
            except Exception as error:  # reported below with the request
                errors.append(f"request {i}: {error!r}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
        for thread in threads:
            thread.start()
        health_seconds = []
        while any(thread.is_alive() for thread in threads):
            started = time.monotonic()
            expect(server.request("GET", "/health")[0] == 200, "/health failed under load")
            health_seconds.append(time.monotonic() - started)
            time.sleep(0.1)
        for thread in threads:
            thread.join()
        expect(not errors, "\n".join(errors))
        for i, (solo, streamed) in enumerate(zip(alone, results)):
            expect(streamed[0] == solo[0] and streamed[1] == solo[1]
                   and streamed[2]["completion_tokens"] == solo[2]["completion_tokens"],
                   f"request {i} {requests[i]}: concurrent {streamed[:2]} != alone {solo[:2]}")
        ok = server.metrics().get('hamrun:http_requests_total{status="200"}', 0)
        expect(ok >= 64, f"http_requests_total 200 is {ok}")
        print(f"32 concurrent streams identical to their solo results; /health worst {max(health_seconds) * 1000:.0f} ms")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_cancel(hamrun):
    """Disconnects and the bounded queue, with 2 slots and a queue of 1: a full queue answers 503
    with Retry-After; a client dropped while queued and one dropped mid-stream each have their
    sequence cancelled at the next tick and their KV memory freed (/metrics), and the request
    that keeps running finishes exactly as it would alone."""
    server = Server(hamrun, "--parallel", "2", "--max-queue", "1")
    try:
        survivor_prompt, survivor_tokens = "JULIET:", 120
        alone = completion_text(server, survivor_prompt, survivor_tokens, temperature=0, ignore_eos=True)
        expect(server.metrics()["hamrun:kv_cache_used_bytes"] == 0, "KV memory in use while idle")

        doomed = RawStream(server, "/v1/completions", {"prompt": "ROMEO:", "max_tokens": 1900, "ignore_eos": True,
                                                        "temperature": 0, "stream": True})
        doomed_events = doomed.events()
        next(doomed_events)
        survivor_result = {}

        def survivor():
            survivor_result["value"] = stream_text(server, survivor_prompt, survivor_tokens, temperature=0,
                                                   ignore_eos=True)

        survivor_thread = threading.Thread(target=survivor)
        survivor_thread.start()
        server.wait_metric("hamrun:num_requests_running", lambda v: v == 2)
        # Both slots busy: one waits, the next is turned away.
        queued = send_and_leave_open(server, "/v1/completions", {"prompt": "HAMLET:", "max_tokens": 50, "stream": True})
        server.wait_metric("hamrun:num_requests_waiting", lambda v: v == 1)
        status, headers, body = server.request("POST", "/v1/completions", {"prompt": "O, ", "max_tokens": 5})
        expect(status == 503 and headers.get("Retry-After") == "1", f"a full queue answered {status} {headers}")
        expect(json.loads(body)["error"]["type"] == "unavailable_error", f"503 body {body}")
        expect(server.metrics().get("hamrun:requests_rejected_total", 0) == 1, "rejections not counted")

        # The queued client leaves: its sequence is cancelled ("abort", as vLLM counts it).
        abort = 'hamrun:request_success_total{finished_reason="abort"}'
        queued.close()
        server.wait_metric("hamrun:num_requests_waiting", lambda v: v == 0)
        server.wait_metric(abort, lambda v: v == 1)
        expect(server.metrics()["hamrun:num_requests_running"] == 2, "a running request went with the queued one")

        # The streaming client leaves mid-stream: its sequence is cancelled, its KV blocks freed.
        for _ in range(5):
            next(doomed_events)
        before = server.metrics()["hamrun:kv_cache_used_bytes"]
        doomed.drop()
        server.wait_metric(abort, lambda v: v == 2)
        survivor_thread.join(120)
        expect("value" in survivor_result, "the surviving request did not finish")
        expect(survivor_result["value"][:2] == alone[:2], f"the survivor changed: {survivor_result['value'][:2]} != {alone[:2]}")
        after = server.wait_metric("hamrun:kv_cache_used_bytes", lambda v: v == 0)
        expect(before > 0, "no KV memory in use while two requests ran")
        # A non-streaming client that leaves while its request runs is cancelled too.
        waiting = send_and_leave_open(server, "/v1/completions", {"prompt": "O, ", "max_tokens": 1900, "ignore_eos": True})
        server.wait_metric("hamrun:num_requests_running", lambda v: v == 1)
        waiting.close()
        server.wait_metric(abort, lambda v: v == 3)
        server.wait_metric("hamrun:num_requests_running", lambda v: v == 0)
        server.wait_metric("hamrun:kv_cache_used_bytes", lambda v: v == 0)
        print(f"KV bytes {before:.0f} with two running, {after:.0f} after both clients left")
        # And the server serves on.
        expect(completion_text(server, survivor_prompt, survivor_tokens, temperature=0, ignore_eos=True)[:2] == alone[:2],
               "a request after the disconnects differs")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_timeout(hamrun):
    """--timeout: a request that runs past it ends with a timeout error (a 408 before streaming, an
    error event in a stream) and its memory is freed."""
    server = Server(hamrun, "--timeout", "1")
    try:
        long = {"prompt": "ROMEO:", "max_tokens": 1900, "ignore_eos": True}
        status, body = server.json("POST", "/v1/completions", long)
        expect(status == 408 and body["error"]["type"] == "timeout_error", f"a timed-out request answered {status} {body}")
        stream = RawStream(server, "/v1/completions", {**long, "stream": True})
        events = list(stream.events())
        expect(events and "error" in events[-1] and events[-1]["error"]["type"] == "timeout_error" and "[DONE]" not in events,
               f"a timed-out stream ended with {events[-1:]}")
        server.wait_metric("hamrun:kv_cache_used_bytes", lambda v: v == 0)
        expect(completion_text(server, "ROMEO:", 4)[2]["completion_tokens"] == 4, "no longer serving")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_auth(hamrun):
    """--api-key: every route but /health needs it (Bearer or X-Api-Key); the SDK sends it."""
    server = Server(hamrun, "--api-key", "s3cret")
    try:
        expect(server.request("GET", "/health")[0] == 200, "/health needs the key")
        for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}, {"X-Api-Key": "s3cre"}]:
            status, body = server.json("GET", "/v1/models", headers=headers)
            expect(status == 401 and body["error"]["type"] == "authentication_error", f"{headers}: {status} {body}")
        expect(server.request("GET", "/metrics")[0] == 401, "/metrics without the key")
        expect(server.request("GET", "/v1/models", headers={"X-Api-Key": "s3cret"})[0] == 200, "X-Api-Key")
        try:
            server.client(api_key="wrong").models.list()
            raise CheckFailed("a wrong key was accepted")
        except openai.AuthenticationError:
            pass
        reply = server.client(api_key="s3cret").chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=4)
        expect(reply.usage.completion_tokens <= 4, "a request with the key failed")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_sigterm(hamrun):
    """SIGTERM under load: in-flight requests that can finish within --shutdown-grace do; one that
    cannot gets an error event; new connections are refused; the process exits 0."""
    server = Server(hamrun, "--parallel", "4", "--shutdown-grace", "3")
    results, errors = {}, []

    def short(i):
        try:
            results[i] = stream_text(server, PROMPTS[i], 10, temperature=0)
        except Exception as error:
            errors.append(f"request {i}: {error!r}")

    long = RawStream(server, "/v1/completions", {"prompt": "ROMEO:", "max_tokens": 1900, "ignore_eos": True, "stream": True})
    long_events = long.events()
    next(long_events)
    threads = [threading.Thread(target=short, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    server.wait_metric("hamrun:num_requests_running", lambda v: v >= 2)
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(60)
    tail = list(long_events)
    status = server.terminate(30)
    took = time.monotonic() - started
    expect(not errors, "\n".join(errors) + "\n" + server.tail())
    expect(all(results[i][1] in ("length", "stop") for i in range(3)), f"in-flight requests: {results}")
    expect(tail and "error" in tail[-1] and "[DONE]" not in tail, f"the long request ended with {tail[-1:]}")
    try:
        server.request("GET", "/health", timeout=5)
        raise CheckFailed("the server still answers after exiting")
    except OSError:
        pass
    expect(status == 0, f"exit status {status} after SIGTERM:\n{server.tail()}")
    expect(took < 20, f"shutdown took {took:.1f} s")
    print(f"shut down in {took:.1f} s with exit status {status}")


def scenario_soak(hamrun):
    """2,000 requests (short, streaming and not, 8 clients on keep-alive connections): all succeed,
    and the resident memory after warm-up stays flat (< 5 % growth from request 500 to 2,000)."""
    server = Server(hamrun, "--parallel", "8")
    total, clients = 2000, 8
    done = [0]
    lock = threading.Lock()
    rss = {}
    failures = []

    def client(k):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        i = k
        while i < total:
            body = {"prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": 3, "temperature": 0.8, "seed": i,
                    "stream": i % 2 == 0}
            if i % 2 == 0:
                body["stream_options"] = {"include_usage": True}
            try:
                conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                data = response.read()
                if response.status != 200 or (i % 2 == 0 and not data.endswith(b"data: [DONE]\n\n")):
                    failures.append(f"request {i}: {response.status} {data[-200:]!r}")
            except (OSError, http.client.HTTPException) as error:
                failures.append(f"request {i}: {error!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            with lock:
                done[0] += 1
                if done[0] in (500, total):
                    rss[done[0]] = server.rss_kib()
            i += clients
        conn.close()

    try:
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - started
        expect(not failures, f"{len(failures)} requests failed:\n" + "\n".join(failures[:10]))
        growth = (rss[total] - rss[500]) / rss[500]
        print(f"{total} requests in {took:.1f} s; RSS {rss[500]} KiB at 500, {rss[total]} KiB at {total} ({growth * 100:+.2f} %)")
        expect(growth < 0.05, f"RSS grew {growth * 100:.1f} % between requests 500 and {total}")
        metrics = server.metrics()
        expect(metrics['hamrun:http_requests_total{status="200"}'] >= total, "requests not counted")
        expect(metrics["hamrun:kv_cache_used_bytes"] == 0, "KV memory left in use after the soak")
    finally:
        status = server.terminate()
    expect(status == 0, f"exit status {status}")


def scenario_nginx(hamrun):
    """Two replicas behind nginx (docs/DEPLOY.md's configuration) on loopback: one is killed
    mid-load; requests that had not started streaming on it are retried on the other, so the
    only failures are streams already under way on the killed replica."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    expect(os.path.exists(nginx), "no nginx (Tools/install-deps installs the Debian package)")
    replicas = [Server(hamrun, "--parallel", "2", "--max-queue", "16") for _ in range(2)]
    work = tempfile.mkdtemp(prefix="hamrun-nginx-")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    template = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "nginx-hamrun.conf")).read()
    upstreams = "\n".join(f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=30s;" for r in replicas)
    config = template.replace("        server 127.0.0.1:8081 max_fails=1 fail_timeout=30s;\n        server 127.0.0.1:8082 max_fails=1 fail_timeout=30s;",
                              upstreams).replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    expect(upstreams in config, "docs/nginx-hamrun.conf no longer has the upstream block this test rewrites")
    head = f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\n" + ("user root;\n" if os.geteuid() == 0 else "")
    config = head + config.replace("http {", f"http {{\n    access_log off;\n    client_body_temp_path {work}/body;\n"
                                   f"    proxy_temp_path {work}/proxy;\n", 1)
    with open(f"{work}/nginx.conf", "w") as file:
        file.write(config)
    proxy = subprocess.Popen([nginx, "-p", work, "-c", f"{work}/nginx.conf", "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    outcomes, lock = [], threading.Lock()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                expect(time.monotonic() < deadline and proxy.poll() is None, "nginx did not start: " +
                       (proxy.stderr.read() if proxy.poll() is not None else ""))
                time.sleep(0.05)

        def client(i):
            """(streamed, events seen, ok) for one request through nginx."""
            body = {"prompt": PROMPTS[i % len(PROMPTS)], "max_tokens": 60, "ignore_eos": True, "temperature": 0,
                    "stream": i % 2 == 0}
            events, ok = 0, False
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("POST", "/v1/completions", body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                if body["stream"] and response.status == 200:
                    while line := response.readline():
                        if line.startswith(b"data: [DONE]"):
                            ok = True
                        elif line.startswith(b"data: {") and b'"error"' not in line[:20]:
                            events += 1
                else:
                    data = response.read()
                    ok = response.status == 200 and json.loads(data)["usage"]["completion_tokens"] == 60
                conn.close()
            except (OSError, http.client.HTTPException, ValueError):
                pass
            with lock:
                outcomes.append((i, body["stream"], events, ok))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
        for thread in threads:
            thread.start()
        # Kill the first replica while it runs two requests and has more queued (not yet streaming).
        replicas[0].wait_metric("hamrun:num_requests_waiting", lambda v: v >= 1, seconds=60)
        running = replicas[0].metrics()["hamrun:num_requests_running"]
        replicas[0].proc.kill()
        for thread in threads:
            thread.join(180)
        failed = [o for o in outcomes if not o[3]]
        expect(len(outcomes) == 12, f"{12 - len(outcomes)} clients never returned")
        expect(all(streamed and events > 0 for _, streamed, events, _ in failed),
               f"requests failed that had not started streaming: {failed}")
        expect(len(failed) <= running, f"{len(failed)} failed, more than the {running} streaming on the killed replica")
        # Afterwards everything goes to the survivor.
        for i in range(4):
            client(100 + i)
        expect(all(o[3] for o in outcomes[-4:]), f"requests after the kill failed: {outcomes[-4:]}")
        print(f"killed a replica running {running:.0f} with more queued: {12 - len(failed)} of 12 requests succeeded "
              f"(its queued ones retried on the other), {len(failed)} cut mid-stream")
    finally:
        proxy.terminate()
        proxy.wait(10)
        status = replicas[1].terminate()
        replicas[0].proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    expect(status == 0, f"exit status {status}")


SCENARIOS = {name[len("scenario_"):]: f for name, f in globals().items() if name.startswith("scenario_")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hamrun", required=True)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    try:
        SCENARIOS[args.scenario](os.path.abspath(args.hamrun))
    except CheckFailed as failure:
        print(f"serve_checks {args.scenario}: {failure}", file=sys.stderr)
        for server in SERVERS:
            print(f"--- the server's log (port {server.port}):\n{server.tail()}", file=sys.stderr)
        sys.exit(1)
    print(f"serve_checks {args.scenario}: ok")


if __name__ == "__main__":
    main()
