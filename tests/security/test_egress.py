"""The webhook egress policy: nothing by default, named hosts, networks, and the addresses a name
resolves to checked every time (a name that resolves elsewhere later is refused then)."""

from __future__ import annotations

import ipaddress

import pytest

from shopfloor.errors import TargetNotAllowed
from shopfloor.security.egress import EgressPolicy, IPAddress, parse_target

NETS = [ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("127.0.0.1/32")]


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[IPAddress]:
        if host not in table:
            raise OSError(f"{host}: name does not resolve")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


def test_nothing_is_allowed_by_default() -> None:
    with pytest.raises(TargetNotAllowed, match="allows no target host or network"):
        EgressPolicy([], []).check("https://hooks.example.com/x")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https:///x",
        "https://h.example.com/x#frag",
        "http://a b/",
    ],
)
def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(TargetNotAllowed):
        parse_target(url)


def test_named_hosts_and_their_subdomains() -> None:
    policy = EgressPolicy(["hooks.example.com", "*.plant.local"], [], resolver({}))
    assert policy.check("https://hooks.example.com/T0K3N").display == "hooks.example.com:443"
    assert policy.check("http://alerts.plant.local:8080/x").display == "alerts.plant.local:8080"
    for url in ("https://example.com/x", "https://plant.local/x", "https://evilhooks.example.com/x"):
        with pytest.raises(TargetNotAllowed):
            policy.check(url)


def test_a_named_host_may_not_resolve_to_loopback_or_link_local() -> None:
    table = {
        "hooks.example.com": ["10.1.2.3"],
        "meta.example.com": ["169.254.169.254"],
        "lo.example.com": ["::1"],
    }
    policy = EgressPolicy(["*.example.com"], [], resolver(table))
    target = policy.check("https://hooks.example.com/x")
    assert policy.addresses(target) == [ipaddress.ip_address("10.1.2.3")]
    for host in ("meta.example.com", "lo.example.com"):
        with pytest.raises(TargetNotAllowed, match="loopback, link-local or reserved"):
            policy.addresses(policy.check(f"https://{host}/x"))


def test_other_hosts_must_resolve_into_allowed_networks_every_time() -> None:
    table = {"recv.internal": ["10.20.1.5"]}
    policy = EgressPolicy([], NETS, resolver(table))
    target = policy.check("http://recv.internal/hook")
    assert policy.addresses(target) == [ipaddress.ip_address("10.20.1.5")]
    table["recv.internal"] = ["10.20.1.5", "192.168.1.1"]  # rebinding: one address outside
    with pytest.raises(TargetNotAllowed, match="192.168.1.1"):
        policy.addresses(target)
    with pytest.raises(TargetNotAllowed, match="does not resolve"):
        policy.check("http://unknown.internal/hook")
    del table["recv.internal"]
    with pytest.raises(OSError):  # at delivery: retried later, not refused
        policy.addresses(target)


def test_address_literals_need_an_allowed_network() -> None:
    policy = EgressPolicy(["hooks.example.com"], NETS, resolver({}))
    assert policy.check("http://127.0.0.1:9000/x").display == "127.0.0.1:9000"
    assert policy.check("http://[::ffff:10.20.0.9]/x").literal == ipaddress.ip_address("10.20.0.9")
    for url in ("http://127.0.0.2/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data"):
        with pytest.raises(TargetNotAllowed, match="outside the allowed networks"):
            policy.check(url)
