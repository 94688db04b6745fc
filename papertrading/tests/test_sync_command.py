"""The sync_orders and refresh_prices commands, run as an operator runs them: output, exit status, effect."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, execute_from_command_line
from django.db import connections

from papertrading.locks import job_lock
from papertrading.models import MarketPrice, OrderEvent, PaperOrder
from papertrading.services import default_account_for, place_order
from papertrading.tests.reconciliation_support import standin_fixture
from papertrading.tests.support import balances

assert standin_fixture  # the `standin` fixture, imported for this module

Status = PaperOrder.Status
pytestmark = pytest.mark.django_db


@pytest.fixture(name="desk")
def desk_fixture(standin, trader):
    """The trader's default account, opened on the testnet with the starting balances (the stand-in holds them)."""
    return default_account_for(trader)


def place_resting(account, symbol: str = "BTCUSDT", *, price: str = "60000", quantity: str = "0.001"):
    """A resting LIMIT BUY of `account` on the active venue (the stand-in's BTC market is 68000: 60000 rests)."""
    return place_order(
        account=account, symbol=symbol, side="BUY", order_type="LIMIT", quantity=D(quantity), price=D(price),
        time_in_force="GTC",
    ).order  # fmt: skip


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


# --- sync_orders: testnet -----------------------------------------------------------------------------------------
def test_sync_orders_syncs_the_testnet_with_a_progress_line_per_symbol(standin, desk):
    filled = place_resting(desk)
    working = place_resting(desk, symbol="ETHUSDT", price="3000", quantity="0.01")
    standin.fill(filled.binance_order_id)
    standin.add_external_order("ETHUSDT", "BUY", "0.02", "2900.00")

    out, err = run("sync_orders")

    lines = out.splitlines()
    assert lines[:2] == ["[1/2] BTCUSDT: 1 order(s) checked", "[2/2] ETHUSDT: 1 order(s) checked"]
    # 2 × openOrders (6) + GET order (4) + myTrades (5) for the one that filled.
    assert lines[2].startswith(
        "Synced testnet: checked 2 orders on 2 symbols; 1 filled, 1 imported; request weight 21; "
    )
    assert err == ""
    assert PaperOrder.objects.get(pk=filled.pk).status == Status.FILLED
    assert PaperOrder.objects.get(pk=working.pk).status == Status.PENDING
    assert PaperOrder.objects.filter(is_external=True).count() == 1
    assert OrderEvent.objects.filter(order=filled, to_status=Status.FILLED, source="sync").exists()
    assert len(standin.calls("GET", "/api/v3/openOrders")) == 2
    # The fill moved the desk's balances: 60 USDT paid for 0.001 BTC, 30 still held by the ETH order.
    assert balances(desk)["USDT"] == (D("100000") - 60 - 30, D("30"))
    assert balances(desk)["BTC"] == (D("1.001"), D("0"))


def test_sync_orders_quietly_prints_only_the_summary(standin, desk):
    place_resting(desk)
    place_resting(desk, symbol="ETHUSDT", price="3000", quantity="0.01")

    out, _ = run("sync_orders", verbosity=0)

    [line] = out.splitlines()
    assert line.startswith("Synced testnet: checked 2 orders on 2 symbols; nothing changed; request weight 12; ")


def test_sync_orders_without_credentials_exits_non_zero_with_the_reason(standin, desk, settings, capsys, monkeypatch):
    place_resting(desk)
    settings.BINANCE_TESTNET_API_SECRET = ""
    # run_from_argv closes every database connection when it ends; the test's own must outlive it.
    monkeypatch.setattr(connections, "close_all", lambda: None)

    with pytest.raises(CommandError, match="Sync failed: Testnet mode needs BINANCE_TESTNET_API_KEY"):
        run("sync_orders")
    with pytest.raises(SystemExit) as exit_info:
        execute_from_command_line(["manage.py", "sync_orders"])

    assert exit_info.value.code == 1
    assert "CommandError: Sync failed: Testnet mode needs BINANCE_TESTNET_API_KEY" in capsys.readouterr().err
    assert standin.calls("GET", "/api/v3/openOrders") == []


def test_sync_orders_on_an_unreachable_exchange_exits_non_zero(standin, desk, settings):
    order = place_resting(desk)
    settings.BINANCE_TESTNET_BASE_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    with pytest.raises(CommandError, match="cannot be reached right now"):
        run("sync_orders")

    assert PaperOrder.objects.get(pk=order.pk).status == Status.PENDING


def test_sync_orders_while_another_sync_runs_says_it_skipped(standin, desk):
    place_resting(desk)

    with job_lock("testnet_sync") as acquired:
        assert acquired
        out, err = run("sync_orders")

    assert out.startswith("Synced testnet: checked 0 orders on 0 symbols; nothing changed")
    assert err.strip() == "Another sync is running; this one was skipped."
    assert standin.calls("GET", "/api/v3/openOrders") == []


# --- sync_orders: simulation --------------------------------------------------------------------------------------
def test_sync_orders_in_simulation_fills_the_orders_the_stored_prices_reach(market, account):
    btc = place_resting(account, price="67000", quantity="0.01")
    place_resting(account, symbol="ETHUSDT", price="3000", quantity="0.1")
    market.set("BTCUSDT", "66900")  # stored without matching: the sync is what fills it

    out, _ = run("sync_orders")

    assert out.splitlines() == [
        "[1/2] BTCUSDT: 1 order(s) checked",
        "[2/2] ETHUSDT: 1 order(s) checked",
        out.splitlines()[2],
    ]
    assert out.splitlines()[2].startswith("Synced simulation: checked 2 orders on 2 symbols; 1 filled; ")
    assert PaperOrder.objects.get(pk=btc.pk).status == Status.FILLED


# --- refresh_prices -------------------------------------------------------------------------------------------------
def test_refresh_prices_from_an_unreachable_source_exits_non_zero(db, settings):
    settings.MARKET_DATA_SOURCE = "binance"
    settings.MARKET_DATA_BASE_URL = "http://127.0.0.1:9"

    with pytest.raises(CommandError, match="Prices not refreshed: Market data is unavailable"):
        run("refresh_prices")

    assert not MarketPrice.objects.exists()


def test_refresh_prices_in_a_loop_numbers_each_refresh_and_stops_cleanly(db, settings, monkeypatch):
    settings.SYNTHETIC_PRICE_SEED = 7
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("papertrading.management.commands.refresh_prices.time.sleep", sleep)

    out, _ = run("refresh_prices", "--loop", "5", "--symbol", "BTCUSDT")

    lines = out.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["#1", "#2"]
    assert lines[0].endswith(" BTCUSDT=68000")
    assert lines[2] == "Stopped after 2 refresh(es)."
    assert sleeps == [5.0, 5.0]
    assert MarketPrice.objects.get(symbol="BTCUSDT").sequence == 1
