"""What notifications' relay exports when scraped: deliveries by status, newsletters' progress."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from notifications.adapters.models import Bounce, Delivery, Newsletter
from notifications.domain.statuses import DeliveryStatus, NewsletterStatus
from notifications.service_layer.newsletters import progress_of

#: Bounces counted as a delivery status (complaints are not bounces).
BOUNCE_KINDS = ("hard", "soft")


def deliveries(conn: Connection) -> Iterable[Metric]:
    """`uskalla_deliveries_total{status}`: the deliveries kept, by status, and the bounces
    received (`bounced`). The retention purge lowers them, which Prometheus' rate() reads as a
    counter reset."""
    family = CounterMetricFamily(
        "uskalla_deliveries",
        "E-mail deliveries by status; bounced: bounces received",
        labels=["status"],
    )
    rows = conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    counts = {status: count for status, count in rows}
    counts["bounced"] = (
        conn.scalar(select(func.count()).select_from(Bounce).where(Bounce.kind.in_(BOUNCE_KINDS)))
        or 0
    )
    for known in DeliveryStatus:
        if known != DeliveryStatus.SENDING:
            counts.setdefault(known.value, 0)
    for status, count in sorted(counts.items()):
        family.add_metric([status], float(count))
    return [family]


def newsletters(conn: Connection) -> Iterable[Metric]:
    """`uskalla_newsletter_deliveries{newsletter,progress}` of each newsletter being sent:
    recipients, sent, failed, pending, skipped, cancelled (as its API page says them)."""
    family = GaugeMetricFamily(
        "uskalla_newsletter_deliveries",
        "Deliveries of each newsletter being sent, by progress",
        labels=["newsletter", "progress"],
    )
    sending = list(
        conn.scalars(select(Newsletter.id).where(Newsletter.status == NewsletterStatus.SENDING))
    )
    with Session(bind=conn) as session:
        for newsletter, progress in progress_of(session, sending).items():
            for name, count in progress.items():
                family.add_metric([str(newsletter), name], float(count))
    return [family]
