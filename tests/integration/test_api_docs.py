"""The examples of docs/api.md run: every ```sh block, in the page's order,
with bash against a fresh horaod with Redis, $HORAO set to its base URL.

The page's format (described in its "Examples" section):
  # => STATUS [JSON]   the HTTP status of the block's next curl command, and
                       members its JSON answer must contain
  # prints TEXT        a line the block must print (JSON: members it contains)
`curl` is shadowed by a bash function that adds --write-out (a format that
does not start with '@', which would name a file): the status on stderr and,
when curl writes to the block's own stdout (not into a pipe), a marker after
the body, both tagged with an id unique to the call, so statuses are read in
call order and each body is found by its id.

And the page covers the contract: every route of API.md has an example."""

import json
import os
import re
import subprocess
import sys

import pytest

from horao_harness import source_dir

DOC = os.path.join(source_dir(), "docs", "api.md")
BLOCK_TIMEOUT = 60  # seconds per block

# fd 9 keeps the block's own stdout: the body marker is written only when
# curl writes there, never into a pipe or a $(...) that consumes its output.
CURL_SHIM = r'''
exec 9>&1
curl() {
  local id="${EPOCHREALTIME}.${BASHPID}.${RANDOM}" end=""
  if [ /proc/self/fd/1 -ef /proc/self/fd/9 ]; then end="~~HORAO-BODY-END ${id}~~\n"; fi
  command curl "$@" --write-out "${end}%{stderr}~~HORAO-STATUS ${id} %{http_code}~~\n"
}
'''
BODY_END = re.compile(r"~~HORAO-BODY-END (\S+)~~\n?")
STATUS = re.compile(r"~~HORAO-STATUS (\S+) (\d{3})~~")
EXPECT = re.compile(r"^\s*# => (\d{3})(?:\s+(.*\S))?\s*$")
PRINTS = re.compile(r"^\s*# prints (.*\S)\s*$")

# API.md's routes (method, template): the contract the examples must cover.
CONTRACT = [
    ("PUT", "/v1/{collection}/{id}"), ("PATCH", "/v1/{collection}/{id}"), ("GET", "/v1/{collection}/{id}"),
    ("DELETE", "/v1/{collection}/{id}"), ("GET", "/v1/{collection}"), ("POST", "/v1/batch"),
    ("GET", "/v1/datacenters/{id}/tree"), ("GET", "/v1/capacity"), ("GET", "/v1/tenants/{id}/usage"),
    ("GET", "/v1/maintenances/{id}/impact"), ("POST", "/v1/impact"), ("GET", "/v1/changes"),
    ("GET", "/v1/watch"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    ("GET", "/openapi.json"), ("GET", "/v1/cluster"), ("POST", "/v1/cluster/sync"), ("GET", "/v1/peer"),
]


def sh_blocks(text):
    """The ```sh blocks of the page, in order, with the line each starts at."""
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            blocks.append((start + 1, "\n".join(lines[start:j]) + "\n"))
            i = j
        i += 1
    return blocks


def contains(actual, expected):
    """Whether `actual` holds `expected`: objects member by member, arrays
    element by element from the start, anything else by equality."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) >= len(expected)
                and all(contains(a, e) for a, e in zip(actual, expected)))
    if isinstance(expected, float) or isinstance(actual, float):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == expected
    return type(actual) is type(expected) and actual == expected


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def run_block(base_url, code):
    # python3 of the examples is the one running the tests (Debian's, with
    # websockets), whatever else PATH has first.
    path = os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "/usr/bin:/bin")
    env = {"PATH": path, "HORAO": base_url, "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", CURL_SHIM + code], env=env,
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    # Bodies by call id: what stdout holds between the previous marker and this one.
    bodies = {}
    position = 0
    for m in BODY_END.finditer(proc.stdout):
        bodies[m.group(1)] = proc.stdout[position:m.start()]
        position = m.end()
    calls = [(m.group(1), int(m.group(2))) for m in STATUS.finditer(proc.stderr)]
    printed = BODY_END.sub("\n", proc.stdout).split("\n")
    return proc, calls, bodies, [line for line in printed if line.strip()]


def check_block(base_url, line, code):
    """Runs one block; returns a list of what went wrong."""
    proc, calls, bodies, printed = run_block(base_url, code)
    where = f"docs/api.md block at line {line}"
    problems = []
    if proc.returncode != 0:
        problems.append(f"{where}: exit status {proc.returncode}")
    expectations = [EXPECT.match(l) for l in code.split("\n")]
    expectations = [m for m in expectations if m]
    if len(calls) < len(expectations):
        problems.append(f"{where}: {len(expectations)} expected statuses but {len(calls)} curl calls")
    for k, (m, call) in enumerate(zip(expectations, calls)):
        status, expected_text = int(m.group(1)), m.group(2)
        call_id, got = call
        if got != status:
            problems.append(f"{where}: curl call {k + 1} got {got}, the page says {status}; "
                            f"body: {bodies.get(call_id, '(not captured)')[:500]}")
            continue
        if expected_text:
            expected = parse_json(expected_text)
            if expected is None:
                problems.append(f"{where}: '# => {status} {expected_text}' is not JSON")
                continue
            body = bodies.get(call_id)
            actual = parse_json(body) if body is not None else None
            if body is None:
                problems.append(f"{where}: curl call {k + 1}'s body did not reach the output (piped?)")
            elif not contains(actual, expected):
                problems.append(f"{where}: curl call {k + 1} answered {body[:800]}, "
                                f"which does not contain {expected_text}")
    for l in code.split("\n"):
        m = PRINTS.match(l)
        if not m:
            continue
        want = m.group(1)
        want_json = parse_json(want)
        ok = any(p.strip() == want or (isinstance(want_json, (dict, list)) and contains(parse_json(p), want_json))
                 for p in printed)
        if not ok:
            problems.append(f"{where}: no printed line matches '{want}'; printed: {printed[-10:]}")
    if problems:
        problems.append(f"{where} stderr: {STATUS.sub('', proc.stderr).strip()[:1500]}")
    return problems


def route_regex(template):
    """/v1/{collection}/{id} -> a regex over paths (query and fragment allowed)."""
    pattern = re.escape(template).replace(r"\{collection\}", r"[a-z]+").replace(r"\{id\}", r"[A-Za-z0-9][A-Za-z0-9._-]*")
    return re.compile("^" + pattern + r"(\?.*)?$")


def curl_requests(code):
    """(method, path) of each curl command of a block (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", code)
    found = []
    for line in joined.split("\n"):
        if not re.search(r"(^|[\s;|(&$])curl\s", line):
            continue
        method = "GET"
        m = re.search(r"-X\s*([A-Z]+)", line)
        if m:
            method = m.group(1)
        elif re.search(r"\s(-d|--data\S*)\s", line):
            method = "POST"
        for url in re.findall(r'"\$HORAO(/[^"]*)"', line):
            found.append((method, url))
    return found


def python_requests(code):
    """Paths a Python example opens as a WebSocket (GET)."""
    return [("GET", p) for p in re.findall(r'"(/v1/watch[^"]*)"', code)]


@pytest.fixture
def docs_daemon(redis_server, horaod_factory):
    daemon = horaod_factory(env={"REDIS_URL": redis_server.url}, name="docs")
    daemon.wait_ready()
    return daemon


def test_every_route_of_the_contract_has_an_example():
    with open(DOC, encoding="utf-8") as f:
        blocks = sh_blocks(f.read())
    seen = []
    for _, code in blocks:
        seen += curl_requests(code) + python_requests(code)
    missing = [f"{method} {template}" for method, template in CONTRACT
               if not any(m == method and route_regex(template).match(path) for m, path in seen)]
    assert not missing, f"docs/api.md has no example of: {', '.join(missing)}"


def test_the_examples_run_and_answer_what_the_page_says(docs_daemon):
    with open(DOC, encoding="utf-8") as f:
        blocks = sh_blocks(f.read())
    assert len(blocks) >= 10
    problems = []
    for line, code in blocks:
        problems += check_block(docs_daemon.base_url, line, code)
    assert not problems, "\n".join(problems)


def test_the_checker_catches_a_wrong_status_and_a_wrong_body(horaod):
    # The test above is only as good as its checks: a page that lies fails.
    assert check_block(horaod.base_url, 1, 'curl -sS "$HORAO/healthz"\n# => 200 {"status": "ok"}\n') == []
    assert check_block(horaod.base_url, 1, 'curl -sS "$HORAO/healthz"\n# => 201\n')
    assert check_block(horaod.base_url, 1, 'curl -sS "$HORAO/healthz"\n# => 200 {"status": "down"}\n')
    assert check_block(horaod.base_url, 1, 'curl -sS "$HORAO/healthz"\n# prints nothing like this\n')
    assert check_block(horaod.base_url, 1, 'false\n')
    assert check_block(horaod.base_url, 1, '# => 200\n')  # an expectation without its curl
