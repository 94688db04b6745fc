"""RateLimitState: shared through the Django cache, driven by a fake clock (no sleeping, no network)."""

from datetime import UTC, datetime

import pytest

from papertrading.binance import BinanceRateLimited, RateLimitState
from papertrading.tests.fake_clock import FakeClock

# 2025-07-20T08:00:30Z: half-way through a minute, so the 1-minute window resets in 30 s.
NOW = 1752998430.0


@pytest.fixture
def clock():
    return FakeClock(NOW)


@pytest.fixture
def state(clock):
    return RateLimitState(clock=clock, sleep=clock.sleep, max_wait_seconds=2.0)


def test_status_starts_unpaused_with_default_limits(state):
    status = state.status()
    assert status["paused"] is False and status["banned"] is False and status["until"] is None
    assert (status["weight_limit_1m"], status["order_limit_10s"], status["order_limit_1d"]) == (6000, 50, 160000)
    assert status["used_weight_1m"] == 0 and status["order_count_10s"] == 0


def test_usage_headers_are_parsed_case_insensitively_and_shared_between_instances(state, clock):
    state.record_headers(
        {
            "Content-Type": "application/json",
            "x-mbx-used-weight": "27",
            "X-MBX-USED-WEIGHT-1M": "27",
            "x-mbx-order-count-10s": "3",
            "X-MBX-ORDER-COUNT-1D": "41",
        }
    )

    other = RateLimitState(clock=clock)  # another process reading the same cache
    status = other.status()
    assert (status["used_weight_1m"], status["order_count_10s"], status["order_count_1d"]) == (27, 3, 41)
    assert status["updated_at"] == datetime.fromtimestamp(NOW, UTC)


def test_counts_from_an_earlier_window_no_longer_count(state, clock):
    state.record_headers({"X-MBX-USED-WEIGHT-1M": "5900", "X-MBX-ORDER-COUNT-10S": "49"})

    clock.now += 30  # next minute, and a later 10-second window

    status = state.status()
    assert status["used_weight_1m"] == 0 and status["order_count_10s"] == 0


def test_request_that_would_exceed_weight_far_from_reset_is_refused_without_sleeping(state, clock):
    state.record_headers({"X-MBX-USED-WEIGHT-1M": "5990"})

    with pytest.raises(BinanceRateLimited) as info:
        state.before_request(weight=20)

    assert info.value.retry_after_seconds == pytest.approx(30)
    assert clock.sleeps == []
    state.before_request(weight=10)  # still fits exactly


def test_request_waits_briefly_when_the_window_resets_within_max_wait(state, clock):
    clock.now = 1752998458.5  # 1.5 s before the minute ends
    state.record_headers({"X-MBX-USED-WEIGHT-1M": "6000"})

    state.before_request(weight=1)

    assert clock.sleeps == [pytest.approx(1.5)]


def test_order_count_limit_only_gates_orders(state, clock):
    clock.now = 1752998423.0  # 7 s before the 10-second window resets: longer than max wait
    state.record_headers({"X-MBX-ORDER-COUNT-10S": "50"})

    state.before_request(weight=4, is_order=False)
    with pytest.raises(BinanceRateLimited) as info:
        state.before_request(weight=1, is_order=True)
    assert info.value.scope == "orders"


def test_limits_from_exchange_info_replace_defaults(state):
    state.update_limits(
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
        ]
    )
    state.record_headers({"X-MBX-USED-WEIGHT-1M": "1190"})

    assert state.limits() == {"REQUEST_WEIGHT": {"1M": 1200}, "ORDERS": {"10S": 100, "1D": 200000}}
    with pytest.raises(BinanceRateLimited):
        state.before_request(weight=20)


def test_429_pause_blocks_every_instance_until_retry_after_has_passed(state, clock):
    error = state.record_rate_limited("30", banned=False, msg="Too much request weight used")

    assert error.retry_after_seconds == 30 and error.banned is False and error.http_status == 429
    other = RateLimitState(clock=clock)
    with pytest.raises(BinanceRateLimited) as info:
        other.before_request(weight=1)
    assert info.value.until == datetime.fromtimestamp(NOW + 30, UTC)
    assert other.paused_until() == datetime.fromtimestamp(NOW + 30, UTC)

    clock.now += 30.5
    other.before_request(weight=1)
    assert other.status()["paused"] is False and other.paused_until() is None


def test_418_ban_is_reported_as_banned_and_not_shortened_by_a_later_429(state, clock):
    state.record_rate_limited("120", banned=True, msg="IP banned until 1752998550000")
    state.record_rate_limited("10", banned=False)

    status = state.status()
    assert status["paused"] is True and status["banned"] is True
    assert status["until"] == datetime.fromtimestamp(NOW + 120, UTC)
    with pytest.raises(BinanceRateLimited) as info:
        state.before_request(weight=1, is_order=True)
    assert info.value.banned is True


def test_418_without_retry_after_uses_the_banned_until_time_from_the_message(state):
    error = state.record_rate_limited(
        None, banned=True, msg="Way too much request weight used; IP banned until 1752999030000."
    )

    assert error.retry_after_seconds == pytest.approx(600)


def test_429_without_retry_after_pauses_for_a_minute(state):
    assert state.record_rate_limited(None, banned=False).retry_after_seconds == 60


def test_order_only_pause_leaves_reads_alone(state):
    state.record_rate_limited("5", banned=False, orders_only=True)

    state.before_request(weight=1, is_order=False)
    with pytest.raises(BinanceRateLimited):
        state.before_request(weight=1, is_order=True)
    status = state.status()
    assert status["paused"] is False and status["orders_paused"] is True


def test_clear_pause_forgets_recorded_pauses(state):
    state.record_rate_limited("30", banned=True)
    state.clear_pause()
    state.before_request(weight=1, is_order=True)
