"""The development stack tells each process where the others listen."""

from himaya_dev.devstack import SECRET_SIZES, StackConfig, ports_in_use, random_secrets


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


class TestSettingsReadWhenAsked:
    """Nothing is read from the environment at import: a caller may set it after importing."""

    def test_data_dir_and_port_follow_the_environment_after_import(self, monkeypatch, tmp_path):
        from himaya_dev import devstack

        monkeypatch.setenv("HIMAYA_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("HIMAYA_PG_PORT", "54999")
        assert devstack.data_dir() == tmp_path
        assert devstack.pg_port() == 54999
        monkeypatch.delenv("HIMAYA_DATA_DIR")
        monkeypatch.delenv("HIMAYA_PG_PORT")
        assert devstack.data_dir() == devstack.ROOT / ".data"
        assert devstack.pg_port() == 54329

    def test_dev_secrets_live_in_the_data_dir_of_the_moment(self, monkeypatch, tmp_path):
        from himaya_dev import devstack

        monkeypatch.setenv("HIMAYA_DATA_DIR", str(tmp_path))
        assert devstack.dev_secrets() == devstack.dev_secrets(tmp_path)
        assert (tmp_path / "dev-secrets.json").exists()

    def test_the_checkout_root_is_the_repository(self):
        from himaya_dev import devstack

        assert (devstack.ROOT / "tools" / "himaya-dev" / "pyproject.toml").exists()
