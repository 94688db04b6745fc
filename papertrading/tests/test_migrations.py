"""Upgrading a database written before accounts: every row lands in one default account, owned by the first
superuser, and each order keeps the id the exchange knows it by."""

import uuid
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from analysis.models import AnalysisRun
from papertrading.models import Account, BalanceAdjustment, PaperOrder, SimulatedBalance
from papertrading.symbols import load_default_symbol_rules
from portfolio.models import EquitySnapshot, Position, Trade

BEFORE_ACCOUNTS = [
    ("papertrading", "0006_fill_iceberg_filters"),
    ("portfolio", "0001_initial"),
    ("analysis", "0001_initial"),
]


def migrate(targets=None) -> None:
    """Migrate to `targets` (the latest migration of every app when None)."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def write_old_rows(apps) -> dict:
    """One row of each kind, written with the models as they were before accounts."""
    User = apps.get_model("auth", "User")
    get = apps.get_model
    now = timezone.now()
    # A plain user joined first: the rows go to the first superuser all the same.
    User.objects.create(username="early-bird", password="!")
    boss = User.objects.create(username="boss", password="!", is_superuser=True, is_staff=True)
    User.objects.create(username="late-admin", password="!", is_superuser=True)
    run_id = uuid.uuid4()
    order = get("papertrading", "PaperOrder").objects.create(
        symbol="BTCUSDT", side="BUY", order_type="LIMIT", quantity=D("0.01"), price=D("67000"), time_in_force="GTC",
        status="PENDING", venue="simulation", client_order_id="legacy-bot-0001", locked_asset="USDT",
        locked_amount=D("670"), trigger_price=D("67000"), trigger_direction="BELOW", run_id=run_id, placed_by=boss,
    )  # fmt: skip
    other = get("papertrading", "PaperOrder").objects.create(
        symbol="ETHUSDT", side="SELL", order_type="MARKET", quantity=D("1"), status="REJECTED", venue="simulation",
        client_order_id="pt0123456789abcdef0123456789abcdef", reject_code=-2010,
    )  # fmt: skip
    get("papertrading", "SimulatedBalance").objects.create(asset="USDT", free=D("99330"), locked=D("670"))
    get("papertrading", "BalanceAdjustment").objects.create(asset="USDT", amount=D("100000"), reason="Starting")
    get("portfolio", "Trade").objects.create(
        symbol="ETHUSDT", base_asset="ETH", quote_asset="USDT", side="BUY", quantity=D("1"), price=D("3500"),
        fee=D("0.001"), fee_asset="ETH", fee_in_quote=D("3.5"), base_delta=D("0.999"), quote_delta=D("-3500"),
        source="direct", run_id=run_id, agent="momentum", executed_at=now,
    )  # fmt: skip
    get("portfolio", "Position").objects.create(
        symbol="ETHUSDT", base_asset="ETH", quote_asset="USDT", quantity=D("0.999"), cost_basis=D("3500"),
        trade_count=1,
    )  # fmt: skip
    get("portfolio", "EquitySnapshot").objects.create(
        taken_at=now, cash=D("96500"), market_value=D("3496.5"), equity=D("99996.5"), cost_basis=D("3500"),
        realized_pnl=D("0"), unrealized_pnl=D("-3.5"), total_pnl=D("-3.5"),
    )  # fmt: skip
    get("analysis", "AnalysisRun").objects.create(
        run_id=run_id, agent="momentum", symbol="ETHUSDT", decision="BUY", quantity=D("1"), status="executed",
        mode="direct", posted_by=boss,
    )  # fmt: skip
    return {"boss": boss.pk, "orders": {order.pk: order.client_order_id, other.pk: other.client_order_id}}


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_accounts_move_into_the_first_superusers_default_account(settings):
    try:
        migrate(BEFORE_ACCOUNTS)
        old = write_old_rows(MigrationExecutor(connection).loader.project_state(BEFORE_ACCOUNTS).apps)

        migrate()

        account = Account.objects.get()
        assert (account.owner_id, account.is_default, account.is_external) == (old["boss"], True, False)
        assert (account.name, account.venue, account.period) == ("Desk", "simulation", 1)
        expected = {asset: str(amount) for asset, amount in settings.SIMULATOR_STARTING_BALANCES.items()}
        assert account.starting_balances == expected
        for model in (
            PaperOrder, SimulatedBalance, BalanceAdjustment, Trade, Position, EquitySnapshot, AnalysisRun,
        ):  # fmt: skip
            assert model.objects.exists(), model
            assert set(model.objects.values_list("account_id", flat=True)) == {account.pk}, model
        # The exchange knows each order by the id it was sent with, so that stays its venue reference.
        refs = dict(PaperOrder.objects.values_list("pk", "venue_order_ref"))
        assert refs == old["orders"]
        assert dict(PaperOrder.objects.values_list("pk", "client_order_id")) == old["orders"]
        # The moved rows read as the account's own through the current models.
        order = account.orders.get(client_order_id="legacy-bot-0001")
        run = AnalysisRun.objects.get(account=account, run_id=order.run_id)
        assert Trade.objects.get(account=account, run_id=run.run_id).period == account.period == 1
        assert SimulatedBalance.objects.get(account=account, asset="USDT").locked == D("670")
    finally:
        migrate()  # the latest schema for every test that follows, whatever happened above
        # An earlier transactional test may have flushed the shipped rules; the balance check after this test
        # reads them for the order written above.
        load_default_symbol_rules()
