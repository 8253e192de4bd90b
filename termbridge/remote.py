"""Commands on NAME@HOST and across hosts: what the CLI calls when a name carries a host.

`send` goes through the forward queue (forward.py); `submit`, `drain` and `receipt` ask HOST's
`termbridge rpc` directly (one ssh call, within its timeout); `status --all-hosts` asks every
configured host in parallel, each within its own timeout, and shows the ones it could not
reach as `unreachable`.
"""

from __future__ import annotations

from termbridge import ssh
from termbridge.config import load_config
from termbridge.errors import RemoteFailed, TermbridgeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from termbridge.paths import StrPath

STATUS_BUDGET_S = 8.0  # what a host's status may take once connected (it reads each session's screen)


def call(home: StrPath, host: str, request: dict, timeout: float | None = None) -> dict:
    """One rpc REQUEST to HOST; its answer (ok), or RemoteFailed with HOST's exit code and line."""
    (answer,) = ssh.rpc_call(home, ssh.host_config(host, load_config()), [request], timeout)
    if not answer.get("ok"):
        code = answer.get("exit")
        raise RemoteFailed(f"{host}: {answer.get('error')}", code if isinstance(code, int) and 1 <= code <= 4 else 1)
    return answer


def submit(home: StrPath, name: str, host: str, text: str | None, enter: bool, gap_ms, enter_only: bool):
    """`submit NAME@HOST`: HOST's submit outcome (a submit.Submitted, as locally)."""
    from termbridge.submit import Submitted

    req = {"op": "submit", "session": name, "text": text, "no_enter": not enter, "enter_only": enter_only}
    if gap_ms is not None:
        req["gap_ms"] = gap_ms
    answer = call(home, host, req)
    res = Submitted(dict(answer.get("result") or {}))
    res.result["session"] = f"{name}@{host}"
    note = answer.get("note")
    if isinstance(note, list) and len(note) == 2 and isinstance(note[0], str) and isinstance(note[1], int):
        if note[1]:
            res.fail(note[1] if 1 <= note[1] <= 4 else 1, note[0])
        else:
            res.tell(note[0])
    return res


def drain(home: StrPath, name: str, host: str, print_: bool, as_json: bool, force: bool) -> dict:
    """`drain NAME@HOST`: {"printed": text} with --print/--json, else {"count", "note"}."""
    return call(home, host, {"op": "drain", "session": name, "print": print_, "json": as_json, "force": force})


def receipt(home: StrPath, msg_id: str) -> dict | None:
    """The receipt of a message sent to another host (None when no host queue knows MSG_ID)."""
    from termbridge import forward

    return forward.lookup_receipt(home, msg_id)


def host_status(home: StrPath, host: str) -> list[dict]:
    """HOST's sessions as `status --json` rows with "host" (and the name as NAME@HOST); one row
    {"host", "unreachable": True, "error"} when HOST could not be asked within its timeout."""
    from termbridge import forward

    q = forward.ForwardQueue(home, host)
    queued = q.stats()
    try:
        hc = ssh.host_config(host, load_config())
        answer = call(home, host, {"op": "status"}, timeout=hc.connect_timeout_s + STATUS_BUDGET_S)
    except TermbridgeError as e:
        return [
            {
                "name": f"@{host}",
                "host": host,
                "unreachable": True,
                "error": str(e),
                "forward_pending": queued["pending"],
                "forward_dead": queued["dead_letters"],
            }
        ]
    rows = []
    for r in answer.get("sessions") or []:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            rows.append({**r, "name": f"{r['name']}@{host}", "host": host, "unreachable": False})
    if not rows:
        rows.append({"name": f"@{host}", "host": host, "unreachable": False, "sessions": 0})
    for r in rows:
        r["forward_pending"], r["forward_dead"] = queued["pending"], queued["dead_letters"]
    return rows


def all_hosts_status(home: StrPath, hosts: list[str] | None = None) -> list[dict]:
    """Every configured host's rows, asked in parallel: one slow or dead host never holds up the rest
    (each call ends within its own timeout)."""
    from concurrent.futures import ThreadPoolExecutor

    hosts = ssh.configured_hosts(load_config()) if hosts is None else hosts
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        results = list(pool.map(lambda h: host_status(home, h), hosts))
    return [row for rows in results for row in rows]


def doctor_checks(home: StrPath) -> list[tuple[str, str, str, str]]:
    """(name, status, detail, fix) per configured host: reachable, host key known, remote version."""
    from concurrent.futures import ThreadPoolExecutor

    import termbridge

    hosts = ssh.configured_hosts(load_config())
    if not hosts:
        return []

    def one(host: str) -> tuple[str, str, str, str]:
        hc = ssh.host_config(host, load_config())
        got = ssh.probe(home, hc)
        name = f"host {host}"
        if got["ok"]:
            mine = termbridge.__version__
            theirs = got.get("version")
            if theirs != mine:
                return (name, "warn", f"reachable; host key known; termbridge {theirs} there, {mine} here", "")
            return (name, "ok", f"reachable; host key known; termbridge {theirs} ({got['seconds']:.2f}s)", "")
        fixes = {
            "host_key": f"check {host}'s key, then add it: ssh {host} true (once, interactively) or ssh-keyscan",
            "no_termbridge": f"install termbridge on {host}, or set hosts.{host}.command to its absolute path",
            "no_ssh": "install the OpenSSH client",
        }
        return (name, "fail", got["error"], fixes.get(got.get("kind", ""), f"check: ssh {host} true"))

    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return list(pool.map(one, hosts))
