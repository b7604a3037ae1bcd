"""Follow e-mails and digests: activity on followed experiments gathered into one e-mail per
member (never of their own doing), the digest of a period sent once however its runs race or
die, in the member's language, with one-click unsubscribe for lists `follows`, `comments` and
`digest`; the projections of members' interests and lists."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from notifications.adapters.models import Delivery, FollowActivity, Recipient
from notifications.service_layer import digests as digests_module
from sqlalchemy import func, select, update
from uskalla_events.vocabulary import DigestFrequency
from uskalla_kit.signed import SignedTokens

from .conftest import Service

EXPERIMENT = "Kirjaston avoin lauantai"


def joined(service: Service, **extra: Any) -> uuid.UUID:
    member_id = extra.pop("member_id", None) or uuid.uuid4()
    service.handle(
        "members.member.joined.v1",
        {
            "member_id": str(member_id),
            "email": f"{member_id}@example.fi",
            "name": "Maija",
            "language": "fi",
            "newsletter": False,
            "invitations": False,
            "joined_at": datetime.now(UTC).isoformat(),
        }
        | extra,
    )
    return member_id


def stage_changed(
    service: Service, experiment: uuid.UUID, actor: uuid.UUID, followers: list[uuid.UUID]
) -> None:
    service.handle(
        "experiments.experiment.stage_changed.v1",
        {
            "experiment_id": str(experiment),
            "title": EXPERIMENT,
            "stage": "running",
            "previous_stage": "planning",
            "actor_id": str(actor),
            "follower_ids": [str(f) for f in followers],
            "changed_at": datetime.now(UTC).isoformat(),
        },
    )


def commented(
    service: Service,
    experiment: uuid.UUID,
    author: uuid.UUID,
    owners: list[uuid.UUID],
    followers: list[uuid.UUID],
) -> uuid.UUID:
    comment_id = uuid.uuid4()
    service.handle(
        "experiments.comment.posted.v1",
        {
            "comment_id": str(comment_id),
            "experiment_id": str(experiment),
            "experiment_title": EXPERIMENT,
            "author_id": str(author),
            "owner_ids": [str(o) for o in owners],
            "follower_ids": [str(f) for f in followers],
            "posted_at": datetime.now(UTC).isoformat(),
        },
    )
    return comment_id


def window_passes(service: Service) -> int:
    """The batch window has passed for every waiting row; the relay's job runs."""
    with service.runtime.db.transaction() as session:
        session.execute(
            update(FollowActivity).values(created_at=FollowActivity.created_at - timedelta(hours=1))
        )
    scheduled: int = service.runtime.extra["services"].follows.send_due()
    service.tasks.drain()
    return scheduled


def address(member_id: uuid.UUID) -> str:
    return f"{member_id}@example.fi"


def unsubscribe_list(service: Service, mail: dict[str, Any]) -> str:
    """The list the one-click URL of a mail turns off (its token verified with the secret)."""
    header = mail["headers"]["List-Unsubscribe"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header.strip("<>")
    assert url.startswith("https://") or url.startswith("http://")
    token = parse_qs(urlsplit(url).query)["token"][0]
    settings = service.runtime.extra["settings"]
    payload = SignedTokens(settings.unsubscribe_secret, "unsubscribe").read(token)
    assert payload is not None
    return str(payload["list"])


def test_a_stage_change_and_a_comment_together_make_one_email_never_of_ones_own_doing(
    service: Service,
) -> None:
    owner, follower, commenter = joined(service), joined(service), joined(service, language="sv")
    quiet = joined(service, follows=False)
    experiment = uuid.uuid4()
    everyone = [owner, follower, commenter, quiet]
    service.tasks.drain()
    welcomes = {m["id"] for m in service.mails()}
    stage_changed(service, experiment, owner, everyone)
    commented(service, experiment, commenter, [owner], everyone)
    service.tasks.drain()
    seen = {m["id"] for m in service.mails()}

    # Within the window: nothing yet (but the owner's comment e-mail, at once).
    assert service.runtime.extra["services"].follows.send_due() == 0
    service.tasks.drain()
    assert {m["id"] for m in service.mails()} == seen

    assert window_passes(service) == 2
    [mail] = [m for m in service.mails(address(follower)) if m["id"] not in welcomes]
    assert mail["subject"] == "Uutta seuraamissasi kokeiluissa"
    assert f'"{EXPERIMENT}" siirtyi vaiheeseen: käynnissä' in mail["text"]
    assert f'"{EXPERIMENT}" sai uuden kommentin' in mail["text"]
    assert f"/experiments/{experiment}" in mail["text"]
    assert unsubscribe_list(service, mail) == "follows"
    assert mail["headers"]["Content-Language"] == "fi"

    # The commenter hears of the stage change only, in Swedish; not of their own comment.
    [theirs] = [m for m in service.mails(address(commenter)) if m["id"] not in welcomes]
    assert theirs["subject"] == "Nytt i försöken du följer"
    assert "gick vidare till skedet: pågår" in theirs["text"]
    assert "kommentar" not in theirs["text"]
    # The owner made the change and owns the experiment: their comment e-mail only.
    [notice] = [m for m in service.mails(address(owner)) if m["id"] not in welcomes]
    assert "kommentti" in notice["subject"].lower()
    assert unsubscribe_list(service, notice) == "comments"
    # Follow e-mails off: nothing.
    assert [m for m in service.mails(address(quiet)) if m["id"] not in welcomes] == []

    # Again: nothing more.
    assert window_passes(service) == 0
    assert len(service.mails(address(follower))) == 2  # welcome + the one
    assert len(service.mails(address(owner))) == 2  # welcome + the comment e-mail


def test_an_own_comment_makes_nothing_and_unsubscribed_or_suppressed_members_none(
    service: Service,
) -> None:
    author, unsubscribed, bounced = joined(service), joined(service), joined(service)
    service.handle(
        "members.subscriptions.changed.v1",
        {
            "member_id": str(unsubscribed),
            "newsletter": False,
            "invitations": False,
            "follows": False,
        },
    )
    service.handle(
        "members.subscriptions.changed.v1",  # an older producer: follows as it was
        {"member_id": str(bounced), "newsletter": False, "invitations": False},
    )
    with service.runtime.db.transaction() as session:
        assert session.get(Recipient, unsubscribed).follows is False  # type: ignore[union-attr]
        assert session.get(Recipient, bounced).follows is True  # type: ignore[union-attr]
    from notifications.service_layer.suppressions import record_bounce

    with service.runtime.db.transaction() as session:
        record_bounce(
            session, service.runtime.events, email=address(bounced), kind="hard", reason="550"
        )
    experiment = uuid.uuid4()
    commented(service, experiment, author, [], [author, unsubscribed, bounced])
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FollowActivity)) == 0
    service.tasks.drain()
    before = len(service.mails())
    assert window_passes(service) == 0
    assert len(service.mails()) == before


def test_turning_follows_off_after_the_activity_drops_it_and_comments_off_stops_owner_mail(
    service: Service,
) -> None:
    follower, owner, commenter = joined(service), joined(service), joined(service)
    experiment = uuid.uuid4()
    stage_changed(service, experiment, owner, [follower, owner])
    service.handle(
        "members.subscriptions.changed.v1",
        {
            "member_id": str(follower),
            "newsletter": False,
            "invitations": False,
            "follows": False,
        },
    )
    service.handle(
        "members.subscriptions.changed.v1",
        {"member_id": str(owner), "newsletter": False, "invitations": False, "comments": False},
    )
    commented(service, experiment, commenter, [owner], [follower, owner, commenter])
    service.tasks.drain()
    before = len(service.mails())
    assert window_passes(service) == 0
    assert len(service.mails()) == before
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FollowActivity)) == 0
        assert session.scalar(select(func.count()).where(Delivery.kind == "comment")) == 0, (
            "the owner turned comment e-mails off"
        )


def test_racing_relays_send_one_follow_email(service: Service) -> None:
    followers = [joined(service) for _ in range(6)]
    actor = joined(service)
    experiment = uuid.uuid4()
    stage_changed(service, experiment, actor, followers)
    commented(service, experiment, actor, [actor], followers)
    with service.runtime.db.transaction() as session:
        session.execute(
            update(FollowActivity).values(created_at=FollowActivity.created_at - timedelta(hours=1))
        )
    follows = service.runtime.extra["services"].follows
    results: list[int] = []
    start = threading.Barrier(4)

    def race() -> None:
        start.wait()
        results.append(follows.send_due())

    racers = [threading.Thread(target=race) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sum(results) == len(followers)
    service.tasks.drain()
    for follower in followers:
        mails = [m for m in service.mails(address(follower)) if "seuraamissasi" in m["subject"]]
        assert len(mails) == 1
        assert "vaiheeseen" in mails[0]["text"] and "kommentin" in mails[0]["text"]


def test_interests_are_projected_an_older_event_changes_nothing_and_erasure_removes_them(
    service: Service,
) -> None:
    member = joined(
        service,
        themes=["digital-municipality"],
        municipality_codes=["049"],
        digest="weekly",
        comments=False,
    )
    with service.runtime.db.transaction() as session:
        row = session.get(Recipient, member)
        assert row is not None
        assert (row.themes, row.municipality_codes, row.digest) == (
            ["digital-municipality"],
            ["049"],
            "weekly",
        )
        assert (row.follows, row.comments) == (True, False)
    now = datetime.now(UTC)
    service.handle(
        "members.interests.changed.v1",
        {
            "member_id": str(member),
            "themes": ["innovative-procurement"],
            "municipality_codes": ["091", "837"],
            "digest": "daily",
        },
        occurred_at=(now + timedelta(seconds=5)).isoformat(),
    )
    service.handle(  # an older one arriving late
        "members.interests.changed.v1",
        {"member_id": str(member), "themes": [], "digest": "off"},
        occurred_at=now.isoformat(),
    )
    with service.runtime.db.transaction() as session:
        row = session.get(Recipient, member)
        assert row is not None
        assert (row.themes, row.municipality_codes, row.digest) == (
            ["innovative-procurement"],
            ["091", "837"],
            "daily",
        )
    stage_changed(service, uuid.uuid4(), uuid.uuid4(), [member])
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(FollowActivity)) == 1
    service.handle("members.member.erased.v1", {"member_id": str(member)})
    with service.runtime.db.transaction() as session:
        assert session.get(Recipient, member) is None
        assert session.scalar(select(func.count()).select_from(FollowActivity)) == 0


# Digests ------------------------------------------------------------------------------------


def moment_and_period(service: Service) -> tuple[datetime, Any]:
    """A moment a week ahead, and the weekly period that has ended by then (it holds now)."""
    moment = datetime.now(UTC) + timedelta(days=8)
    p = service.runtime.extra["services"].digests.period(DigestFrequency.WEEKLY, moment)
    assert p.starts_at < datetime.now(UTC) < p.ends_at
    return moment, p


def published(service: Service, at: datetime, title: str, **extra: Any) -> uuid.UUID:
    experiment = uuid.uuid4()
    service.handle(
        "experiments.experiment.published.v1",
        {
            "experiment_id": str(experiment),
            "title": title,
            "summary": "Lyhyesti",
            "published_at": at.isoformat(),
        }
        | extra,
    )
    return experiment


def digests_of(service: Service, member: uuid.UUID) -> list[dict[str, Any]]:
    service.tasks.drain()
    return [m for m in service.mails(address(member)) if "MeUskaltajat:" in m["subject"]]


def test_the_weekly_digest_in_each_language(service: Service) -> None:
    moment, p = moment_and_period(service)
    readers = {
        language: joined(
            service, language=language, themes=["digital-municipality"], digest="weekly"
        )
        for language in ("fi", "sv", "en")
    }
    by_place = joined(service, municipality_codes=["837"], digest="weekly")
    daily = joined(service, themes=["digital-municipality"], digest="daily")
    nothing_matches = joined(service, themes=["parallel-organisations"], digest="weekly")
    off = joined(service, themes=["digital-municipality"])
    inside = p.starts_at + timedelta(hours=1)
    published(service, inside, "Digitaalinen lupa", themes=["digital-municipality"])
    published(service, inside, "Tampereen kokeilu", municipality_codes=["837"])
    published(
        service,
        p.starts_at - timedelta(hours=1),
        "Edellisen viikon",
        themes=["digital-municipality"],
    )
    published(
        service, p.ends_at + timedelta(hours=1), "Ensi viikon", themes=["digital-municipality"]
    )
    gathering = uuid.uuid4()
    service.handle(
        "members.gathering.published.v1",
        {
            "gathering_id": str(gathering),
            "title": "Tarinapaja Tampereella",
            "kind": "tarinapaja",
            "starts_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
            "ends_at": (datetime.now(UTC) + timedelta(days=3, hours=2)).isoformat(),
            "language": "fi",
        },
    )
    # Activity on a followed experiment waits for the digest instead of its own e-mail.
    followed = uuid.uuid4()
    stage_changed(service, followed, uuid.uuid4(), [readers["sv"]])
    assert window_passes(service) == 0

    digests = service.runtime.extra["services"].digests
    assert digests.run(moment) == 4
    [fi] = digests_of(service, readers["fi"])
    assert fi["subject"] == "MeUskaltajat: viikon kooste"
    assert "Uusia kokeiluja teemoissasi ja kunnissasi:" in fi["text"]
    assert "Digitaalinen lupa" in fi["text"] and "Tampereen kokeilu" not in fi["text"]
    assert "Edellisen viikon" not in fi["text"] and "Ensi viikon" not in fi["text"]
    assert "Tulevat tilaisuudet:" in fi["text"] and "Tarinapaja Tampereella" in fi["text"]
    assert f"/gatherings/{gathering}" in fi["text"]
    assert unsubscribe_list(service, fi) == "digest"
    [sv] = digests_of(service, readers["sv"])
    assert sv["subject"] == "MeUskaltajat: veckans sammandrag"
    assert "I försöken du följer:" in sv["text"] and "gick vidare till skedet: pågår" in sv["text"]
    assert f"/sv/experiments/{followed}" in sv["text"]
    [en] = digests_of(service, readers["en"])
    assert en["subject"] == "MeUskaltajat: your weekly digest"
    assert "New experiments in your themes and municipalities:" in en["text"]
    [place] = digests_of(service, by_place)
    assert "Tampereen kokeilu" in place["text"] and "Digitaalinen lupa" not in place["text"]
    # An empty period, a daily reader (their own period), no digest: nothing.
    for member in (nothing_matches, daily, off):
        assert digests_of(service, member) == []
    # The period is done: run again, nothing.
    assert digests.run(moment) == 0
    assert len(digests_of(service, readers["fi"])) == 1


def test_an_empty_period_sends_nothing(service: Service) -> None:
    moment, p = moment_and_period(service)
    member = joined(service, themes=["digital-municipality"], digest="weekly")
    published(
        service, p.starts_at - timedelta(days=1), "Edellinen", themes=["digital-municipality"]
    )
    assert service.runtime.extra["services"].digests.run(moment) == 0
    assert digests_of(service, member) == []
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).where(Delivery.kind == "digest")) == 0


def test_the_daily_digest(service: Service) -> None:
    member = joined(service, language="sv", themes=["digital-municipality"], digest="daily")
    moment = datetime.now(UTC) + timedelta(days=1, hours=1)
    p = service.runtime.extra["services"].digests.period(DigestFrequency.DAILY, moment)
    published(service, p.starts_at + timedelta(minutes=1), "Ny", themes=["digital-municipality"])
    assert service.runtime.extra["services"].digests.run(moment) == 1
    [mail] = digests_of(service, member)
    assert mail["subject"] == "MeUskaltajat: dagens sammandrag"
    assert "sedan i går" in mail["text"]


def many_readers(service: Service, n: int) -> tuple[datetime, list[uuid.UUID]]:
    moment, p = moment_and_period(service)
    readers = [joined(service, themes=["digital-municipality"], digest="weekly") for _ in range(n)]
    published(service, p.starts_at + timedelta(hours=2), "Uusi", themes=["digital-municipality"])
    service.tasks.drain()
    return moment, readers


def test_two_concurrent_digest_runs_send_one_each(service: Service) -> None:
    moment, readers = many_readers(service, 12)
    digests = service.runtime.extra["services"].digests
    results: list[int] = []
    start = threading.Barrier(3)

    def race() -> None:
        start.wait()
        results.append(digests.run(moment))

    racers = [threading.Thread(target=race) for _ in range(3)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sum(results) == len(readers)
    for reader in readers:
        assert len(digests_of(service, reader)) == 1


class Killed(Exception):
    pass


def test_a_run_killed_midway_then_run_again_sends_one_each(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment, readers = many_readers(service, 7)
    monkeypatch.setattr(digests_module, "BATCH", 3)
    digests = service.runtime.extra["services"].digests
    built: list[uuid.UUID] = []

    def die_at_the_fifth(member_id: uuid.UUID) -> None:
        built.append(member_id)
        if len(built) == 5:
            raise Killed

    digests.after_member = die_at_the_fifth
    with pytest.raises(Killed):
        digests.run(moment)
    service.tasks.drain()
    # The first batch of three was committed; the second died with its transaction.
    assert sum(len(digests_of(service, r)) for r in readers) == 3
    digests.after_member = lambda member_id: None
    assert digests.run(moment) == 4
    for reader in readers:
        assert len(digests_of(service, reader)) == 1
    assert digests.run(moment) == 0


def test_a_digest_is_not_sent_once_the_member_turned_it_off(service: Service) -> None:
    moment, readers = many_readers(service, 1)
    [reader] = readers
    assert service.runtime.extra["services"].digests.run(moment) == 1
    service.handle(
        "members.interests.changed.v1",
        {"member_id": str(reader), "themes": ["digital-municipality"], "digest": "off"},
    )
    service.tasks.drain()
    assert digests_of(service, reader) == []
    with service.runtime.db.transaction() as session:
        assert session.scalar(select(Delivery.status).where(Delivery.kind == "digest")) == "skipped"


def test_the_period_is_local_time_and_weekly_on_monday(service: Service) -> None:
    digests = service.runtime.extra["services"].digests
    # Monday 7 Dec 2026 06:59 Helsinki (04:59 UTC): the week ended on Monday 30 Nov.
    p = digests.period(DigestFrequency.WEEKLY, datetime(2026, 12, 7, 4, 59, tzinfo=UTC))
    assert p.key == "weekly:2026-11-30"
    assert p.ends_at == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    assert p.starts_at == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    p = digests.period(DigestFrequency.WEEKLY, datetime(2026, 12, 7, 5, 0, tzinfo=UTC))
    assert p.key == "weekly:2026-12-07"
    # Across the spring's change to summer time: 7:00 local each day.
    p = digests.period(DigestFrequency.DAILY, datetime(2027, 3, 28, 12, 0, tzinfo=UTC))
    assert p.key == "daily:2027-03-28"
    assert (p.starts_at, p.ends_at) == (
        datetime(2027, 3, 27, 5, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 4, 0, tzinfo=UTC),
    )
