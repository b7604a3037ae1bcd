"""The `members` command: api, worker, relay, migrate, and operators' commands."""

from __future__ import annotations

import click
from sqlalchemy import select
from uskalla_kit import Runtime
from uskalla_kit.cli import service_cli
from uskalla_kit.text import normalise_email

from members.adapters.models import Member
from members.bootstrap import build_runtime
from members.domain.rules import ROLES, MemberStatus
from members.service_layer import services_of

cli = service_cli("members", build_runtime)


@cli.command(name="grant-role", help="Give an active member a role, e.g. coordinator.")
@click.argument("email")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_obj
def grant_role(lazy: object, email: str, role: str) -> None:
    runtime: Runtime = lazy.get()  # type: ignore[attr-defined]
    try:
        with runtime.db.transaction() as session:
            member = session.scalar(
                select(Member).where(Member.email == normalise_email(email)).with_for_update()
            )
            if member is None or member.status != MemberStatus.ACTIVE:
                raise click.ClickException(f"no active member with the address {email}")
            services_of(runtime).membership.set_role(session, member, role)
    finally:
        runtime.db.dispose()  # a one-shot command: leave no connection behind
    click.echo(f"{email}: {role}")


@cli.command(help="Join and sign-in requests waiting for the relay; --release retries held ones.")
@click.option("--release", is_flag=True, help="Try the held requests again.")
@click.pass_obj
def intake(lazy: object, release: bool) -> None:
    runtime: Runtime = lazy.get()  # type: ignore[attr-defined]
    queue = services_of(runtime).intake
    try:
        with runtime.db.transaction() as session:
            if release:
                click.echo(f"released: {queue.release(session)}")
            counts = queue.counts(session)
    finally:
        runtime.db.dispose()
    click.echo(f"waiting: {counts['waiting']}  held: {counts['held']}")


def main() -> None:
    cli()
