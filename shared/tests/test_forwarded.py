"""The client's address behind proxies: only trusted hops are walked, from the right."""

import pytest

from himaya.forwarded import TrustedProxies, client_address, parse_address

GATEWAY = TrustedProxies(["10.0.0.10/32"])
GATEWAY_AND_BALANCER = TrustedProxies(["10.0.0.10/32", "192.0.2.0/28", "2001:db8:ff::/48"])


class TestClientAddress:
    def test_an_untrusted_peer_is_the_client_whatever_it_forwards(self):
        assert client_address("203.0.113.5", ["198.51.100.1"], GATEWAY) == "203.0.113.5"

    def test_a_trusted_peer_names_the_client(self):
        assert client_address("10.0.0.10", ["203.0.113.5"], GATEWAY) == "203.0.113.5"

    def test_what_the_client_wrote_to_the_left_is_never_reached(self):
        # The client sent "X-Forwarded-For: 1.2.3.4"; the balancer appended the client's real address.
        hops = ["1.2.3.4, 203.0.113.5, 192.0.2.3"]
        assert client_address("10.0.0.10", hops, GATEWAY_AND_BALANCER) == "203.0.113.5"

    def test_several_headers_are_one_list_in_order(self):
        assert client_address("10.0.0.10", ["1.2.3.4", "203.0.113.5"], GATEWAY) == "203.0.113.5"

    def test_a_trusted_peer_without_header_is_the_client(self):
        assert client_address("10.0.0.10", [], GATEWAY) == "10.0.0.10"

    def test_a_garbage_hop_stops_at_the_proxy_that_wrote_it(self):
        assert client_address("10.0.0.10", ["203.0.113.5, not-an-address"], GATEWAY) == "10.0.0.10"

    def test_nothing_trusted_means_the_peer(self):
        assert client_address("127.0.0.1", ["203.0.113.5"], TrustedProxies(())) == "127.0.0.1"

    def test_ipv6_ranges_and_mapped_addresses(self):
        assert client_address("2001:db8:ff:1::2", ["2001:db8:1::7"], GATEWAY_AND_BALANCER) == "2001:db8:1::7"
        assert client_address("::ffff:10.0.0.10", ["203.0.113.5"], GATEWAY) == "203.0.113.5"

    @pytest.mark.parametrize(("written", "address"), [
        ("[2001:db8::1]", "2001:db8::1"), ("fe80::1%eth0", "fe80::1"), ("::ffff:192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1")])
    def test_addresses_are_normalised(self, written, address):
        assert str(parse_address(written)) == address
