"""Which service answers which public path: the routing table, readable at a glance."""

from __future__ import annotations

#: A path belongs to the longest prefix it starts with, in whole segments (`/api/v1/members/me`,
#: not `/api/v1/membersx`; a suffix like `.atom` counts): `/api/v1/members/me/follows` is the
#: experiments service's (who follows what is kept there), the rest of `/api/v1/members` is
#: members'. The order does not matter; every path in docs/api.md is covered.
ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/v1/members", "members"),
    ("/api/v1/members/me/follows", "experiments"),
    ("/api/v1/auth", "members"),
    ("/api/v1/unsubscribe", "members"),
    ("/api/v1/municipalities", "members"),
    ("/api/v1/gatherings", "members"),
    ("/api/v1/experiments", "experiments"),
    ("/api/v1/comments", "experiments"),
    ("/api/v1/themes", "experiments"),
    ("/api/v1/moderation", "experiments"),
    ("/api/v1/newsletters", "notifications"),
    ("/api/v1/deliveries", "notifications"),
    ("/api/v1/bounces", "notifications"),
    ("/api/v1/suppressions", "notifications"),
)


#: Longest first, so that the first prefix that matches is the longest.
_LONGEST_FIRST = tuple(sorted(ROUTES, key=lambda route: len(route[0]), reverse=True))


def service_for(path: str) -> str | None:
    for prefix, service in _LONGEST_FIRST:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "."):
            return service
    return None
