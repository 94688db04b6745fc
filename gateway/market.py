"""Market data. In simulation mode from what the desk records: candles and 24-hour figures from its price samples
and fills, and a one-level book at the prices a MARKET order would fill at now. In testnet mode from the testnet,
through the desk's Binance client (its rate-limit handling included): what a bot reads is the market its orders
meet there."""

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from papertrading import selectors as desk
from papertrading.binance import (
    BinanceAPIError,
    BinanceError,
    BinanceRateLimited,
    BinanceTestnetClient,
)

from . import selectors
from .errors import BinanceApiError
from .shapes import ZERO, amount, millis

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
INTERVALS = {
    "1s": SECOND,
    "1m": MINUTE,
    "3m": 3 * MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": HOUR,
    "2h": 2 * HOUR,
    "4h": 4 * HOUR,
    "6h": 6 * HOUR,
    "8h": 8 * HOUR,
    "12h": 12 * HOUR,
    "1d": DAY,
    "3d": 3 * DAY,
    "1w": 7 * DAY,
}
# Binance's weeks start on Monday; 1970-01-01 was a Thursday.
WEEK_OFFSET = 4 * DAY
# The testnet also has monthly candles (the desk's records are too short for them).
TESTNET_INTERVALS = frozenset({*INTERVALS, "1M"})


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def bar_open(ms: int, interval: str) -> int:
    step = INTERVALS[interval]
    offset = WEEK_OFFSET if interval == "1w" else 0
    return (ms - offset) // step * step + offset


def _observations(symbol: str, since_ms: int, until_ms: int) -> list[tuple[int, Decimal]]:
    """(time ms, price) of every recorded price in the window, the one before it, and the current price."""
    rows = [
        (millis(at), price)
        for at, price in selectors.price_samples(symbol, since=moment(since_ms), until=moment(until_ms))
    ]
    current = selectors.price_rows([symbol])
    if current:
        at = millis(current[0].updated_at)
        if not rows or at > rows[-1][0]:
            rows.append((at, current[0].price))
    return [(at, price) for at, price in rows if at <= until_ms]


@dataclass
class Volume:
    base: Decimal = ZERO
    quote: Decimal = ZERO
    count: int = 0
    taker_buy_base: Decimal = ZERO
    taker_buy_quote: Decimal = ZERO

    def add(self, fill) -> None:
        quote = fill.price * fill.quantity
        self.base += fill.quantity
        self.quote += quote
        self.count += 1
        if fill.order.side == "BUY" and not fill.is_maker:
            self.taker_buy_base += fill.quantity
            self.taker_buy_quote += quote


def klines(symbol: str, interval: str, *, start: int | None, end: int | None, limit: int, now: int) -> list[list]:
    """Binance kline rows. A bar's open, high, low and close are the prices the desk recorded in it (a bar with
    none carries the previous close); its volume and trade count are the desk's own fills on the symbol."""
    step = INTERVALS[interval]
    last_open = bar_open(min(end if end is not None else now, now), interval)
    first_open = bar_open(start, interval) if start is not None else last_open - (limit - 1) * step
    opens = list(range(first_open, last_open + 1, step))[:limit]
    if not opens:
        return []
    until = opens[-1] + step - 1
    observations = _observations(symbol, opens[0], until)
    volumes: dict[int, Volume] = {}
    for fill in selectors.symbol_fills(symbol, since=moment(opens[0]), until=moment(until)):
        volumes.setdefault(bar_open(millis(fill.created_at), interval), Volume()).add(fill)
    rows, close, i = [], None, 0
    for opened in opens:
        prices = []
        while i < len(observations) and observations[i][0] < opened + step:
            if observations[i][0] < opened:
                close = observations[i][1]  # before the first bar: the price it opens at
            else:
                prices.append(observations[i][1])
            i += 1
        if not prices and close is None:
            continue  # nothing recorded yet
        bar = prices or [close]
        volume = volumes.get(opened, Volume())
        rows.append(
            [
                opened,
                amount(bar[0]),
                amount(max(bar)),
                amount(min(bar)),
                amount(bar[-1]),
                amount(volume.base),
                opened + step - 1,
                amount(volume.quote),
                volume.count,
                amount(volume.taker_buy_base),
                amount(volume.taker_buy_quote),
                "0",
            ]
        )
        close = bar[-1]
    return rows


def book(symbol: str, rule) -> tuple[Decimal, Decimal, Decimal] | None:
    """(bid, ask, quantity at each): the simulator fills a MARKET SELL at the bid and a BUY at the ask, whatever
    the size up to MARKET_LOT_SIZE, so the book has one level each side that deep."""
    bid, ask = desk.market_fill_price(symbol, "SELL"), desk.market_fill_price(symbol, "BUY")
    if bid is None or ask is None:
        return None
    return bid, ask, rule.market_max_quantity or rule.max_quantity


def ticker_24hr(symbol: str, rule, *, now: int) -> dict | None:
    since = now - DAY
    observations = _observations(symbol, since, now)
    if not observations:
        return None
    prices = [price for at, price in observations if at >= since] or [observations[-1][1]]
    opening = observations[0][1]
    last = observations[-1][1]
    volume = Volume()
    fills = selectors.symbol_fills(symbol, since=moment(since), until=None)
    for fill in fills:
        volume.add(fill)
    levels = book(symbol, rule)
    bid, ask, depth = levels if levels else (ZERO, ZERO, ZERO)
    change = last - opening
    return {
        "symbol": symbol,
        "priceChange": amount(change),
        "priceChangePercent": f"{(change / opening * 100) if opening else ZERO:.3f}",
        "weightedAvgPrice": amount(volume.quote / volume.base if volume.base else last),
        "prevClosePrice": amount(opening),
        "lastPrice": amount(last),
        "lastQty": amount(fills[-1].quantity if fills else ZERO),
        "bidPrice": amount(bid),
        "bidQty": amount(depth),
        "askPrice": amount(ask),
        "askQty": amount(depth),
        "openPrice": amount(opening),
        "highPrice": amount(max(prices)),
        "lowPrice": amount(min(prices)),
        "volume": amount(volume.base),
        "quoteVolume": amount(volume.quote),
        "openTime": since,
        "closeTime": now,
        "firstId": fills[0].pk if fills else -1,
        "lastId": fills[-1].pk if fills else -1,
        "count": volume.count,
    }


# --- testnet mode ------------------------------------------------------------------------------------------------


def from_testnet() -> bool:
    return settings.PAPER_TRADING_MODE == "testnet"


def intervals() -> Collection[str]:
    """The kline intervals served in the current mode."""
    return TESTNET_INTERVALS if from_testnet() else INTERVALS.keys()


def _relayed(fetch: Callable[[BinanceTestnetClient], Any]) -> Any:
    """Ask the testnet; what it refuses or fails becomes Binance's own answer rather than an error page.

    A pause the client recorded (the testnet's 429/418, or its weight budget spent) answers -1003 with Retry-After
    at once instead of holding the bot's request; the testnet's own refusals pass through with their code; a
    testnet that cannot be reached or fails answers -1001, Binance's "try again"."""
    try:
        return fetch(BinanceTestnetClient(max_wait_seconds=0))
    except BinanceRateLimited as exc:
        retry_after = max(1, math.ceil(exc.retry_after_seconds))
        if exc.banned:
            until = millis(exc.until) if exc.until else "later"
            msg = (
                f"Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live "
                "updates to avoid bans."
            )
            raise BinanceApiError(-1003, msg, status=418, retry_after=retry_after) from None
        msg = exc.msg or (
            "Too much request weight used; please use WebSocket Streams for live updates to avoid polling the API."
        )
        raise BinanceApiError(-1003, msg, status=429, retry_after=retry_after) from None
    except BinanceAPIError as exc:
        if exc.code and 400 <= exc.http_status < 500:
            raise BinanceApiError(exc.code, exc.msg, status=exc.http_status) from None
        raise _unavailable() from None
    except BinanceError:
        raise _unavailable() from None


def _unavailable() -> BinanceApiError:
    return BinanceApiError(-1001, "Internal error; unable to process your request. Please try again.", status=503)


def testnet_tickers(kind: str, symbol: str | None, names: list[str]) -> Any:
    """``ticker_price``, ``ticker_24hr`` or ``book_ticker`` from the testnet: one symbol's row, or the rows of
    ``names`` (the desk's symbols asked for) in that order, in one request."""
    if symbol is not None:
        return _relayed(lambda client: getattr(client, kind)(symbol))
    if not names:
        return []
    rows = _relayed(lambda client: getattr(client, kind)(names))
    by_symbol = {row.get("symbol"): row for row in rows if isinstance(row, dict)}
    return [by_symbol[name] for name in names if name in by_symbol]


def testnet_depth(symbol: str, limit: int) -> dict:
    return _relayed(lambda client: client.depth(symbol, limit))


def testnet_klines(symbol: str, interval: str, *, start: int | None, end: int | None, limit: int) -> list:
    return _relayed(lambda client: client.klines(symbol, interval, start_time=start, end_time=end, limit=limit))
