"""Release tags in version order: the previous release of a tag."""

from __future__ import annotations

import pytest

from spectral_deploy.providers.versions import previous_version, version_key

TAGS = ["v1.9.0", "v1.10.0", "v1.10.1-rollback", "v1.10.1", "v2.0.0-rc.1", "docs", "v1.2"]


@pytest.mark.parametrize(
    ("tag", "previous"),
    [
        ("v1.10.1", "v1.10.0"),  # a rollback tag re-deploys older code: never a release
        ("v1.10.1-rollback", "v1.10.0"),
        ("v1.10.0", "v1.9.0"),  # numbers compare as numbers: 10 > 9
        ("v2.0.0-rc.1", "v1.10.1"),
        ("v2.0.0", "v2.0.0-rc.1"),
        ("v1.2", None),
    ],
)
def test_previous_in_version_order(tag: str, previous: str | None) -> None:
    """The greatest release tag below the given one, numbers numerically, pre-releases first,
    rollback tags left out (git, GitHub and the fake all answer from here)."""
    assert previous_version(tag, TAGS) == previous


def test_pattern_filters_candidates() -> None:
    """Only tags matching the pattern count (v*: not release-*)."""
    assert previous_version("v3.0.0", ["release-2.9.0", "v2.0.0"], "v*") == "v2.0.0"
    assert previous_version("v3.0.0", ["release-2.9.0", "v2.0.0"], "release-*") == "release-2.9.0"


def test_non_versions_are_ignored() -> None:
    """Tags without a version never sort anywhere."""
    assert version_key("docs") is None
    assert version_key("latest") is None
    assert previous_version("docs", TAGS) is None


def test_semver_prerelease_ordering() -> None:
    """rc.2 < rc.10 (numeric identifiers) and alpha < beta; numeric before alphanumeric."""
    keys = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0"]
    ordered = sorted(keys, key=lambda t: version_key(t) or ((), False, ()))
    assert ordered == keys
    assert version_key("1.0.0-1") < version_key("1.0.0-a")  # type: ignore[operator]


def test_build_metadata_and_trailing_zeros_do_not_change_the_version() -> None:
    """v1.2 and v1.2.0+build.5 are the same version."""
    assert version_key("v1.2") == version_key("v1.2.0+build.5")
