"""The development stack tells each process where the others listen."""

from himaya.devstack import SECRET_SIZES, StackConfig, ports_in_use, random_secrets


class TestStackEnvironment:
    def test_referrals_is_told_where_cases_and_identity_listen(self):
        config = StackConfig(admin_url="postgresql://u:p@127.0.0.1:5432/himaya",
                             ports={"identity": 41001, "cases": 41002, "referrals": 41003, "gateway": 41000},
                             secrets=random_secrets())
        env = config.env()
        assert env["REFERRALS_CASES_URL"] == "http://127.0.0.1:41002"
        assert env["REFERRALS_IDENTITY_URL"] == "http://127.0.0.1:41001"
        assert env["REFERRALS_EVENTS_SECRET"] == env["CASES_EVENTS_SECRET"]

    def test_every_secret_is_generated(self):
        assert set(random_secrets()) == set(SECRET_SIZES)

    def test_ports_come_from_the_environment(self, monkeypatch):
        monkeypatch.setenv("GATEWAY_PORT", "18000")
        config = StackConfig(admin_url="postgresql://u:p@127.0.0.1:5432/himaya", secrets=random_secrets())
        assert config.ports["gateway"] == 18000 and config.ports["cases"] == 8002
        assert config.env()["GATEWAY_PORT"] == "18000"

    def test_a_busy_port_is_reported(self):
        import socket

        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            config = StackConfig(admin_url="postgresql://u:p@127.0.0.1:5432/himaya", secrets=random_secrets(),
                                 ports={"identity": port, "cases": 1, "referrals": 2, "gateway": 3})
            assert ports_in_use(config) == [f"identity ({port})"]
