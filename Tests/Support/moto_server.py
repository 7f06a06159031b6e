"""Starts moto's DynamoDB-compatible server on 127.0.0.1 for the tests.

Prints the port it listens on, then serves until its standard input closes
(the test process that started it has ended).

DynamoDB applies each request atomically: of twenty conditional puts of one key
that race, exactly one wins. moto's backend takes no lock, so under concurrent
requests two of them can both pass the condition. Requests are served on threads
as moto's own ThreadedMotoServer does, but each is applied under one lock, which
gives the tests DynamoDB's atomicity.
"""
import socket
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()

application = DomainDispatcherApplication(create_backend_app)
one_at_a_time = threading.Lock()


def atomic(environ, start_response):
    with one_at_a_time:
        # The whole response is produced inside the lock.
        return list(application(environ, start_response))


server = make_server("127.0.0.1", port, atomic, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(port, flush=True)
sys.stdin.read()
server.shutdown()
