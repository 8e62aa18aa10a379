#!/usr/bin/env python3
"""A minimal OTLP/HTTP logs receiver for the EbguardAudit tests: loopback only.

POST /v1/logs: the JSON body is appended as received (one line: ebguard sends no newline in it)
to --out, its User-Agent to --out.agents, and answered 200 `{}`.
--fail N answers the first N requests with 503 (to test retries). Nothing else is served.
"""
import argparse
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--out", required=True)
parser.add_argument("--fail", type=int, default=0)
args = parser.parse_args()
failures_left = args.fail


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global failures_left
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != "/v1/logs" or self.headers.get("Content-Type") != "application/json":
            self.answer(404, b"{}")
            return
        if failures_left > 0:
            failures_left -= 1
            self.answer(503, b'{"error":"try later"}')
            return
        json.loads(body)  # JSON, or the request fails loudly
        with open(args.out, "ab") as out:
            out.write(body + b"\n")
        with open(args.out + ".agents", "a") as agents:
            agents.write(self.headers.get("User-Agent", "") + "\n")
        self.answer(200, b"{}")

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print("listening", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
