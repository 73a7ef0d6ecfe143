"""Load with wrk (Debian's package): a fixed duration per URL, a logged-in session, checked answers.

Each run uses one generated Lua script that sends the session cookie (one logged-in session per
wrk thread, as two managers at work), counts every answer whose status is not the expected one,
and prints its summary as one JSON line, so nothing depends on wrk's human-readable output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests

from .util import BenchError, log

THREADS = 2
CONNECTIONS = 8
DURATION_SECONDS = 6
# The ceiling is measured again right before each page: on a shared machine the load of other
# processes drifts, and a ratio is only fair between two runs under the same conditions.
CEILING_SECONDS = 3
WARMUP_SECONDS = 1
REQUEST_TIMEOUT = "10s"


@dataclass(frozen=True)
class Target:
    """One measured URL."""

    key: str
    label: str
    path: str
    expect_status: int = 200
    method: str = "GET"
    body: str = ""
    cookies: tuple[str, ...] = ()
    # Text the page must contain, checked once before the load (a login page is also a 200).
    marker: str = ""
    manager_page: bool = True


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad_status: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_LUA = r"""
local cookies = {%(cookies)s}
local method, path, body, expect = %(method)s, %(path)s, %(body)s, %(expect)d
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
  table.insert(threads, thread)
end

function init(args)
  local headers = {}
  if #cookies > 0 then headers["Cookie"] = cookies[((thread_no - 1) %% #cookies) + 1] end
  if body ~= "" then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  req = wrk.format(method, path, headers, body ~= "" and body or nil)
  bad = 0
end

function request()
  return req
end

function response(status, headers, resp_body)
  if status ~= expect then bad = bad + 1 end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do bad_total = bad_total + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"bad_status": %%d, "socket_errors": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad_total, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII text


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    import os

    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing; installing Debian's package (apt-get install -y wrk)")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True, text=True, timeout=300)
        found = shutil.which("wrk")
        if found:
            return found
        raise BenchError(f"apt-get install wrk failed:\n{result.stderr[-2000:]}")
    raise BenchError("The load generator wrk is missing. Install it with: sudo apt-get install wrk")


def wrk_version(wrk: str) -> str:
    result = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def run_wrk(wrk: str, base_url: str, target: Target, *, seconds: int = DURATION_SECONDS) -> LoadResult:
    script = _LUA % {
        "cookies": ", ".join(_lua_string(c) for c in target.cookies),
        "method": _lua_string(target.method),
        "path": _lua_string(target.path),
        "body": _lua_string(target.body),
        "expect": target.expect_status,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script_file:
        script_file.write(script)
        script_file.flush()
        result = subprocess.run(
            [
                wrk,
                f"--threads={THREADS}",
                f"--connections={CONNECTIONS}",
                f"--duration={seconds}s",
                f"--timeout={REQUEST_TIMEOUT}",
                f"--script={script_file.name}",
                base_url + target.path,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        )
    match = re.search(r"^BENCH_JSON (\{.*\})$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise BenchError(f"wrk failed on {target.path}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    data = json.loads(match.group(1))
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        bad_status=data["bad_status"],
        socket_errors=data["socket_errors"],
    )


def pooled(*results: LoadResult) -> LoadResult:
    """Several runs of one URL as one: requests over time; the worse of the latency percentiles."""
    return LoadResult(
        requests=sum(r.requests for r in results),
        seconds=sum(r.seconds for r in results),
        p50_ms=max(r.p50_ms for r in results),
        p99_ms=max(r.p99_ms for r in results),
        bad_status=sum(r.bad_status for r in results),
        socket_errors=sum(r.socket_errors for r in results),
    )


def measure(
    wrk: str, base_url: str, target: Target, *, seconds: int = DURATION_SECONDS, warm_up: bool = True
) -> LoadResult:
    """Check the page once, warm up, then the measured run; refuses a run with wrong answers."""
    check_target(base_url, target)
    if warm_up:
        run_wrk(wrk, base_url, target, seconds=WARMUP_SECONDS)
    result = run_wrk(wrk, base_url, target, seconds=seconds)
    if result.bad_status or result.socket_errors:
        raise BenchError(
            f"{target.label}: {result.bad_status} answers were not {target.expect_status} and "
            f"{result.socket_errors} socket errors in {result.requests} requests; the figure would be meaningless."
        )
    log(
        f"{target.label:<34} {result.rps:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms"
        f"  ({result.requests} requests)"
    )
    return result


def check_target(base_url: str, target: Target) -> None:
    headers = {"Cookie": target.cookies[0]} if target.cookies else {}
    if target.method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = requests.request(
        target.method,
        base_url + target.path,
        data=target.body or None,
        headers=headers,
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != target.expect_status or (target.marker and target.marker not in response.text):
        raise BenchError(
            f"{target.label}: {target.method} {target.path} answered {response.status_code} "
            f"(expected {target.expect_status}{' with ' + repr(target.marker) if target.marker else ''})"
        )


def log_in(base_url: str, *, email: str, password: str) -> str:
    """Log in through the real allauth form; returns the ``Cookie`` header value of the session."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=30)
    token = _csrf_token(page.text)
    answer = session.post(
        f"{base_url}/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    session_id = session.cookies.get("sessionid")
    if answer.status_code != 302 or not session_id:
        raise BenchError(f"Logging in as {email} failed (HTTP {answer.status_code}).")
    return f"sessionid={session_id}"


def public_form_post(base_url: str, unique_name: str) -> tuple[str, str]:
    """The cookie and form body of one valid report: one GET's CSRF token serves many POSTs."""
    session = requests.Session()
    page = session.get(f"{base_url}/board/{unique_name}", timeout=30)
    token = _csrf_token(page.text)
    csrf_cookie = session.cookies.get("csrftoken")
    if not csrf_cookie:
        raise BenchError("The public form set no csrftoken cookie.")
    body = urlencode(
        {
            "csrfmiddlewaretoken": token,
            "email": "reporter@example.com",
            "title": "The invoice PDF shows the wrong VAT rate",
            "description": "Hello,\n\nthe PDF of invoice 2026/05/117 shows 8 % VAT instead of 23 %. "
            "The total on the web page is right.\n\nBest regards,\nAnna",
            "website": "",
        }
    )
    return f"csrftoken={csrf_cookie}", body


def _csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if match is None:
        raise BenchError("No CSRF token on the page.")
    return match.group(1)


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="issuetracker-bench-"))
