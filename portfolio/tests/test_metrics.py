"""The performance formulas of portfolio.metrics: worked numbers, then invariants over random equity series."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio import metrics

EIGHT = D("0.00000001")
DAY = timedelta(days=1)
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# Equity amounts as the desk stores them: positive, 8 decimals.
EQUITY = st.decimals(min_value=D("0.01"), max_value=D("100000000"), places=8, allow_nan=False, allow_infinity=False)
REALIZED = st.one_of(st.none(), st.decimals(min_value=D("-1000"), max_value=D("1000"), places=8))


# --- worked numbers ---------------------------------------------------------------------------------------------


def test_return_is_total_pnl_over_starting_equity():
    assert metrics.total_return(D("-1.55"), D("10000")) == D("-0.00015500")
    assert metrics.total_return(D("99.4"), D("6000")) == D("0.01656667")  # 0.016566666… rounded half to even
    assert metrics.total_return(D("5"), D("0")) is None


def test_max_drawdown_is_the_largest_fall_from_a_peak_as_a_fraction_of_it():
    # Peak 110 → 99 is 10 %; the later fall 108.9 → 105 from the same peak 110 is smaller (4.5 %).
    assert metrics.max_drawdown([D("100"), D("110"), D("99"), D("108.9"), D("105")]) == D("0.10000000")
    # A new high resets the peak: 100 → 90 (10 %), then 200 → 150 (25 %).
    assert metrics.max_drawdown([D("100"), D("90"), D("200"), D("150")]) == D("0.25000000")


def test_max_drawdown_is_zero_when_equity_never_falls_or_there_is_none():
    assert metrics.max_drawdown([D("100"), D("100"), D("101")]) == D("0")
    assert metrics.max_drawdown([D("100")]) == D("0")
    assert metrics.max_drawdown([]) == D("0")


def test_daily_closes_keep_the_last_equity_of_each_utc_day():
    points = [
        (START, D("100")),
        (START + timedelta(hours=11, minutes=59), D("101")),  # 23:59 UTC: the day's close
        (START + timedelta(hours=12), D("90")),  # 00:00 UTC the next day
        (datetime(2025, 3, 2, 23, 30, tzinfo=UTC) + timedelta(hours=1), D("95")),  # 00:30 on the 3rd
    ]

    assert metrics.daily_closes(points) == [
        (datetime(2025, 3, 1).date(), D("101")),
        (datetime(2025, 3, 2).date(), D("90")),
        (datetime(2025, 3, 3).date(), D("95")),
    ]


def test_daily_closes_count_days_in_utc_whatever_the_zone_of_the_moment():
    tokyo = datetime(2025, 3, 2, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 23:30 UTC on the 1st
    new_york = datetime(2025, 3, 1, 19, 30, tzinfo=ZoneInfo("America/New_York"))  # 00:30 UTC on the 2nd

    closes = metrics.daily_closes([(tokyo, D("1")), (new_york, D("2"))])

    assert closes == [(datetime(2025, 3, 1).date(), D("1")), (datetime(2025, 3, 2).date(), D("2"))]


def test_sharpe_is_mean_over_sample_stdev_of_daily_returns_times_root_365():
    # Daily closes 100, 110, 99, 108.9: returns +10 %, -10 %, +10 %. Mean 1/30, sample variance
    # ((1/15)² · 2 + (2/15)²) / 2 = 1/75, so Sharpe = (1/30) · √75 · √365 = √27375 / 30 = 5.51513…
    closes = [D("100"), D("110"), D("99"), D("108.9")]

    returns = metrics.daily_returns(closes)

    assert returns == [D("0.1"), D("-0.1"), D("0.1")]
    assert metrics.sharpe_ratio(returns) == (D(27375).sqrt() / 30).quantize(EIGHT)


def test_sharpe_needs_two_returns_and_some_variation():
    assert metrics.sharpe_ratio([]) is None
    assert metrics.sharpe_ratio([D("0.05")]) is None
    # Two equal moves: no variation, no ratio (rather than a division by zero).
    assert metrics.sharpe_ratio(metrics.daily_returns([D("100"), D("110"), D("121")])) is None


def test_equity_metrics_read_the_series_by_utc_day():
    # Three points on day 1 (the last one, 104, is its close), then one a day: closes 104, 99.84, 104.832.
    points = [
        (START, D("100")),
        (START + timedelta(hours=1), D("120")),
        (START + timedelta(hours=2), D("104")),
        (START + DAY, D("99.84")),
        (START + 2 * DAY, D("104.832")),
    ]

    drawdown, sharpe = metrics.equity_metrics(points)

    # Intraday peak 120 → 99.84 is the worst fall: 20.16 / 120 = 16.8 %.
    assert drawdown == D("0.16800000")
    # Returns -4 %, +5 %: mean 0.005, sample stdev √(2 · 0.045²) = 0.045√2.
    expected = (D("0.005") / (D("0.045") * D(2).sqrt()) * D(365).sqrt()).quantize(EIGHT)
    assert sharpe == expected


def test_win_rate_counts_sells_with_a_gain_among_sells():
    # Buys realize nothing (None); a sell at exactly its cost (0) is not a win.
    assert metrics.win_rate([None, D("48.95"), None, D("-50"), D("0")]) == D("0.33333333")
    assert metrics.win_rate([D("1"), D("2")]) == D("1.00000000")
    assert metrics.win_rate([None, None]) is None
    assert metrics.win_rate([]) is None
    assert metrics.win_rate_of(wins=1, sells=4) == D("0.25000000")


# --- invariants ---------------------------------------------------------------------------------------------------


def brute_force_drawdown(equities: list[D]) -> Fraction:
    """max over i ≤ j of (E_i − E_j) / E_i, exactly."""
    worst = Fraction(0)
    for i, peak in enumerate(equities):
        for later in equities[i:]:
            worst = max(worst, (Fraction(peak) - Fraction(later)) / Fraction(peak))
    return worst


@settings(max_examples=200, deadline=None)
@given(st.lists(EQUITY, min_size=1, max_size=30))
def test_max_drawdown_is_the_worst_fall_between_any_point_and_a_later_one(equities):
    drawdown = metrics.max_drawdown(equities)

    assert D(0) <= drawdown <= 1  # a fall to almost nothing may round up to 1
    exact = brute_force_drawdown(equities)
    assert abs(Fraction(drawdown) - exact) <= Fraction(1, 2 * 10**8)


@settings(max_examples=100, deadline=None)
@given(st.lists(EQUITY, min_size=1, max_size=30))
def test_a_series_that_never_falls_has_no_drawdown(equities):
    assert metrics.max_drawdown(sorted(equities)) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(EQUITY, min_size=3, max_size=20), st.integers(min_value=1, max_value=1000))
def test_sharpe_does_not_depend_on_the_size_of_the_account(closes, factor):
    # Ten times the money making the same moves has the same returns, so the same ratio.
    scaled = [close * factor for close in closes]

    assert metrics.sharpe_ratio(metrics.daily_returns(scaled)) == metrics.sharpe_ratio(metrics.daily_returns(closes))


@settings(max_examples=200, deadline=None)
@given(st.lists(EQUITY, min_size=3, max_size=20))
def test_sharpe_agrees_with_exact_arithmetic_and_takes_the_sign_of_the_mean_return(closes):
    returns = metrics.daily_returns(closes)
    sharpe = metrics.sharpe_ratio(returns)

    exact = [Fraction(r) for r in returns]
    mean = sum(exact) / len(exact)
    variance = sum((r - mean) ** 2 for r in exact) / (len(exact) - 1)
    if variance == 0:
        assert sharpe is None
        return
    expected = (
        D(mean.numerator)
        / D(mean.denominator)
        / (D(variance.numerator) / D(variance.denominator)).sqrt()
        * D(365).sqrt()
    )
    assert abs(sharpe - expected) <= EIGHT
    assert (sharpe > 0) == (mean > 0) or sharpe == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(EQUITY, min_size=2, max_size=20))
def test_daily_returns_compound_back_to_the_whole_move(closes):
    returns = [Fraction(r) for r in metrics.daily_returns(closes)]
    growth = Fraction(1)
    for r in returns:
        growth *= 1 + r

    whole = Fraction(closes[-1]) / Fraction(closes[0])
    # Each return is off by at most half a 12th decimal, i.e. its factor by that much relative to itself; the
    # errors add up (twice the first-order bound leaves room for their products).
    tolerance = 2 * sum(Fraction(1, 2 * 10**12) / (1 + r) for r in returns)
    assert abs(growth - whole) <= whole * tolerance


@settings(max_examples=200, deadline=None)
@given(st.lists(REALIZED, max_size=40))
def test_win_rate_is_a_share_of_the_sells(realized):
    rate = metrics.win_rate(realized)

    sells = [r for r in realized if r is not None]
    if not sells:
        assert rate is None
        return
    assert D(0) <= rate <= 1
    wins = sum(1 for r in sells if r > 0)
    assert abs(Fraction(rate) - Fraction(wins, len(sells))) <= Fraction(1, 2 * 10**8)


@settings(max_examples=200, deadline=None)
@given(EQUITY, st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=8))
def test_return_grows_the_starting_equity_into_the_equity(starting, pnl):
    rate = metrics.total_return(pnl, starting)

    # starting × (1 + return) = starting + P&L, up to the return's rounding (half an 8th decimal of the start).
    assert abs(starting * (1 + rate) - (starting + pnl)) <= starting * EIGHT / 2
