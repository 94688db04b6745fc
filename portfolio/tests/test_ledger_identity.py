"""The ledger identity of every account holds after every step of random trading by two accounts at once.

Steps: MARKET and LIMIT orders (buys and sells, some beyond the account's means), cancels, price moves that match
resting orders, direct decisions (paper trading off) and account resets. After each one, for both accounts:
equity at the last prices = starting equity + total P&L, positions = what the period's trades delivered, the
agents' P&L adds up to the total (`ledger_problems`), and every balance matches its own history
(`check_balances`). Each example runs in a transaction that is rolled back, so each starts from two fresh accounts.
"""

import uuid
from decimal import Decimal as D

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from papertrading.balances import check_balances
from papertrading.errors import OrderRejected, OrderValidationError
from papertrading.models import MarketPrice, PaperOrder, SimulatedBalance, SymbolRule
from papertrading.money import round_to_step
from papertrading.services import cancel_order, match_orders, open_account, place_order, reset_account
from portfolio.models import Trade
from portfolio.services import Decision, PortfolioManager, ledger_problems

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
STARTING_PRICES = {"BTCUSDT": D("68000"), "ETHUSDT": D("3500")}
# Quantities in lot steps: BTC 0.0001..0.8 (step 0.00001), ETH 0.002..8 (step 0.0001); the largest are worth more
# than an account's cash, so refusals are part of the space.
QUANTITY_STEPS = {"BTCUSDT": (10, 80_000), "ETHUSDT": (20, 80_000)}
ACCOUNTS = st.integers(min_value=0, max_value=1)
WHERE = st.floats(min_value=0, max_value=1)
SYMBOL = st.sampled_from(SYMBOLS)
SIDE = st.sampled_from(["BUY", "SELL"])


class TwoAccountsTrading(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        for symbol, price in STARTING_PRICES.items():
            MarketPrice.objects.filter(symbol=symbol).update(price=price)
        self.rules = {rule.symbol: rule for rule in SymbolRule.objects.filter(symbol__in=SYMBOLS)}
        owners = [User.objects.create_user(f"identity-{uuid.uuid4().hex[:12]}") for _ in range(2)]
        self.accounts = [
            open_account(owner=owners[0], name="Alpha"),
            # Another mix of assets: its opening book differs from the first one's.
            open_account(owner=owners[1], name="Beta", starting_balances={"USDT": "20000", "BTC": "0.5"}),
        ]

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ---------------------------------------------------------------------------------------------

    def price(self, symbol: str) -> D:
        return MarketPrice.objects.get(symbol=symbol).price

    def grid_price(self, symbol: str, bps: int) -> D:
        tick = self.rules[symbol].tick_size
        return max(round_to_step(self.price(symbol) * (1 + D(bps) / 10000), tick, up=False), tick)

    def quantity(self, symbol: str, where: float) -> D:
        low, high = QUANTITY_STEPS[symbol]
        return self.rules[symbol].step_size * int(low + (high - low) * where)

    def other_balances(self, index: int) -> set:
        """The balances of the account that is not `index`: what no step of `index` may move."""
        return set(
            SimulatedBalance.objects.filter(account=self.accounts[1 - index]).values_list("asset", "free", "locked")
        )

    def account(self, index: int):
        account = self.accounts[index]
        account.refresh_from_db()  # a reset moved it to its next period
        return account

    # --- steps -----------------------------------------------------------------------------------------------

    def place(self, index: int, symbol: str, side: str, order_type: str, bps: int, where: float) -> None:
        terms = dict(symbol=symbol, side=side, order_type=order_type, quantity=self.quantity(symbol, where))
        if order_type == "LIMIT":
            terms.update(price=self.grid_price(symbol, bps), time_in_force="GTC")
        other = self.other_balances(index)
        try:
            event(f"{order_type} {place_order(account=self.account(index), **terms).order.status}")
        except OrderRejected:
            event(f"{order_type} REJECTED")
        except OrderValidationError as exc:
            event(f"{order_type} invalid: {', '.join(exc.errors)}")
        assert self.other_balances(index) == other

    @rule(index=ACCOUNTS, symbol=SYMBOL, side=SIDE, bps=st.integers(min_value=-300, max_value=300), where=WHERE)
    def place_limit(self, index, symbol, side, bps, where):
        self.place(index, symbol, side, "LIMIT", bps, where)

    @rule(index=ACCOUNTS, symbol=SYMBOL, side=SIDE, bps=st.integers(min_value=-150, max_value=-10), where=WHERE)
    def place_resting_limit(self, index, symbol, side, bps, where):
        """Below the market for a buy, above it for a sell: it rests until a move reaches it."""
        self.place(index, symbol, side, "LIMIT", bps if side == "BUY" else -bps, where)

    @rule(index=ACCOUNTS, symbol=SYMBOL, side=SIDE, where=WHERE)
    def place_market(self, index, symbol, side, where):
        self.place(index, symbol, side, "MARKET", 0, where)

    @rule(index=ACCOUNTS, pick=st.integers(min_value=0, max_value=50))
    def cancel(self, index, pick):
        account = self.account(index)
        working = list(account.orders.filter(status__in=PaperOrder.WORKING_STATUSES).order_by("id"))
        if not working:
            return
        order = working[pick % len(working)]
        other = self.accounts[1 - index]
        with pytest.raises(PaperOrder.DoesNotExist):
            cancel_order(account=other, order_id=order.pk)  # never through the other account
        assert cancel_order(account=account, order_id=order.pk).status == PaperOrder.Status.CANCELLED

    @rule(symbol=SYMBOL, bps=st.integers(min_value=-500, max_value=500))
    def move(self, symbol, bps):
        filled = match_orders(symbol=symbol, market_price=self.set_price(symbol, self.grid_price(symbol, bps)))
        event(f"move matched {filled > 0}")

    @rule(pick=st.integers(min_value=0, max_value=50), beyond=st.integers(min_value=0, max_value=50))
    def move_through_a_resting_order(self, pick, beyond):
        """The market reaches a working order's price (and goes `beyond` it, in basis points): it fills."""
        working = list(PaperOrder.objects.filter(status__in=PaperOrder.WORKING_STATUSES).order_by("id"))
        if not working:
            return
        order = working[pick % len(working)]
        step = D(beyond) / 10000 * (-1 if order.side == "BUY" else 1)
        price = round_to_step(order.price * (1 + step), self.rules[order.symbol].tick_size, up=order.side == "SELL")
        match_orders(symbol=order.symbol, market_price=self.set_price(order.symbol, price))
        order.refresh_from_db()
        assert order.status == PaperOrder.Status.FILLED, order
        event("move filled a resting order")

    def set_price(self, symbol: str, price: D) -> D:
        MarketPrice.objects.filter(symbol=symbol).update(price=price)
        return price

    @rule(index=ACCOUNTS, symbol=SYMBOL, side=SIDE, where=WHERE, agent=st.sampled_from(["trend", "revert"]))
    def decide_directly(self, index, symbol, side, where, agent):
        account = self.account(index)
        decision = Decision(
            run_id=uuid.uuid4(), agent=agent, symbol=symbol, side=side, quantity=self.quantity(symbol, where)
        )
        other = self.other_balances(index)
        result = PortfolioManager(account=account, use_paper_trading=False).execute(decision)
        event(f"direct {'ok' if result.ok else result.error_code}")
        if result.ok:
            assert [t.account_id for t in result.trades] == [account.pk]
        else:
            assert not Trade.objects.filter(run_id=decision.run_id).exists()
        assert self.other_balances(index) == other

    def has_traded(self, index: int) -> bool:
        account = self.account(index)
        return (
            account.orders.filter(status__in=PaperOrder.WORKING_STATUSES).exists()
            or Trade.objects.filter(account=account, period=account.period)
            .exclude(source=Trade.Source.OPENING)
            .exists()
        )

    @precondition(lambda self: self.has_traded(0) or self.has_traded(1))
    @rule(index=ACCOUNTS)
    def reset(self, index):
        if not self.has_traded(index):
            index = 1 - index
        other = self.other_balances(index)
        account = reset_account(account=self.account(index), actor="identity")
        assert self.other_balances(index) == other
        assert not account.orders.filter(status__in=PaperOrder.OPEN_STATUSES).exists()
        starting = {asset: D(amount) for asset, amount in account.starting_balances.items()}
        held = {b.asset: (b.free, b.locked) for b in SimulatedBalance.objects.filter(account=account)}
        # Back to the starting balances; an asset bought meanwhile stays as an empty row.
        assert held == {asset: (starting.get(asset, D("0")), D("0")) for asset in held.keys() | starting.keys()}
        event(f"reset to period {account.period}")

    # --- after every step ------------------------------------------------------------------------------------

    @invariant()
    def ledger_adds_up(self):
        for index in (0, 1):
            assert ledger_problems(self.account(index)) == []
        assert check_balances() == []

    @invariant()
    def nothing_is_negative(self):
        assert not SimulatedBalance.objects.filter(free__lt=0).exists()
        assert not SimulatedBalance.objects.filter(locked__lt=0).exists()


STEPS = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_the_ledger_identity_holds_after_every_step_for_both_accounts(market):
    run_state_machine_as_test(TwoAccountsTrading, settings=STEPS)
