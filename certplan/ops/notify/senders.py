"""One sender per target type: each takes the summary payload and raises on failure.

`Permanent` is a failure that trying again cannot fix (a 4xx answer, a refused
login, a missing secret); any other exception is worth another try. No message
raised here contains a secret: the caller also scrubs every resolved value.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from certplan.model.notify import AppriseTarget, CommandTarget, EmailTarget, WebhookTarget
from certplan.ops.notify.events import subject

Payload = dict[str, Any]
MAX_OUTPUT = 300  # of a command's stderr, quoted in the log


class Permanent(Exception):
    """Trying again will not help."""


def send_webhook(target: WebhookTarget, payload: Payload) -> None:
    url = target.url.resolve()
    if not url.startswith(("https://", "http://")):
        raise Permanent(f"the URL from {target.url.describe()} is not an http(s) URL")
    body = json.dumps(slack_safe(payload)).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "certplan"})
    try:
        with urllib.request.urlopen(request, timeout=target.timeout) as answer:  # noqa: S310
            answer.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        why = f"HTTP {exc.code} {exc.reason}"
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            raise Permanent(why) from None
        raise OSError(why) from None


def slack_safe(payload: Payload) -> Payload:
    """`text` escaped the way Slack asks (& < >): words from a CA or a state file cannot
    mention @channel, or show a link under other words, in a chat."""
    text = str(payload["text"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {**payload, "text": text}


def send_command(target: CommandTarget, payload: Payload) -> None:
    try:
        done = subprocess.run(target.command, input=json.dumps(payload).encode(),
                              capture_output=True, timeout=target.timeout, check=False)
    except subprocess.TimeoutExpired:
        raise Permanent(f"{target.command[0]} did not finish within "
                        f"{target.timeout:g} s") from None
    except OSError as exc:
        raise Permanent(f"cannot run {target.command[0]}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip()[:MAX_OUTPUT]
        raise Permanent(f"{target.command[0]} exited with {done.returncode}"
                        + (f": {said}" if said else ""))


def send_email(target: EmailTarget, payload: Payload) -> None:
    user = target.user.resolve() if target.user is not None else None
    password = target.password.resolve() if target.password is not None else None
    message = EmailMessage()
    message["Subject"] = subject(payload)
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message.set_content(str(payload["text"]) + "\n")
    message.add_attachment(json.dumps(payload, indent=2).encode(), maintype="application",
                           subtype="json", filename="certplan-events.json")
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
            if target.starttls:  # smtplib alone would not verify the certificate
                smtp.starttls(context=ssl.create_default_context(cafile=target.ca_bundle))
            if user is not None and password is not None:
                smtp.login(user, password)
            smtp.send_message(message)
    except ssl.SSLCertVerificationError as exc:
        raise Permanent(f"SMTP server {target.host}:{target.port}: certificate not "
                        f"trusted ({exc.verify_message})") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise Permanent(f"SMTP login refused ({exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Permanent(f"SMTP server {target.host}:{target.port}: {exc}") from None
    except smtplib.SMTPResponseException as exc:
        if 500 <= exc.smtp_code < 600:
            raise Permanent(f"SMTP server answered {exc.smtp_code}") from None
        raise OSError(f"SMTP server answered {exc.smtp_code}") from None


def send_apprise(target: AppriseTarget, payload: Payload) -> None:
    try:
        import apprise
    except ImportError:
        raise Permanent("the apprise package is not installed "
                        "(pip install 'certplan[apprise]')") from None
    bundle = apprise.Apprise()
    for i, ref in enumerate(target.urls):
        if not bundle.add(ref.resolve()):
            raise Permanent(f"urls[{i}] (from {ref.describe()}) is not a URL apprise knows")
    text = str(payload["text"])
    failed = any(e["event"] in ("failed", "rate_limited", "expiring") for e in payload["events"])
    kind = apprise.NotifyType.FAILURE if failed else apprise.NotifyType.SUCCESS
    sent: list[bool] = []
    # apprise has its own per-service timeouts; this bounds the whole delivery
    worker = threading.Thread(daemon=True, target=lambda: sent.append(bool(bundle.notify(
        body=text, title=subject(payload), notify_type=kind))))
    worker.start()
    worker.join(target.timeout)
    if not sent:
        raise Permanent(f"apprise did not finish within {target.timeout:g} s")
    if not sent[0]:
        raise Permanent("apprise could not deliver to every URL (its log says why)")


SENDERS: dict[str, Callable[[Any, Payload], None]] = {
    "webhook": send_webhook, "command": send_command, "email": send_email,
    "apprise": send_apprise}
