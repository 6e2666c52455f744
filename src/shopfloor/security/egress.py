"""Where the server may send webhooks: the hosts and networks an operator allows, nothing else.

A tenant names webhook URLs; the server calls them. Without a limit a tenant could make the
server call any address it reaches (an internal admin page, a cloud metadata endpoint). The
policy, from ``SHOPFLOOR_WEBHOOK_ALLOWED_HOSTS`` and ``SHOPFLOOR_WEBHOOK_ALLOWED_NETWORKS``:

* a host the operator names (``hooks.example.com``, or ``*.example.com`` for its sub-domains)
  may resolve to any address except loopback, link-local (where metadata endpoints live),
  multicast, unspecified and reserved ones, unless an allowed network holds that address;
* any other host, or an address literal, is allowed only if every address it resolves to lies
  in an allowed network.

The check runs when a rule is stored and again on every delivery, on the addresses the name
resolves to then; the delivery connects to an address it checked (:meth:`EgressPolicy.addresses`),
so a name that resolves elsewhere the second time (DNS rebinding) cannot move the call.
Nothing is allowed by default. The same checks, with their own settings
(``SHOPFLOOR_SOURCE_ALLOWED_HOSTS`` / ``SHOPFLOOR_SOURCE_ALLOWED_NETWORKS``) and a :class:`Purpose`
naming them, guard the endpoints of tenants' S3-compatible sources.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from shopfloor.errors import TargetNotAllowed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]
MAX_URL = 2000


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (TCP), in the resolver's order; OSError if none."""
    found: list[IPAddress] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = _plain(ipaddress.ip_address(sockaddr[0]))
        if address not in found:
            found.append(address)
    if not found:
        raise OSError(f"{host} resolves to no address")
    return found


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _special(address: IPAddress) -> bool:
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
    )


@dataclass(frozen=True)
class Target:
    """A webhook URL taken apart: what the delivery needs to connect and what may be shown."""

    url: str
    scheme: str
    host: str  # lower case, no brackets around an IPv6 address
    port: int

    @property
    def display(self) -> str:
        """``host:port``: shown in lists and the audit log (the path may hold a token)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def literal(self) -> IPAddress | None:
        try:
            return _plain(ipaddress.ip_address(self.host))
        except ValueError:
            return None


def parse_target(
    url: str, what: str = "webhook URL", error: type[TargetNotAllowed] = TargetNotAllowed
) -> Target:
    """Take a URL apart (``what`` names it in messages); ``error`` (TargetNotAllowed, 422) when it
    is not an absolute http(s) URL."""
    if len(url) > MAX_URL:
        raise error(f"the {what} is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise error(f"the {what} {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise error(f"the {what} {url!r} must be an absolute http:// or https:// URL")
    if parts.fragment:
        raise error(f"the {what} {url!r} must not have a #fragment")
    if any(c.isspace() for c in url.strip()):
        raise error(f"the {what} {url!r} contains white space")
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower().rstrip(".")
    return Target(url=url.strip(), scheme=parts.scheme, host=host, port=port or default)


@dataclass(frozen=True)
class Purpose:
    """What a policy guards, for its messages: the thing called, the settings that allow it, the
    error raised."""

    what: str = "webhook target"
    url: str = "webhook URL"
    settings: str = "SHOPFLOOR_WEBHOOK_ALLOWED_HOSTS, SHOPFLOOR_WEBHOOK_ALLOWED_NETWORKS"
    enabled: str = "webhooks are not enabled on this server"
    error: type[TargetNotAllowed] = TargetNotAllowed


class EgressPolicy:
    """The operator's allowed hosts and networks, and the checks of a target against them."""

    def __init__(
        self,
        hosts: Sequence[str],
        networks: Sequence[IPNetwork],
        resolver: Resolver = resolve,
        purpose: Purpose = Purpose(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        self.hosts = tuple(h.lower().rstrip(".") for h in hosts)
        self.networks = tuple(networks)
        self.resolver = resolver
        self.purpose = purpose

    @property
    def allows_any(self) -> bool:
        return bool(self.hosts or self.networks)

    def named(self, host: str) -> bool:
        """Whether the operator names ``host`` (exactly, or under a ``*.`` entry)."""
        for allowed in self.hosts:
            if allowed.startswith("*."):
                if host.endswith(allowed[1:]) and len(host) > len(allowed) - 1:
                    return True
            elif host == allowed:
                return True
        return False

    def _in_networks(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)

    def _refusal(self, target: Target, address: IPAddress) -> str | None:
        """Why ``address`` (of ``target``) may not be called, or None when it may."""
        if self._in_networks(address):
            return None
        if target.literal is None and self.named(target.host):
            if not _special(address):
                return None
            return f"{target.host} resolves to {address}, a loopback, link-local or reserved address"
        if target.literal is not None:
            return f"{address} is outside the allowed networks"
        return f"{target.host} is not an allowed host and resolves to {address}, outside the allowed networks"

    def check(self, url: str) -> Target:
        """A target's checks when a rule is stored: an allowed host, or (after resolving it now)
        addresses in allowed networks. TargetNotAllowed (422) says which and why."""
        p = self.purpose
        target = parse_target(url, p.url, p.error)
        if not self.allows_any:
            raise p.error(
                f"{p.enabled}: its operator allows no target host or network ({p.settings})"
            )
        if target.literal is None and self.named(target.host):
            return target
        try:
            self.addresses(target)
        except OSError as exc:
            raise p.error(
                f"{p.what} {target.display} is not an allowed host name and does not resolve "
                f"here ({exc}), so its addresses cannot be checked against the allowed networks"
            ) from None
        return target

    def addresses(self, target: Target) -> list[IPAddress]:
        """The addresses to call ``target`` at, each checked; TargetNotAllowed if any is refused,
        OSError if the name does not resolve (now: it may later)."""
        found = [target.literal] if target.literal is not None else self.resolver(target.host, target.port)
        for address in found:
            why = self._refusal(target, address)
            if why is not None:
                raise self.purpose.error(
                    f"{self.purpose.what} {target.display} is not allowed: {why}; the operator allows hosts "
                    f"{list(self.hosts) or 'none'} and networks {[str(n) for n in self.networks] or 'none'}"
                )
        return found
