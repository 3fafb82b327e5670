"""The operational endpoints and database-role limits every service has."""

from himaya.testing.contracts import OperationsContract


class TestOperations(OperationsContract):
    service = "identity"
