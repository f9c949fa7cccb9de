#!/usr/bin/env python3
"""Mock cryptocurrency exchange HTTP server for cryptoml tests.

Serves deterministic 1-minute candles in the formats of Binance.US
(/api/v3/klines), Coinbase Exchange (/products/<id>/candles) and Bybit v5
(/v5/market/kline), with a JSON control API under /_mock/ for fault injection
and request statistics.  Standard library only (Python 3.11).

    python3 test/mock_exchange/server.py --port 0 --port-file /tmp/mx.port

See README.md next to this file for the endpoints and the fault types.

The candle fixture is importable too (``canonical_candle``, ``closed_candles``)
so a test can recompute the source of truth without asking the server.
"""

import argparse
import hashlib
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from collections import namedtuple
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MINUTE_MS = 60_000
EXCHANGES = ("binance-us", "coinbase", "bybit")
LISTED_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
COINBASE_PRODUCTS = {"BTC-USD": "BTCUSDT", "ETH-USD": "ETHUSDT", "SOL-USD": "SOLUSDT"}

BINANCE_LIMIT_DEFAULT, BINANCE_LIMIT_MAX = 500, 1000
COINBASE_MAX_CANDLES = 300
BYBIT_LIMIT_DEFAULT, BYBIT_LIMIT_MAX = 200, 1000
MOCK_CANDLES_MAX = 100_000  # cap for GET /_mock/candles

# --------------------------------------------------------------------------
# Candle fixture
# --------------------------------------------------------------------------

Candle = namedtuple("Candle", "open_time open high low close volume")


def base_price(symbol):
    if symbol.startswith("BTC"):
        return 95000.0
    if symbol.startswith("ETH"):
        return 3400.0
    return 1.5


def price_decimals(symbol):
    return 2 if symbol.startswith(("BTC", "ETH")) else 6


VOLUME_DECIMALS = 4


def quantize(x, places):
    """Round a float/Decimal to `places` decimals (half-even on the exact value)."""
    return Decimal(x).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def hash_units(symbol, t):
    """Four numbers in [0, 1) from sha256("<symbol>:<open_time_ms>")."""
    h = hashlib.sha256(f"{symbol}:{t}".encode()).digest()
    return [int.from_bytes(h[i:i + 8], "big") / 2.0 ** 64 for i in (0, 8, 16, 24)]


@lru_cache(maxsize=1 << 18)
def raw_close(symbol, t):
    u = 2.0 * hash_units(symbol, t)[0] - 1.0  # [-1, 1)
    return base_price(symbol) * (1.0 + 0.02 * math.sin((t // MINUTE_MS) / 97.0) + 0.002 * u)


@lru_cache(maxsize=1 << 18)
def canonical_candle(symbol, t):
    """The final (closed) values of the candle opening at t (ms, multiple of 60000)."""
    if t % MINUTE_MS:
        raise ValueError("open time must be a multiple of 60000 ms")
    _, u2, u3, u4 = hash_units(symbol, t)
    dp = price_decimals(symbol)
    c_raw = raw_close(symbol, t)
    o_raw = raw_close(symbol, t - MINUTE_MS)
    h_raw = max(o_raw, c_raw) * (1.0 + 0.0005 * u2)
    l_raw = min(o_raw, c_raw) * (1.0 - 0.0005 * u3)
    o, c = quantize(o_raw, dp), quantize(c_raw, dp)
    h = max(quantize(h_raw, dp), o, c)
    l = min(quantize(l_raw, dp), o, c)
    v = quantize(10.0 + 90.0 * u4, VOLUME_DECIMALS)
    return Candle(t, o, h, l, c, v)


def floor_minute(ms):
    return ms - ms % MINUTE_MS


def ceil_minute(ms):
    return -((-ms) // MINUTE_MS) * MINUTE_MS


def now_ms():
    return int(time.time() * 1000)


def served_candle(symbol, t, now):
    """Candle as served at time `now`: the forming minute has partial volume."""
    c = canonical_candle(symbol, t)
    if t + MINUTE_MS <= now:
        return c
    frac = max(0.0, min(1.0, (now - t) / MINUTE_MS))
    return c._replace(volume=quantize(c.volume * Decimal(frac), VOLUME_DECIMALS))


def closed_candles(symbol, from_ms, to_ms, now=None):
    """Canonical closed candles with from_ms <= open_time <= to_ms (ascending)."""
    now = now_ms() if now is None else now
    last = min(floor_minute(to_ms), floor_minute(now) - MINUTE_MS)
    first = max(ceil_minute(from_ms), 0)
    return [canonical_candle(symbol, t) for t in range(first, last + 1, MINUTE_MS)]


def select_open_times(start, end, limit, newest, gaps, now):
    """Open times t with start <= t <= end, t <= now, t not inside a gap.

    start/end may be None (unbounded / now).  Returns at most `limit` open
    times in ascending order: the newest ones if `newest`, else the oldest.
    gaps: list of (from_ms, to_ms) inclusive ranges to skip.
    """
    hi = now if end is None else min(end, now)
    first = ceil_minute(max(0 if start is None else start, 0))
    last = floor_minute(hi)

    def gap_at(t):
        for g_from, g_to in gaps:
            if g_from <= t <= g_to:
                return g_from, g_to
        return None

    out = []
    if newest:
        t = last
        while t >= first and len(out) < limit:
            g = gap_at(t)
            if g:
                t = floor_minute(g[0] - 1)
            else:
                out.append(t)
                t -= MINUTE_MS
        out.reverse()
    else:
        t = first
        while t <= last and len(out) < limit:
            g = gap_at(t)
            if g:
                t = ceil_minute(g[1] + 1)
            else:
                out.append(t)
                t += MINUTE_MS
    return out


def fmt(d, places=None):
    """Decimal -> plain decimal string (optionally padded to `places`)."""
    return format(d if places is None else quantize(d, places), "f")


def extras(c):
    """Derived fields: quote volume, trade count, taker base and taker quote."""
    quote = quantize(c.volume * c.close, 8)
    trades = 1 + int(c.volume * 10)
    return quote, trades, quantize(c.volume / 2, 8), quantize(quote / 2, 8)


# --------------------------------------------------------------------------
# Shared state (faults, gaps, request log)
# --------------------------------------------------------------------------

CONTENT_FAULTS = ("malformed", "bad_ohlc", "duplicate", "out_of_order", "skew")
QUEUED_FAULTS = ("429", "500", "503", "timeout") + CONTENT_FAULTS


class BadRequest(Exception):
    pass


def _number(f, key, default, minimum=0, strict=False):
    v = f.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise BadRequest(f"fault {f.get('type')}: '{key}' must be a number")
    if v < minimum or (strict and v == minimum):
        raise BadRequest(f"fault {f.get('type')}: '{key}' must be {'>' if strict else '>='} {minimum}")
    return v


def validate_fault(f):
    if not isinstance(f, dict):
        raise BadRequest("each fault must be a JSON object")
    ftype = f.get("type")
    if isinstance(ftype, int) and not isinstance(ftype, bool):
        ftype = str(ftype)
    if ftype not in QUEUED_FAULTS + ("gap",):
        raise BadRequest(f"unknown fault type {f.get('type')!r}")
    out = {"type": ftype}
    sym = f.get("symbol")
    if sym is not None:
        if not isinstance(sym, str):
            raise BadRequest("fault 'symbol' must be a string")
        out["symbol"] = sym
    if ftype == "429":
        out["retry_after"] = int(math.ceil(_number(f, "retry_after", 1)))
    elif ftype == "timeout":
        out["seconds"] = _number(f, "seconds", 5)
    elif ftype == "skew":
        out["seconds"] = _number(f, "seconds", 3600, strict=True)
    elif ftype == "gap":
        for k in ("from_ms", "to_ms"):
            v = f.get(k)
            if isinstance(v, bool) or not isinstance(v, int):
                raise BadRequest(f"fault gap: '{k}' must be an integer (ms)")
            out[k] = v
        if out["from_ms"] > out["to_ms"]:
            raise BadRequest("fault gap: from_ms > to_ms")
    return out


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.queues = {e: [] for e in EXCHANGES}
        self.gaps = {e: [] for e in EXCHANGES}
        self.requests = {e: [] for e in EXCHANGES}

    def add_faults(self, exchange, faults):
        with self.lock:
            for f in faults:
                (self.gaps if f["type"] == "gap" else self.queues)[exchange].append(f)
            return len(self.queues[exchange]), len(self.gaps[exchange])

    def clear_faults(self):
        with self.lock:
            for e in EXCHANGES:
                self.queues[e].clear()
                self.gaps[e].clear()

    def faults_snapshot(self):
        with self.lock:
            return {"queues": {e: list(q) for e, q in self.queues.items()},
                    "gaps": {e: list(g) for e, g in self.gaps.items()}}

    def take_fault(self, exchange, symbols):
        """Pop the first queued fault for `exchange` matching the request symbol."""
        with self.lock:
            q = self.queues[exchange]
            for i, f in enumerate(q):
                if "symbol" not in f or f["symbol"] in symbols:
                    return q.pop(i)
            return None

    def gap_ranges(self, exchange, symbols):
        with self.lock:
            return [(g["from_ms"], g["to_ms"]) for g in self.gaps[exchange]
                    if "symbol" not in g or g["symbol"] in symbols]

    def record(self, exchange, t, path, symbol):
        entry = {"t": int(t * 1000), "path": path, "status": None, "symbol": symbol,
                 "fault": None, "_t": t}
        with self.lock:
            self.requests[exchange].append(entry)
        return entry

    def update(self, entry, **kw):
        with self.lock:
            entry.update(kw)

    def reset_stats(self):
        with self.lock:
            for e in EXCHANGES:
                self.requests[e].clear()

    def stats(self, window_ms):
        with self.lock:
            reqs = {e: [{k: v for k, v in r.items() if k != "_t"} for r in rs]
                    for e, rs in self.requests.items()}
            times = {e: sorted(r["_t"] for r in rs) for e, rs in self.requests.items()}
        window = window_ms / 1000.0
        max_in = {}
        for e, ts in times.items():
            best, i = 0, 0
            for j, t in enumerate(ts):
                while t - ts[i] >= window:
                    i += 1
                best = max(best, j - i + 1)
            max_in[e] = best
        return {"requests": reqs, "max_in_window": max_in, "window_ms": window_ms}


# --------------------------------------------------------------------------
# Exchange formats
# --------------------------------------------------------------------------

class Page:
    """A successful candle page: ascending candles plus a renderer."""

    def __init__(self, candles, render, newest_first):
        self.candles, self.render, self.newest_first = candles, render, newest_first

    def body(self):
        cs = list(reversed(self.candles)) if self.newest_first else self.candles
        return self.render(cs)


class ErrorReply:
    def __init__(self, status, obj):
        self.status, self.obj = status, obj


def q1(q, key):
    v = q.get(key)
    if not v or v[0] == "":
        return None
    return v[0]


def binance_error(code, msg, status=400):
    return ErrorReply(status, {"code": code, "msg": msg})


def binance_int(q, key):
    v = q1(q, key)
    if v is None:
        return None
    if not re.fullmatch(r"[0-9]{1,20}", v):
        raise ValueError(key)
    return int(v)


def binance_klines(q, now, gaps):
    symbol = q1(q, "symbol")
    if symbol is None:
        return binance_error(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
    interval = q1(q, "interval")
    if interval is None:
        return binance_error(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
    try:
        start, end, limit = (binance_int(q, k) for k in ("startTime", "endTime", "limit"))
    except ValueError as e:
        return binance_error(-1100, f"Illegal characters found in parameter '{e.args[0]}'; "
                                    "legal range is '^[0-9]{1,20}$'.")
    if interval != "1m":
        return binance_error(-1120, "Invalid interval.")
    if limit is None:
        limit = BINANCE_LIMIT_DEFAULT
    if limit < 1 or limit > BINANCE_LIMIT_MAX:
        return binance_error(-1130, "Invalid data sent for a parameter.")
    if symbol not in LISTED_SYMBOLS:
        return binance_error(-1121, "Invalid symbol.")
    times = select_open_times(start, end, limit, newest=start is None, gaps=gaps, now=now)
    candles = [served_candle(symbol, t, now) for t in times]

    def render(cs):
        rows = []
        for c in cs:
            quote, trades, taker_base, taker_quote = extras(c)
            rows.append([c.open_time, fmt(c.open, 8), fmt(c.high, 8), fmt(c.low, 8),
                         fmt(c.close, 8), fmt(c.volume, 8), c.open_time + MINUTE_MS - 1,
                         fmt(quote, 8), trades, fmt(taker_base, 8), fmt(taker_quote, 8), "0"])
        return rows

    return Page(candles, render, newest_first=False)


def coinbase_error(status, message):
    return ErrorReply(status, {"message": message})


def parse_coinbase_time(v):
    """ISO-8601 (naive = UTC) or epoch seconds -> ms."""
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", v):
        return int(Decimal(v) * 1000)
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


def coinbase_candles(product, q, now, gaps):
    if product not in COINBASE_PRODUCTS:
        return coinbase_error(404, "NotFound")
    symbol = COINBASE_PRODUCTS[product]
    gran = q1(q, "granularity")
    if gran is not None and gran != "60":
        return coinbase_error(400, "Unsupported granularity")
    try:
        start = None if q1(q, "start") is None else parse_coinbase_time(q1(q, "start"))
    except ValueError:
        return coinbase_error(400, "Invalid start")
    try:
        end = None if q1(q, "end") is None else parse_coinbase_time(q1(q, "end"))
    except ValueError:
        return coinbase_error(400, "Invalid end")
    if start is not None and end is None:
        end = ceil_minute(start) + (COINBASE_MAX_CANDLES - 1) * MINUTE_MS
    if start is not None:
        if start > end:
            return coinbase_error(400, "start must be before end")
        count = max(0, (floor_minute(end) - ceil_minute(start)) // MINUTE_MS + 1)
        if count > COINBASE_MAX_CANDLES:
            return coinbase_error(400, "granularity too small for the requested time range. "
                                       "Count of aggregations requested exceeds 300")
    times = select_open_times(start, end, COINBASE_MAX_CANDLES, newest=True, gaps=gaps, now=now)
    candles = [served_candle(symbol, t, now) for t in times]

    def render(cs):
        return [[c.open_time // 1000, float(c.low), float(c.high), float(c.open),
                 float(c.close), float(c.volume)] for c in cs]

    return Page(candles, render, newest_first=True)


def bybit_body(ret_code, ret_msg, result, now):
    return {"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": now}


def bybit_kline(q, now, gaps):
    def err(msg):
        return ErrorReply(200, bybit_body(10001, msg, {}, now))

    if q1(q, "category") != "spot":
        return err("params error: the mock only supports category=spot")
    symbol = q1(q, "symbol")
    if symbol is None:
        return err("params error: symbol is required")
    if q1(q, "interval") != "1":
        return err("params error: the mock only supports interval=1")
    vals = {}
    for k in ("start", "end", "limit"):
        v = q1(q, k)
        if v is not None and not re.fullmatch(r"-?[0-9]{1,20}", v):
            return err(f"params error: {k} invalid")
        vals[k] = None if v is None else int(v)
    limit = BYBIT_LIMIT_DEFAULT if vals["limit"] is None else vals["limit"]
    if limit < 1 or limit > BYBIT_LIMIT_MAX:
        return err("params error: limit must be in [1, 1000]")
    if symbol not in LISTED_SYMBOLS:
        return err("Not supported symbols")
    times = select_open_times(vals["start"], vals["end"], limit, newest=True, gaps=gaps, now=now)
    candles = [served_candle(symbol, t, now) for t in times]

    def render(cs):
        rows = []
        for c in cs:
            quote = extras(c)[0]
            rows.append([str(c.open_time), fmt(c.open), fmt(c.high), fmt(c.low), fmt(c.close),
                         fmt(c.volume), fmt(quote)])
        return bybit_body(0, "OK", {"category": "spot", "symbol": symbol, "list": rows}, now)

    return Page(candles, render, newest_first=True)


ERROR_FAULT_BODIES = {
    "binance-us": {
        "429": lambda now: {"code": -1003, "msg": "Too many requests; current limit of IP is "
                                                  "1200 requests per minute."},
        "500": lambda now: {"code": -1000, "msg": "An unknown error occurred while processing "
                                                  "the request."},
        "503": lambda now: {"code": -1001, "msg": "Internal error; unable to process your "
                                                  "request. Please try again."},
    },
    "coinbase": {
        "429": lambda now: {"message": "Public rate limit exceeded"},
        "500": lambda now: {"message": "Internal server error"},
        "503": lambda now: {"message": "Service Unavailable"},
    },
    "bybit": {
        "429": lambda now: bybit_body(10006, "Too many visits!", {}, now),
        "500": lambda now: bybit_body(10016, "Internal system error.", {}, now),
        "503": lambda now: bybit_body(10016, "Service Unavailable", {}, now),
    },
}


def apply_content_fault(fault, page, symbol, now):
    """Mutate page.candles (ascending) according to a content fault."""
    cs = list(page.candles)
    ftype = fault["type"]
    if ftype == "bad_ohlc" and cs:
        i = len(cs) // 2
        c = cs[i]
        low, high = c.high, c.low  # swap: high < low unless they were equal
        if high >= low:
            low = high + Decimal(1).scaleb(-price_decimals(symbol))
        cs[i] = c._replace(high=high, low=low)
    elif ftype == "duplicate" and cs:
        i = len(cs) // 2
        cs.insert(i + 1, cs[i])
    elif ftype == "out_of_order" and len(cs) >= 2:
        i = max(0, len(cs) // 2 - 1)
        cs[i], cs[i + 1] = cs[i + 1], cs[i]
    elif ftype == "skew":
        # first minute boundary at least `seconds` after now (always > now)
        t = ceil_minute(now + int(math.ceil(fault["seconds"] * 1000)))
        cs.append(canonical_candle(symbol, t))
    page.candles = cs


# --------------------------------------------------------------------------
# HTTP server
# --------------------------------------------------------------------------

COINBASE_PATH = re.compile(r"^/products/([^/]+)/candles/?$")


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, state, stop_event, log):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.state, self.stop_event, self.log = state, stop_event, log
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            self.log(f"connection error from {client_address}: {exc!r}")
            return
        sys.stderr.write(f"mock_exchange: error handling request from {client_address}\n")
        traceback.print_exc(file=sys.stderr)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cryptoml-mock-exchange/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections

    def version_string(self):
        return self.server_version

    # ---- plumbing -------------------------------------------------------

    def log_message(self, fmt_, *args):
        self.server.log(f"{self.address_string()} {fmt_ % args}")

    def send_body(self, status, body, extra_headers=None):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra_headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def send_json(self, status, obj, extra_headers=None):
        self.send_body(status, dumps(obj), extra_headers)

    def read_json(self):
        n = self.headers.get("Content-Length")
        if n is None:
            raise BadRequest("Content-Length required")
        try:
            raw = self.rfile.read(int(n)) if int(n) > 0 else b""
        except ValueError:
            raise BadRequest("bad Content-Length")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(f"invalid JSON body: {e}")

    def drain_body(self):
        n = self.headers.get("Content-Length")
        if n and n.isdigit() and int(n) > 0:
            self.rfile.read(int(n))

    def dispatch(self, method):
        url = urlsplit(self.path)
        q = parse_qs(url.query, keep_blank_values=True)
        try:
            if method != "POST":
                self.drain_body()
            route = (method, url.path.rstrip("/") or "/")
            m = COINBASE_PATH.match(url.path)
            if route == ("GET", "/api/v3/klines"):
                self.data("binance-us", q1(q, "symbol"), lambda now, g: binance_klines(q, now, g))
            elif method == "GET" and m:
                product = m.group(1)
                self.data("coinbase", product, lambda now, g: coinbase_candles(product, q, now, g))
            elif route == ("GET", "/v5/market/kline"):
                self.data("bybit", q1(q, "symbol"), lambda now, g: bybit_kline(q, now, g))
            elif route == ("POST", "/_mock/faults"):
                self.post_faults()
            elif route == ("DELETE", "/_mock/faults"):
                self.server.state.clear_faults()
                self.send_json(200, {"ok": True})
            elif route == ("GET", "/_mock/faults"):
                self.send_json(200, self.server.state.faults_snapshot())
            elif route == ("GET", "/_mock/stats"):
                self.get_stats(q)
            elif route == ("DELETE", "/_mock/stats"):
                self.server.state.reset_stats()
                self.send_json(200, {"ok": True})
            elif route == ("GET", "/_mock/candles"):
                self.get_candles(q)
            else:
                self.send_json(404, {"message": "Not Found", "path": url.path})
        except BadRequest as e:
            self.send_json(400, {"error": str(e)})
        except Exception as e:  # a bug in the mock: answer 500 and say so on stderr
            sys.stderr.write(f"mock_exchange: internal error on {method} {self.path}\n")
            traceback.print_exc(file=sys.stderr)
            self.send_json(500, {"error": f"mock internal error: {e!r}"})

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    # ---- data endpoints -------------------------------------------------

    def data(self, exchange, symbol, produce):
        state = self.server.state
        arrival = time.time()
        entry = state.record(exchange, arrival, self.path, symbol)
        now = int(arrival * 1000)
        symbols = {symbol, COINBASE_PRODUCTS.get(symbol)} - {None}
        fault = state.take_fault(exchange, symbols)
        ftype = fault["type"] if fault else None
        headers = {}
        if ftype in ("429", "500", "503"):
            status = int(ftype)
            obj = ERROR_FAULT_BODIES[exchange][ftype](now)
            if ftype == "429":
                headers["Retry-After"] = str(fault["retry_after"])
        else:
            reply = produce(now, state.gap_ranges(exchange, symbols))
            if isinstance(reply, Page):
                if ftype in ("bad_ohlc", "duplicate", "out_of_order", "skew"):
                    apply_content_fault(fault, reply, COINBASE_PRODUCTS.get(symbol, symbol), now)
                status, obj = 200, reply.body()
            else:
                status, obj = reply.status, reply.obj
        body = dumps(obj)
        if ftype == "malformed":
            status, body = 200, body[:max(1, len(body) // 2)]
        state.update(entry, status=status, fault=ftype)
        if ftype == "timeout":
            self.server.stop_event.wait(fault["seconds"])
        self.send_body(status, body, headers)

    # ---- control API ----------------------------------------------------

    def post_faults(self):
        req = self.read_json()
        if not isinstance(req, dict):
            raise BadRequest("body must be a JSON object")
        exchange = req.get("exchange")
        if exchange not in EXCHANGES:
            raise BadRequest(f"'exchange' must be one of {list(EXCHANGES)}")
        faults = req.get("faults")
        if not isinstance(faults, list):
            raise BadRequest("'faults' must be a JSON array")
        checked = [validate_fault(f) for f in faults]
        queued, gaps = self.server.state.add_faults(exchange, checked)
        self.send_json(200, {"ok": True, "exchange": exchange, "queued": queued, "gaps": gaps})

    def get_stats(self, q):
        w = q1(q, "window_ms")
        if w is None:
            window = 1000
        elif w.isdigit() and int(w) > 0:
            window = int(w)
        else:
            raise BadRequest("window_ms must be a positive integer")
        self.send_json(200, self.server.state.stats(window))

    def get_candles(self, q):
        symbol = q1(q, "symbol")
        if symbol is None:
            raise BadRequest("symbol is required")
        symbol = COINBASE_PRODUCTS.get(symbol, symbol)
        bounds = []
        for k in ("from_ms", "to_ms"):
            v = q1(q, k)
            if v is None or not re.fullmatch(r"-?[0-9]{1,20}", v):
                raise BadRequest(f"{k} is required (integer ms)")
            bounds.append(int(v))
        lo, hi = bounds
        if (floor_minute(hi) - ceil_minute(lo)) // MINUTE_MS + 1 > MOCK_CANDLES_MAX:
            raise BadRequest(f"range too large (max {MOCK_CANDLES_MAX} candles)")
        out = [{"open_time_ms": c.open_time, "open": fmt(c.open), "high": fmt(c.high),
                "low": fmt(c.low), "close": fmt(c.close), "volume": fmt(c.volume)}
               for c in closed_candles(symbol, lo, hi)]
        self.send_json(200, out)


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def write_port_file(path, port):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make_logger(path):
    if not path:
        return (lambda msg: None), None
    fh = sys.stderr if path == "-" else open(path, "a", buffering=1)
    lock = threading.Lock()

    def log(msg):
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with lock:
            try:
                fh.write(f"{stamp} {msg}\n")
                fh.flush()
            except ValueError:  # closed during shutdown
                pass

    return log, (None if fh is sys.stderr else fh)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock crypto exchange (Binance.US, Coinbase, Bybit) for tests")
    ap.add_argument("--port", type=int, required=True, help="TCP port, 0 = pick a free one")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port-file", help="write the actual port here (atomically) once listening")
    ap.add_argument("--log", help="append one line per request to this file ('-' = stderr)")
    args = ap.parse_args(argv)

    log, log_fh = make_logger(args.log)
    stop = threading.Event()
    try:
        server = MockServer((args.host, args.port), Handler, State(), stop, log)
    except OSError as e:
        sys.stderr.write(f"mock_exchange: cannot listen on {args.host}:{args.port}: {e}\n")
        return 1
    port = server.server_address[1]

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    worker = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="serve_forever", daemon=True)
    worker.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    log(f"listening on {args.host}:{port}")
    try:
        while not stop.wait(0.5):
            if not worker.is_alive():
                break
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        if args.port_file:
            try:
                with open(args.port_file) as f:
                    if f.read().strip() == str(port):
                        os.remove(args.port_file)
            except OSError:
                pass
        log("stopped")
        if log_fh:
            log_fh.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
