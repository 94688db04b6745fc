"""Performance figures of an account's P&L period, on exact decimals (no float anywhere).

The equity series of a period is the starting equity at the moment the period began, then every equity snapshot
of the period, then the equity now (cash plus the positions at the last prices). From it and the period's ledger:

- **Return** = total P&L / starting equity. Total P&L = realized + unrealized P&L of the period, fees included;
  the starting equity is what the account held when the period began, valued at that moment's prices. None when
  the starting equity is not above zero.
- **Maximum drawdown** = the largest fall of equity from a peak to a later trough, as a fraction of that peak:
  max over t of (peak_t − equity_t) / peak_t, where peak_t is the highest equity of the series up to t. 0 when
  equity never fell; 0.25 means a quarter of the peak was lost before any new high.
- **Sharpe ratio** (annualised, risk-free rate zero) = mean(daily returns) / s × √365, where s is the sample
  standard deviation √(Σ(r − mean)² / (n − 1)). The daily equity is the last equity of each UTC day in the
  series; a daily return is r_d = equity_d / equity_(d−1) − 1 between consecutive days that have a value (a day
  without one is skipped, so its move counts in the next return). Returns are rounded to 12 decimals, so moves
  that are equal count as equal. None with fewer than 2 returns or when s is zero. √365: crypto trades every day.
- **Win rate** = winning sells / sells with a realized P&L, a winning sell being one whose realized P&L is above
  zero (a sell at exactly its average cost does not win). None without sells.

Ratios are given as fractions (0.0125 = 1.25 %) rounded to 8 decimals.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

RATIO_PLACES = Decimal("0.00000001")
RETURN_PLACES = Decimal("0.000000000001")
DAYS_PER_YEAR = 365
ZERO = Decimal("0")
# Enough digits that no ratio of the desk's amounts (at most 20 digits) loses any before it is rounded.
PRECISION = 60


def ratio(value: Decimal) -> Decimal:
    """`value` rounded to RATIO_PLACES (half to even), whatever its size."""
    with localcontext() as context:
        context.prec = PRECISION
        return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_EVEN)


def total_return(total_pnl: Decimal, starting_equity: Decimal) -> Decimal | None:
    if starting_equity <= 0:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return ratio(total_pnl / starting_equity)


def max_drawdown(equities: Iterable[Decimal]) -> Decimal:
    """The largest peak-to-trough fall as a fraction of the peak (peaks at or below zero have nothing to lose)."""
    peak: Decimal | None = None
    worst = ZERO
    with localcontext() as context:
        context.prec = PRECISION
        for equity in equities:
            if peak is None or equity > peak:
                peak = equity
            elif peak > 0:
                worst = max(worst, (peak - equity) / peak)
    return ratio(worst)


def fall_from(peak: Decimal, equity: Decimal) -> Decimal:
    """(peak − equity) / peak: how far `equity` is below a peak, as a fraction (0 at or above it, or when the peak
    is at or below zero)."""
    if peak <= 0 or equity >= peak:
        return ZERO
    with localcontext() as context:
        context.prec = PRECISION
        return ratio((peak - equity) / peak)


def daily_closes(points: Iterable[tuple[datetime, Decimal]]) -> list[tuple[date, Decimal]]:
    """The last equity of each UTC day, oldest day first. `points` in time order (a later point of the same
    moment wins)."""
    closes: dict[date, Decimal] = {}
    for moment, equity in points:
        closes[moment.astimezone(UTC).date()] = equity
    return sorted(closes.items())


def daily_returns(closes: Iterable[Decimal]) -> list[Decimal]:
    """equity_d / equity_(d-1) − 1 for consecutive closes, rounded to RETURN_PLACES; a close at or below zero
    starts no return (there is nothing to return on)."""
    returns = []
    previous: Decimal | None = None
    with localcontext() as context:
        context.prec = PRECISION
        for close in closes:
            if previous is not None and previous > 0:
                returns.append((close / previous - 1).quantize(RETURN_PLACES, rounding=ROUND_HALF_EVEN))
            previous = close
    return returns


def sharpe_ratio(returns: list[Decimal]) -> Decimal | None:
    """mean / sample standard deviation × √365 of daily returns; None with fewer than 2 or no variation."""
    count = len(returns)
    if count < 2:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        mean = sum(returns, ZERO) / count
        variance = sum(((r - mean) ** 2 for r in returns), ZERO) / (count - 1)
        if not variance:
            return None
        return ratio(mean / variance.sqrt() * Decimal(DAYS_PER_YEAR).sqrt())


def win_rate(realized: Iterable[Decimal | None]) -> Decimal | None:
    """Winning sells / sells, from the realized P&L of the trades (None for a buy, which realizes nothing)."""
    sells = wins = 0
    for pnl in realized:
        if pnl is None:
            continue
        sells += 1
        wins += pnl > 0
    return win_rate_of(wins=wins, sells=sells)


def win_rate_of(*, wins: int, sells: int) -> Decimal | None:
    """wins / sells, counted elsewhere (by the database); None without sells."""
    if not sells:
        return None
    with localcontext() as context:
        context.prec = PRECISION
        return ratio(Decimal(wins) / sells)


def running_peak(previous_peak: Decimal | None, starting_equity: Decimal, equity: Decimal) -> Decimal:
    """The period's highest equity once `equity` is seen (the starting equity is the first point of the series)."""
    return max(previous_peak if previous_peak is not None else starting_equity, starting_equity, equity)


def equity_metrics(points: list[tuple[datetime, Decimal]]) -> tuple[Decimal, Decimal | None]:
    """(maximum drawdown, Sharpe ratio) of an equity series given as (moment, equity) in time order."""
    closes = [equity for _, equity in daily_closes(points)]
    return max_drawdown(equity for _, equity in points), sharpe_ratio(daily_returns(closes))
