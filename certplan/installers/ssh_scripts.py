"""The POSIX shell scripts the ssh installer sends (to `sh -s`, on stdin), and
what their answers mean.

Every path and every byte of data is quoted with shlex.quote; nothing from a spec
or a record reaches the remote shell unquoted. Data (keys included) travels on
the script's stdin inside the ssh channel, written by the shell's own printf:
never on a command line, where `ps` would show it. Answers are lines that start
with "certplan:" (anything else, such as a login banner, is ignored). The host
needs a POSIX sh and GNU coreutils (stat -c, sha256sum, mv -T, timeout, base64).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

MARK = "certplan:"
MAX_BYTES = 1 << 20  # as the files installer: nothing certplan writes comes near this
STEPS = ("check", "reload")  # the steps a script runs (`ran STEP ...`)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OCTAL = re.compile(r"[0-7]{1,4}")

# what `look` says of a place that is no file certplan reads, in the planner's words
REFUSED = {
    "link": "is a symbolic link, which certplan never follows",
    "notfile": "is not a regular file",
    "large": "is too large to be a file certplan wrote",
    "unreadable": "cannot be read",
}

_LOOK = f"""look() {{
  if [ -L "$1" ]; then echo "{MARK}link"
  elif [ ! -e "$1" ]; then echo "{MARK}missing"
  elif [ ! -f "$1" ]; then echo "{MARK}notfile"
  elif ! s=$(stat -c '%s %a %u %g %U %G' -- "$1" 2>/dev/null); then echo "{MARK}unreadable"
  elif [ "${{s%% *}}" -gt {MAX_BYTES} ]; then echo "{MARK}large"
  elif h=$(sha256sum < "$1" 2>/dev/null); then echo "{MARK}ok ${{h%% *}} ${{s#* }}"
  else echo "{MARK}unreadable"
  fi
}}
"""


@dataclass(frozen=True)
class Seen:
    """What is at one remote path: `state` "ok" (then the rest is set), "missing",
    or a key of REFUSED."""

    state: str
    sha256: str = ""
    mode: int = 0
    uid: str = ""
    gid: str = ""
    user: str = ""
    group: str = ""

    @property
    def exists(self) -> bool:
        return self.state != "missing"


def answers(out: str) -> list[str]:
    return [line[len(MARK):] for line in out.splitlines() if line.startswith(MARK)]


def look_script(paths: Sequence[str]) -> str:
    """One line per path, in order: see `parse_look`."""
    return _LOOK + "".join(f"look {shlex.quote(p)}\n" for p in paths)


def parse_look(out: str, count: int) -> list[Seen] | None:
    """The Seen of each path of `look_script`; None when the answer is not whole."""
    lines = answers(out)
    if len(lines) != count:
        return None
    seen = []
    for line in lines:  # what a host says is checked, never trusted to be well formed
        word, *rest = line.split() or [""]
        if word == "ok" and len(rest) == 6 and _SHA256.fullmatch(rest[0]) \
                and _OCTAL.fullmatch(rest[1]):
            sha, mode, uid, gid, user, group = rest
            seen.append(Seen("ok", sha, int(mode, 8), uid, gid, user, group))
        elif word in REFUSED or word == "missing":
            seen.append(Seen(word))
        else:
            return None
    return seen


@dataclass(frozen=True)
class Write:
    """One file to put in place: its bytes, mode, optional owner and group, and
    whether something was there before (kept aside to put back)."""

    path: str
    data: bytes
    mode: int
    owner: str | None
    group: str | None
    existed: bool


def _aside(path: str, token: str, what: str) -> str:
    folder, _, name = path.rpartition("/")
    return f"{folder}/.{name}.certplan-{what}-{token}"


def _put_back(w: Write, token: str) -> str:
    q = shlex.quote
    if w.existed:
        return f"mv -fT -- {q(_aside(w.path, token, 'old'))} {q(w.path)}"
    return f"rm -f -- {q(w.path)}"


def _stage(writes: Sequence[Write], token: str) -> list[str]:
    """Write each file under a temporary name next to its place (mode and owner set
    before it is renamed), keep what was there aside (a hard link: same bytes, mode
    and owner), then rename each into place. On any failure everything done so far
    is undone and the script ends saying `error WHAT`."""
    q = shlex.quote
    news = [q(_aside(w.path, token, "new")) for w in writes]
    olds = [q(_aside(w.path, token, "old")) for w in writes if w.existed]
    lines = ["umask 077",
             f"clean() {{ rm -f -- {' '.join(news + olds)}; }}",
             f'die() {{ echo "{MARK}error $1"; clean; exit 3; }}']
    for w, new in zip(writes, news, strict=True):
        folder = w.path.rpartition("/")[0] or "/"
        who = (w.owner or "") + (f":{w.group}" if w.group else "")
        text = w.data.decode("ascii")  # PEM
        # each missing folder 0755, as the files installer's (mkdir -p would make the
        # ones above the last with the umask's 0700)
        parts = folder.split("/")
        for f in ("/".join(parts[:i]) for i in range(2, len(parts) + 1)):
            lines.append(f"[ -d {q(f)} ] || mkdir -m 0755 -- {q(f)} || "
                         f"die {q('cannot create folder ' + f)}")
        lines += [f"printf '%s' {q(text)} > {new} && chmod {w.mode:04o} -- {new} || "
                  f"die {q('cannot write ' + w.path)}"]
        if who:
            lines.append(f"chown -- {q(who)} {new} || die {q(f'cannot chown {who} {w.path}')}")
        if w.existed:
            old = q(_aside(w.path, token, "old"))
            lines.append(f"ln -f -- {q(w.path)} {old} 2>/dev/null || cp -p -- {q(w.path)} {old}"
                         f" || die {q('cannot keep a copy of ' + w.path)}")
    for i, (w, new) in enumerate(zip(writes, news, strict=True)):
        undo = "; ".join(_put_back(x, token) for x in writes[:i]) or ":"
        lines.append(f"mv -fT -- {new} {q(w.path)} || {{ {undo}; "
                     f"die {q('cannot rename into ' + w.path)}; }}")
    return lines


def _run(timeout: float) -> str:
    """run STEP COMMAND: says `ran STEP CODE BASE64-OUTPUT-TAIL`, returns its code."""
    seconds = max(1, int(timeout + 0.999))
    return f"""run() {{
  out=$(timeout -k 5 {seconds} sh -c "$2" 2>&1 </dev/null); code=$?
  echo "{MARK}ran $1 $code $(printf '%s' "$out" | tail -c 2000 | base64 -w0)"
  return $code
}}
"""


def transaction_script(writes: Sequence[Write], token: str, check: str | None,
                       reload: str | None, timeout: float, keep_aside: bool) -> str:
    """All of an install in one round trip: stage and rename (see `_stage`), then
    `check`, then `reload`; when one fails, put back what was there (`restored`)
    and reload again if the reload had run. Unless `keep_aside` (a verify still
    has to decide), what was kept aside is dropped at the end (`committed`)."""
    q = shlex.quote
    lines = _stage(writes, token) + [f'echo "{MARK}staged"']
    lines.append(restore_script(writes, token, as_function=True) + _run(timeout))
    if check is not None:
        lines.append(f"run check {q(check)} || {{ restore; exit 0; }}")
    if reload is not None:
        lines.append(f"run reload {q(reload)} || {{ restore; run reload {q(reload)}; exit 0; }}")
    if not keep_aside:
        lines.append(commit_script(writes, token))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Ran:
    step: str
    code: int | None  # None: timed out
    output: str


def parse_ran(line: str) -> Ran | None:
    """A `ran STEP CODE OUTPUT` answer; None for any other."""
    import base64
    import binascii

    word, _, rest = line.partition(" ")
    step, _, rest = rest.partition(" ")
    code, _, data = rest.partition(" ")
    if word != "ran" or step not in STEPS or not code.isdigit():
        return None  # the installer looks the step up on the target: only its own
    try:
        output = base64.b64decode(data.strip()).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        output = ""
    return Ran(step, None if code == "124" else int(code), output.strip())


def restore_script(writes: Sequence[Write], token: str, as_function: bool = False) -> str:
    """Put back what each written place held (or delete it if it was new)."""
    body = "".join(f"{_put_back(w, token)} || ok=no\n" for w in writes)
    script = f'ok=yes\n{body}echo "{MARK}restored $ok"\n'
    return f"restore() {{\n{script}}}\n" if as_function else script


def commit_script(writes: Sequence[Write], token: str) -> str:
    """Drop the copies kept aside."""
    olds = [shlex.quote(_aside(w.path, token, "old")) for w in writes if w.existed]
    drop = f"rm -f -- {' '.join(olds)}\n" if olds else ""
    return f'{drop}echo "{MARK}committed"\n'


def reload_script(reload: str, timeout: float) -> str:
    return _run(timeout) + f"run reload {shlex.quote(reload)}\n"


def remove_script(doomed: Sequence[tuple[str, str]]) -> str:
    """For each (path, SHA-256): delete the path only if it is a regular file whose
    bytes hash to that; one answer each: removed, gone, changed, error, or a key
    of REFUSED."""
    q = shlex.quote
    body = "".join(f"drop {q(p)} {q(h)}\n" for p, h in doomed)
    return _LOOK + f"""drop() {{
  a=$(look "$1"); set -- "$1" "$2" "${{a#{MARK}}}"
  case "$3" in
    "ok $2 "*) if rm -f -- "$1"; then echo "{MARK}removed"; else echo "{MARK}error"; fi ;;
    ok*) echo "{MARK}changed" ;;
    missing) echo "{MARK}gone" ;;
    *) echo "{MARK}$3" ;;
  esac
}}
{body}"""
