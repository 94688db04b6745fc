"""The local venue: each order type, side and time in force, with exact fills, fees and balances.

Starting account: USDT 100000, BTC 1, ETH 10; fee 0.1 % in the received asset; slippage 0.05 % against the taker,
snapped to the tick. BTCUSDT ticks 0.01 and steps 0.00001.
"""

from decimal import Decimal as D

import pytest

from papertrading.errors import OrderRejected
from papertrading.models import Account, OrderEvent, OrderFill, PaperOrder, SimulatedBalance
from papertrading.services import cancel_order, place_order
from papertrading.venues.simulator import SimulatorVenue

pytestmark = pytest.mark.django_db

Status = PaperOrder.Status


def balance(account: Account, asset: str) -> tuple[D, D]:
    row = SimulatedBalance.objects.get(account=account, asset=asset)
    return row.free, row.locked


def place(account: Account, **kwargs) -> PaperOrder:
    kwargs.setdefault("symbol", "BTCUSDT")
    for key in ("quantity", "price", "stop_price"):
        if kwargs.get(key) is not None:
            kwargs[key] = D(kwargs[key])
    return place_order(account=account, **kwargs).order


def reread(order: PaperOrder) -> PaperOrder:
    return PaperOrder.objects.get(pk=order.pk)


def events(order: PaperOrder) -> list[tuple[str, str, str]]:
    return [(e.from_status, e.to_status, e.source) for e in order.events.all()]


# --- MARKET ----------------------------------------------------------------------------------------------------


def test_market_buy_fills_above_market_by_slippage_snapped_up_and_pays_fee_in_base(account, market):
    market.set("BTCUSDT", "68000.01")  # 68000.01 × 1.0005 = 68034.010005 → 68034.02 (against the buyer)

    order = reread(place(account, side="BUY", order_type="MARKET", quantity="0.1"))

    assert order.status == Status.FILLED
    assert order.executed_quantity == D("0.1")
    assert order.cumulative_quote_quantity == D("6803.402")
    assert order.locked_amount == 0
    fill = order.fills.get()
    assert (fill.price, fill.quantity, fill.commission, fill.commission_asset) == (
        D("68034.02"),
        D("0.1"),
        D("0.0001"),
        "BTC",
    )
    assert fill.rule == OrderFill.Rule.MARKETABLE_ON_ARRIVAL
    assert fill.market_price == D("68000.01")
    assert fill.fee_rate == D("0.001")
    assert fill.slippage_rate == D("0.00050015")  # (68034.02 − 68000.01) / 68000.01, rounded to 8 places
    assert fill.is_maker is False
    assert balance(account, "USDT") == (D("93196.598"), D("0"))
    assert balance(account, "BTC") == (D("1.0999"), D("0"))
    assert events(order) == [("", Status.FILLED, "api")]


def test_market_sell_fills_below_market_by_slippage_snapped_down_and_pays_fee_in_quote(account, market):
    market.set("BTCUSDT", "68000.01")  # 68000.01 × 0.9995 = 67966.009995 → 67966.00 (against the seller)

    order = reread(place(account, side="SELL", order_type="MARKET", quantity="0.5"))

    assert order.status == Status.FILLED
    fill = order.fills.get()
    assert (fill.price, fill.commission, fill.commission_asset) == (D("67966.00"), D("33.983"), "USDT")
    assert fill.rule == OrderFill.Rule.MARKETABLE_ON_ARRIVAL
    assert order.cumulative_quote_quantity == D("33983")
    assert balance(account, "USDT") == (D("133949.017"), D("0"))  # 100000 + 33983 − 33.983
    assert balance(account, "BTC") == (D("0.5"), D("0"))


def test_market_buy_without_enough_quote_is_rejected_with_binance_code_and_nothing_moves(account, market):
    with pytest.raises(OrderRejected) as caught:
        place(account, side="BUY", order_type="MARKET", quantity="2")  # ~136068 USDT, the account has 100000

    assert caught.value.code == -2010
    assert caught.value.message == "Account has insufficient balance for requested action."
    order = PaperOrder.objects.get()
    assert caught.value.order.pk == order.pk
    assert order.status == Status.REJECTED
    assert (order.reject_code, order.reject_reason) == (-2010, "Account has insufficient balance for requested action.")
    assert order.fills.count() == 0
    assert events(order) == [("", Status.REJECTED, "api")]
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert balance(account, "BTC") == (D("1"), D("0"))


def test_market_sell_of_more_base_than_free_is_rejected(account, market):
    with pytest.raises(OrderRejected):
        place(account, side="SELL", order_type="MARKET", quantity="1.00001")
    assert PaperOrder.objects.get().status == Status.REJECTED
    assert balance(account, "BTC") == (D("1"), D("0"))
    assert balance(account, "USDT") == (D("100000"), D("0"))


def test_market_buy_on_a_new_base_asset_opens_its_balance(account, market):
    order = reread(place(account, symbol="SOLUSDT", side="BUY", order_type="MARKET", quantity="2"))
    # 150 × 1.0005 = 150.075 → 150.08 on the 0.01 tick
    assert order.fills.get().price == D("150.08")
    assert balance(account, "SOL") == (D("1.998"), D("0"))
    assert balance(account, "USDT") == (D("99699.84"), D("0"))


# --- LIMIT, resting ---------------------------------------------------------------------------------------------


def test_resting_limit_buy_locks_price_times_quantity_of_quote(account, market):
    order = reread(place(account, side="BUY", order_type="LIMIT", quantity="0.1", price="67000", time_in_force="GTC"))

    assert order.status == Status.PENDING
    assert (order.locked_asset, order.locked_amount) == ("USDT", D("6700"))
    assert (order.trigger_price, order.trigger_direction) == (D("67000"), PaperOrder.Trigger.AT_OR_BELOW)
    assert order.fills.count() == 0
    assert balance(account, "USDT") == (D("93300"), D("6700"))
    assert balance(account, "BTC") == (D("1"), D("0"))
    assert events(order) == [("", Status.PENDING, "api")]


def test_resting_limit_sell_locks_quantity_of_base(account, market):
    order = reread(place(account, side="SELL", order_type="LIMIT", quantity="0.4", price="69000", time_in_force="GTC"))

    assert order.status == Status.PENDING
    assert (order.locked_asset, order.locked_amount) == ("BTC", D("0.4"))
    assert order.trigger_direction == PaperOrder.Trigger.AT_OR_ABOVE
    assert balance(account, "BTC") == (D("0.6"), D("0.4"))
    assert balance(account, "USDT") == (D("100000"), D("0"))


def test_resting_limit_buy_fills_at_its_own_price_as_maker_when_market_crosses(account, market):
    order = place(account, side="BUY", order_type="LIMIT", quantity="0.1", price="67000", time_in_force="GTC")

    assert market.move("BTCUSDT", "67000.01") == 0
    assert reread(order).status == Status.PENDING
    assert market.move("BTCUSDT", "66990") == 1

    order = reread(order)
    assert order.status == Status.FILLED
    assert order.locked_amount == 0
    fill = order.fills.get()
    assert (fill.price, fill.quantity, fill.commission, fill.commission_asset) == (
        D("67000"),
        D("0.1"),
        D("0.0001"),
        "BTC",
    )
    assert (fill.rule, fill.is_maker, fill.market_price, fill.slippage_rate) == (
        OrderFill.Rule.LIMIT_CROSSED,
        True,
        D("66990"),
        D("0"),
    )
    assert balance(account, "USDT") == (D("93300"), D("0"))
    assert balance(account, "BTC") == (D("1.0999"), D("0"))
    assert events(order) == [("", Status.PENDING, "api"), (Status.PENDING, Status.FILLED, "matcher")]
    assert "Limit crossed" in order.events.last().detail


def test_resting_limit_sell_fills_when_market_reaches_it_exactly(account, market):
    order = place(account, side="SELL", order_type="LIMIT", quantity="0.5", price="69000", time_in_force="GTC")

    assert market.move("BTCUSDT", "69000") == 1

    order = reread(order)
    assert order.status == Status.FILLED
    fill = order.fills.get()
    assert (fill.price, fill.commission, fill.commission_asset, fill.rule) == (
        D("69000"),
        D("34.5"),
        "USDT",
        OrderFill.Rule.LIMIT_CROSSED,
    )
    assert balance(account, "BTC") == (D("0.5"), D("0"))
    assert balance(account, "USDT") == (D("134465.5"), D("0"))


def test_matcher_fills_only_orders_the_price_reaches(account, market):
    near = place(account, side="BUY", order_type="LIMIT", quantity="0.01", price="67500", time_in_force="GTC")
    far = place(account, side="BUY", order_type="LIMIT", quantity="0.01", price="60000", time_in_force="GTC")
    other_side = place(account, side="SELL", order_type="LIMIT", quantity="0.01", price="70000", time_in_force="GTC")

    assert market.move("BTCUSDT", "67400") == 1

    assert reread(near).status == Status.FILLED
    assert reread(far).status == Status.PENDING
    assert reread(other_side).status == Status.PENDING
    assert balance(account, "USDT") == (D("100000") - D("675") - D("600"), D("600"))
    assert balance(account, "BTC") == (D("0.99") + D("0.00999"), D("0.01"))


# --- LIMIT, marketable on arrival -----------------------------------------------------------------------------


def test_marketable_limit_buy_fills_at_once_but_never_above_its_limit(account, market):
    # Market 68000, slipped 68034; the limit 68010 caps the price.
    order = reread(place(account, side="BUY", order_type="LIMIT", quantity="0.1", price="68010", time_in_force="GTC"))

    assert order.status == Status.FILLED
    fill = order.fills.get()
    assert (fill.price, fill.rule, fill.is_maker) == (D("68010"), OrderFill.Rule.MARKETABLE_ON_ARRIVAL, False)
    assert order.locked_amount == 0
    assert balance(account, "USDT") == (D("93199"), D("0"))
    assert balance(account, "BTC") == (D("1.0999"), D("0"))


def test_marketable_limit_buy_with_room_fills_at_slipped_market(account, market):
    order = reread(place(account, side="BUY", order_type="LIMIT", quantity="0.1", price="69000", time_in_force="GTC"))
    assert order.fills.get().price == D("68034")
    assert balance(account, "USDT") == (D("93196.6"), D("0"))


def test_marketable_limit_sell_fills_at_once_but_never_below_its_limit(account, market):
    order = reread(place(account, side="SELL", order_type="LIMIT", quantity="0.5", price="67990", time_in_force="GTC"))

    fill = order.fills.get()
    assert order.status == Status.FILLED
    assert fill.price == D("67990")  # slipped would be 67966
    assert fill.commission == D("33.995")
    assert balance(account, "BTC") == (D("0.5"), D("0"))
    assert balance(account, "USDT") == (D("133961.005"), D("0"))


@pytest.mark.parametrize(
    ("side", "limit", "fill_price"),
    [
        ("BUY", "68100", D("68034")),
        ("BUY", "68020", D("68020")),
        ("SELL", "67900", D("67966")),
        ("SELL", "67980", D("67980")),
    ],
)
@pytest.mark.parametrize("time_in_force", ["IOC", "FOK"])
def test_marketable_ioc_and_fok_fill_completely_within_their_limit(
    account, market, time_in_force, side, limit, fill_price
):
    order = reread(
        place(account, side=side, order_type="LIMIT", quantity="0.1", price=limit, time_in_force=time_in_force)
    )
    assert order.status == Status.FILLED
    assert order.executed_quantity == order.quantity
    assert order.locked_amount == 0
    fill = order.fills.get()
    assert (fill.price, fill.rule, fill.is_maker) == (fill_price, OrderFill.Rule.MARKETABLE_ON_ARRIVAL, False)
    assert balance(account, "BTC")[1] == balance(account, "USDT")[1] == D("0")


@pytest.mark.parametrize(("side", "price"), [("BUY", "67000"), ("SELL", "69000")])
@pytest.mark.parametrize("time_in_force", ["IOC", "FOK"])
def test_non_marketable_ioc_and_fok_expire_with_nothing_locked(account, market, side, price, time_in_force):
    order = reread(
        place(account, side=side, order_type="LIMIT", quantity="0.1", price=price, time_in_force=time_in_force)
    )

    assert order.status == Status.EXPIRED
    assert order.executed_quantity == 0
    assert order.locked_amount == 0
    assert order.fills.count() == 0
    assert events(order) == [("", Status.EXPIRED, "api")]
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert balance(account, "BTC") == (D("1"), D("0"))
    # Expired is final: a later cross does not fill it.
    assert market.move("BTCUSDT", "60000" if side == "BUY" else "80000") == 0


def test_ioc_that_the_account_cannot_pay_is_rejected_not_expired(account, market):
    with pytest.raises(OrderRejected) as caught:
        place(account, side="BUY", order_type="LIMIT", quantity="2", price="67000", time_in_force="IOC")
    assert caught.value.code == -2010
    assert PaperOrder.objects.get().status == Status.REJECTED


@pytest.mark.parametrize(
    ("side", "quantity", "price"),
    [("BUY", "1.5", "67000"), ("SELL", "1.1", "69000")],
)
def test_resting_limit_without_funds_is_rejected_and_locks_nothing(account, market, side, quantity, price):
    with pytest.raises(OrderRejected) as caught:
        place(account, side=side, order_type="LIMIT", quantity=quantity, price=price, time_in_force="GTC")

    assert (caught.value.code, caught.value.message) == (
        -2010,
        "Account has insufficient balance for requested action.",
    )
    order = PaperOrder.objects.get()
    assert (order.status, order.reject_code, order.locked_amount) == (Status.REJECTED, -2010, D("0"))
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert balance(account, "BTC") == (D("1"), D("0"))


# --- STOP_LOSS and TAKE_PROFIT ----------------------------------------------------------------------------------


def test_stop_loss_sell_locks_base_then_fills_at_slipped_market_when_price_falls_to_it(account, market):
    order = reread(place(account, side="SELL", order_type="STOP_LOSS", quantity="0.5", stop_price="67000"))
    assert order.status == Status.PENDING
    assert (order.locked_asset, order.locked_amount) == ("BTC", D("0.5"))
    assert (order.trigger_price, order.trigger_direction) == (D("67000"), PaperOrder.Trigger.AT_OR_BELOW)
    assert balance(account, "BTC") == (D("0.5"), D("0.5"))

    assert market.move("BTCUSDT", "67000.01") == 0
    assert market.move("BTCUSDT", "67000") == 1

    order = reread(order)
    assert order.status == Status.FILLED
    fill = order.fills.get()
    # 67000 × 0.9995 = 66966.5
    assert (fill.price, fill.rule, fill.market_price, fill.is_maker) == (
        D("66966.5"),
        OrderFill.Rule.STOP_TRIGGERED,
        D("67000"),
        False,
    )
    assert (fill.commission, fill.commission_asset, fill.slippage_rate) == (D("33.48325"), "USDT", D("0.0005"))
    assert balance(account, "BTC") == (D("0.5"), D("0"))
    assert balance(account, "USDT") == (D("133449.76675"), D("0"))
    assert events(order) == [("", Status.PENDING, "api"), (Status.PENDING, Status.FILLED, "matcher")]


def test_stop_loss_buy_locks_quote_at_stop_then_fills_when_price_rises_to_it(account, market):
    order = reread(place(account, side="BUY", order_type="STOP_LOSS", quantity="0.1", stop_price="69000"))
    assert (order.locked_asset, order.locked_amount) == ("USDT", D("6900"))
    assert order.trigger_direction == PaperOrder.Trigger.AT_OR_ABOVE
    assert balance(account, "USDT") == (D("93100"), D("6900"))

    assert market.move("BTCUSDT", "68999.99") == 0
    assert market.move("BTCUSDT", "69500") == 1

    fill = reread(order).fills.get()
    # 69500 × 1.0005 = 69534.75
    assert (fill.price, fill.rule, fill.commission, fill.commission_asset) == (
        D("69534.75"),
        OrderFill.Rule.STOP_TRIGGERED,
        D("0.0001"),
        "BTC",
    )
    assert balance(account, "USDT") == (D("93046.525"), D("0"))
    assert balance(account, "BTC") == (D("1.0999"), D("0"))


def test_take_profit_sell_locks_base_then_fills_when_price_rises_to_it(account, market):
    order = reread(place(account, side="SELL", order_type="TAKE_PROFIT", quantity="0.5", stop_price="70000"))
    assert (order.locked_asset, order.locked_amount, order.trigger_direction) == (
        "BTC",
        D("0.5"),
        PaperOrder.Trigger.AT_OR_ABOVE,
    )

    assert market.move("BTCUSDT", "69999.99") == 0
    assert market.move("BTCUSDT", "70000") == 1

    fill = reread(order).fills.get()
    assert (fill.price, fill.rule, fill.commission) == (D("69965"), OrderFill.Rule.STOP_TRIGGERED, D("34.9825"))
    assert balance(account, "BTC") == (D("0.5"), D("0"))
    assert balance(account, "USDT") == (D("134947.5175"), D("0"))


def test_take_profit_buy_locks_quote_then_fills_when_price_falls_to_it(account, market):
    order = reread(place(account, side="BUY", order_type="TAKE_PROFIT", quantity="0.1", stop_price="66000"))
    assert (order.locked_asset, order.locked_amount, order.trigger_direction) == (
        "USDT",
        D("6600"),
        PaperOrder.Trigger.AT_OR_BELOW,
    )
    assert balance(account, "USDT") == (D("93400"), D("6600"))

    assert market.move("BTCUSDT", "65000") == 1

    fill = reread(order).fills.get()
    assert (fill.price, fill.rule) == (D("65032.5"), OrderFill.Rule.STOP_TRIGGERED)
    assert balance(account, "USDT") == (D("93496.75"), D("0"))
    assert balance(account, "BTC") == (D("1.0999"), D("0"))


def test_stop_without_funds_to_lock_is_rejected(account, market):
    with pytest.raises(OrderRejected):
        place(account, side="SELL", order_type="STOP_LOSS", quantity="1.5", stop_price="60000")
    assert PaperOrder.objects.get().status == Status.REJECTED
    assert balance(account, "BTC") == (D("1"), D("0"))


def test_stop_buy_that_gaps_beyond_what_the_account_can_pay_expires_and_releases_the_lock(account, market):
    order = place(account, side="BUY", order_type="STOP_LOSS", quantity="1", stop_price="69000")
    assert balance(account, "USDT") == (D("31000"), D("69000"))

    # 100000 × 1.0005 = 100050 USDT for one BTC; the account holds 100000.
    assert market.move("BTCUSDT", "100000") == 1

    order = reread(order)
    assert order.status == Status.EXPIRED
    assert (order.reject_code, order.reject_reason) == (-2010, "Account has insufficient balance for requested action.")
    assert order.locked_amount == 0
    assert order.fills.count() == 0
    assert events(order)[-1] == (Status.PENDING, Status.EXPIRED, "matcher")
    assert balance(account, "USDT") == (D("100000"), D("0"))
    assert balance(account, "BTC") == (D("1"), D("0"))


# --- cancel ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "asset"),
    [
        (dict(side="BUY", order_type="LIMIT", quantity="0.1", price="67000", time_in_force="GTC"), "USDT"),
        (dict(side="SELL", order_type="LIMIT", quantity="0.1", price="69000", time_in_force="GTC"), "BTC"),
        (dict(side="SELL", order_type="STOP_LOSS", quantity="0.1", stop_price="67000"), "BTC"),
        (dict(side="BUY", order_type="TAKE_PROFIT", quantity="0.1", stop_price="67000"), "USDT"),
    ],
)
def test_cancel_releases_exactly_what_the_order_locked(account, market, kwargs, asset):
    starting = {"USDT": (D("100000"), D("0")), "BTC": (D("1"), D("0"))}
    order = place(account, **kwargs)
    assert balance(account, asset)[1] > 0

    cancelled = cancel_order(account=account, order_id=order.pk, source="api", actor="trader")

    assert cancelled.status == Status.CANCELLED
    order = reread(order)
    assert (order.status, order.locked_amount) == (Status.CANCELLED, D("0"))
    assert balance(account, "USDT") == starting["USDT"]
    assert balance(account, "BTC") == starting["BTC"]
    assert events(order) == [("", Status.PENDING, "api"), (Status.PENDING, Status.CANCELLED, "api")]
    assert order.events.last().actor == "trader"
    # A cancelled order no longer reacts to the market.
    assert market.move("BTCUSDT", "60000") == 0
    assert market.move("BTCUSDT", "80000") == 0


def test_orders_on_other_symbols_lock_their_own_assets(account, market):
    order = reread(
        place(
            account,
            symbol="ETHUSDT",
            side="SELL",
            order_type="LIMIT",
            quantity="2.5",
            price="3600.5",
            time_in_force="GTC",
        )
    )
    assert (order.locked_asset, order.locked_amount) == ("ETH", D("2.5"))
    assert balance(account, "ETH") == (D("7.5"), D("2.5"))
    assert market.move("BTCUSDT", "90000") == 0  # another symbol's price does not touch it
    assert market.move("ETHUSDT", "3601") == 1
    assert balance(account, "ETH") == (D("7.5"), D("0"))
    # 2.5 × 3600.5 = 9001.25, fee 9.00125
    assert balance(account, "USDT") == (D("108992.24875"), D("0"))


def test_syncing_chosen_orders_matches_only_those_and_names_who_did_it(account, market):
    chosen, other = (
        place(account, side="BUY", order_type="LIMIT", quantity="0.01", price="67000", time_in_force="GTC")
        for _ in range(2)
    )
    market.set("BTCUSDT", "66000")  # both crossed, stored without matching

    report = SimulatorVenue().sync_orders([chosen.pk], source="admin", actor="operator")

    assert (report.orders_checked, report.symbols_checked, report.changed) == (1, 1, {"filled": 1})
    assert PaperOrder.objects.get(pk=chosen.pk).status == "FILLED"
    assert PaperOrder.objects.get(pk=other.pk).status == "PENDING"
    event = OrderEvent.objects.filter(order=chosen).last()
    assert (event.to_status, event.source, event.actor) == ("FILLED", "admin", "operator")
