"""The notifications service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from uskalla_kit.runtime import CommonSettings
from uskalla_kit.sealed import Sealer, derive_key, event_token_sealer
from uskalla_kit.settings import env, env_bool, env_float, env_int, env_secret


@dataclass
class Settings:
    common: CommonSettings
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    #: A CA bundle to verify the relay's certificate with (default: the system's).
    smtp_ca_file: str | None
    smtp_timeout: float
    mail_from: str
    mail_requeue_after: float
    mail_max_attempts: int
    unsubscribe_secret: str
    #: How long an unsubscribe link works (seconds); members reads it with the same setting.
    unsubscribe_max_age: int
    #: Opens the sealed link tokens in members' events (`EVENT_TOKEN_KEYS`), only when mailing.
    link_tokens: Sealer
    #: List mail (newsletter, invitations) messages per second over all workers; 0 = no limit.
    list_rate: float
    #: Messages one batch task sends over one SMTP connection before handing on.
    list_batch_size: int
    #: Batch task chains working on one fan-out at once (each with its own SMTP connection).
    list_parallel: int
    #: Rows a chain claims at a time, and how long its claim lasts if it dies (seconds).
    list_claim_size: int
    list_lease: float
    #: Recipients frozen into delivery rows per transaction.
    freeze_batch_size: int
    #: Wait for the WAL flush when marking list mail sent. Off by default: a killed worker
    #: loses nothing either way (PostgreSQL flushes the commit); only a database crash could
    #: forget the last fraction of a second of marks and re-send those few newsletters.
    list_sync_commit: bool
    #: Deliveries older than this many days are purged from the log.
    delivery_retention_days: int
    #: Bounce rows and kept bounce mail older than this many days are purged (at least the
    #: 30 days soft bounces are counted over).
    bounce_retention_days: int
    #: Seconds between the relay's purges of the delivery log.
    housekeeping_interval: float
    #: How long members' confirmation link works (`CONFIRM_TOKEN_TTL_DAYS`, read by members
    #: with the same name): the mail says it when the event does not.
    confirm_token_ttl_days: int
    #: The same for members' sign-in link (`SIGN_IN_TOKEN_TTL_MINUTES`).
    sign_in_token_ttl_minutes: int
    #: Envelope senders (VERP) are `b-<delivery>-<signature>@` this domain, whose MX is the
    #: bounce receiver; the signature's key is derived (HKDF, its own purpose) from
    #: `BOUNCE_SECRET`, or from `UNSUBSCRIBE_SECRET` when that is not set.
    bounce_domain: str
    verp_key: bytes
    bounce_smtp_host: str
    bounce_smtp_port: int
    #: Largest bounce report kept (bytes); a larger one is refused with 552.
    bounce_max_size: int
    #: Soft bounces within 30 days that suppress an address.
    soft_bounce_limit: int
    #: DKIM signing, when all three are set: a PKCS#1 RSA key (PEM), its selector and domain.
    dkim_private_key: bytes | None
    dkim_selector: str
    dkim_domain: str
    #: Hours before a gathering starts that its registered members are reminded (once).
    reminder_hours: float = 24.0
    #: Follow e-mails: a member's activity is mailed once its oldest part has waited this long
    #: (minutes), so several changes within it arrive as one e-mail.
    follow_batch_minutes: float = 5.0
    #: Digests: a period ends at this hour (0-23) of `digest_timezone`, daily, or weekly on
    #: `digest_weekday` (0 = Monday); gatherings starting within `digest_gathering_days` come along.
    digest_hour: int = 7
    digest_weekday: int = 0
    digest_timezone: str = "Europe/Helsinki"
    digest_gathering_days: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        mail_from = env("MAIL_FROM", "MeUskaltajat <noreply@uskalla.fi>")
        unsubscribe_secret = (
            env_secret("UNSUBSCRIBE_SECRET", dev_default="dev-unsubscribe-secret") or ""
        )
        return cls(
            common=CommonSettings.from_env("notifications", "NOTIFICATIONS_DATABASE_URL"),
            smtp_host=env("SMTP_HOST", dev_default="127.0.0.1"),
            smtp_port=env_int("SMTP_PORT", 25),
            smtp_username=env("SMTP_USERNAME", "") or None,
            smtp_password=env_secret("SMTP_PASSWORD", required=False),
            smtp_starttls=env_bool("SMTP_STARTTLS", False),
            smtp_ca_file=env("SMTP_CA_FILE", "") or None,
            smtp_timeout=env_float("SMTP_TIMEOUT", 30.0),
            mail_from=mail_from,
            mail_requeue_after=env_float("MAIL_REQUEUE_AFTER", 300.0),
            mail_max_attempts=env_int("MAIL_MAX_ATTEMPTS", 8),
            unsubscribe_secret=unsubscribe_secret,
            unsubscribe_max_age=env_int("UNSUBSCRIBE_TOKEN_MAX_AGE", 365 * 24 * 3600),
            link_tokens=event_token_sealer(),
            list_rate=env_float("LIST_MAIL_RATE", 0.0),
            list_batch_size=max(1, env_int("LIST_MAIL_BATCH_SIZE", 500)),
            list_parallel=max(1, env_int("LIST_MAIL_PARALLEL", 2)),
            list_claim_size=max(1, env_int("LIST_MAIL_CLAIM_SIZE", 50)),
            list_lease=max(1.0, env_float("LIST_MAIL_LEASE", 120.0)),
            freeze_batch_size=max(1, env_int("LIST_FREEZE_BATCH_SIZE", 5000)),
            list_sync_commit=env_bool("LIST_MAIL_SYNC_COMMIT", False),
            delivery_retention_days=max(1, env_int("DELIVERY_RETENTION_DAYS", 365)),
            bounce_retention_days=max(31, env_int("BOUNCE_RETENTION_DAYS", 90)),
            housekeeping_interval=env_float("HOUSEKEEPING_INTERVAL_SECONDS", 60.0),
            confirm_token_ttl_days=max(1, env_int("CONFIRM_TOKEN_TTL_DAYS", 7)),
            sign_in_token_ttl_minutes=max(1, env_int("SIGN_IN_TOKEN_TTL_MINUTES", 15)),
            bounce_domain=env("BOUNCE_DOMAIN", "") or _bounce_domain(mail_from),
            verp_key=derive_key(
                env_secret("BOUNCE_SECRET", required=False) or unsubscribe_secret, "verp"
            ),
            bounce_smtp_host=env("BOUNCE_SMTP_HOST", "127.0.0.1"),
            bounce_smtp_port=env_int("BOUNCE_SMTP_PORT", 2526),
            bounce_max_size=env_int("BOUNCE_MAX_SIZE", 1_000_000),
            soft_bounce_limit=max(1, env_int("SOFT_BOUNCE_LIMIT", 3)),
            dkim_private_key=_dkim_key(),
            dkim_selector=env("DKIM_SELECTOR", ""),
            dkim_domain=env("DKIM_DOMAIN", ""),
            reminder_hours=max(0.0, env_float("REMINDER_HOURS", 24.0)),
            follow_batch_minutes=max(0.0, env_float("FOLLOW_BATCH_MINUTES", 5.0)),
            digest_hour=min(23, max(0, env_int("DIGEST_HOUR", 7))),
            digest_weekday=min(6, max(0, env_int("DIGEST_WEEKDAY", 0))),
            digest_timezone=_zone(env("DIGEST_TIMEZONE", "Europe/Helsinki")),
            digest_gathering_days=max(0, env_int("DIGEST_GATHERING_DAYS", 30)),
        )


def _zone(name: str) -> str:
    """A time zone name that exists (refused at start, not at the first digest)."""
    ZoneInfo(name)
    return name


def _bounce_domain(mail_from: str) -> str:
    """`bounces.` + the sender's domain: its own MX, apart from the domain people write to."""
    return "bounces." + parseaddr(mail_from)[1].rpartition("@")[2].lower()


def _dkim_key() -> bytes | None:
    """The DKIM key if signing is set up (`DKIM_PRIVATE_KEY_FILE`, selector and domain)."""
    path = env("DKIM_PRIVATE_KEY_FILE", "")
    if not (path and env("DKIM_SELECTOR", "") and env("DKIM_DOMAIN", "")):
        return None
    with open(path, "rb") as key:
        return key.read()
