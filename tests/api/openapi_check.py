#!/usr/bin/python3
"""Checks dc-api's OpenAPI document against the live server.

Calls every documented operation (and its documented errors) on a running
dc-api, and validates every answer: its status must be documented for that
operation, its content type must be one the document lists, and a JSON body
must validate against the schema (JSON Schema 2020-12, as OpenAPI 3.1 says).
Fails when a documented operation was never exercised.

    openapi_check.py URL        tokens in DC_VIEWER_TOKEN, DC_OPERATOR_TOKEN, DC_ADMIN_TOKEN

Exit 0 when everything holds; 1 with one line per problem otherwise.
"""
import http.client
import json
import os
import sys
import urllib.parse
import uuid

from jsonschema import Draft202012Validator, RefResolver

BASE = sys.argv[1].rstrip("/")
VIEWER = os.environ["DC_VIEWER_TOKEN"]
OPERATOR = os.environ["DC_OPERATOR_TOKEN"]
ADMIN = os.environ["DC_ADMIN_TOKEN"]

problems = []
exercised = set()
url = urllib.parse.urlparse(BASE)


def request(method, target, body=None, token=None, headers=None, raw=None):
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    all_headers = dict(headers or {})
    if token:
        all_headers["Authorization"] = "Bearer " + token
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    conn.request(method, target, body=data, headers=all_headers)
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, response.getheader("Content-Type", ""), payload


doc_status, _, doc_body = request("GET", "/api/v1/openapi.json", token=VIEWER)
if doc_status != 200:
    print(f"GET /api/v1/openapi.json answered {doc_status}")
    sys.exit(1)
DOC = json.loads(doc_body)
if not str(DOC.get("openapi", "")).startswith("3.1"):
    problems.append(f"openapi is {DOC.get('openapi')!r}, not 3.1.x")
RESOLVER = RefResolver(base_uri="", referrer=DOC)


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        _, ref = RESOLVER.resolve(node["$ref"])
        node = ref
    return node


def check(path, method, status, content_type, payload):
    """Validates one answer of `method path` against the document."""
    exercised.add((path, method))
    where = f"{method.upper()} {path} -> {status}"
    operation = DOC["paths"].get(path, {}).get(method)
    if operation is None:
        problems.append(f"{where}: operation not documented")
        return None
    spec = operation.get("responses", {}).get(str(status))
    if spec is None:
        problems.append(f"{where}: status not documented (documented: {sorted(operation['responses'])})")
        return None
    spec = resolve(spec)
    content = spec.get("content")
    if not content:
        if payload:
            problems.append(f"{where}: documented without a body, got {len(payload)} bytes")
        return None
    media = content_type.split(";")[0].strip()
    if media not in content:
        problems.append(f"{where}: content type {media!r} not documented ({sorted(content)})")
        return None
    if "json" not in media:
        return payload
    try:
        body = json.loads(payload)
    except ValueError:
        problems.append(f"{where}: body is not JSON")
        return None
    schema = content[media].get("schema", {})
    validator = Draft202012Validator(schema, resolver=RESOLVER)
    for error in validator.iter_errors(body):
        problems.append(f"{where}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    return body


def call(path, method, target=None, **kwargs):
    status, content_type, payload = request(method.upper(), target or path, **kwargs)
    return status, check(path, method, status, content_type, payload)


def expect(path, method, status_wanted, target=None, **kwargs):
    status, body = call(path, method, target, **kwargs)
    if status != status_wanted:
        problems.append(f"{method.upper()} {target or path}: expected {status_wanted}, got {status}: {body}")
    return body


app = "oa-" + uuid.uuid4().hex[:8]
apps, one_app, commands, one_command = ("/api/v1/apps", "/api/v1/apps/{app_id}", "/api/v1/commands",
                                        "/api/v1/commands/{command_id}")

# Apps: add, conflict, bad field, roles.
new_app = {"app_id": app, "manager": "oa_manager", "exec": ["/bin/sleep", "1"], "schedule": "every 5m"}
expect(apps, "post", 201, body=new_app, token=ADMIN)
expect(apps, "post", 409, body=new_app, token=ADMIN)
expect(apps, "post", 400, body={**new_app, "app_id": "x", "color": "red"}, token=ADMIN)
expect(apps, "post", 403, body=new_app, token=OPERATOR)
expect(apps, "post", 401, body=new_app)
expect(apps, "post", 413, raw=b"{" + b" " * (1 << 20) + b"}", token=ADMIN)
expect(apps, "get", 200, token=VIEWER)
expect(apps, "get", 200, target=apps + "?manager=oa_manager", token=VIEWER)
expect(apps, "get", 400, target=apps + "?bogus=1", token=VIEWER)
expect(apps, "get", 401)
expect(one_app, "get", 200, target=f"{apps}/{app}", token=VIEWER)
expect(one_app, "get", 404, target=f"{apps}/none-such", token=VIEWER)
expect(one_app, "get", 401, target=f"{apps}/{app}")
expect(one_app, "patch", 200, target=f"{apps}/{app}", body={"name": "renamed", "schedule": None}, token=ADMIN)
expect(one_app, "patch", 400, target=f"{apps}/{app}", body={"status": "RUNNING"}, token=ADMIN)
expect(one_app, "patch", 404, target=f"{apps}/none-such", body={"name": "x"}, token=ADMIN)
expect(one_app, "patch", 403, target=f"{apps}/{app}", body={"name": "x"}, token=VIEWER)
expect(one_app, "patch", 401, target=f"{apps}/{app}", body={"name": "x"})

# Commands: nobody manages oa_manager, so they stay PENDING.
issued = expect(commands, "post", 202, body={"app_id": app, "command": "START", "args": {"k": "v"}}, token=OPERATOR)
waited = expect(commands, "post", 202, target=commands + "?wait=0.3", body={"app_id": app, "command": 2},
                token=OPERATOR)
if waited and waited.get("done") is not False:
    problems.append("POST ?wait=0.3 for a command nobody takes: done should be false")
expect(commands, "post", 200, body={"app_id": "*", "command": "STOP", "manager": "oa_nobody"}, token=OPERATOR)
expect(commands, "post", 400, body={"app_id": "../x", "command": 1}, token=OPERATOR)
expect(commands, "post", 404, body={"app_id": "none-such", "command": 1}, token=OPERATOR)
expect(commands, "post", 403, body={"app_id": app, "command": 1}, token=VIEWER)
expect(commands, "post", 401, body={"app_id": app, "command": 1})
expect(commands, "post", 413, raw=b" " * (1 << 20), token=OPERATOR)
listed = expect(commands, "get", 200, target=commands + f"?app_id={app}&limit=1", token=VIEWER)
if listed and listed.get("next_after") is None:
    problems.append("GET /api/v1/commands?limit=1 with two rows: next_after should be set")
expect(commands, "get", 200, target=commands + "?pending=true&order=desc", token=VIEWER)
expect(commands, "get", 400, target=commands + "?limit=5000", token=VIEWER)
expect(commands, "get", 401)
if issued:
    expect(one_command, "get", 200, target=f"{commands}/{issued['command_id']}", token=VIEWER)
expect(one_command, "get", 404, target=f"{commands}/{uuid.uuid4()}", token=VIEWER)
expect(one_command, "get", 401, target=f"{commands}/{uuid.uuid4()}")

# Managers, the document itself, the unauthenticated endpoints.
expect("/api/v1/managers", "get", 200, token=VIEWER)
expect("/api/v1/managers", "get", 401)
expect("/api/v1/openapi.json", "get", 200, token=VIEWER)
expect("/api/v1/openapi.json", "get", 401)
expect("/healthz", "get", 200)
expect("/metrics", "get", 200)
expect("/", "get", 200)

# Events: the stream's first event validates against EventData.
expect("/api/v1/events", "get", 401)
expect("/api/v1/events", "get", 400, headers={"Last-Event-ID": "x"}, token=VIEWER)
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
conn.request("GET", "/api/v1/events", headers={"Authorization": "Bearer " + VIEWER, "Last-Event-ID": "0"})
stream = conn.getresponse()
check("/api/v1/events", "get", stream.status, stream.getheader("Content-Type", ""), b"")
data_lines = []
while True:
    line = stream.fp.readline().decode().rstrip("\r\n")
    if line.startswith("data: "):
        data_lines.append(line[6:])
    elif line == "" and data_lines:
        break
conn.close()
event_schema = {"$ref": "#/components/schemas/EventData"}
for error in Draft202012Validator(event_schema, resolver=RESOLVER).iter_errors(json.loads("\n".join(data_lines))):
    problems.append(f"GET /api/v1/events: event data: {error.message}")

# Clean up (and exercise DELETE).
expect(one_app, "delete", 204, target=f"{apps}/{app}", token=ADMIN)
expect(one_app, "delete", 404, target=f"{apps}/{app}", token=ADMIN)
expect(one_app, "delete", 403, target=f"{apps}/{app}", token=OPERATOR)
expect(one_app, "delete", 401, target=f"{apps}/{app}")

for path, operations in DOC["paths"].items():
    for method in operations:
        if method in ("get", "post", "patch", "delete", "put") and (path, method) not in exercised:
            problems.append(f"{method.upper()} {path}: documented but never exercised by this check")

for problem in problems:
    print(problem)
print(f"openapi_check: {len(exercised)} operations exercised, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
