"""Record what real machines answered a step's checks, and replay it without root or machines.

A tape is one run of one step: every answer the checks got from the world outside the grader's
own Python (a machine's commands, files and processes; SMTP, POP3, IMAP and DNS from the lab
network; a remote server's spool; the host's clock where a check reads it), in the order asked,
and the result the step had. Replaying it runs the same checks against those answers: a unit test
of a lab's checks on a real machine's state, in milliseconds, as any user.

    with tape.recording("fresh.json.gz", lab_id="tls", step="certificate") as rec:
        result = run_step(checks, host, ...)      # on real machines, as root
        rec.finish(result)
    replayed = tape.replay("fresh.json.gz")        # anywhere: (recorded result, replayed result)

What is recorded is keyed by where it was asked (the machine's name in lab.toml, the command, the
path, the server and recipients); answers to the same question come back in the order they came,
the last one again once they run out (a check that polls sees the machine settle as it did).
Message tags come from a seeded generator, the same on both sides, so the commands that look for
a tag ask the same question.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import gzip
import importlib
import json
import os
import random
import re
import subprocess
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterator

FORMAT = 1
# Where a tape's objects may come from (decoding never imports anything else).
_MODULES = ("grader.", "sandbox.")


# -- encoding -----------------------------------------------------------------------------------

def encode(value: Any) -> Any:
    """A JSON-able form of an answer: dataclasses, bytes, paths, stat results, exceptions."""
    if isinstance(value, str):
        return str(value)  # a translatable message becomes its English text
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, bytes):
        try:
            return {"__utf8__": value.decode("utf-8")}  # readable, and it packs well
        except UnicodeDecodeError:
            return {"__bytes__": base64.b64encode(value).decode()}
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, os.stat_result):
        return {"__stat__": [getattr(value, name) for name in _STAT_FIELDS]}
    if isinstance(value, (list, tuple)):
        items = [encode(v) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        return {"__dict__": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, Path):
        return {"__path__": str(value)}
    if isinstance(value, subprocess.CompletedProcess):
        return {"__completed__": [encode(value.args), value.returncode, encode(value.stdout), encode(value.stderr)]}
    if isinstance(value, BaseException):
        return {"__raise__": _type_name(value), "args": [encode(a) for a in value.args],
                "attrs": {k: encode(v) for k, v in vars(value).items() if not k.startswith("_")}}
    if dataclasses.is_dataclass(value):
        return {"__data__": _type_name(value),
                "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if type(value).__module__.startswith("dns."):
        return {"__dns__": base64.b64encode(value.to_wire()).decode()}
    raise TypeError(f"a tape cannot hold {type(value).__name__}")


_STAT_FIELDS = ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid", "st_size",
                "st_atime", "st_mtime", "st_ctime")


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__bytes__" in value:
        return base64.b64decode(value["__bytes__"])
    if "__utf8__" in value:
        return value["__utf8__"].encode("utf-8")
    if "__datetime__" in value:
        return datetime.datetime.fromisoformat(value["__datetime__"])
    if "__tuple__" in value:
        return tuple(decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {decode(k): decode(v) for k, v in value["__dict__"]}
    if "__path__" in value:
        return Path(value["__path__"])
    if "__stat__" in value:
        fields = value["__stat__"]
        whole = [int(f) for f in fields]
        return os.stat_result(whole, {"st_atime": fields[7], "st_mtime": fields[8], "st_ctime": fields[9]})
    if "__completed__" in value:
        args, code, out, err = value["__completed__"]
        return subprocess.CompletedProcess(decode(args), code, decode(out), decode(err))
    if "__raise__" in value:
        kind = _type(value["__raise__"], exception=True)
        args = tuple(decode(a) for a in value["args"])
        try:
            error = kind(*args)
        except Exception:  # an exception whose constructor wants more than its args
            error = kind.__new__(kind)
            error.args = args
        for name, attr in value.get("attrs", {}).items():
            setattr(error, name, decode(attr))
        return _Raise(error)
    if "__data__" in value:
        kind = _type(value["__data__"])
        if not dataclasses.is_dataclass(kind):
            raise ValueError(f"{value['__data__']} is not a type a tape may hold")
        obj = kind.__new__(kind)
        for name, field in value["fields"].items():
            object.__setattr__(obj, name, decode(field))
        return obj
    if "__dns__" in value:
        import dns.message

        return dns.message.from_wire(base64.b64decode(value["__dns__"]))
    raise ValueError(f"not a tape value: {sorted(value)}")


@dataclasses.dataclass
class _Raise:
    error: BaseException


def _type_name(value: Any) -> str:
    return f"{type(value).__module__}:{type(value).__qualname__}"


def _type(name: str, *, exception: bool = False) -> type:
    module, _sep, qualname = name.partition(":")
    if exception and module == "builtins":
        kind = getattr(__import__("builtins"), qualname, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return kind
    if not module.startswith(_MODULES) and not module.startswith("dns."):
        raise ValueError(f"a tape may not name {name}")
    kind = importlib.import_module(module)
    for part in qualname.split("."):
        kind = getattr(kind, part)
    if not isinstance(kind, type) or (exception and not issubclass(kind, BaseException)):
        raise ValueError(f"{name} is not a type a tape may hold")
    return kind


# -- the seams: every place a check's answer comes from outside the grader's Python -----------------

def stem(test_id: str) -> str:
    """A tape's name from the test that asked ("tests/course/test_11_tls.py::test_x[a]" ->
    "test_11_tls.py-test_x-a"); the tapes of one test are STEM--1, STEM--2, ... in the order asked."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_id.split(" ")[0].rsplit("/", 1)[-1]).strip("-")


def short_name(machine_name: str) -> str:
    """The machine's name in lab.toml ("mail1"), from its full name ("learner--backup-mx--mail1")."""
    return machine_name.rsplit("--", 1)[-1]


def _key(*parts: Any) -> str:
    return json.dumps([encode(p) for p in parts], sort_keys=True)


def _seams() -> dict[str, tuple[Any, str, Callable[..., str]]]:
    """name -> (owner, attribute, key of a call). The key leaves out what changes from run to run
    (a message's Date header, sockets and callbacks)."""
    import dns.query

    from sandbox import mailserver, procview

    from . import backends, certs, liveconf, outside, reach, retrieval, smtp_probe, world

    def machine(backend) -> str:
        return short_name(backend.machine.name)

    def qname(query) -> str:
        return query.question[0].to_text()

    return {
        "run": (backends.MachineBackend, "run", lambda b, argv, **kw: _key(machine(b), list(argv))),
        "read_bytes": (backends.MachineBackend, "read_bytes",
                       lambda b, path, limit=None, offset=0: _key(machine(b), path, limit, offset)),
        "stat": (backends.MachineBackend, "stat", lambda b, path: _key(machine(b), path)),
        "listdir": (backends.MachineBackend, "listdir", lambda b, path: _key(machine(b), path)),
        "kernel_processes": (backends.MachineBackend, "kernel_processes", lambda b: _key(machine(b))),
        "kernel_sockets": (backends.MachineBackend, "kernel_sockets", lambda b, proto: _key(machine(b), proto)),
        "run_trusted": (backends.MachineBackend, "run_trusted",
                        lambda b, argv, files, **kw: _key(machine(b), list(argv), sorted(files))),
        "processes": (procview, "processes", lambda cgroup: _key(short_name(cgroup))),
        "start_ticks": (liveconf, "_start_ticks", lambda pid: _key("pid")),
        "uptime": (liveconf, "_uptime", lambda: _key()),
        "wall_clock": (liveconf, "_wall_clock", lambda: _key()),
        "now": (certs, "_now", lambda: _key()),
        "converse": (smtp_probe, "converse", lambda connect, host, port=25, **kw: _key(
            host, port, {k: v for k, v in kw.items() if k != "data"})),
        "send_like_an_mta": (smtp_probe, "send_like_an_mta", lambda resolve, connect, domain, **kw: _key(
            domain, {k: v for k, v in kw.items() if k != "data"})),
        "pop3": (retrieval, "pop3", lambda connect, host, user, password, **kw: _key(host, user, kw)),
        "imap": (retrieval, "imap", lambda connect, host, user, password, **kw: _key(host, user, kw)),
        "dns": (dns.query, "udp", lambda query, where, **kw: _key(qname(query), where)),
        "spool": (mailserver, "messages", lambda spool, *a, **kw: _key(Path(spool).parent.name)),
        "spool_find": (mailserver, "find", lambda spool, **kw: _key(Path(spool).parent.name, kw)),
        "node_state": (world.World, "node_state", lambda w, name: _key(name)),
        "set_node": (world.World, "set_node", lambda w, name, action: _key(name, action)),
        "greeting": (world.World, "greeting", lambda w, host, port, **kw: _key(host, port, kw)),
        "ip_batch": (outside, "_ip_batch", lambda netns, commands: _key(commands)),
        "netns": (reach, "_in_machine_network", None),  # a socket: made in replay, never recorded
    }


@contextlib.contextmanager
def _patched(replacements: dict[tuple[Any, str], Any]) -> Iterator[None]:
    saved = {(owner, attr): getattr(owner, attr) for owner, attr in replacements}
    try:
        for (owner, attr), new in replacements.items():
            setattr(owner, attr, new)
        yield
    finally:
        for (owner, attr), old in saved.items():
            setattr(owner, attr, old)


@contextlib.contextmanager
def _seeded_tags(seed: int) -> Iterator[None]:
    """uuid.uuid4 from a seeded generator: the same message tags when recorded and replayed."""
    generator = random.Random(seed)
    with _patched({(uuid, "uuid4"): lambda: uuid.UUID(int=generator.getrandbits(128), version=4)}):
        yield


# -- recording ------------------------------------------------------------------------------------

class Recording:
    def __init__(self, path: Path, lab_id: str, step: str, seed: int, drawn: tuple[str, ...] = ()) -> None:
        self.path, self.lab_id, self.step, self.seed, self.drawn = path, lab_id, step, seed, drawn
        self.answers: dict[str, list] = defaultdict(list)

    def wrap(self, seam: str, real: Callable, key: Callable[..., str]) -> Callable:
        def recorded(*args, **kwargs):
            where = f"{seam} {key(*args, **kwargs)}"
            try:
                answer = real(*args, **kwargs)
            except Exception as exc:
                self.answers[where].append(encode(exc))
                raise
            self.answers[where].append(encode(answer))
            return answer
        return recorded

    def finish(self, result: Any) -> None:
        """Write the tape: the answers and the step's result (status of each check)."""
        tape = {"format": FORMAT, "lab": self.lab_id, "step": self.step, "seed": self.seed, "drawn": list(self.drawn),
                "result": [[item.name, item.status.value] for item in result.items],
                "answers": dict(self.answers)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with gzip.open(partial, "wt", encoding="utf-8") as out:
            json.dump(tape, out, ensure_ascii=False, sort_keys=True)
        partial.replace(self.path)


@contextlib.contextmanager
def recording(path: str | Path, *, lab_id: str, step: str, drawn: tuple[str, ...] = ()) -> Iterator[Recording]:
    """Record every answer the step's checks get, on real machines; `finish(result)` writes it.
    `drawn`: the faults of the lab's pool the machines were given (a lab with a pool)."""
    rec = Recording(Path(path), lab_id, step, random.SystemRandom().getrandbits(64), tuple(drawn))
    wrapped = {(owner, attr): rec.wrap(seam, getattr(owner, attr), key)
               for seam, (owner, attr, key) in _seams().items() if key is not None}
    with _patched(wrapped), _seeded_tags(rec.seed):
        yield rec


# -- replaying ------------------------------------------------------------------------------------

class TapeMissing(LookupError):
    """The checks asked something the machine was never asked when the tape was made."""


class Tape:
    def __init__(self, data: dict) -> None:
        self.data = data
        self._answers = {k: list(v) for k, v in data["answers"].items()}
        self._next: dict[str, int] = defaultdict(int)

    @classmethod
    def load(cls, path: str | Path) -> "Tape":
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls(json.load(handle))

    def answer(self, where: str) -> Any:
        answers = self._answers.get(where)
        if not answers:
            raise TapeMissing(f"not on the tape: {where}")
        index = min(self._next[where], len(answers) - 1)
        self._next[where] += 1
        value = decode(answers[index])
        if isinstance(value, _Raise):
            raise value.error
        return value


class _NoSocket:
    """What replay gives for a socket that is never used (its conversation comes from the tape)."""

    def close(self) -> None:
        pass


class _Machine:
    def __init__(self, name: str) -> None:
        self.name, self.pid = name, 1


class TapeBackend:
    """A machine's answers from a tape (grader.host.Backend, and the machine's kernel view)."""

    def __init__(self, tape: Tape, name: str) -> None:
        self.tape, self.machine = tape, _Machine(name)

    # Each is replaced, while a tape plays, by the tape's answer to the same question.
    def run(self, argv, *, input=None, timeout): raise TapeMissing("no tape is playing")  # noqa: E704
    def read_bytes(self, path, limit=None, *, offset=0): raise TapeMissing("no tape is playing")  # noqa: E704
    def stat(self, path): raise TapeMissing("no tape is playing")  # noqa: E704
    def listdir(self, path): raise TapeMissing("no tape is playing")  # noqa: E704
    def kernel_processes(self): raise TapeMissing("no tape is playing")  # noqa: E704
    def kernel_sockets(self, proto): raise TapeMissing("no tape is playing")  # noqa: E704
    def run_trusted(self, argv, files, **options): raise TapeMissing("no tape is playing")  # noqa: E704


class _Network:
    """The lab network in replay: sockets that are never used, spools named by their server."""

    def socket(self, *args: Any, **kwargs: Any) -> _NoSocket:
        return _NoSocket()

    def connect(self, *args: Any, **kwargs: Any) -> _NoSocket:
        return _NoSocket()

    def spool(self, server: str) -> Path:
        return Path(server) / "spool"  # as sandbox.network names it


class _Context:
    """The lab as world.World needs it (grader.world.LabContext), its machines on the tape."""

    def __init__(self, lab: Any, tape: Tape, clock: Any) -> None:
        self.lab, self.tape, self.clock = lab, tape, clock
        self.world = None
        self.drawn = tuple(tape.data.get("drawn") or ())

    def network(self) -> _Network:
        return _Network()

    def host(self, name: str | None = None):
        from .host import Host

        decl = self.lab.machine(name)
        return Host(TapeBackend(self.tape, decl.name), name=decl.name, world=self.world,
                    clock=self.clock, sleep=self.clock.sleep)

    def node_states(self) -> dict[str, str]:
        return {}


def _replaying(tape: Tape) -> dict[tuple[Any, str], Any]:
    replacements = {}
    for seam, (owner, attr, key) in _seams().items():
        if key is None:
            replacements[(owner, attr)] = lambda host, make: _NoSocket()
            continue

        def answered(*args, _seam=seam, _key=key, **kwargs):
            return tape.answer(f"{_seam} {_key(*args, **kwargs)}")
        replacements[(owner, attr)] = answered
    from . import backends

    for method in ("run", "read_bytes", "stat", "listdir", "kernel_processes", "kernel_sockets", "run_trusted"):
        replacements[(TapeBackend, method)] = replacements.pop((backends.MachineBackend, method))
    return replacements


def replay(path: str | Path, labs_dir: str | Path | None = None) -> tuple[list[list[str]], list[list[str]]]:
    """Run the tape's step on its answers: (the recorded [name, status] of each check, the replayed)."""
    from . import course
    from .check import checks_of
    from .runner import run_step
    from .testing import FakeClock
    from .world import World

    tape = Tape.load(path)
    lab = course.find(tape.data["lab"])
    clock = FakeClock()
    context = _Context(lab, tape, clock)
    with _patched(_replaying(tape)), _seeded_tags(tape.data["seed"]):
        context.world = World(context) if lab.network else None
        checks = checks_of(lab.checks_file)[tape.data["step"]]
        result = run_step(checks, context.host(), lab=lab.id, step=tape.data["step"], clock=clock,
                          sleep=clock.sleep)
    return tape.data["result"], [[item.name, item.status.value] for item in result.items]
