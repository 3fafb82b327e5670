"""The development stack tells each process where the others listen."""

from himaya.devstack import SECRET_SIZES, StackConfig, random_secrets


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
