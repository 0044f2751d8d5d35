#!/usr/bin/env python3
"""A fake instrument service for trying the moneyness mapping by hand: serves the recorded answers
of adapters/tests/fixtures/instrument_service/ (NIFTY, expiry 2026-02-03, strikes 26 000 and
26 050), with the mapping's `as_of` set to the moment it is asked (so it is fresh), on the port
given (0: any free one, printed on the first line). Answers 503 to everything after
`touch $DOWN_FILE` (default /tmp/fake-instrument-service.down): the service "down".

    python3 scripts/mapping/fake_instrument_service.py 18190
"""
import datetime as dt
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "adapters/tests/fixtures/instrument_service"
DOWN = os.environ.get("DOWN_FILE", "/tmp/fake-instrument-service.down")
ROUTES = [
    ("/v1/underlyings/NSE:NIFTY/moneyness-mapping", "mapping.json"),
    ("/v1/underlyings/NSE:NIFTY/expiries", "expiries.json"),
    ("/v1/underlyings/NSE:NIFTY/chain", "chain.json"),
    ("/v1/underlyings", "underlyings.json"),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if os.path.exists(DOWN):
            return self.answer(503, {"error": "down"})
        if self.path.startswith("/v1/underlyings/NSE:BANKNIFTY/expiries"):
            return self.answer(200, {"underlying": "NSE:BANKNIFTY", "expiries": []})
        for prefix, name in ROUTES:
            if self.path.startswith(prefix):
                body = json.loads((FIXTURES / name).read_text())
                if name == "mapping.json":
                    body["as_of"] = dt.datetime.now(dt.timezone.utc).isoformat()
                return self.answer(200, body)
        self.answer(404, {"error": f"no route {self.path}"})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
