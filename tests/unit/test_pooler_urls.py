"""Which pooler a database URL reaches, from its host and port alone."""

from __future__ import annotations

import pytest

from spectral_deploy.db.pooler import Pooling, classify, is_pooled, supabase_direct

REF = "abcdefghijklmnopqrst"


@pytest.mark.parametrize(
    ("url", "pooling"),
    [
        (
            f"postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres",
            Pooling.TRANSACTION,
        ),
        (
            f"postgresql://postgres.{REF}:pw@aws-0-eu-west-1.pooler.supabase.com:5432/postgres",
            Pooling.SESSION,
        ),
        (
            f"postgresql://postgres.{REF}@AWS-0-EU-WEST-1.POOLER.SUPABASE.COM/postgres",
            Pooling.SESSION,
        ),
        ("postgresql://app@db.internal:6543/app", Pooling.TRANSACTION),
        (
            "postgresql://app@ep-cool-name-123456-pooler.eu-central-1.aws.neon.tech/app",
            Pooling.TRANSACTION,
        ),
        (f"postgresql://postgres:pw@db.{REF}.supabase.co:5432/postgres", Pooling.DIRECT),
        ("host=db.internal port=6543 dbname=app user=app", Pooling.TRANSACTION),
        ("postgresql://postgres@/spectral?host=/tmp/sock&port=5432", Pooling.DIRECT),
    ],
)
def test_classify(url: str, pooling: Pooling) -> None:
    """Port 6543 and Neon's -pooler hosts are transaction poolers; Supabase's pooler host on
    another port is its session pooler; everything else is direct until the server says."""
    assert classify(url) is pooling
    assert is_pooled(url) is (pooling is not Pooling.DIRECT)


def test_supabase_direct_host_is_recognised() -> None:
    """db.<ref>.supabase.co is the IPv6-only direct host (without the IPv4 add-on)."""
    assert supabase_direct(f"postgresql://postgres@db.{REF}.supabase.co:5432/postgres")
    assert not supabase_direct("postgresql://p@aws-0-eu-west-1.pooler.supabase.com/postgres")
