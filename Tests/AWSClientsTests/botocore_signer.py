"""Signs requests with botocore's SigV4Auth: the reference for the differential test.

Reads one JSON request per line on stdin:
  {"method", "url", "headers": [[name, value]...], "body", "region", "service",
   "access_key", "secret_key", "token" (or null), "timestamp": "YYYYmmddTHHMMSSZ"}
and prints one JSON line per request: {"authorization", "canonical_request", "string_to_sign"}.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

for line in sys.stdin:
    case = json.loads(line)
    stamp = datetime.datetime.strptime(case["timestamp"], "%Y%m%dT%H%M%SZ")
    botocore.auth.get_current_datetime = lambda stamp=stamp: stamp
    request = AWSRequest(method=case["method"], url=case["url"], data=case["body"].encode())
    for name, value in case["headers"]:
        request.headers[name] = value
    auth = botocore.auth.SigV4Auth(Credentials(case["access_key"], case["secret_key"], case["token"]), case["service"], case["region"])
    auth.add_auth(request)
    authorization = request.headers["Authorization"]
    del request.headers["Authorization"]  # so the canonical request shown is the one that was signed
    canonical = auth.canonical_request(request)
    print(json.dumps({
        "authorization": authorization,
        "canonical_request": canonical,
        "string_to_sign": auth.string_to_sign(request, canonical),
    }), flush=True)
