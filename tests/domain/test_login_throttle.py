"""The rule that turns failed logins into a wait, shared by the database and Redis stores."""

from __future__ import annotations

from app.domain.login_throttle import ThrottleLimits, seconds_to_wait


def test_fewer_failures_than_the_limit_never_wait() -> None:
    assert seconds_to_wait([], 3, 900, 10_000.0) is None
    assert seconds_to_wait([9_990.0, 9_980.0], 3, 900, 10_000.0) is None


def test_failures_older_than_the_window_do_not_count() -> None:
    assert seconds_to_wait([9_990.0, 9_980.0, 9_000.0], 3, 900, 10_000.0) is None


def test_the_wait_ends_when_the_oldest_counted_failure_leaves_the_window() -> None:
    # The third newest failure, 100 s ago, leaves a 900 s window in 800 s.
    assert seconds_to_wait([9_990.0, 9_950.0, 9_900.0, 9_800.0], 3, 900, 10_000.0) == 801


def test_a_wait_is_never_zero() -> None:
    assert seconds_to_wait([9_999.9, 9_999.5, 9_100.01], 3, 900, 10_000.0) == 1


def test_an_account_may_fail_ten_times_its_pair_limit_from_anywhere() -> None:
    limits = ThrottleLimits.of(5, 20, 900)
    assert (limits.per_pair, limits.per_address, limits.per_account) == (5, 20, 50)
