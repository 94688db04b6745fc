"""The operator's admin for accounts: balances and key prefixes (never a hash or a secret), the reset action, key
revocation, the accounts on the order, ledger and run lists, and the testnet allocation table.

Users: pytest-django's `admin_client` is a superuser; `clerk` below is staff with view permissions only.
"""

import re
from decimal import Decimal as D

import pytest
import requests
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from analysis.models import AnalysisRun
from analysis.services import submit_decision
from conftest import make_user
from papertrading.accounts import external_account, issue_api_key, key_for
from papertrading.models import Account, ApiKey, PaperOrder, SimulatedBalance
from papertrading.services import open_account, place_order
from papertrading.tests.test_testnet_venue import (  # noqa: F401 - the fixtures are used by name
    API_KEY,
    SECRET,
    exchange_fixture,
    open_testnet_account,
    testnet_fixture,
)
from portfolio.models import EquitySnapshot, Position, Trade
from portfolio.services import snapshot_equity

pytestmark = pytest.mark.django_db

ADMIN = "/admin/papertrading"
ACCOUNTS = f"{ADMIN}/account/"
KEYS = f"{ADMIN}/apikey/"
ALLOCATION = f"{ADMIN}/account/allocation/"


def resting_buy(account, price="30000", quantity="0.01") -> PaperOrder:
    """A LIMIT BUY far below the market (68000): it rests, holding price x quantity USDT."""
    return place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D(quantity),
        price=D(price),
        time_in_force="GTC",
    ).order


def free_and_locked(account, asset="USDT") -> tuple[D, D]:
    row = SimulatedBalance.objects.get(account=account, asset=asset)
    return row.free, row.locked


def notes(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def reset(client: Client, *accounts, apply: bool = True):
    data = {"action": "reset_selected_accounts", "_selected_action": [str(account.pk) for account in accounts]}
    if apply:
        data["apply"] = "1"
    return client.post(ACCOUNTS, data, follow=apply)


@pytest.fixture
def keyed(account, trader):
    """The trader's account with an active key and a revoked one."""
    active = issue_api_key(account, name="trend bot", created_by=trader)
    old = issue_api_key(account, name="old bot", created_by=trader)
    ApiKey.objects.filter(pk=old.key.pk).update(revoked_at=timezone.now())
    key_for(active.raw)  # used once: its last use is recorded
    return {"active": active, "old": old}


@pytest.fixture
def clerk(db) -> Client:
    """Staff who may view accounts and keys, and change neither."""
    user = make_user("clerk", "view_account", "view_apikey")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


# --- the account list and page ------------------------------------------------------------------------------


def test_account_list_shows_owner_venue_period_balances_and_active_key_prefixes(
    admin_client, market, account, rival_account, keyed
):
    resting_buy(account)  # 300 USDT locked: still held, so the total stays 100000
    response = admin_client.get(ACCOUNTS)

    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    body = response.content.decode()
    row = re.search(rf'<tr>(?:(?!</tr>).)*?href="{ADMIN}/account/{account.pk}/change/".*?</tr>', body, re.S).group(0)
    assert "trader&#x27;s desk" in row and "trader" in row and "Simulation" in row
    assert "BTC 1, ETH 10, USDT 100000" in row
    assert f"{keyed['active'].key.prefix}…" in row
    assert keyed["old"].key.prefix not in row  # revoked: no longer a key of the account's


def test_account_page_shows_balances_and_keys_read_only_and_never_a_hash(admin_client, market, account, keyed):
    resting_buy(account)
    response = admin_client.get(f"{ACCOUNTS}{account.pk}/change/")

    assert response.status_code == 200
    inlines = {formset.opts.model._meta.model_name: formset for formset in response.context["inline_admin_formsets"]}
    assert set(inlines) == {"simulatedbalance", "apikey"}
    assert {b.asset: (b.free, b.locked) for b in inlines["simulatedbalance"].formset.queryset} == {
        "USDT": (D("99700"), D("300")),
        "BTC": (D("1"), D("0")),
        "ETH": (D("10"), D("0")),
    }
    assert list(inlines["apikey"].formset.queryset) == [keyed["old"].key, keyed["active"].key]
    for inline in inlines.values():
        assert not inline.has_add_permission and not inline.has_change_permission and not inline.has_delete_permission
    assert [field for field in inlines["apikey"].readonly_fields] == [
        "prefix",
        "name",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    body = response.content.decode()
    assert keyed["active"].key.prefix in body and "trend bot" in body and "old bot" in body
    for issued in keyed.values():
        assert issued.key.key_hash not in body
        assert issued.raw not in body


def test_accounts_are_not_added_edited_or_deleted_in_the_admin(admin_client, market, account):
    assert admin_client.get(f"{ACCOUNTS}add/").status_code == 403
    assert admin_client.get(f"{ACCOUNTS}{account.pk}/delete/").status_code == 403
    admin_client.post(f"{ACCOUNTS}{account.pk}/change/", {"name": "Renamed", "period": "9"})

    account.refresh_from_db()
    assert (account.name, account.period) == ("trader's desk", 1)


def test_order_list_shows_and_filters_by_account(admin_client, market, account, rival_account):
    mine, theirs = resting_buy(account), resting_buy(rival_account, price="31000")

    everything = admin_client.get(f"{ADMIN}/paperorder/")
    assert "account" in everything.context["cl"].list_display
    assert {o.pk for o in everything.context["cl"].result_list} == {mine.pk, theirs.pk}

    filtered = admin_client.get(f"{ADMIN}/paperorder/?account__id__exact={rival_account.pk}")
    assert [o.pk for o in filtered.context["cl"].result_list] == [theirs.pk]


def test_ledger_and_run_lists_show_and_filter_by_account(admin_client, market, account, rival_account):
    submit_decision(account=rival_account, agent="trend", symbol="BTCUSDT", decision="BUY", quantity=D("0.01"))
    snapshot_equity(rival_account)
    for model, url in [
        (Trade, "/admin/portfolio/trade/"),
        (Position, "/admin/portfolio/position/"),
        (EquitySnapshot, "/admin/portfolio/equitysnapshot/"),
        (AnalysisRun, "/admin/analysis/analysisrun/"),
    ]:
        theirs = set(model.objects.filter(account=rival_account).values_list("pk", flat=True))
        assert theirs, model
        response = admin_client.get(f"{url}?account__id__exact={rival_account.pk}")
        assert response.status_code == 200, url
        assert "account" in response.context["cl"].list_display
        assert {row.pk for row in response.context["cl"].result_list} == theirs, url


# --- reset ---------------------------------------------------------------------------------------------------


def test_reset_asks_first_and_changes_nothing_until_confirmed(admin_client, market, account, rival_account):
    order = resting_buy(account)
    response = reset(admin_client, account, rival_account, apply=False)

    assert response.status_code == 200
    assert [row["working"] for row in response.context["rows"]] == [1, 0]
    body = response.content.decode()
    assert "Reset 2 accounts" in body and 'name="apply"' in body
    order.refresh_from_db()
    account.refresh_from_db()
    assert (order.status, account.period) == (PaperOrder.Status.PENDING, 1)


def test_reset_cancels_working_orders_restores_balances_and_reports_per_account(
    admin_client, market, account, rival_account
):
    order = resting_buy(account)
    market.move("BTCUSDT", "67000")
    resting_buy(rival_account, price="67500", quantity="0.01")  # crosses: fills, 0.01 BTC less the fee
    assert SimulatedBalance.objects.get(account=rival_account, asset="BTC").free == D("1.00999")

    response = reset(admin_client, account, rival_account)

    assert response.status_code == 200
    assert notes(response) == [
        ("success", "trader's desk: reset to its starting balances; period 2 has started."),
        ("success", "rival's desk: reset to its starting balances; period 2 has started."),
    ]
    order.refresh_from_db()
    assert order.status == PaperOrder.Status.CANCELLED
    assert order.events.filter(source="admin", actor="admin").exists()
    assert free_and_locked(account) == (D("100000"), D("0"))
    assert free_and_locked(rival_account, "BTC") == (D("1"), D("0"))
    assert free_and_locked(rival_account) == (D("100000"), D("0"))
    assert list(Account.objects.filter(pk__in=[account.pk, rival_account.pk]).values_list("period", flat=True)) == [
        2,
        2,
    ]


def test_reset_errors_are_admin_messages_and_the_others_still_reset(admin_client, market, account, rival_account):
    unsettled = resting_buy(account)
    PaperOrder.objects.filter(pk=unsettled.pk).update(status=PaperOrder.Status.UNKNOWN)
    external = external_account("simulation")

    response = reset(admin_client, account, rival_account, external)

    assert response.status_code == 200
    assert notes(response) == [
        ("error", "trader's desk: not reset. An order's outcome is not known yet; sync the account, then reset it."),
        ("success", "rival's desk: reset to its starting balances; period 2 has started."),
        (
            "error",
            "External (Simulation): not reset. account: The external account holds others' orders; it has no reset.",
        ),
    ]
    account.refresh_from_db()
    external.refresh_from_db()
    assert (account.period, external.period) == (1, 1)
    assert free_and_locked(account) == (D("99700"), D("300"))


def test_staff_without_change_permission_cannot_reset(clerk, market, account):
    response = clerk.get(ACCOUNTS)
    assert response.status_code == 200
    assert "reset_selected_accounts" not in response.content.decode()
    clerk.post(ACCOUNTS, {"action": "reset_selected_accounts", "_selected_action": [account.pk], "apply": "1"})
    account.refresh_from_db()
    assert account.period == 1


# --- API keys ----------------------------------------------------------------------------------------------------


def test_key_list_shows_prefixes_and_cannot_add_edit_or_delete(admin_client, market, keyed):
    response = admin_client.get(KEYS)
    assert response.status_code == 200
    assert {key.pk for key in response.context["cl"].result_list} == {keyed["active"].key.pk, keyed["old"].key.pk}
    assert admin_client.get(f"{KEYS}add/").status_code == 403
    key = keyed["active"].key
    assert admin_client.get(f"{KEYS}{key.pk}/delete/").status_code == 403
    admin_client.post(f"{KEYS}{key.pk}/change/", {"name": "renamed", "revoked_at": ""})
    key.refresh_from_db()
    assert (key.name, key.revoked_at) == ("trend bot", None)

    active = admin_client.get(f"{KEYS}?revoked=no")
    assert [key.pk for key in active.context["cl"].result_list] == [keyed["active"].key.pk]


def test_revoke_action_stops_the_keys_and_reports_them(admin_client, market, keyed):
    active, old = keyed["active"], keyed["old"]
    response = admin_client.post(
        KEYS,
        {"action": "revoke_selected_keys", "_selected_action": [active.key.pk, old.key.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert notes(response) == [
        ("success", f"Revoked 1 key(s): {active.key.prefix}."),
        ("info", f"Already revoked: {old.key.prefix}."),
    ]
    assert key_for(active.raw) is None
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 0


def test_staff_without_change_permission_cannot_revoke(clerk, market, keyed):
    assert "revoke_selected_keys" not in clerk.get(KEYS).content.decode()
    clerk.post(KEYS, {"action": "revoke_selected_keys", "_selected_action": [keyed["active"].key.pk]})
    assert key_for(keyed["active"].raw) is not None


def test_a_key_cannot_be_found_by_its_hash(admin_client, market, keyed):
    key = keyed["active"].key
    assert admin_client.get(KEYS, {"q": key.key_hash}).context["cl"].result_count == 0
    assert admin_client.get(KEYS, {"q": key.prefix}).context["cl"].result_count == 1


def test_no_admin_page_shows_a_key_hash_or_a_secret(admin_client, exchange, trader, market):
    """On the testnet with credentials set: every account and key page, the allocation table, the order list."""
    account = open_testnet_account(trader)
    issued = [issue_api_key(account, name="bot", created_by=trader) for _ in range(2)]
    pages = [
        ACCOUNTS,
        f"{ACCOUNTS}{account.pk}/change/",
        KEYS,
        *[f"{KEYS}{i.key.pk}/change/" for i in issued],
        f"{KEYS}?q={issued[0].key.prefix}",
        ALLOCATION,
        f"{ADMIN}/paperorder/",
        f"{ADMIN}/simulatedbalance/",
        "/admin/",
    ]
    secrets = [SECRET, API_KEY] + [i.key.key_hash for i in issued] + [i.raw for i in issued]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        leaked = [secret[:12] for secret in secrets if secret in body]
        assert not leaked, f"{page} shows {leaked}"
    confirm = reset(admin_client, account, apply=False).content.decode()
    assert not [secret for secret in secrets if secret in confirm]


# --- the testnet allocation ------------------------------------------------------------------------------------


def test_the_account_list_links_the_allocation_table(admin_client, market):
    assert f'href="{ALLOCATION}"' in admin_client.get(ACCOUNTS).content.decode()


def test_allocation_in_simulation_says_there_is_nothing_to_allocate(admin_client, market, account):
    response = admin_client.get(ALLOCATION)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="allocation-problem"' in body and "runs on the simulator" in body
    assert 'id="allocation"' not in body


def test_allocation_without_credentials_says_the_testnet_cannot_be_asked(admin_client, settings, db):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""
    response = admin_client.get(ALLOCATION)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The testnet cannot be asked now:" in body and "BINANCE_TESTNET_API_KEY" in body
    assert 'id="allocation"' not in body


def test_allocation_shows_exchange_accounts_and_the_rest_per_asset(admin_client, exchange, trader, rival, market):
    """The fake exchange holds BTC 1 and USDT 9863.999992; two testnet accounts share part of it."""
    open_testnet_account(trader)  # USDT 5000, BTC 0.5
    open_testnet_account(rival, USDT="1000")
    response = admin_client.get(ALLOCATION)

    assert response.status_code == 200
    assert cells(response) == {  # ETH: neither holds any, so no row
        "BTC": ["1", "0.5", "0.5", "OK"],
        "USDT": ["9863.999992", "6000", "3863.999992", "OK"],
    }
    assert "Every asset adds up." in response.content.decode()


def test_allocation_flags_an_asset_the_accounts_were_given_more_of_than_the_exchange_holds(
    admin_client, exchange, trader, market
):
    open_testnet_account(trader)  # BTC 0.5 of the exchange's 1
    exchange.balances[0] = {"asset": "BTC", "free": "0.20000000", "locked": "0.00000000"}  # spent elsewhere

    response = admin_client.get(ALLOCATION)

    assert cells(response)["BTC"] == ["0.2", "0.5", "-0.3", "Differs"]
    assert cells(response)["USDT"][3] == "OK"
    body = response.content.decode()
    assert '<tr data-asset="BTC" class="differs">' in body
    assert "1 asset differs" in body


def test_allocation_when_the_exchange_does_not_answer_says_so(admin_client, exchange, trader, market):
    open_testnet_account(trader)
    exchange.read_failure["/api/v3/account"] = requests.ConnectionError("Connection refused")

    response = admin_client.get(ALLOCATION)

    assert response.status_code == 200
    assert "The testnet cannot be asked now:" in response.content.decode()


def test_allocation_is_for_staff_only(market, trader):
    client = Client()
    client.force_login(trader)
    response = client.get(ALLOCATION)
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_allocation_needs_the_view_permission_on_accounts(db):
    user = make_user("helper")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.add(Permission.objects.get(codename="view_paperorder"))
    client = Client()
    client.force_login(user)
    assert client.get(ALLOCATION).status_code == 403


def cells(response) -> dict[str, list[str]]:
    body = response.content.decode()
    table = re.search(r'<table id="allocation">.*?</table>', body, re.S).group(0)
    rows = re.findall(r'<tr data-asset="(\w+)"[^>]*>(.*?)</tr>', table, re.S)
    return {
        asset: [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for asset, row in rows
    }


def test_a_second_account_of_the_same_user_is_listed_on_its_own(admin_client, market, trader, account):
    second = open_account(owner=trader, name="Scalping", starting_balances={"USDT": "500"})
    response = admin_client.get(ACCOUNTS, {"q": "Scalping"})
    assert [a.pk for a in response.context["cl"].result_list] == [second.pk]
    assert "USDT 500" in response.content.decode()
