"""`[notify]` in certplan.toml: where apply sends its summary, and when.

    [notify]
    remind_days = 14            # "expires in N days and renewal keeps failing"
    [[notify.target]]
    type = "webhook"            # webhook | command | email | apprise
    url = { env = "CERTPLAN_WEBHOOK" }

Every address that carries a credential (a webhook URL, SMTP user and password,
apprise URLs) is a secret reference, resolved only when a notification is sent.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from certplan.model.base import InputModel
from certplan.model.secrets import SecretRef

Event = Literal["issued", "renewed", "installed", "removed", "failed", "rate_limited",
                "expiring"]
EVENTS: tuple[Event, ...] = get_args(Event)


class _Target(InputModel):
    # which events this target gets (default: all of them)
    events: list[Event] = Field(default_factory=lambda: list(EVENTS))
    timeout: float = Field(default=10.0, gt=0, le=300)


class WebhookTarget(_Target):
    """JSON POST with a Slack/Mattermost `text` field and the structured events."""

    type: Literal["webhook"]
    url: SecretRef
    retries: int = Field(default=2, ge=0, le=5)


class CommandTarget(_Target):
    """A program (argv, no shell) that reads the summary as JSON on stdin; not retried:
    the program owns its own retries."""

    type: Literal["command"]
    command: list[str] = Field(min_length=1)

    @field_validator("command")
    @classmethod
    def _program(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first item is the program to run and must not be empty")
        return value


class EmailTarget(_Target):
    """SMTP: STARTTLS (the server's certificate verified) unless told otherwise, login
    when user and password are given."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    ca_bundle: str | None = None  # a private CA that signed the SMTP server's certificate
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    user: SecretRef | None = None
    password: SecretRef | None = None
    retries: int = Field(default=2, ge=0, le=5)

    @model_validator(mode="after")
    def _login_only_over_tls(self) -> EmailTarget:
        if (self.user is not None or self.password is not None) and not self.starttls:
            raise ValueError("user and password would cross the network in clear text "
                             "with starttls = false: keep starttls = true (the default)")
        if (self.user is None) != (self.password is None):
            raise ValueError("user and password go together")
        return self

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or " " in address or "\n" in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class AppriseTarget(_Target):
    """Any service apprise knows (needs `pip install 'certplan[apprise]'`)."""

    type: Literal["apprise"]
    urls: list[SecretRef] = Field(min_length=1)


Target = Annotated[WebhookTarget | CommandTarget | EmailTarget | AppriseTarget,
                   Field(discriminator="type")]


class NotifySettings(InputModel):
    """`[notify]`: no target, no notification."""

    remind_days: int = Field(default=14, ge=1, le=365)
    target: list[Target] = Field(default_factory=list)
