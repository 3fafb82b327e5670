"""himaya.migrations.object_filter: what autogenerate compares."""

import sqlalchemy as sa

from himaya.migrations import object_filter


def table(name, *, schema="cases", comment=None):
    return sa.Table(name, sa.MetaData(), sa.Column("id", sa.Integer), schema=schema, comment=comment)


class TestObjectFilter:
    def test_a_hand_maintained_table_only_in_the_database_is_left_alone(self):
        keep = object_filter("cases")
        t = table("stats_case_facts", comment="maintained by hand (triggers of migration 1)")
        assert keep(t, t.name, "table", True, None) is False

    def test_a_table_only_in_the_database_without_the_comment_is_still_compared(self):
        keep = object_filter("cases")
        t = table("leftover", comment="something else")
        assert keep(t, t.name, "table", True, None) is True
        assert keep(table("plain"), "plain", "table", True, None) is True

    def test_a_declared_table_is_compared_whatever_its_comment(self):
        keep = object_filter("cases")
        t = table("cases", comment="maintained by hand")
        assert keep(t, t.name, "table", False, None) is True
        assert keep(t, t.name, "table", True, t) is True

    def test_tables_of_other_schemas_are_ignored(self):
        keep = object_filter("cases")
        t = table("users", schema="identity")
        assert keep(t, t.name, "table", True, None) is False
        assert keep(t, "ix", "index", True, None) is True
