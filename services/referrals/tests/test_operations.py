"""The operational endpoints and database-role limits every service has."""

from himaya_dev.testing.contracts import OperationsContract


class TestOperations(OperationsContract):
    service = "referrals"
