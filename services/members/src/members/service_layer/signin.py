"""Passwordless sign-in: an e-mailed single-use link, exchanged for an access token."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from uskalla_events.contracts import SignInRequested
from uskalla_events.outbox import Outbox
from uskalla_events.vocabulary import Language
from uskalla_kit import Problem
from uskalla_kit.text import normalise_email

from members.adapters.access_tokens import AccessTokens
from members.adapters.models import Member, SignInToken
from members.config import Settings
from members.domain.rules import MemberStatus
from members.domain.tokens import new_token, token_hash
from members.service_layer import events
from members.service_layer.clock import now


class SignIn:
    def __init__(self, settings: Settings, outbox: Outbox) -> None:
        self.settings = settings
        self.outbox = outbox
        common = settings.common
        self.tokens = AccessTokens(
            settings.jwt_private_key,
            issuer=common.jwt_issuer,
            audience=common.jwt_audience,
            ttl_seconds=settings.token_ttl_seconds,
        )

    def request(self, session: Session, email: str) -> None:
        """E-mail a link to an active member; for any other address do nothing (the relay's part
        of a sign-in request, see `intake`). The token travels sealed, as the confirmation's.

        An address marked undeliverable still gets its link: the member asking for it is the
        best sign that mail arrives again, and notifications keeps its own suppression list.
        """
        member = session.scalar(select(Member).where(Member.email == normalise_email(email)))
        if member is None or member.status != MemberStatus.ACTIVE:
            return
        token, hashed = new_token()
        session.add(
            SignInToken(
                id=uuid.uuid4(),
                member_id=member.id,
                token_hash=hashed,
                created_at=now(),
                expires_at=now() + timedelta(minutes=self.settings.sign_in_ttl_minutes),
            )
        )
        session.flush()
        self.outbox.add(
            session,
            SignInRequested(
                member_id=member.id,
                email=member.email,
                name=member.name,
                language=Language(member.language),
                token=self.settings.event_tokens.seal(token),
                valid_minutes=self.settings.sign_in_ttl_minutes,
            ),
        )

    def exchange(self, session: Session, token: str) -> dict[str, Any]:
        """Spend a sign-in token (once, before it expires) for an access token."""
        row = session.scalar(select(SignInToken).where(SignInToken.token_hash == token_hash(token)))
        # The member first, then the token: the order erasure locks them in too.
        member = session.get(Member, row.member_id, with_for_update=True) if row else None
        if row is not None and member is not None:
            session.refresh(row, with_for_update=True)
        if (
            row is None
            or member is None
            or row.used_at is not None
            or row.expires_at < now()
            or member.status != MemberStatus.ACTIVE
        ):
            raise Problem(400, "Invalid token", "The sign-in link is unknown, used or expired.")
        row.used_at = now()
        # The link arrived, so the address works whatever an old bounce said.
        member.undeliverable = False
        if member.email in self.settings.bootstrap_coordinators and member.role != "coordinator":
            member.role = "coordinator"
            member.updated_at = now()
            session.flush()
            self.outbox.add(session, events.updated(member))
        access = self.tokens.issue(str(member.id), member.role, now())
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.settings.token_ttl_seconds,
        }

    def preview(self, session: Session, token: str) -> dict[str, str]:
        """Whom an unused, unexpired link of an active member signs in; spends nothing."""
        member = session.scalar(
            select(Member)
            .join(SignInToken, SignInToken.member_id == Member.id)
            .where(
                SignInToken.token_hash == token_hash(token),
                SignInToken.used_at.is_(None),
                SignInToken.expires_at >= now(),
                Member.status == MemberStatus.ACTIVE,
            )
        )
        if member is None:
            raise Problem(404, "Not found", "The sign-in link is unknown, used or expired.")
        return {"email": member.email, "name": member.name, "language": member.language}

    def remove_spent(self, session: Session) -> int:
        """Forget used and expired links (a day's grace keeps them for support questions)."""
        cutoff = now() - timedelta(days=1)
        result = session.execute(
            delete(SignInToken).where(
                or_(SignInToken.expires_at < cutoff, SignInToken.used_at < cutoff)
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
