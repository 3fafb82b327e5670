"""The development stack tells each process where the others listen."""

from himaya.devstack import StackConfig


class TestStackEnvironment:
    def test_referrals_is_told_where_cases_and_identity_listen(self):
        config = StackConfig(admin_url="postgresql://u:p@127.0.0.1:5432/himaya",
                             ports={"identity": 41001, "cases": 41002, "referrals": 41003, "gateway": 41000},
                             secrets={"identity_db_password": "a", "cases_db_password": "b",
                                      "referrals_db_password": "c", "admin_password": "d",
                                      "key_encryption_key": "e", "events_secret": "f", "field_key": "g",
                                      "blind_index_key": "h"})
        env = config.env()
        assert env["REFERRALS_CASES_URL"] == "http://127.0.0.1:41002"
        assert env["REFERRALS_IDENTITY_URL"] == "http://127.0.0.1:41001"
        assert env["REFERRALS_EVENTS_SECRET"] == env["CASES_EVENTS_SECRET"]
