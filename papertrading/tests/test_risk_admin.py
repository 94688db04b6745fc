"""Risk limits in the operator's admin: the account's editable "Risk limits" (saved through the service, recorded
with the operator's name), the halt and resume actions, halted accounts in the account list, and the read-only
list of risk events.

Users: pytest-django's `admin_client` is the superuser "admin"; `clerk` is staff who may only view.
"""

import re
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from conftest import make_user
from papertrading import services
from papertrading.models import Account, PaperOrder, RiskEvent
from papertrading.tests.support import balances

pytestmark = pytest.mark.django_db

ADMIN = "/admin/papertrading"
ACCOUNTS = f"{ADMIN}/account/"
EVENTS = f"{ADMIN}/riskevent/"
LIMIT_FIELDS = (
    "max_order_notional",
    "max_position_notional",
    "max_open_orders",
    "max_orders_per_minute",
    "max_daily_loss",
    "allowed_symbols",
    "halt_on_daily_loss",
)
NO_DEFAULTS = {
    "max_order_notional": None,
    "max_position_notional": None,
    "max_open_orders": None,
    "max_orders_per_minute": None,
    "max_daily_loss": None,
    "allowed_symbols": None,
    "halt_on_daily_loss": False,
}


@pytest.fixture(autouse=True)
def _no_default_limits(settings):
    settings.RISK_DEFAULTS = dict(NO_DEFAULTS)


@pytest.fixture
def clerk(db) -> Client:
    """Staff who may view accounts and risk events, and change neither."""
    user = make_user("clerk", "view_account", "view_riskevent")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


class FormData(HTMLParser):
    """The values a browser would submit from the page's form `form_id`."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.data, self.select = form_id, False, {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and attrs.get("name") and attrs.get("type") not in ("submit", "checkbox"):
            self.data[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self.select = attrs.get("name")
            self.data.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in attrs:
            self.data[self.select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def change_url(account) -> str:
    return f"{ACCOUNTS}{account.pk}/change/"


def save_limits(client: Client, account, **limits):
    """Submit the account's change page as an operator would, with `limits` typed into the Risk limits."""
    page = client.get(change_url(account))
    assert page.status_code == 200
    parser = FormData("account_form")
    parser.feed(page.content.decode())
    data = {**parser.data, **{name: str(value) for name, value in limits.items()}}
    return client.post(change_url(account), data)


def notes(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def resting_buy(account) -> PaperOrder:
    return services.place_order(
        account=account,
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("30000"),
        time_in_force="GTC",
    ).order


def act(client: Client, action: str, *accounts, **extra):
    data = {"action": action, "_selected_action": [str(account.pk) for account in accounts], **extra}
    return client.post(ACCOUNTS, data, follow="apply" in extra or action == "resume_selected_accounts")


# --- the Risk limits fieldset ----------------------------------------------------------------------------------


def test_account_page_has_an_editable_risk_limits_fieldset_showing_the_defaults(admin_client, account, settings):
    settings.RISK_DEFAULTS = {**NO_DEFAULTS, "max_open_orders": 5, "max_daily_loss": D("1000")}
    response = admin_client.get(change_url(account))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<h2 id="fieldset-0-1-heading" class="fieldset-heading">Risk limits</h2>' in body
    for name in LIMIT_FIELDS:
        assert f'name="{name}"' in body
    assert "Most working orders at once. Empty: the default (5)." in body
    assert "Empty: the default (1000)." in body and "Empty: the default (no limit)." in body
    # Everything else stays read-only: it changes through the services.
    for name in ("name", "period", "starting_balances", "halted_reason", "halted_at"):
        assert f'name="{name}"' not in body


def test_saving_limits_sets_them_through_the_service_and_records_the_operator(admin_client, account, settings):
    settings.RISK_DEFAULTS = {**NO_DEFAULTS, "max_open_orders": 5}
    response = save_limits(
        admin_client,
        account,
        max_order_notional="2500.5",
        max_open_orders="50",  # past the default: staff may
        max_daily_loss="750",
        allowed_symbols="ethusdt, BTCUSDT",
        halt_on_daily_loss="true",
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.max_order_notional == D("2500.5")
    assert account.max_open_orders == 50
    assert account.max_daily_loss == D("750")
    assert account.allowed_symbols == ["BTCUSDT", "ETHUSDT"]
    assert account.halt_on_daily_loss is True
    assert account.max_position_notional is None and account.max_orders_per_minute is None
    event = RiskEvent.objects.get()
    assert (event.kind, event.actor, event.account) == ("limits", "admin", account)
    assert event.detail == (
        "max_order_notional: no limit -> 2500.5; max_daily_loss: no limit -> 750; max_open_orders: no limit -> 50; "
        "allowed_symbols: no limit -> BTCUSDT, ETHUSDT; halt_on_daily_loss: no limit -> true"
    )
    # The page shows what was saved, and saving it unchanged records nothing.
    body = admin_client.get(change_url(account)).content.decode()
    assert 'name="max_order_notional" value="2500.5"' in body and 'value="BTCUSDT, ETHUSDT"' in body
    assert save_limits(admin_client, account).status_code == 302
    assert RiskEvent.objects.count() == 1


def test_emptying_a_limit_returns_it_to_the_default(admin_client, account):
    services.set_limits(
        account=account, values={"max_open_orders": 3, "allowed_symbols": ["BTCUSDT"]}, user=None, may_loosen=True
    )
    RiskEvent.objects.all().delete()
    assert save_limits(admin_client, account, max_open_orders="", allowed_symbols="").status_code == 302
    account.refresh_from_db()
    assert account.max_open_orders is None and account.allowed_symbols is None
    assert RiskEvent.objects.get().detail == "max_open_orders: 3 -> no limit; allowed_symbols: BTCUSDT -> no limit"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_order_notional", "-1", "A decimal string, zero or more, with at most 8 decimals."),
        ("max_daily_loss", "0.123456789", "A decimal string, zero or more, with at most 8 decimals."),
        ("max_position_notional", "lots", "A decimal string, zero or more, with at most 8 decimals."),
        ("max_open_orders", "-2", "Ensure this value is greater than or equal to 0."),
        ("max_orders_per_minute", "1.5", "Enter a whole number."),
        ("allowed_symbols", "BTCUSDT, NOPEUSDT", "Unknown symbol(s): NOPEUSDT."),
    ],
)
def test_invalid_limits_are_form_errors_and_change_nothing(admin_client, account, field, value, message):
    valid = "max_open_orders" if field != "max_open_orders" else "max_orders_per_minute"
    response = save_limits(admin_client, account, **{valid: "4", field: value})
    assert response.status_code == 200  # the form again, with the error beside the field
    assert response.context["adminform"].form.errors[field] == [message]
    assert message in response.content.decode().replace("&#x27;", "'")
    account.refresh_from_db()
    assert getattr(account, valid) is None and getattr(account, field) is None  # the valid one is not saved either
    assert not RiskEvent.objects.exists()


def test_staff_who_may_only_view_cannot_change_limits(clerk, account):
    response = clerk.get(change_url(account))
    assert response.status_code == 200
    assert 'name="max_open_orders"' not in response.content.decode()
    assert clerk.post(change_url(account), {"max_open_orders": "1"}).status_code == 403
    account.refresh_from_db()
    assert account.max_open_orders is None and not RiskEvent.objects.exists()


def test_the_account_page_links_its_risk_events(admin_client, account):
    services.halt_account(account=account, reason="x", actor="ops")
    body = admin_client.get(change_url(account)).content.decode()
    assert f'<a href="{EVENTS}?account__id__exact={account.pk}">1 event</a>' in body


# --- halt and resume actions ---------------------------------------------------------------------------------


def test_halt_asks_for_the_reason_first_and_changes_nothing_until_given(admin_client, market, account, rival_account):
    resting_buy(account)
    response = act(admin_client, "halt_selected_accounts", account, rival_account)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Halt accounts" in body and 'name="reason"' in body and 'value="Halt 2 accounts"' in body
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>.*?<td>(\d+)</td>", body, re.S)
    assert [(name.replace("&#x27;", "'"), count) for name, count in rows] == [
        ("trader's desk", "1"),
        ("rival's desk", "0"),
    ]

    blank = act(admin_client, "halt_selected_accounts", account, rival_account, apply="1", reason="  ")
    assert blank.status_code == 200
    assert "Say why the account is halted." in blank.content.decode()
    assert not Account.objects.filter(halted_at__isnull=False).exists() and not RiskEvent.objects.exists()
    assert PaperOrder.objects.get().status == "PENDING"


def test_halt_halts_each_account_cancels_its_orders_and_reports_per_account(
    admin_client, market, account, rival_account
):
    order = resting_buy(account)

    response = act(
        admin_client, "halt_selected_accounts", account, rival_account, apply="1", reason="Exchange incident"
    )

    assert response.status_code == 200
    assert notes(response) == [
        ("success", "trader's desk: halted; 1 working order cancelled."),
        ("success", "rival's desk: halted; 0 working orders cancelled."),
    ]
    for halted in (account, rival_account):
        halted.refresh_from_db()
        assert (halted.halted_reason, halted.halted_by) == ("Exchange incident", "admin")
        event = RiskEvent.objects.get(account=halted)
        assert (event.kind, event.detail, event.actor, event.source) == (
            "halted",
            "Exchange incident",
            "admin",
            "admin",
        )
    order.refresh_from_db()
    assert order.status == "CANCELLED"
    assert order.events.latest("id").actor == "admin"
    assert balances(account)["USDT"] == (D("100000"), D("0"))


def test_halting_a_halted_account_says_so_and_keeps_its_reason(admin_client, market, account):
    services.halt_account(account=account, reason="First", actor="ops")
    response = act(admin_client, "halt_selected_accounts", account, apply="1", reason="Second")
    assert notes(response) == [("warning", "trader's desk: already halted (First); 0 working orders cancelled.")]
    account.refresh_from_db()
    assert account.halted_reason == "First"
    assert RiskEvent.objects.filter(kind="halted").count() == 1


def test_resume_resumes_each_halted_account_and_reports_the_others(admin_client, market, account, rival_account):
    services.halt_account(account=account, reason="Pause", actor="ops")

    response = act(admin_client, "resume_selected_accounts", account, rival_account)

    assert response.status_code == 200
    assert notes(response) == [
        ("success", "trader's desk: resumed; new orders are judged by its limits again."),
        ("info", "rival's desk: was not halted."),
    ]
    account.refresh_from_db()
    assert account.halted_at is None
    event = RiskEvent.objects.get(kind="resumed")
    assert (event.account, event.actor, event.source) == (account, "admin", "admin")
    assert not RiskEvent.objects.filter(account=rival_account).exists()


def test_staff_who_may_only_view_cannot_halt_or_resume(clerk, market, account):
    body = clerk.get(ACCOUNTS).content.decode()
    assert "halt_selected_accounts" not in body and "resume_selected_accounts" not in body
    clerk.post(
        ACCOUNTS, {"action": "halt_selected_accounts", "_selected_action": [account.pk], "apply": "1", "reason": "x"}
    )
    account.refresh_from_db()
    assert account.halted_at is None
    services.halt_account(account=account, reason="Pause", actor="ops")
    clerk.post(ACCOUNTS, {"action": "resume_selected_accounts", "_selected_action": [account.pk]})
    account.refresh_from_db()
    assert account.halted_at is not None


# --- the account list ----------------------------------------------------------------------------------------


def test_account_list_shows_and_filters_halted_accounts(admin_client, account, rival_account):
    services.halt_account(account=account, reason="Runaway agent", actor="ops")
    body = admin_client.get(ACCOUNTS).content.decode()
    assert '<td class="field-halted">Halted by ops: Runaway agent</td>' in body
    assert '<td class="field-halted">—</td>' in body  # the rival trades

    halted = admin_client.get(ACCOUNTS, {"halted": "yes"})
    trading = admin_client.get(ACCOUNTS, {"halted": "no"})
    assert [a.pk for a in halted.context["cl"].result_list] == [account.pk]
    assert [a.pk for a in trading.context["cl"].result_list] == [rival_account.pk]


# --- the risk events list ------------------------------------------------------------------------------------


@pytest.fixture
def events(api, market, account, rival_account):
    """A refusal and a halt of the trader's account, a limit change of the rival's."""
    services.set_limits(account=account, values={"max_order_notional": "100"}, user=None, may_loosen=True)
    refused = api.post(
        "/api/paper-trading/orders",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "order_type": "LIMIT",
            "quantity": "0.01",
            "price": "30000",
            "time_in_force": "GTC",
        },
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "RISK_LIMIT"
    services.halt_account(account=account, reason="Too big", actor="ops")
    services.set_limits(account=rival_account, values={"max_open_orders": 2}, user=None, may_loosen=True)
    return {event.kind + ":" + event.account.name: event for event in RiskEvent.objects.all()}


def test_risk_event_list_shows_each_event(admin_client, events):
    response = admin_client.get(EVENTS)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 4
    body = response.content.decode()
    row = re.search(r'<tr>(?:(?!</tr>).)*?<td class="field-kind">Order refused</td>.*?</tr>', body, re.S).group(0)
    assert '<td class="field-limit">max_order_notional</td>' in row
    assert '<td class="field-value">300.00000000</td>' in row
    assert '<td class="field-limit_value">100.00000000</td>' in row
    assert "BUY 0.01 BTCUSDT LIMIT @ 30000" in row and '<td class="field-actor">trader</td>' in row


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"kind__exact": "refused"}, {"refused:trader's desk"}),
        ({"kind__exact": "limits"}, {"limits:trader's desk", "limits:rival's desk"}),
        ({"limit__exact": "max_order_notional"}, {"refused:trader's desk"}),
    ],
)
def test_risk_event_list_filters_by_kind_and_limit(admin_client, events, query, expected):
    response = admin_client.get(EVENTS, query)
    assert {events_key(e) for e in response.context["cl"].result_list} == expected


def events_key(event) -> str:
    return f"{event.kind}:{event.account.name}"


def test_risk_event_list_filters_by_account(admin_client, events, rival_account):
    response = admin_client.get(EVENTS, {"account__id__exact": rival_account.pk})
    assert {events_key(e) for e in response.context["cl"].result_list} == {"limits:rival's desk"}
    filters = [spec.title for spec in response.context["cl"].filter_specs]
    assert filters == ["kind", "limit", "account"]


def test_risk_events_cannot_be_added_changed_or_deleted(admin_client, events):
    event = events["halted:trader's desk"]
    assert admin_client.get(f"{EVENTS}add/").status_code == 403
    assert admin_client.get(f"{EVENTS}{event.pk}/delete/").status_code == 403
    page = admin_client.get(f"{EVENTS}{event.pk}/change/")
    assert page.status_code == 200 and 'name="detail"' not in page.content.decode()
    admin_client.post(f"{EVENTS}{event.pk}/change/", {"detail": "rewritten", "actor": "someone"})
    admin_client.post(EVENTS, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    event.refresh_from_db()
    assert (event.detail, event.actor) == ("Too big", "ops")
    assert RiskEvent.objects.count() == 4


def test_staff_who_may_view_read_the_risk_events(clerk, events):
    assert clerk.get(EVENTS).status_code == 200
