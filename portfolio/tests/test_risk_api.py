"""/api/accounts/{id}/limits, /halt, /resume and /risk-events: who may read, tighten, loosen, halt and resume.

The trader (`api`) owns `account`; `key_client` speaks with that account's API key; staff act on any account; the
rival's account answers 404 like one that does not exist. The market is BTCUSDT 68000; the trader's account starts
with 100000 USDT, 1 BTC and 10 ETH.
"""

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import api_client_for, make_user
from papertrading import services
from papertrading.accounts import issue_api_key
from papertrading.models import Account, PaperOrder, RiskEvent
from papertrading.tests.support import LIMIT_BUY, MARKET_BUY, ORDERS_URL, balances

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/accounts"
NO_LIMIT = {"effective": None, "own": None, "default": None}


def limits_url(account) -> str:
    return f"{ACCOUNTS}/{account.pk}/limits"


def key_client(account) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_key(account, name='bot').raw}")
    return client


def own_limits(account) -> dict:
    account.refresh_from_db()
    return {name: getattr(account, name) for name in ("max_order_notional", "max_open_orders", "allowed_symbols")}


@pytest.fixture
def defaults(settings):
    """The desk's defaults: orders up to 1000 USDT, 10 working orders, BTCUSDT and ETHUSDT, halting on the loss."""
    settings.RISK_DEFAULTS = {
        "max_order_notional": D("1000"),
        "max_position_notional": None,
        "max_open_orders": 10,
        "max_orders_per_minute": None,
        "max_daily_loss": D("5000"),
        "allowed_symbols": ["BTCUSDT", "ETHUSDT"],
        "halt_on_daily_loss": True,
    }
    return settings.RISK_DEFAULTS


def staff_user(username: str, *permissions: str) -> User:
    user = make_user(username, *permissions)
    user.is_staff = True
    user.save()
    return user


# --- reading ------------------------------------------------------------------------------------------------------


def test_limits_show_each_limits_effective_own_and_default_value_with_its_usage(api, account, market, defaults):
    Account.objects.filter(pk=account.pk).update(max_open_orders=3, allowed_symbols=["BTCUSDT"])
    resting = api.post(ORDERS_URL, LIMIT_BUY, format="json").json()
    assert api.post(ORDERS_URL, MARKET_BUY, format="json").status_code == 201
    PaperOrder.objects.filter(pk=resting["id"]).update(created_at=timezone.now() - timedelta(minutes=5))
    Account.objects.filter(pk=account.pk).update(day_start_equity=D("204000"), day_started_on=timezone.now().date())

    response = api.get(limits_url(account))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["account"], body["halted"]) == (account.pk, None)
    limits = body["limits"]
    assert limits["max_order_notional"] == {
        "effective": "1000.00000000",
        "own": None,
        "default": "1000.00000000",
        "used": None,
    }
    assert limits["max_position_notional"] == {**NO_LIMIT, "used": None}
    assert limits["max_open_orders"] == {"effective": 3, "own": 3, "default": 10, "used": 1}
    assert limits["max_orders_per_minute"] == {**NO_LIMIT, "used": 1}  # the resting order is 5 minutes old
    # Equity now: 100000 − 670 reserved (still held) − the MARKET BUY's cost, + 1.00999 BTC at 68000 + 10 ETH.
    loss = D(limits["max_daily_loss"]["used"])
    assert D("999") < loss < D("1002")
    assert {k: v for k, v in limits["max_daily_loss"].items() if k != "used"} == {
        "effective": "5000.00000000",
        "own": None,
        "default": "5000.00000000",
    }
    assert limits["allowed_symbols"] == {
        "effective": ["BTCUSDT"],
        "own": ["BTCUSDT"],
        "default": ["BTCUSDT", "ETHUSDT"],
    }
    assert limits["halt_on_daily_loss"] == {"effective": True, "own": None, "default": True}


def test_a_halted_account_shows_when_why_and_who(api, account, market):
    services.halt_account(account=account, reason="runaway bot", actor="trader")

    halted = api.get(limits_url(account)).json()["halted"]

    assert (halted["reason"], halted["by"]) == ("runaway bot", "trader")
    assert halted["at"] is not None


# --- changing limits ----------------------------------------------------------------------------------------------


def test_the_owner_tightens_limits_and_only_the_limits_given_change(api, account, market, defaults):
    first = api.put(limits_url(account), {"max_order_notional": "500", "max_open_orders": 2}, format="json")
    assert first.status_code == 200, first.content

    second = api.put(limits_url(account), {"allowed_symbols": ["ethusdt"]}, format="json")

    assert second.status_code == 200, second.content
    assert own_limits(account) == {
        "max_order_notional": D("500"),
        "max_open_orders": 2,
        "allowed_symbols": ["ETHUSDT"],
    }
    limits = second.json()["limits"]
    assert limits["max_order_notional"]["effective"] == "500.00000000"
    assert (limits["max_open_orders"]["effective"], limits["allowed_symbols"]["effective"]) == (2, ["ETHUSDT"])
    events = RiskEvent.objects.filter(account=account, kind=RiskEvent.Kind.LIMITS).order_by("id")
    assert [(event.actor, event.detail) for event in events] == [
        ("trader", "max_order_notional: no limit -> 500; max_open_orders: no limit -> 2"),
        ("trader", "allowed_symbols: no limit -> ETHUSDT"),
    ]
    # The limits it set are enforced on its next orders.
    refused = api.post(ORDERS_URL, LIMIT_BUY, format="json")
    assert (refused.status_code, refused.json()["limit"]) == (400, "allowed_symbols")


def test_a_zero_limit_refuses_every_order_it_judges(api, account, market):
    response = api.put(limits_url(account), {"max_order_notional": "0", "max_orders_per_minute": 0}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["limits"]["max_order_notional"]["effective"] == "0.00000000"
    refused = api.post(ORDERS_URL, LIMIT_BUY, format="json")
    assert (refused.status_code, refused.json()["limit"]) == (400, "max_order_notional")


def test_null_restores_the_default(api, account, market, defaults):
    Account.objects.filter(pk=account.pk).update(max_order_notional=D("500"), max_open_orders=2)

    response = api.put(limits_url(account), {"max_order_notional": None}, format="json")

    assert response.status_code == 200, response.content
    assert own_limits(account) == {"max_order_notional": None, "max_open_orders": 2, "allowed_symbols": None}
    assert response.json()["limits"]["max_order_notional"]["effective"] == "1000.00000000"


def test_the_owner_may_not_loosen_a_limit_past_the_default(api, account, market, defaults):
    response = api.put(
        limits_url(account),
        {"max_order_notional": "1000.00000001", "max_open_orders": 5, "allowed_symbols": ["BTCUSDT", "SOLUSDT"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "max_order_notional": ["Only staff may set it past the default (1000)."],
        "allowed_symbols": ["Only staff may set it past the default (BTCUSDT, ETHUSDT)."],
    }
    # Nothing changed, not even the limit that was fine.
    assert own_limits(account) == {"max_order_notional": None, "max_open_orders": None, "allowed_symbols": None}
    assert not RiskEvent.objects.exists()
    # Turning off a default halt is loosening too; the default itself is fine.
    off = api.put(limits_url(account), {"halt_on_daily_loss": False}, format="json")
    assert off.json() == {"halt_on_daily_loss": ["Only staff may set it past the default (true)."]}
    at_default = api.put(limits_url(account), {"max_order_notional": "1000"}, format="json")
    assert at_default.status_code == 200, at_default.content


def test_staff_with_the_change_account_permission_loosen_limits(account, market, defaults):
    staff = api_client_for(staff_user("operator", "change_account"))

    response = staff.put(
        limits_url(account),
        {"max_order_notional": "25000", "allowed_symbols": ["BTCUSDT", "SOLUSDT"], "halt_on_daily_loss": False},
        format="json",
    )

    assert response.status_code == 200, response.content
    assert own_limits(account)["max_order_notional"] == D("25000")
    limits = response.json()["limits"]
    assert limits["allowed_symbols"]["effective"] == ["BTCUSDT", "SOLUSDT"]
    assert limits["halt_on_daily_loss"] == {"effective": False, "own": False, "default": True}
    assert RiskEvent.objects.get(account=account, kind=RiskEvent.Kind.LIMITS).actor == "operator"


def test_staff_without_the_change_account_permission_only_tighten(account, market, defaults):
    staff = api_client_for(staff_user("operator", "change_paperorder"))

    loosen = staff.put(limits_url(account), {"max_order_notional": "25000"}, format="json")
    tighten = staff.put(limits_url(account), {"max_order_notional": "250"}, format="json")

    assert loosen.status_code == 400
    assert loosen.json() == {"max_order_notional": ["Only staff may set it past the default (1000)."]}
    assert tighten.status_code == 200


def test_changing_limits_needs_a_right_to_trade(viewer, viewer_api, market):
    own = services.default_account_for(viewer)

    response = viewer_api.put(limits_url(own), {"max_open_orders": 1}, format="json")

    assert response.status_code == 403
    assert own_limits(own)["max_open_orders"] is None


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"max_order_notional": "-1"}, {"max_order_notional": ["A limit is zero or more."]}),
        ({"max_position_notional": -5}, {"max_position_notional": ["A limit is zero or more."]}),
        ({"max_order_notional": "1.000000001"}, None),
        ({"max_order_notional": "lots"}, None),
        ({"max_daily_loss": True}, None),
        ({"max_open_orders": -1}, {"max_open_orders": ["Ensure this value is greater than or equal to 0."]}),
        ({"max_open_orders": "two"}, {"max_open_orders": ["A valid integer is required."]}),
        ({"allowed_symbols": ["BTCUSDT", "NOPEUSDT"]}, {"allowed_symbols": ["Unknown symbol(s): NOPEUSDT."]}),
        ({"allowed_symbols": "BTCUSDT"}, None),
        ({"halt_on_daily_loss": "perhaps"}, {"halt_on_daily_loss": ["Must be a valid boolean."]}),
        ({"max_loss": "10"}, None),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_invalid_limits_are_400_per_field_and_change_nothing(api, account, market, data, errors):
    response = api.put(limits_url(account), data, format="json")

    assert response.status_code == 400, response.content
    field = next(iter(data))
    assert list(response.json()) == [field]
    assert response.json()[field] and all(isinstance(message, str) for message in response.json()[field])
    if errors:
        assert response.json() == errors
    if field == "max_loss":
        assert response.json()[field][0].startswith("Not a limit; the limits are max_order_notional, ")
    assert own_limits(account) == {"max_order_notional": None, "max_open_orders": None, "allowed_symbols": None}
    assert not RiskEvent.objects.exists()


def test_every_invalid_limit_is_reported_at_once(api, account, market):
    response = api.put(
        limits_url(account), {"max_open_orders": "x", "allowed_symbols": ["NOPE"], "bogus": 1}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"max_open_orders", "bogus"}  # the service checks symbols once shapes pass
    assert api.put(limits_url(account), [1], format="json").json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


# --- an account's API key -----------------------------------------------------------------------------------------


def test_a_key_may_tighten_its_accounts_limits_but_never_loosen_them(account, market, defaults, trader):
    trader.is_staff = True  # even a staff owner's key: keys never loosen
    trader.save()
    trader.user_permissions.add(*trader.user_permissions.model.objects.filter(codename="change_account"))
    key = key_client(account)

    tighten = key.put(limits_url(account), {"max_order_notional": "100", "max_open_orders": 1}, format="json")
    loosen = key.put(limits_url(account), {"max_order_notional": "1000.01"}, format="json")

    assert tighten.status_code == 200, tighten.content
    assert loosen.status_code == 400
    assert loosen.json() == {"max_order_notional": ["Only staff may set it past the default (1000)."]}
    assert own_limits(account)["max_order_notional"] == D("100")
    # The same owner with their own credentials may.
    assert (
        api_client_for(User.objects.get(pk=trader.pk))
        .put(limits_url(account), {"max_order_notional": "1000.01"}, format="json")
        .status_code
        == 200
    )


def test_a_key_may_not_loosen_what_its_owner_set_even_without_a_default(account, market, api):
    # No default for these limits: the owner's values are the only guard between the agent and its account.
    assert (
        api.put(
            limits_url(account),
            {"max_open_orders": 2, "allowed_symbols": ["BTCUSDT"], "halt_on_daily_loss": True},
            format="json",
        ).status_code
        == 200
    )
    key = key_client(account)

    raised = key.put(limits_url(account), {"max_open_orders": 100}, format="json")
    cleared = key.put(limits_url(account), {"max_open_orders": None, "allowed_symbols": None}, format="json")
    widened = key.put(limits_url(account), {"allowed_symbols": ["BTCUSDT", "ETHUSDT"]}, format="json")
    unhalting = key.put(limits_url(account), {"halt_on_daily_loss": False}, format="json")
    tightened = key.put(limits_url(account), {"max_open_orders": 1}, format="json")

    for refused, fields in (
        (raised, {"max_open_orders"}),
        (cleared, {"max_open_orders", "allowed_symbols"}),
        (widened, {"allowed_symbols"}),
        (unhalting, {"halt_on_daily_loss"}),
    ):
        assert refused.status_code == 400, refused.content
        assert set(refused.json()) == fields
        assert all("may only tighten" in messages[0] for messages in refused.json().values())
    assert tightened.status_code == 200
    limits = own_limits(account)
    assert (limits["max_open_orders"], limits["allowed_symbols"]) == (1, ["BTCUSDT"])


def test_a_key_halts_its_own_account_but_may_not_resume_it(account, market):
    key = key_client(account)
    resting = key.post(ORDERS_URL, LIMIT_BUY, format="json").json()

    halted = key.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "my own loss check tripped"}, format="json")
    resumed = key.post(f"{ACCOUNTS}/{account.pk}/resume")

    assert halted.status_code == 200, halted.content
    assert (halted.json()["cancelled"], halted.json()["not_cancelled"]) == ([resting["id"]], {})
    assert halted.json()["halted"]["by"] == "trader"
    assert resumed.status_code == 403
    assert resumed.json() == {"detail": "An account's API key cannot resume an account; use your own token or sign in."}
    account.refresh_from_db()
    assert account.halted_reason == "my own loss check tripped"


def test_a_key_reaches_no_other_account(api, account, market):
    other = services.open_account(owner=account.owner, name="Other", starting_balances={"USDT": "100"})
    key = key_client(account)

    for response in (
        key.get(limits_url(other)),
        key.put(limits_url(other), {"max_open_orders": 1}, format="json"),
        key.post(f"{ACCOUNTS}/{other.pk}/halt", {"reason": "x"}, format="json"),
        key.post(f"{ACCOUNTS}/{other.pk}/resume"),
        key.get(f"{ACCOUNTS}/{other.pk}/risk-events"),
    ):
        assert response.status_code == 404, response.content
    other.refresh_from_db()
    assert (other.max_open_orders, other.halted_at) == (None, None)


# --- halting and resuming -----------------------------------------------------------------------------------------


def test_halt_cancels_working_orders_and_answers_the_state(api, account, market):
    start = balances(account)
    orders = [api.post(ORDERS_URL, {**LIMIT_BUY, "price": p}, format="json").json() for p in ("67000", "66000")]

    response = api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "  news spike  "}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["account"], body["cancelled"], body["not_cancelled"]) == (account.pk, [o["id"] for o in orders], {})
    assert (body["halted"]["reason"], body["halted"]["by"]) == ("news spike", "trader")
    assert body["limits"]["max_open_orders"]["used"] == 0
    assert balances(account) == start
    event = RiskEvent.objects.get(account=account)
    assert (event.kind, event.detail, event.actor, event.source) == ("halted", "news spike", "trader", "api")
    # Halting again keeps the first reason.
    again = api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "second"}, format="json")
    assert (again.json()["halted"]["reason"], again.json()["cancelled"]) == ("news spike", [])


def test_an_order_whose_outcome_is_unknown_is_reported_not_cancelled(api, account, market):
    order = api.post(ORDERS_URL, LIMIT_BUY, format="json").json()
    PaperOrder.objects.filter(pk=order["id"]).update(status=PaperOrder.Status.UNKNOWN)

    response = api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "stop"}, format="json")

    assert response.json()["cancelled"] == []
    assert response.json()["not_cancelled"] == {
        str(order["id"]): "Its outcome is not known yet; sync settles it, then cancel it."
    }
    PaperOrder.objects.filter(pk=order["id"]).update(status=PaperOrder.Status.PENDING)


@pytest.mark.parametrize("data", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}])
def test_halt_needs_a_reason(api, account, market, data):
    response = api.post(f"{ACCOUNTS}/{account.pk}/halt", data, format="json")

    assert response.status_code == 400
    assert response.json() == {"reason": ["Say why the account is halted."]}
    account.refresh_from_db()
    assert account.halted_at is None and not RiskEvent.objects.exists()


def test_halt_and_resume_need_the_right_to_cancel_orders(viewer, viewer_api, market):
    own = services.default_account_for(viewer)

    assert viewer_api.post(f"{ACCOUNTS}/{own.pk}/halt", {"reason": "x"}, format="json").status_code == 403
    services.halt_account(account=own, reason="by staff", actor="operator")
    assert viewer_api.post(f"{ACCOUNTS}/{own.pk}/resume").status_code == 403
    own.refresh_from_db()
    assert own.halted_reason == "by staff"


def test_resume_lifts_the_halt_and_is_recorded(api, account, market):
    api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "pause"}, format="json")

    response = api.post(f"{ACCOUNTS}/{account.pk}/resume")

    assert response.status_code == 200, response.content
    assert response.json()["halted"] is None
    event = RiskEvent.objects.filter(account=account).first()
    assert (event.kind, event.detail, event.actor) == ("resumed", "Was halted: pause", "trader")
    assert api.post(ORDERS_URL, LIMIT_BUY, format="json").status_code == 201
    # Resuming an account that is not halted changes nothing.
    assert api.post(f"{ACCOUNTS}/{account.pk}/resume").status_code == 200
    assert RiskEvent.objects.filter(kind="resumed").count() == 1


def test_staff_halt_and_resume_any_account_and_are_named(account, market):
    staff = api_client_for(staff_user("operator", "change_paperorder"))

    assert staff.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "desk-wide stop"}, format="json").status_code == 200
    assert staff.post(f"{ACCOUNTS}/{account.pk}/resume").status_code == 200

    assert list(RiskEvent.objects.values_list("kind", "actor")) == [("resumed", "operator"), ("halted", "operator")]


# --- another user's account ---------------------------------------------------------------------------------------


def test_another_users_account_answers_404_and_changes_nothing(api, rival_account, market):
    services.halt_account(account=rival_account, reason="rival's own halt", actor="rival")
    url = f"{ACCOUNTS}/{rival_account.pk}"

    for response in (
        api.get(f"{url}/limits"),
        api.put(f"{url}/limits", {"max_open_orders": 1}, format="json"),
        api.post(f"{url}/halt", {"reason": "x"}, format="json"),
        api.post(f"{url}/resume"),
        api.get(f"{url}/risk-events"),
        api.get(f"{ACCOUNTS}/999999/limits"),
    ):
        assert response.status_code == 404, response.content
        assert response.json() == {"detail": "No such account."}
    rival_account.refresh_from_db()
    assert (rival_account.max_open_orders, rival_account.halted_reason) == (None, "rival's own halt")


# --- risk events --------------------------------------------------------------------------------------------------


def test_risk_events_list_refusals_halts_resumes_and_limit_changes_newest_first(api, account, rival_account, market):
    assert api.put(limits_url(account), {"max_order_notional": "100"}, format="json").status_code == 200
    assert api.post(ORDERS_URL, LIMIT_BUY, format="json").status_code == 400
    api.post(f"{ACCOUNTS}/{account.pk}/halt", {"reason": "pause"}, format="json")
    api.post(f"{ACCOUNTS}/{account.pk}/resume")
    services.halt_account(account=rival_account, reason="not yours", actor="rival")

    response = api.get(f"{ACCOUNTS}/{account.pk}/risk-events")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 4
    assert [event["kind"] for event in body["results"]] == ["resumed", "halted", "refused", "limits"]
    refused = body["results"][2]
    assert {key: refused[key] for key in ("limit", "limit_value", "value", "order", "source", "actor")} == {
        "limit": "max_order_notional",
        "limit_value": "100.00000000",
        "value": "670.00000000",
        "order": "BUY 0.01 BTCUSDT LIMIT @ 67000",
        "source": "api",
        "actor": "trader",
    }
    assert refused["detail"] == "The order is worth 670, above the account's largest order value 100."
    assert set(body["results"][0]) == {
        "id", "created_at", "kind", "limit", "limit_value", "value", "detail", "order", "source", "actor",
    }  # fmt: skip
    second_page = api.get(f"{ACCOUNTS}/{account.pk}/risk-events", {"page_size": 3, "page": 2}).json()
    assert [event["kind"] for event in second_page["results"]] == ["limits"]
    only_refusals = api.get(f"{ACCOUNTS}/{account.pk}/risk-events", {"kind": "refused"}).json()
    assert [event["id"] for event in only_refusals["results"]] == [refused["id"]]
