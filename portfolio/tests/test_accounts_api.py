"""/api/accounts: opening accounts with a key shown once, keys that act as their account alone, revoking, resetting.

The trader (`api`, their own credentials) opens accounts; `key_client` speaks with an account's API key; the rival
(`rival_api`) proves that another user's account, key or reset answers 404, exactly like one that does not exist.
"""

import hashlib
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from config.tests.test_schema_responses import assert_documented
from conftest import api_client_for, make_user
from papertrading.models import Account, ApiKey, PaperOrder, SimulatedBalance
from papertrading.services import open_account
from papertrading.tests.standin import standin_in_testnet_mode
from portfolio.models import Trade

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/accounts"
ORDERS = "/api/paper-trading/orders"
TRADES = "/api/portfolio/trades"
POSITIONS = "/api/portfolio/positions"
MARKET_BUY = {"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.01"}
LIMIT_BUY = {**MARKET_BUY, "order_type": "LIMIT", "price": "60000", "time_in_force": "GTC"}
SCALPER = {"name": "Scalper", "starting_balances": {"USDT": "5000", "BTC": "0.1"}}


def key_client(raw: str, **headers) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}", **headers)
    return client


def create(client, data=SCALPER) -> dict:
    response = client.post(ACCOUNTS, data, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def balances(account_id: int) -> dict[str, tuple[D, D]]:
    return {b.asset: (b.free, b.locked) for b in SimulatedBalance.objects.filter(account_id=account_id)}


@pytest.fixture
def staff(db) -> User:
    user = make_user("operator", "view_paperorder")
    user.is_staff = True
    user.save()
    return user


# --- opening an account ---------------------------------------------------------------------------------------


def test_create_answers_201_with_the_account_and_its_key_shown_once(market, api, trader):
    body = create(api)

    raw = body["api_key"]
    assert raw.startswith("ptk_") and len(raw) > 40
    assert (body["name"], body["owner"], body["venue"], body["period"]) == ("Scalper", "trader", "simulation", 1)
    assert not body["is_default"] and not body["is_external"]
    assert body["starting_balances"] == {"USDT": "5000.00000000", "BTC": "0.10000000"}
    assert {b["asset"]: (D(b["free"]), D(b["locked"])) for b in body["balances"]} == {
        "BTC": (D("0.1"), D("0")),
        "USDT": (D("5000"), D("0")),
    }
    # 5000 USDT and 0.1 BTC at 68000: the BTC is an opening position, so equity = starting equity, P&L zero.
    assert (D(body["starting_equity"]), D(body["equity"]), D(body["total_pnl"])) == (D("11800"), D("11800"), D("0"))
    assert (D(body["return_rate"]), body["trade_count"], body["open_positions"]) == (D("0"), 0, 1)
    assert body["key"]["prefix"] == raw[:12] and body["key"]["is_active"]
    # Stored hashed: the key itself is nowhere in the database.
    key = ApiKey.objects.get(pk=body["key"]["id"])
    assert key.account_id == body["id"] and key.created_by == trader
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert not ApiKey.objects.filter(key_hash=raw).exists() and not ApiKey.objects.filter(prefix=raw).exists()


def test_the_key_is_never_shown_again(market, api):
    body = create(api)
    raw = body["api_key"]

    listed = api.get(f"{ACCOUNTS}/{body['id']}/keys")
    detail = api.get(f"{ACCOUNTS}/{body['id']}")
    accounts = api.get(ACCOUNTS)

    assert listed.status_code == 200
    assert [(k["id"], k["prefix"], k["is_active"]) for k in listed.json()] == [(body["key"]["id"], raw[:12], True)]
    assert set(listed.json()[0]) == {
        "id",
        "name",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "is_active",
    }
    for response in (listed, detail, accounts):
        assert response.status_code == 200
        assert raw.encode() not in response.content and b"api_key" not in response.content


def test_starting_balances_default_to_the_desks_starting_balances(market, api):
    body = create(api, {"name": "Defaults", "key_name": "bot"})

    assert body["starting_balances"] == {"USDT": "100000.00000000", "BTC": "1.00000000", "ETH": "10.00000000"}
    assert {b["asset"]: D(b["free"]) for b in body["balances"]} == {"BTC": D("1"), "ETH": D("10"), "USDT": D("100000")}
    assert body["key"]["name"] == "bot"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"starting_balances": {"USDT": "10"}}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Taken"}, "name"),
        ({"name": "Bad", "starting_balances": {"USDT": "-5"}}, "starting_balances"),
        ({"name": "Bad", "starting_balances": {"USDT": "1.000000001"}}, "starting_balances"),
        ({"name": "Bad", "starting_balances": {"US DT": "5"}}, "starting_balances"),
        ({"name": "Bad", "starting_balances": {"USDT": 0.1}}, "starting_balances"),
        ({"name": "Bad", "starting_balances": "lots"}, "starting_balances"),
        ({"name": "Bad", "starting_balances": ["USDT", "5"]}, "starting_balances"),
        ({"name": "Bad", "key_name": "k" * 101}, "key_name"),
    ],
    ids=["no-name", "blank", "long", "taken", "negative", "precision", "asset", "float", "string", "list", "key"],
)
def test_invalid_input_is_400_per_field_and_writes_nothing(market, api, trader, data, field):
    open_account(owner=trader, name="Taken")
    before = (Account.objects.count(), ApiKey.objects.count(), SimulatedBalance.objects.count(), Trade.objects.count())

    response = api.post(ACCOUNTS, data, format="json")

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert all(isinstance(message, str) and message for message in response.json()[field])
    after = (Account.objects.count(), ApiKey.objects.count(), SimulatedBalance.objects.count(), Trade.objects.count())
    assert after == before


def test_every_invalid_field_is_reported_at_once(market, api, trader):
    open_account(owner=trader, name="Taken")

    response = api.post(ACCOUNTS, {"name": "taken", "starting_balances": {"USDT": "-1", "?": "1"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "name": ["You already have an account named 'taken'."],
        "starting_balances": [
            "USDT: '-1' is not an amount (a decimal string, zero or more).",
            "'?' is not an asset name (letters and digits, at most 10).",
        ],
    }
    assert Account.objects.count() == 1


def test_a_testnet_allocation_the_exchange_cannot_fund_is_400_and_writes_nothing(settings, monkeypatch, db, api):
    with standin_in_testnet_mode(settings, monkeypatch, api_key="test-key", secret="test-secret"):
        response = api.post(ACCOUNTS, {"name": "Whale", "starting_balances": {"USDT": "1000000"}}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "starting_balances": ["USDT: 1000000 asked, 100000.00000000 not allocated on the testnet."]
    }
    assert not Account.objects.exists() and not ApiKey.objects.exists()


def test_opening_an_account_takes_the_users_own_credentials_and_the_right_to_trade(market, api, viewer_api):
    raw = create(api)["api_key"]

    with_key = key_client(raw).post(ACCOUNTS, {"name": "Minted"}, format="json")
    by_viewer = viewer_api.post(ACCOUNTS, {"name": "Mine"}, format="json")

    assert with_key.status_code == 403
    assert with_key.json() == {"detail": "An account's API key cannot open accounts; use your own token or sign in."}
    assert by_viewer.status_code == 403
    assert not Account.objects.filter(name__in=["Minted", "Mine"]).exists()


# --- what a key may do ----------------------------------------------------------------------------------------


def test_a_key_acts_as_its_account_and_nothing_else(market, api, trader, account):
    created = create(api)
    bot = key_client(created["api_key"])

    placed = bot.post(ORDERS, MARKET_BUY, format="json")

    assert placed.status_code == 201, placed.content
    assert PaperOrder.objects.get(pk=placed.json()["id"]).account_id == created["id"]
    assert not account.orders.exists()
    # 5000 USDT less 0.01 BTC at 68000 plus slippage (68034), and 0.01 BTC less the 0.1 % fee.
    assert balances(created["id"]) == {"BTC": (D("0.10999"), D("0")), "USDT": (D("4319.66"), D("0"))}
    assert [row["id"] for row in results(bot.get(ACCOUNTS))] == [created["id"]]
    assert [row["id"] for row in results(bot.get(ORDERS))] == [placed.json()["id"]]
    assert bot.get(f"{ACCOUNTS}/{created['id']}").json()["id"] == created["id"]


def test_a_key_naming_another_account_answers_404_and_touches_nothing(market, api, account, rival_account):
    created = create(api)
    raw = created["api_key"]

    for other in (account, rival_account):  # the key owner's own default account too: a key is one account
        named = key_client(raw, HTTP_X_ACCOUNT=str(other.pk))
        assert named.post(ORDERS, MARKET_BUY, format="json").status_code == 404
        assert named.get(ORDERS).status_code == 404
        bot = key_client(raw)
        for url in (f"{ACCOUNTS}/{other.pk}", f"{ACCOUNTS}/{other.pk}/keys"):
            assert bot.get(url).json() == {"detail": "No such account."}
        assert bot.post(f"{ACCOUNTS}/{other.pk}/reset").status_code == 404
        assert bot.post(f"{ACCOUNTS}/{other.pk}/keys", {}, format="json").status_code == 404

    assert not PaperOrder.objects.exists()
    assert (account.api_keys.count(), rival_account.api_keys.count()) == (0, 0)


def test_a_key_lists_its_accounts_keys_but_may_not_issue_or_revoke_keys(market, api):
    created = create(api)
    bot = key_client(created["api_key"])
    url = f"{ACCOUNTS}/{created['id']}/keys"

    listed = bot.get(url)
    issued = bot.post(url, {"name": "more"}, format="json")
    revoked = bot.delete(f"{url}/{created['key']['id']}")

    assert [k["id"] for k in listed.json()] == [created["key"]["id"]]
    assert issued.status_code == 403 and "cannot issue keys" in issued.json()["detail"]
    assert revoked.status_code == 403 and "cannot revoke keys" in revoked.json()["detail"]
    assert ApiKey.objects.filter(account_id=created["id"]).count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_the_users_own_credentials_act_on_an_account_they_name(market, api, account):
    created = create(api)

    placed = api.post(ORDERS, MARKET_BUY, format="json", HTTP_X_ACCOUNT=str(created["id"]))
    default = api.post(ORDERS, MARKET_BUY, format="json")

    assert PaperOrder.objects.get(pk=placed.json()["id"]).account_id == created["id"]
    assert PaperOrder.objects.get(pk=default.json()["id"]).account_id == account.pk


# --- keys: issue, list, revoke ----------------------------------------------------------------------------------


def test_another_key_is_issued_listed_and_revoked_and_a_revoked_key_gets_401(market, api):
    created = create(api)
    url = f"{ACCOUNTS}/{created['id']}/keys"

    issued = api.post(url, {"name": "second"}, format="json")

    assert issued.status_code == 201
    second = issued.json()
    assert second["api_key"].startswith("ptk_") and second["prefix"] == second["api_key"][:12]
    assert (second["name"], second["created_by"], second["revoked_at"]) == ("second", "trader", None)
    bot = key_client(second["api_key"])
    assert bot.get(f"{ACCOUNTS}/{created['id']}").status_code == 200
    assert api.get(url).json()[0]["last_used_at"] is not None  # newest first: the one just used

    revoked = api.delete(f"{url}/{second['id']}")

    assert revoked.status_code == 200
    assert revoked.json()["id"] == second["id"] and revoked.json()["revoked_at"] is not None
    assert revoked.json()["is_active"] is False
    refused = bot.get(ACCOUNTS)
    assert refused.status_code == 401 and refused.json() == {"detail": "Invalid or revoked API key."}
    assert bot.post(ORDERS, MARKET_BUY, format="json").status_code == 401
    assert not PaperOrder.objects.exists()
    # Revoking again changes nothing; the first key still works.
    again = api.delete(f"{url}/{second['id']}")
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert key_client(created["api_key"]).get(ACCOUNTS).status_code == 200
    assert [(k["id"], k["is_active"]) for k in api.get(url).json()] == [
        (second["id"], False),
        (created["key"]["id"], True),
    ]


# --- other users' accounts --------------------------------------------------------------------------------------


def test_another_users_account_keys_and_reset_answer_404_and_change_nothing(market, api, rival_api, rival):
    created = create(api)
    pk, key_id = created["id"], created["key"]["id"]
    api.post(ORDERS, LIMIT_BUY, format="json", HTTP_X_ACCOUNT=str(pk))
    no_account = {"detail": "No such account."}

    assert rival_api.get(f"{ACCOUNTS}/{pk}").json() == no_account
    assert rival_api.get(f"{ACCOUNTS}/{pk}/keys").json() == no_account
    assert rival_api.post(f"{ACCOUNTS}/{pk}/keys", {}, format="json").json() == no_account
    assert rival_api.delete(f"{ACCOUNTS}/{pk}/keys/{key_id}").json() == no_account
    assert rival_api.post(f"{ACCOUNTS}/{pk}/reset").json() == no_account
    for response in (
        rival_api.get(f"{ACCOUNTS}/{pk}"),
        rival_api.post(f"{ACCOUNTS}/{pk}/reset"),
        rival_api.delete(f"{ACCOUNTS}/{pk}/keys/{key_id}"),
    ):
        assert response.status_code == 404
    assert pk not in [row["id"] for row in results(rival_api.get(ACCOUNTS))]
    # A key of the rival's own account, named under the trader's account, is not found either.
    rival_created = create(rival_api, {"name": "Rival bot"})
    assert api.delete(f"{ACCOUNTS}/{pk}/keys/{rival_created['key']['id']}").status_code == 404
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 0
    assert Account.objects.get(pk=pk).period == 1
    assert PaperOrder.objects.get(account_id=pk).status == PaperOrder.Status.PENDING


def test_staff_see_every_account_and_users_only_their_own(market, api, account, rival_account, staff):
    created = create(api)
    staff_client = api_client_for(staff)

    everyone = {row["id"] for row in results(staff_client.get(ACCOUNTS))}
    own = [row["id"] for row in results(api.get(ACCOUNTS))]

    assert {account.pk, rival_account.pk, created["id"]} <= everyone
    assert own == [account.pk, created["id"]]
    rival_detail = staff_client.get(f"{ACCOUNTS}/{rival_account.pk}")
    assert rival_detail.status_code == 200 and rival_detail.json()["owner"] == "rival"


# --- reset ----------------------------------------------------------------------------------------------------


def test_reset_cancels_working_orders_restores_balances_and_starts_a_new_period(market, api):
    created = create(api, {"name": "Reset me", "starting_balances": {"USDT": "10000", "BTC": "0.5"}})
    pk = created["id"]
    bot = key_client(created["api_key"])
    filled = bot.post(ORDERS, MARKET_BUY, format="json").json()
    resting = bot.post(ORDERS, LIMIT_BUY, format="json").json()
    assert resting["status"] == "PENDING" and balances(pk)["USDT"][1] == D("600")
    market.set("BTCUSDT", "70000")

    response = bot.post(f"{ACCOUNTS}/{pk}/reset")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["period"] == 2
    assert PaperOrder.objects.get(pk=resting["id"]).status == PaperOrder.Status.CANCELLED
    assert balances(pk) == {"BTC": (D("0.5"), D("0")), "USDT": (D("10000"), D("0"))}
    # The new period opens the BTC again at the price of the reset: 10000 + 0.5 × 70000, no P&L yet.
    assert (D(body["starting_equity"]), D(body["equity"]), D(body["total_pnl"])) == (D("45000"), D("45000"), D("0"))
    assert body["trade_count"] == 0 and body["performance"]["win_rate"] is None
    positions = bot.get(POSITIONS).json()
    assert [(p["asset"], D(p["quantity"]), D(p["average_cost"])) for p in positions] == [("BTC", D("0.5"), D("70000"))]
    # The history stays readable: the first period's fill and both opening trades are in the ledger.
    ledger = results(bot.get(TRADES))
    assert [(t["source"], t["order_id"]) for t in ledger] == [
        ("opening", None),
        ("fill", filled["id"]),
        ("opening", None),
    ]
    assert sorted(Trade.objects.filter(account_id=pk).values_list("period", flat=True)) == [1, 1, 2]
    assert bot.get(f"{ORDERS}/{filled['id']}").json()["status"] == "FILLED"


def test_reset_needs_the_right_to_cancel_orders(market, viewer, viewer_api):
    mine = open_account(owner=viewer, name="Read only")

    response = viewer_api.post(f"{ACCOUNTS}/{mine.pk}/reset")

    assert response.status_code == 403
    assert Account.objects.get(pk=mine.pk).period == 1


# --- the schema -----------------------------------------------------------------------------------------------


def test_the_openapi_schema_validates_without_a_warning(tmp_path):
    # What `manage.py spectacular --validate --fail-on-warn` checks: it raises on any warning or invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    schema = (tmp_path / "schema.yml").read_text()
    for path in (
        "/api/accounts:",
        "/api/accounts/{id}/reset:",
        "/api/accounts/{id}/keys/{key_id}:",
        "/api/leaderboard:",
    ):
        assert f"\n  {path}\n" in schema, path


@pytest.fixture
def schema():
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_account_answers_match_the_schema(market, api, rival_api, schema):
    created = api.post(ACCOUNTS, SCALPER, format="json")
    pk, key_id = created.json()["id"], created.json()["key"]["id"]
    bot = key_client(created.json()["api_key"])
    keys = f"{ACCOUNTS}/{{id}}/keys"
    checks = [
        (created, "post", ACCOUNTS),
        (api.post(ACCOUNTS, {"name": ""}, format="json"), "post", ACCOUNTS),
        (bot.post(ACCOUNTS, {"name": "x"}, format="json"), "post", ACCOUNTS),
        (api.get(ACCOUNTS), "get", ACCOUNTS),
        (api.get(f"{ACCOUNTS}?page=9"), "get", ACCOUNTS),
        (api.get(f"{ACCOUNTS}/{pk}"), "get", f"{ACCOUNTS}/{{id}}"),
        (rival_api.get(f"{ACCOUNTS}/{pk}"), "get", f"{ACCOUNTS}/{{id}}"),
        (api.get(f"{ACCOUNTS}/{pk}/keys"), "get", keys),
        (api.post(f"{ACCOUNTS}/{pk}/keys", {"name": "two"}, format="json"), "post", keys),
        (api.post(f"{ACCOUNTS}/{pk}/keys", {"name": "k" * 101}, format="json"), "post", keys),
        (api.delete(f"{ACCOUNTS}/{pk}/keys/{key_id}"), "delete", f"{keys}/{{key_id}}"),
        (api.delete(f"{ACCOUNTS}/{pk}/keys/999999"), "delete", f"{keys}/{{key_id}}"),
        (bot.get(ACCOUNTS), "get", ACCOUNTS),  # the revoked key: 401
        (api.post(f"{ACCOUNTS}/{pk}/reset"), "post", f"{ACCOUNTS}/{{id}}/reset"),
        (rival_api.post(f"{ACCOUNTS}/{pk}/reset"), "post", f"{ACCOUNTS}/{{id}}/reset"),
        (api.get("/api/leaderboard"), "get", "/api/leaderboard"),
    ]

    assert [response.status_code for response, _, _ in checks] == [
        201, 400, 403, 200, 404, 200, 404, 200, 201, 400, 200, 404, 401, 200, 404, 200,
    ]  # fmt: skip
    for response, method, path in checks:
        assert_documented(schema, response, method, path)
