"""A stand-in for an AWS JSON endpoint that fails on purpose, for the retry tests.

Prints its port, then answers POSTs by script: the path of the first request sets
nothing; each request takes the next status from STATUSES (after the last one,
200). Every answer carries the count of requests so far in `Attempts`, and a
success the number of different request bodies seen in `DistinctBodies` (a
retry must resend the same bytes, idempotency tokens included).
Serves until its standard input closes.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUSES = [int(code) for code in sys.argv[1].split(",") if code] if len(sys.argv) > 1 else []
count = 0
bodies = set()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            bodies.add(payload)
            count += 1
            status = STATUSES[count - 1] if count <= len(STATUSES) else 200
            attempts = count
        if status == 200:
            body = {"Attempts": attempts, "SignedWith": self.headers.get("Authorization", "")[:16], "DistinctBodies": len(bodies)}
        elif status == 400:
            body = {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "bad", "Attempts": attempts}
        elif status == 429:
            body = {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "slow down"}
        else:
            body = {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "oops"}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
server.shutdown()
