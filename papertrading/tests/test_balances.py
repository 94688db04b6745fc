"""The simulated account: opening, reserving, operator adjustments and the self-check that recomputes it."""

from decimal import Decimal as D

import pytest

from papertrading.balances import (
    STARTING_BALANCE_REASON,
    adjust_balance,
    check_balances,
    ensure_account,
    lock_balances,
    release,
    reservation,
    reserve_free_amount,
)
from papertrading.models import BalanceAdjustment, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.services import cancel_order, place_order
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db


def test_account_opens_with_starting_balances_recorded_as_adjustments():
    ensure_account()

    assert balances() == {"BTC": (D("1"), D("0")), "ETH": (D("10"), D("0")), "USDT": (D("100000"), D("0"))}
    assert sorted(BalanceAdjustment.objects.values_list("asset", "amount", "reason")) == [
        ("BTC", D("1"), STARTING_BALANCE_REASON),
        ("ETH", D("10"), STARTING_BALANCE_REASON),
        ("USDT", D("100000"), STARTING_BALANCE_REASON),
    ]
    assert check_balances() == []


def test_opening_the_account_twice_changes_nothing(settings):
    ensure_account()
    settings.SIMULATOR_STARTING_BALANCES = {"USDT": D("5")}
    ensure_account()
    assert balances()["USDT"] == (D("100000"), D("0"))
    assert BalanceAdjustment.objects.count() == 3


def test_changing_the_starting_setting_later_does_not_make_an_old_account_drift(settings):
    ensure_account()
    settings.SIMULATOR_STARTING_BALANCES = {"USDT": D("1"), "DOGE": D("1000")}
    assert check_balances() == []


def test_lock_balances_creates_empty_rows_for_new_assets():
    rows = lock_balances("SOL", "USDT")
    assert set(rows) == {"SOL", "USDT"}
    assert (rows["SOL"].free, rows["SOL"].locked) == (D("0"), D("0"))
    assert SimulatedBalance.objects.get(asset="SOL").free == 0


def test_reserve_moves_free_to_locked_and_refuses_more_than_free_without_change():
    ensure_account()  # USDT 100000 free
    assert reserve_free_amount("USDT", D("40000"))
    assert not reserve_free_amount("USDT", D("60000.00000001"))
    balance = SimulatedBalance.objects.get(asset="USDT")
    assert (balance.free, balance.locked) == (D("60000"), D("40000"))
    release(balance, D("40000"))  # no working order holds it: give it back for the closing balance check
    balance.save()


def test_reserve_opens_the_account_on_the_first_order_ever():
    assert not SimulatedBalance.objects.exists()
    assert reserve_free_amount("BTC", D("0.5"))
    balance = SimulatedBalance.objects.get(asset="BTC")
    assert (balance.free, balance.locked) == (D("0.5"), D("0.5"))
    release(balance, D("0.5"))
    balance.save()


@pytest.mark.parametrize(
    ("side", "order_type", "price", "stop_price", "expected"),
    [
        ("BUY", "LIMIT", "67000.01", None, ("USDT", D("670.0001"))),
        ("SELL", "LIMIT", "67000.01", None, ("BTC", D("0.01"))),
        ("BUY", "STOP_LOSS", None, "69000", ("USDT", D("690"))),
        ("BUY", "TAKE_PROFIT", None, "66000", ("USDT", D("660"))),
        ("SELL", "STOP_LOSS", None, "66000", ("BTC", D("0.01"))),
        ("SELL", "TAKE_PROFIT", None, "70000", ("BTC", D("0.01"))),
    ],
)
def test_reservation_holds_quote_for_buys_at_their_price_and_base_for_sells(
    side, order_type, price, stop_price, expected
):
    order = PaperOrder(
        symbol="BTCUSDT",
        side=side,
        order_type=order_type,
        quantity=D("0.01"),
        price=D(price) if price else None,
        stop_price=D(stop_price) if stop_price else None,
    )
    assert reservation(order, SymbolRule.objects.get(symbol="BTCUSDT")) == expected


def test_adjust_balance_changes_free_and_writes_the_reason(admin_user):
    ensure_account()

    balance = adjust_balance(asset="usdt", amount=D("-250.5"), reason="Fee refund reversal", user=admin_user)

    assert (balance.free, balance.locked) == (D("99749.5"), D("0"))
    assert balances()["USDT"] == (D("99749.5"), D("0"))
    adjustment = BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).get()
    assert (adjustment.asset, adjustment.amount, adjustment.reason, adjustment.created_by) == (
        "USDT",
        D("-250.5"),
        "Fee refund reversal",
        admin_user,
    )
    assert check_balances() == []


def test_adjust_balance_of_a_new_asset_opens_it():
    adjust_balance(asset="SOL", amount=D("3"), reason="airdrop")
    assert balances()["SOL"] == (D("3"), D("0"))
    assert check_balances() == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_adjust_balance_without_a_reason_changes_nothing(reason):
    ensure_account()
    with pytest.raises(ValueError, match="Say why"):
        adjust_balance(asset="USDT", amount=D("5"), reason=reason)
    assert balances()["USDT"] == (D("100000"), D("0"))
    assert BalanceAdjustment.objects.count() == 3


def test_adjust_balance_below_zero_free_is_refused(market):
    place_order(
        symbol="BTCUSDT", side="SELL", order_type="LIMIT", quantity=D("0.6"), price=D("70000"), time_in_force="GTC"
    )
    # 0.4 BTC is free, 0.6 locked: locked amounts cannot be taken by an adjustment.
    with pytest.raises(ValueError, match="negative"):
        adjust_balance(asset="BTC", amount=D("-0.5"), reason="oops")
    assert balances()["BTC"] == (D("0.4"), D("0.6"))


def test_check_balances_is_clean_after_fills_rests_and_cancels(market):
    place_order(symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.123"))
    resting = place_order(
        symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("60000.01"), time_in_force="GTC"
    ).order
    place_order(symbol="ETHUSDT", side="SELL", order_type="STOP_LOSS", quantity=D("1.2345"), stop_price=D("3400"))
    cancel_order(order_id=resting.pk)
    market.move("ETHUSDT", "3399.99")

    assert check_balances() == []
    assert balances()["ETH"][1] == D("0")


def test_check_balances_reports_a_tampered_free_amount(market):
    ensure_account()
    SimulatedBalance.objects.filter(asset="USDT").update(free=D("100000.01"))

    drifts = check_balances()

    assert [(d.asset, d.stored_free, d.expected_free, d.stored_locked, d.expected_locked) for d in drifts] == [
        ("USDT", D("100000.01"), D("100000"), D("0"), D("0"))
    ]
    assert "USDT: stored free 100000.01" in str(drifts[0])
    SimulatedBalance.objects.filter(asset="USDT").update(free=D("100000"))
    assert check_balances() == []


def test_check_balances_reports_locked_that_no_working_order_explains(market):
    place_order(
        symbol="BTCUSDT", side="SELL", order_type="LIMIT", quantity=D("0.5"), price=D("70000"), time_in_force="GTC"
    )
    # An order finishing behind the services' back leaves its lock orphaned.
    PaperOrder.objects.update(status=PaperOrder.Status.CANCELLED)

    drifts = check_balances()

    assert [(d.asset, d.stored_locked, d.expected_locked, d.expected_free) for d in drifts] == [
        ("BTC", D("0.5"), D("0"), D("1"))
    ]
    PaperOrder.objects.update(status=PaperOrder.Status.PENDING)
    assert check_balances() == []


def test_check_balances_reports_a_deleted_balance_row():
    ensure_account()
    SimulatedBalance.objects.filter(asset="ETH").delete()

    drifts = check_balances()

    assert [(d.asset, d.stored_free, d.expected_free) for d in drifts] == [("ETH", D("0"), D("10"))]
    SimulatedBalance.objects.create(asset="ETH", free=D("10"))
