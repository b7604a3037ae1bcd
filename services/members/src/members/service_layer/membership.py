"""Membership use cases: join (double opt-in), confirm, profile, subscriptions, roles, cleanup."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from uskalla_events.contracts import AddressBounced, AddressComplained, AddressReinstated
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem
from uskalla_kit.signed import SignedTokens
from uskalla_kit.text import normalise_email

from members.adapters.models import Member, SignInToken
from members.config import Settings
from members.domain.rules import FLAG_LISTS, LISTS, MailingList, MemberStatus, default_digest
from members.domain.tokens import new_token, token_hash
from members.service_layer import events
from members.service_layer.clock import now
from members.service_layer.interests import Interests, canonical

PROFILE_FIELDS = ("name", "organisation", "municipality_code", "title", "language")
SUBSCRIPTION_FIELDS = ("newsletter", "invitations", "follows", "comments")
#: What joining sets of them (follows and comments start on).
JOIN_FIELDS = (*PROFILE_FIELDS, "newsletter", "invitations")


class Membership:
    def __init__(self, settings: Settings, outbox: Outbox, interests: Interests) -> None:
        self.settings = settings
        self.outbox = outbox
        self.interests = interests
        self.unsubscribe_tokens = SignedTokens(
            settings.unsubscribe_secret, "unsubscribe", max_age=settings.unsubscribe_max_age
        )

    def join(self, session: Session, data: dict[str, Any]) -> None:
        """Register or re-register (the relay's part of a join request, see `intake`).

        The confirmation token travels sealed: only notifications, which mails it, opens it.
        """
        email = normalise_email(data["email"])
        # Two joins for one new address at once would both insert: take turns per address.
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(email))))
        member = session.scalar(select(Member).where(Member.email == email).with_for_update())
        if member is not None and member.status == MemberStatus.DEACTIVATED:
            # A coordinator closed this membership: joining again must not reopen it, and
            # the caller learns nothing either way.
            return
        if member is not None and member.status == MemberStatus.ACTIVE:
            self.outbox.add(session, events.registered(member))
            return
        token, hashed = new_token()
        if member is None:
            member = Member(id=uuid.uuid4(), email=email, created_at=now())
            session.add(member)
        for field in JOIN_FIELDS:
            setattr(member, field, data.get(field))
        member.organisation = data.get("organisation") or ""
        member.follows = member.comments = True
        # Interests given when joining (all optional; a request queued before they existed
        # has none): the events of confirming carry them.
        member.themes = canonical("themes", data.get("themes") or [])
        member.interest_municipality_codes = canonical(
            "municipality_codes", data.get("municipality_codes") or []
        )
        member.digest = data.get("digest") or default_digest(bool(member.newsletter))
        member.status = MemberStatus.PENDING
        member.role = "member"
        member.undeliverable = False
        member.consent_at = now()
        member.privacy_notice_version = self.settings.privacy_notice_version
        member.confirm_token_hash = hashed
        member.confirm_expires_at = now() + timedelta(days=self.settings.confirm_ttl_days)
        session.flush()
        self.outbox.add(
            session,
            events.registered(
                member,
                token=self.settings.event_tokens.seal(token),
                valid_hours=self.settings.confirm_ttl_days * 24,
            ),
        )

    def confirm(self, session: Session, token: str) -> Member:
        """Activate the member the token names; repeating it is harmless."""
        member = session.scalar(
            select(Member).where(Member.confirm_token_hash == token_hash(token)).with_for_update()
        )
        if member is None or member.confirm_expires_at is None or member.confirm_expires_at < now():
            raise Problem(400, "Invalid token", "The confirmation link is unknown or has expired.")
        if member.status == MemberStatus.PENDING:
            member.status = MemberStatus.ACTIVE
            member.joined_at = now()
            member.undeliverable = False  # the confirmation e-mail arrived
            if member.email in self.settings.bootstrap_coordinators:
                member.role = "coordinator"
            session.flush()
            self.outbox.add(session, events.joined(member))
        return member

    def update_profile(self, session: Session, member: Member, changes: dict[str, Any]) -> Member:
        """Apply a member's own changes; one event per kind of change that really happened."""
        profile = {k: v for k, v in changes.items() if k in PROFILE_FIELDS}
        if "organisation" in profile and profile["organisation"] is None:
            profile["organisation"] = ""
        subscriptions = {k: v for k, v in changes.items() if k in SUBSCRIPTION_FIELDS}
        profile_changed = apply(member, profile)
        subscriptions_changed = apply(member, subscriptions)
        if profile_changed or subscriptions_changed:
            member.updated_at = now()
            session.flush()
        if profile_changed:
            self.outbox.add(session, events.updated(member))
        if subscriptions_changed:
            self.outbox.add(session, events.subscriptions(member))
        return member

    def unsubscribe_token(self, member_id: uuid.UUID, mailing_list: str) -> str:
        return self.unsubscribe_tokens.make({"member_id": str(member_id), "list": mailing_list})

    def unsubscribe(self, session: Session, token: str) -> str:
        """Turn off the list a signed token names; the list's name. Idempotent."""
        payload = self.unsubscribe_tokens.read(token)
        mailing_list = (payload or {}).get("list")
        try:
            member_id = uuid.UUID(str((payload or {}).get("member_id")))
        except ValueError:
            member_id = None
        if member_id is None or mailing_list not in LISTS:
            raise Problem(400, "Invalid token", "The unsubscribe link is not valid.")
        member = session.scalar(select(Member).where(Member.id == member_id).with_for_update())
        # An erased member's link still answers 200: there is nothing left to send them.
        if member is not None and mailing_list == MailingList.DIGEST:
            self.interests.digest_off(session, member)
        elif member is not None and getattr(member, mailing_list):
            self.update_profile(session, member, {mailing_list: False})
        return str(mailing_list)

    def administer(
        self, session: Session, actor: Member, member_id: uuid.UUID, changes: dict[str, Any]
    ) -> Member:
        """A coordinator's change to a member: `role` and/or `active`."""
        member = session.scalar(select(Member).where(Member.id == member_id).with_for_update())
        if member is None:
            raise Problem(404, "Not found", "No such member.")
        if member.id == actor.id and (
            changes.get("role") == "member" or changes.get("active") is False
        ):
            # Keeps the network from losing its last coordinator by accident.
            raise Problem(409, "Conflict", "Ask another coordinator to change your own role.")
        if "active" in changes:
            self.set_active(session, member, changes["active"])
        if "role" in changes:
            self.set_role(session, member, changes["role"])
        return member

    def set_role(self, session: Session, member: Member, role: str) -> None:
        if member.role != role:
            member.role = role
            member.updated_at = now()
            session.flush()
            self.outbox.add(session, events.updated(member))

    def set_active(self, session: Session, member: Member, active: bool) -> None:
        if member.status == MemberStatus.PENDING:
            raise Problem(409, "Conflict", "This person has not confirmed joining yet.")
        status = MemberStatus.ACTIVE if active else MemberStatus.DEACTIVATED
        if member.status == status:
            return
        member.status = status
        member.updated_at = now()
        if not active:
            # Outstanding sign-in links must not work for a closed membership.
            session.execute(delete(SignInToken).where(SignInToken.member_id == member.id))
        session.flush()
        self.outbox.add(session, events.updated(member))

    def mark_undeliverable(self, session: Session, bounced: AddressBounced) -> None:
        """notifications could not deliver to the address (the member's own, if any)."""
        member = session.scalar(
            select(Member).where(Member.email == normalise_email(bounced.email))
        )
        if member is not None:
            member.undeliverable = True

    def complained(self, session: Session, complaint: AddressComplained) -> None:
        """The member reported our mail as spam: every list goes off (and notifications hears
        of it as of any change of lists)."""
        member = session.scalar(
            select(Member).where(Member.email == normalise_email(complaint.email)).with_for_update()
        )
        if member is not None:
            self.update_profile(session, member, dict.fromkeys(FLAG_LISTS, False))
            self.interests.digest_off(session, member)

    def reinstated(self, session: Session, reinstated: AddressReinstated) -> None:
        """A coordinator lifted the address's suppression: it is deliverable again."""
        member = session.scalar(
            select(Member).where(Member.email == normalise_email(reinstated.email))
        )
        if member is not None:
            member.undeliverable = False


def apply(member: Member, values: dict[str, Any]) -> bool:
    """Set the values that differ; whether anything did."""
    changed = False
    for key, value in values.items():
        if getattr(member, key) != value:
            setattr(member, key, value)
            changed = True
    return changed
