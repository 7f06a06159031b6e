"""A stand-in for the Lambda Runtime API, for the runtime loop's tests.

Prints its port, then serves until its standard input closes. Hands out the
events given as arguments in turn on GET /2018-06-01/runtime/invocation/next
(request ids req-1, req-2, ...; a deadline 5 s ahead; a trace id), then holds
the next poll open. An event written `!500` is a broken Runtime API instead:
that poll answers 500. Records every POST (path, error-type header, body);
GET /_posts returns them as a JSON list.
"""
import json
import sys
import threading
import time

from stub_http import StubHandler, serve

events = list(sys.argv[1:])
lock = threading.Lock()
posts = []
served = 0


class Handler(StubHandler):
    def do_GET(self):
        global served
        if self.path == "/_posts":
            with lock:
                data = json.dumps(posts).encode()
            self.answer(200, data)
            return
        if self.path != "/2018-06-01/runtime/invocation/next":
            self.answer(404)
            return
        with lock:
            index = served
            served += 1
        if index >= len(events):
            time.sleep(3600)
            return
        if events[index] == "!500":
            self.answer(500, b'{"errorType":"ServiceException"}')
            return
        deadline = int(time.time() * 1000) + 5000
        self.answer(200, events[index].encode(), [
            ("Lambda-Runtime-Aws-Request-Id", f"req-{index + 1}"),
            ("Lambda-Runtime-Deadline-Ms", str(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:test"),
            ("Lambda-Runtime-Trace-Id", f"Root=1-5759e988-bd862e3fe1be46a99427230{index + 1};Sampled=1"),
        ])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            posts.append({"path": self.path, "errorType": self.headers.get("Lambda-Runtime-Function-Error-Type"), "body": body})
        self.answer(202, b'{"status":"OK"}')


serve(Handler)
