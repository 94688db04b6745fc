"""The operator's admin: pages render, orders are found by any id, balance adjustments record why."""

import uuid
from decimal import Decimal as D

import pytest

from analysis.models import AnalysisRun
from papertrading.balances import STARTING_BALANCE_REASON, check_balances
from papertrading.models import BalanceAdjustment, MarketPrice, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.services import cancel_order, place_order

pytestmark = pytest.mark.django_db

ADMIN = "/admin/papertrading"


@pytest.fixture
def orders(market, account):
    """A filled limit (fill and two events), a cancelled stop, and a market order with a run id."""
    run_id = uuid.UUID("6f1c1f52-5b7e-4c55-9a3e-2f4f0c1d9a10")
    # An order may carry only a run_id of its own account's runs.
    AnalysisRun.objects.create(account=account, run_id=run_id, agent="agent", symbol="BTCUSDT", decision="SELL")
    limit = place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("67000"),
        time_in_force="GTC",
        client_order_id="desk-limit-1",
    ).order
    market.move("BTCUSDT", "66900")
    stop = place_order(
        account=account,
        symbol="ETHUSDT",
        side="SELL",
        order_type="STOP_LOSS",
        quantity=D("1"),
        stop_price=D("3400"),
        client_order_id="desk-stop-2",
    ).order
    cancel_order(account=account, order_id=stop.pk, source="admin", actor="operator")
    agent = place_order(
        account=account,
        symbol="BTCUSDT",
        side="SELL",
        order_type="MARKET",
        quantity=D("0.02"),
        client_order_id="agent-run-3",
        run_id=run_id,
    ).order
    PaperOrder.objects.filter(pk=agent.pk).update(binance_order_id=987654321)
    return {"limit": limit, "stop": stop, "agent": agent, "run_id": run_id}


@pytest.mark.parametrize("model", ["paperorder", "simulatedbalance", "balanceadjustment", "symbolrule", "marketprice"])
def test_changelist_renders_for_a_superuser(admin_client, orders, model):
    response = admin_client.get(f"{ADMIN}/{model}/")
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0


def test_order_change_page_shows_its_fills_and_events_inline(admin_client, orders):
    response = admin_client.get(f"{ADMIN}/paperorder/{orders['limit'].pk}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "desk-limit-1" in html
    assert "Limit price crossed" in html  # the fill's rule
    assert "66900" in html  # the market it saw
    inline_sets = {
        formset.opts.model._meta.model_name: formset for formset in response.context["inline_admin_formsets"]
    }
    assert set(inline_sets) == {"orderfill", "orderevent"}
    assert len(inline_sets["orderfill"].formset.queryset) == 1
    assert len(inline_sets["orderevent"].formset.queryset) == 2


def test_order_change_page_cannot_edit_the_order(admin_client, orders):
    url = f"{ADMIN}/paperorder/{orders['limit'].pk}/change/"
    admin_client.post(url, {"status": "CANCELLED", "quantity": "5"})
    order = PaperOrder.objects.get(pk=orders["limit"].pk)
    assert (order.status, order.quantity) == (PaperOrder.Status.FILLED, D("0.01"))


@pytest.mark.parametrize("model", ["simulatedbalance", "symbolrule", "marketprice"])
def test_change_pages_render(admin_client, orders, model):
    row = {"simulatedbalance": SimulatedBalance, "symbolrule": SymbolRule, "marketprice": MarketPrice}[model]
    pk = row.objects.first().pk
    assert admin_client.get(f"{ADMIN}/{model}/{pk}/change/").status_code == 200


def test_balance_adjustment_change_page_renders(admin_client, orders):
    pk = BalanceAdjustment.objects.first().pk
    assert admin_client.get(f"{ADMIN}/balanceadjustment/{pk}/change/").status_code == 200


def search(admin_client, term: str) -> set[int]:
    response = admin_client.get(f"{ADMIN}/paperorder/", {"q": term})
    assert response.status_code == 200
    return {order.pk for order in response.context["cl"].result_list}


def test_search_finds_an_order_by_client_order_id(admin_client, orders):
    assert search(admin_client, "desk-stop-2") == {orders["stop"].pk}
    assert search(admin_client, "desk-") == {orders["stop"].pk, orders["limit"].pk}


def test_search_finds_an_order_by_binance_order_id(admin_client, orders):
    assert search(admin_client, "987654321") == {orders["agent"].pk}


def test_search_finds_orders_by_run_id(admin_client, orders):
    assert search(admin_client, str(orders["run_id"])) == {orders["agent"].pk}


def test_search_for_nothing_known_finds_nothing(admin_client, orders):
    assert search(admin_client, "no-such-order") == set()


# --- the adjust_free_balance action ------------------------------------------------------------------------------


def usdt_balance() -> SimulatedBalance:
    """The USDT row of the only account these tests open."""
    return SimulatedBalance.objects.get(asset="USDT")


def adjust_usdt(admin_client, *, follow=False, **fields):
    """Run the "adjust free balance" action on the USDT row, with these form fields (apply, amount, reason)."""
    return admin_client.post(
        f"{ADMIN}/simulatedbalance/",
        {"action": "adjust_free_balance", "_selected_action": [usdt_balance().pk], **fields},
        follow=follow,
    )


def test_adjust_action_first_shows_the_form_and_changes_nothing(admin_client, account):
    response = adjust_usdt(admin_client)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Adjust the free amount of:" in html
    assert 'name="reason"' in html and 'name="amount"' in html
    assert 'name="apply"' in html
    assert usdt_balance().free == D("100000")
    assert not BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).exists()


def test_adjust_action_with_apply_and_reason_changes_free_and_records_it(admin_client, admin_user, account):
    response = adjust_usdt(admin_client, apply="1", amount="-1234.5", reason="Reset after a demo", follow=True)

    assert response.status_code == 200
    assert "USDT adjusted by -1234.5" in response.content.decode()
    assert (usdt_balance().free, usdt_balance().locked) == (D("98765.5"), D("0"))
    adjustment = BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).get()
    assert (adjustment.asset, adjustment.amount, adjustment.reason, adjustment.created_by) == (
        "USDT",
        D("-1234.5"),
        "Reset after a demo",
        admin_user,
    )
    assert check_balances() == []


def test_adjust_action_without_a_reason_changes_nothing(admin_client, account):
    response = adjust_usdt(admin_client, apply="1", amount="500", reason="")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert usdt_balance().free == D("100000")
    assert not BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).exists()


def test_adjust_action_refuses_to_make_free_negative_and_says_why(admin_client, account):
    response = adjust_usdt(admin_client, apply="1", amount="-100000.01", reason="too much", follow=True)

    assert response.status_code == 200
    assert "USDT: USDT free would become negative" in response.content.decode()
    assert usdt_balance().free == D("100000")
    assert not BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).exists()


def test_balances_cannot_be_edited_directly(admin_client, account):
    url = f"{ADMIN}/simulatedbalance/{usdt_balance().pk}/change/"
    admin_client.post(url, {"asset": "USDT", "free": "1", "locked": "0"})
    assert usdt_balance().free == D("100000")
    assert admin_client.get(f"{ADMIN}/simulatedbalance/add/").status_code == 403


def test_adjust_action_changes_only_the_selected_accounts_balance(admin_client, account, rival_account):
    rival_usdt = SimulatedBalance.objects.get(account=rival_account, asset="USDT")

    admin_client.post(
        f"{ADMIN}/simulatedbalance/",
        {
            "action": "adjust_free_balance",
            "_selected_action": [rival_usdt.pk],
            "apply": "1",
            "amount": "25",
            "reason": "Prize",
        },
    )

    assert SimulatedBalance.objects.get(pk=rival_usdt.pk).free == D("100025")
    assert SimulatedBalance.objects.get(account=account, asset="USDT").free == D("100000")
    adjustment = BalanceAdjustment.objects.exclude(reason=STARTING_BALANCE_REASON).get()
    assert (adjustment.account, adjustment.amount) == (rival_account, D("25"))
    assert check_balances() == []
