"""The pages act as one account at a time: the header's switcher picks it, and every panel shows only its orders
and balances. Another account's order answers 404 on the pages, like one that does not exist.

Users (root conftest): `trader` and `rival` may place, cancel and sync, each on their own default account
(`account`, `rival_account`); `boss` below is staff with the same permissions.
"""

import html
import json
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from conftest import make_user, page_client_for
from papertrading.accounts import external_account
from papertrading.models import Account, OrderEvent, PaperOrder, SimulatedBalance
from papertrading.services import open_account, reset_account

pytestmark = pytest.mark.django_db

DESK = reverse("papertrading:desk")
ORDERS = reverse("papertrading:orders")
ACCOUNT = reverse("papertrading:account")
ORDER_FORM = reverse("papertrading:order_form")
CHOOSE = reverse("papertrading:choose_account")
HX = {"HTTP_HX_REQUEST": "true"}


def limit_buy(price="30000", quantity="0.01") -> dict:
    """A GTC LIMIT BUY of BTCUSDT far below the market (68000): it rests, holding price x quantity USDT."""
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "order_type": "LIMIT",
        "time_in_force": "GTC",
        "quantity": quantity,
        "price": price,
    }


def place_on_page(client: Client, **fields) -> PaperOrder:
    before = set(PaperOrder.objects.values_list("pk", flat=True))
    response = client.post(ORDER_FORM, limit_buy(**fields))
    assert response.status_code == 302, response.content.decode()
    (order,) = PaperOrder.objects.exclude(pk__in=before)
    return order


def listed_order_ids(response) -> list[int]:
    assert response.status_code == 200, response.content.decode()
    return [int(pk) for pk in re.findall(r'data-order-id="(\d+)"', response.content.decode())]


def choose(client: Client, account, next_url: str = DESK, **extra):
    return client.post(CHOOSE, {"account": str(getattr(account, "pk", account)), "next": next_url}, **extra)


def panel_balances(response) -> dict[str, tuple[str, str]]:
    """The account panel's rows: asset -> (free, locked) as shown."""
    body = response.content.decode()
    rows = re.findall(
        r'<tr data-asset="(\w+)">.*?data-field="free">([^<]*)<.*?data-field="locked">([^<]*)<', body, re.S
    )
    return {asset: (free, locked) for asset, free, locked in rows}


def switcher_options(response) -> list[tuple[str, str, bool]]:
    """The header switcher's options: (account id, label, selected)."""
    form = re.search(r'<form id="account-switcher".*?</form>', response.content.decode(), re.S)
    assert form, "no account switcher on the page"
    return [
        (pk, html.unescape(label.strip()), bool(selected))
        for pk, selected, label in re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', form.group(0))
    ]


def hx_account(response) -> str | None:
    """The account the page's htmx requests act as (the X-Account header set on <body>)."""
    match = re.search(r"<body hx-headers='([^']*)'", response.content.decode())
    assert match
    return json.loads(match.group(1)).get("X-Account")


@pytest.fixture
def trader_client(trader) -> Client:
    return page_client_for(trader)


@pytest.fixture
def rival_client(rival) -> Client:
    return page_client_for(rival)


@pytest.fixture
def boss(db):
    user = make_user("boss", "add_paperorder", "change_paperorder", "view_paperorder")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def second_account(trader, account):
    """A second account of the trader's, holding only 500 USDT."""
    return open_account(owner=trader, name="Scalping", starting_balances={"USDT": "500"})


# --- each page shows its own account ------------------------------------------------------------------------


def test_each_desk_lists_only_its_own_orders(market, trader_client, rival_client, account, rival_account):
    mine = place_on_page(trader_client, price="30000")
    theirs = place_on_page(rival_client, price="31000")

    assert (mine.account, theirs.account) == (account, rival_account)
    assert listed_order_ids(trader_client.get(DESK)) == [mine.pk]
    assert listed_order_ids(rival_client.get(DESK)) == [theirs.pk]
    # The table's own refresh (htmx), both filters.
    assert listed_order_ids(trader_client.get(ORDERS, **HX)) == [mine.pk]
    assert listed_order_ids(rival_client.get(ORDERS + "?show=open", **HX)) == [theirs.pk]


def test_each_desk_shows_its_own_balances(market, trader_client, rival_client, account, rival_account):
    place_on_page(trader_client, price="30000", quantity="0.02")  # holds 600 USDT of the trader's

    assert panel_balances(trader_client.get(ACCOUNT, **HX))["USDT"] == ("99400", "600")
    assert panel_balances(rival_client.get(ACCOUNT, **HX))["USDT"] == ("100000", "0")


def test_cancelling_another_accounts_order_on_the_page_answers_404_and_changes_nothing(
    market, trader_client, rival_client, rival_account
):
    theirs = place_on_page(rival_client, price="30000")
    events = theirs.events.count()
    cancel = reverse("papertrading:cancel", args=[theirs.pk])

    assert trader_client.post(cancel).status_code == 404
    assert trader_client.post(cancel, **HX).status_code == 404

    theirs.refresh_from_db()
    assert theirs.status == PaperOrder.Status.PENDING
    assert theirs.events.count() == events
    usdt = SimulatedBalance.objects.get(account=rival_account, asset="USDT")
    assert (usdt.free, usdt.locked) == (Decimal("99700"), Decimal("300"))
    # The rival still cancels it.
    assert rival_client.post(cancel).status_code == 302
    theirs.refresh_from_db()
    assert theirs.status == PaperOrder.Status.CANCELLED


def test_the_account_panel_names_the_account_and_its_period(market, trader_client, account):
    body = trader_client.get(ACCOUNT, **HX).content.decode()
    assert f'data-account-id="{account.pk}"' in body
    assert '<strong class="account-name">trader&#x27;s desk</strong>' in body
    assert '<span class="account-period">1</span>' in body

    reset_account(account=account, actor="trader")
    assert '<span class="account-period">2</span>' in trader_client.get(ACCOUNT, **HX).content.decode()


# --- the switcher -----------------------------------------------------------------------------------------------


def test_the_header_lists_only_the_users_accounts_with_the_acting_one_selected(
    market, trader_client, account, second_account, rival_account
):
    external_account("simulation")
    response = trader_client.get(DESK)

    assert switcher_options(response) == [
        (str(account.pk), "trader's desk", True),
        (str(second_account.pk), "Scalping", False),
    ]
    assert hx_account(response) == str(account.pk)


def test_switching_to_a_second_account_shows_its_empty_orders_and_its_balances(
    market, trader_client, account, second_account
):
    first = place_on_page(trader_client, price="30000")

    response = choose(trader_client, second_account)
    assert (response.status_code, response.url) == (302, DESK)

    desk = trader_client.get(DESK)
    assert listed_order_ids(desk) == []
    assert "No orders yet." in desk.content.decode()
    assert panel_balances(desk) == {"USDT": ("500", "0")}
    assert '<strong class="account-name">Scalping</strong>' in desk.content.decode()
    assert [selected for _, _, selected in switcher_options(desk)] == [False, True]
    assert hx_account(desk) == str(second_account.pk)
    assert "Now acting as Scalping." in desk.content.decode()  # the notice after the redirect

    # Orders placed now belong to the second account, and only it pays for them.
    second = place_on_page(trader_client, price="20000", quantity="0.01")
    assert second.account == second_account
    assert listed_order_ids(trader_client.get(DESK)) == [second.pk]
    assert panel_balances(trader_client.get(ACCOUNT, **HX)) == {"USDT": ("300", "200")}
    assert SimulatedBalance.objects.get(account=account, asset="USDT").locked == Decimal("300")  # the first's hold

    # And back: the first account's order again, the second's gone from view.
    choose(trader_client, account)
    assert listed_order_ids(trader_client.get(DESK)) == [first.pk]


def test_a_pages_htmx_requests_act_as_the_account_it_shows(market, trader_client, account, second_account):
    """Another tab may switch accounts; a desk drawn for the first account keeps refreshing and acting as it."""
    first = place_on_page(trader_client, price="30000")
    choose(trader_client, second_account)  # the other tab

    pinned = {**HX, "HTTP_X_ACCOUNT": str(account.pk)}
    assert listed_order_ids(trader_client.get(ORDERS, **pinned)) == [first.pk]
    response = trader_client.post(ORDER_FORM, limit_buy(price="29000"), **pinned)
    assert response.status_code == 200
    assert PaperOrder.objects.filter(account=account).count() == 2
    assert not PaperOrder.objects.filter(account=second_account).exists()


def test_a_user_choosing_another_users_account_gets_404_and_keeps_their_own(
    market, trader_client, account, rival_account
):
    response = choose(trader_client, rival_account)
    assert response.status_code == 404
    assert choose(trader_client, rival_account, **HX).status_code == 404
    assert choose(trader_client, "999999").status_code == 404
    assert choose(trader_client, "not-a-number").status_code == 404

    desk = trader_client.get(DESK)
    assert hx_account(desk) == str(account.pk)
    assert str(rival_account.pk) not in {pk for pk, _, _ in switcher_options(desk)}
    assert listed_order_ids(desk) == []


def test_an_old_choice_of_an_account_no_longer_visible_falls_back_to_the_default(
    market, trader_client, trader, account, second_account
):
    choose(trader_client, second_account)
    Account.objects.filter(pk=second_account.pk).update(owner=make_user("heir"))

    assert hx_account(trader_client.get(DESK)) == str(account.pk)


def test_staff_may_choose_any_account_and_see_them_labelled_with_the_owner(
    market, boss, rival_client, rival_account, account
):
    theirs = place_on_page(rival_client, price="30000")
    external = external_account("simulation")
    boss_client = page_client_for(boss)

    desk = boss_client.get(DESK)
    options = switcher_options(desk)
    own = Account.objects.get(owner=boss, is_default=True)
    assert options == [
        (str(own.pk), "boss's desk", True),
        (str(rival_account.pk), "rival's desk (rival)", False),
        (str(account.pk), "trader's desk (trader)", False),
        (str(external.pk), "External (Simulation)", False),
    ]
    body = desk.content.decode()
    assert body.index('<optgroup label="Your accounts">') < body.index('<optgroup label="Other accounts">')
    assert body.index('<optgroup label="Other accounts">') < body.index('<optgroup label="External">')

    assert choose(boss_client, rival_account).status_code == 302
    assert listed_order_ids(boss_client.get(DESK)) == [theirs.pk]
    assert choose(boss_client, external).status_code == 302
    assert listed_order_ids(boss_client.get(DESK)) == []


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/portfolio/?range=7d", "/portfolio/?range=7d"),
        (DESK + "?show=open&sort=symbol", DESK + "?show=open&sort=symbol"),
        ("", DESK),
        ("https://evil.example/steal", DESK),
        ("//evil.example/steal", DESK),
        ("http://testserver/portfolio/", DESK),  # only a path on this site
        ("javascript:alert(1)", DESK),
        ("/\\evil.example", DESK),
    ],
)
def test_the_switcher_goes_back_only_to_a_local_page(market, trader_client, second_account, next_url, expected):
    response = choose(trader_client, second_account, next_url)
    assert (response.status_code, response.url) == (302, expected)


def test_with_htmx_the_switcher_reloads_the_page_it_came_from(market, trader_client, second_account):
    response = choose(trader_client, second_account, "/analysis/", **HX)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/analysis/"
    assert hx_account(trader_client.get(DESK)) == str(second_account.pk)


def test_the_switcher_needs_a_post_with_csrf_and_a_signed_in_user(market, trader, second_account):
    anonymous = Client()
    response = choose(anonymous, second_account)
    assert response.status_code == 302 and response.url.startswith(reverse("login"))

    strict = page_client_for(trader, enforce_csrf_checks=True)
    assert choose(strict, second_account).status_code == 403
    assert strict.get(CHOOSE).status_code == 405
    assert hx_account(strict.get(DESK)) != str(second_account.pk)


def test_the_switcher_form_works_without_javascript(market, trader_client, account):
    """A plain form: method, action, the CSRF token, where to come back to, and a submit button."""
    body = trader_client.get(DESK + "?show=open").content.decode()
    form = re.search(r'<form id="account-switcher"[^>]*>.*?</form>', body, re.S).group(0)
    assert 'method="post"' in form and f'action="{CHOOSE}"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    assert f'name="next" value="{DESK}?show=open"' in form
    assert '<button type="submit"' in form
    assert '<label for="account-switcher-select">Account</label>' in form


@pytest.mark.parametrize("page", ["/portfolio/", "/analysis/"])
def test_the_other_pages_carry_the_switcher(market, trader_client, account, second_account, page):
    choose(trader_client, second_account)
    response = trader_client.get(page)
    assert response.status_code == 200
    assert [selected for _, _, selected in switcher_options(response)] == [False, True]
    assert hx_account(response) == str(second_account.pk)


def test_signed_out_pages_have_no_switcher(db):
    body = Client().get(reverse("login")).content.decode()
    assert "account-switcher" not in body
    assert "X-Account" not in body


def test_the_desk_draws_when_no_account_can_be_opened_on_an_unreachable_testnet(trader_client, market, settings):
    settings.PAPER_TRADING_MODE = "testnet"
    settings.BINANCE_TESTNET_API_KEY = ""
    settings.BINANCE_TESTNET_API_SECRET = ""

    response = trader_client.get(DESK)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Testnet unavailable." in body
    assert listed_order_ids(response) == []
    assert "account-switcher" not in body  # nothing to switch to yet
    assert not Account.objects.exists()
    assert not OrderEvent.objects.exists()
