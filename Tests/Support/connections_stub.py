"""A fault-injecting stand-in for API Gateway's @connections management API.

Prints its port, then serves until its standard input closes:
  POST   /{stage}/@connections/{id}  a frame for a connection
  DELETE /{stage}/@connections/{id}  closes it (200, or 410 when gone)
  PUT    /_plan                      {"id": ["429", "500", "slow:300", "drop", "ok"], ...}:
                                     the answers each connection's next posts get, in turn
                                     (then 200); ids listed under "gone" answer 410 forever.
                                     Starts a new round: what was delivered and counted is cleared
  GET    /_delivered                 {"id": [frame, ...]}: what each connection was given
  GET    /_attempts                  {"id": n}: posts seen per connection, failed ones included
Like API Gateway, a payload over 128 KB (131,072 bytes) is refused with 413.
"""
import json
import threading
import time
import urllib.parse

from stub_http import StubHandler, serve

LIMIT = 131072
lock = threading.Lock()
plans = {}
gone = set()
delivered = {}
attempts = {}


class Handler(StubHandler):
    def connection_id(self):
        if "/@connections/" not in self.path:
            return None
        return urllib.parse.unquote(self.path.split("/@connections/", 1)[1])

    def do_PUT(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with lock:
            delivered.clear()
            attempts.clear()
            gone.update(body.pop("gone", []))
            for key, steps in body.items():
                plans[key] = list(steps)
        self.answer(200, b"{}")

    def do_GET(self):
        with lock:
            table = {"/_delivered": delivered, "/_attempts": attempts}.get(self.path)
            data = json.dumps(table).encode() if table is not None else None
        if data is None:
            self.answer(404)
        else:
            self.answer(200, data)

    def do_DELETE(self):
        key = self.connection_id()
        with lock:
            status = 410 if key in gone else 200
            gone.add(key)
        self.answer(status)

    def do_POST(self):
        key = self.connection_id()
        payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if key is None or not self.headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            self.answer(403, b'{"message": "Forbidden"}')
            return
        with lock:
            attempts[key] = attempts.get(key, 0) + 1
            step = "410" if key in gone else (plans[key].pop(0) if plans.get(key) else "ok")
        if step == "drop":
            # No answer at all: the client sees a reset and must retry.
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if step.startswith("slow:"):
            time.sleep(int(step[5:]) / 1000)
            step = "ok"
        if step != "ok":
            self.answer(int(step), json.dumps({"message": "injected " + step}).encode())
            return
        if len(payload) > LIMIT:
            self.answer(413, b'{"message": "Request Entity Too Large"}')
            return
        with lock:
            delivered.setdefault(key, []).append(payload.decode())
        self.answer(200)


serve(Handler)
