"""Starts moto's DynamoDB-compatible server on 127.0.0.1 for the tests.

Prints the port it listens on, then serves until its standard input closes
(the test process that started it has ended).
"""
import socket
import sys

from moto.server import ThreadedMotoServer

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()

server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop()
