#!/usr/bin/env python3
"""Drives the mock exchange (test/mock_exchange/server.py) for the shell TAP tests.

  mockctl.py URL faults EXCHANGE JSON_ARRAY     queue faults for an exchange
  mockctl.py URL clear                          clear every fault queue and gap
  mockctl.py URL max-in-window EXCHANGE [MS]    most data requests within any MS (1000) window
  mockctl.py URL count EXCHANGE                 data requests received
  mockctl.py URL gap-after EXCHANGE STATUS      ms between the first response with STATUS and the next request
  mockctl.py URL canon SYMBOL FROM_MS TO_MS     canonical closed candles as CSV (timestamp UTC, o, h, l, c, v)
"""
import csv
import datetime
import json
import sys
import urllib.request


def call(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def main():
    base, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if cmd == "faults":
        call(base + "/_mock/faults", "POST", {"exchange": args[0], "faults": json.loads(args[1])})
    elif cmd == "clear":
        call(base + "/_mock/faults", "DELETE")
    elif cmd == "max-in-window":
        ms = args[1] if len(args) > 1 else "1000"
        print(call(base + "/_mock/stats?window_ms=" + ms)["max_in_window"].get(args[0], 0))
    elif cmd == "count":
        print(len(call(base + "/_mock/stats")["requests"].get(args[0], [])))
    elif cmd == "gap-after":
        reqs = call(base + "/_mock/stats")["requests"].get(args[0], [])
        for i, r in enumerate(reqs[:-1]):
            if str(r["status"]) == args[1]:
                print(reqs[i + 1]["t"] - r["t"])
                return
        print(-1)
    elif cmd == "canon":
        rows = call(base + "/_mock/candles?symbol=%s&from_ms=%s&to_ms=%s" % tuple(args))
        w = csv.writer(sys.stdout)
        for c in rows:
            ts = datetime.datetime.fromtimestamp(c["open_time_ms"] / 1000, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            w.writerow([ts, c["open"], c["high"], c["low"], c["close"], c["volume"]])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
