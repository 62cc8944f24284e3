#!/usr/bin/env python3
"""A tiny local API for the flowrun http example (standard library only).

GET  /orders?page=N  -> {"orders": [...], "next": "/orders?page=N+1" | null}   (3 pages)
POST /erp/orders     -> {"accepted": <count>, "idempotency_key": "..."}
Both need the header `Authorization: Bearer <anything>`.
Usage: server.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ORDERS = [{"id": f"ORD-{i:03}", "total": round(10 + i * 1.5, 2)} for i in range(1, 8)]
PAGE = 3


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorised(self):
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self.reply(401, {"error": "missing bearer token"})
            return False
        return True

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/orders":
            return self.reply(404, {"error": "no such resource"})
        if not self.authorised():
            return
        page = int(parse_qs(url.query).get("page", ["1"])[0])
        chunk = ORDERS[(page - 1) * PAGE : page * PAGE]
        more = page * PAGE < len(ORDERS)
        self.reply(200, {"orders": chunk, "next": f"/orders?page={page + 1}" if more else None})

    def do_POST(self):
        if self.path != "/erp/orders":
            return self.reply(404, {"error": "no such resource"})
        if not self.authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"null")
        count = len(body) if isinstance(body, list) else 1
        self.reply(200, {"accepted": count, "idempotency_key": self.headers.get("Idempotency-Key")})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
