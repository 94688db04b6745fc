"""The built-in demo agents: two deterministic strategies over stored prices and a consensus of their votes.

Strategies are pure functions of a price series (oldest first), so a fixed series always gives the same votes.
`run_demo_agents` samples the price table, asks both strategies per symbol and combines the votes; each strategy
and the consensus trade their own account through `submit_decision`, the same service the API uses.
"""

import logging
import statistics
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings

from papertrading import selectors as papertrading_selectors
from papertrading.models import Account
from papertrading.money import MoneySum, format_decimal, round_to_step
from portfolio.models import Trade

from .models import AnalysisRun, PriceSample
from .services import prune_price_samples, record_price_sample, submit_decision

logger = logging.getLogger(__name__)

BUY, SELL, HOLD = AnalysisRun.Decision.BUY, AnalysisRun.Decision.SELL, AnalysisRun.Decision.HOLD
CONSENSUS_AGENT = "demo-consensus"


@dataclass(frozen=True)
class Vote:
    agent: str
    decision: str
    confidence: Decimal
    rationale: str

    def as_json(self) -> dict:
        data = asdict(self)
        data["confidence"] = str(self.confidence)
        return data


def _mean(values) -> Decimal:
    values = list(values)
    return sum(values, Decimal("0")) / len(values)


def _confidence(value: Decimal) -> Decimal:
    return min(Decimal("1"), max(Decimal("0"), value)).quantize(Decimal("0.0001"))


class MovingAverageCrossover:
    """Trend follower: bullish while the short moving average is above the long one, bearish below it.

    Confidence grows with the gap between the averages (a 1 % gap is full confidence).
    """

    name = "ma-crossover"

    def __init__(self, short: int = 5, long: int = 15):
        if not 0 < short < long:
            raise ValueError("short window must be shorter than the long one")
        self.short, self.long = short, long

    def vote(self, prices: list[Decimal]) -> Vote:
        if len(prices) < self.long:
            return Vote(self.name, HOLD, Decimal("0"), f"Needs {self.long} prices, has {len(prices)}.")
        short_ma, long_ma = _mean(prices[-self.short :]), _mean(prices[-self.long :])
        gap = (short_ma - long_ma) / long_ma
        detail = f"MA{self.short} {short_ma:.8f} vs MA{self.long} {long_ma:.8f}"
        if gap == 0:
            return Vote(self.name, HOLD, Decimal("0"), f"{detail}: no trend.")
        decision = BUY if gap > 0 else SELL
        trend = "up" if gap > 0 else "down"
        return Vote(self.name, decision, _confidence(abs(gap) * 100), f"{detail}: trend {trend}.")


class MeanReversion:
    """Contrarian: buys a price far below its recent mean, sells one far above it (z-score beyond a threshold)."""

    name = "mean-reversion"

    def __init__(self, window: int = 20, threshold: Decimal = Decimal("1.5")):
        self.window, self.threshold = window, threshold

    def vote(self, prices: list[Decimal]) -> Vote:
        if len(prices) < self.window:
            return Vote(self.name, HOLD, Decimal("0"), f"Needs {self.window} prices, has {len(prices)}.")
        recent = prices[-self.window :]
        mean = _mean(recent)
        deviation = Decimal(str(statistics.pstdev(recent)))
        if deviation == 0:
            return Vote(self.name, HOLD, Decimal("0"), "Flat prices: nothing to revert.")
        z = (prices[-1] - mean) / deviation
        detail = f"z-score {z:.2f} over {self.window} prices (mean {mean:.8f})"
        if abs(z) < self.threshold:
            return Vote(self.name, HOLD, Decimal("0"), f"{detail}: within ±{self.threshold}.")
        decision = BUY if z < 0 else SELL
        return Vote(self.name, decision, _confidence(abs(z) / (2 * self.threshold)), f"{detail}: expect reversion.")


def consensus(votes: list[Vote], *, threshold: Decimal = Decimal("0.1")) -> Vote:
    """One decision from several votes: confidence-weighted, BUY +, SELL −; a net score under the threshold holds.

    Confidence is the net score's share of the total weight, so two agreeing votes beat one lone vote.
    """
    score = sum((v.confidence if v.decision == BUY else -v.confidence for v in votes if v.decision != HOLD), Decimal(0))
    weight = sum((v.confidence for v in votes if v.decision != HOLD), Decimal("0"))
    summary = "; ".join(f"{v.agent}: {v.decision} ({v.confidence})" for v in votes)
    if abs(score) < threshold or weight == 0:
        return Vote(CONSENSUS_AGENT, HOLD, Decimal("0"), f"No consensus. {summary}")
    decision = BUY if score > 0 else SELL
    return Vote(CONSENSUS_AGENT, decision, _confidence(abs(score) / len(votes)), f"Consensus {decision}. {summary}")


STRATEGIES = (MovingAverageCrossover(), MeanReversion())


def recent_prices(symbol: str, *, count: int = 50) -> list[Decimal]:
    prices = list(PriceSample.objects.filter(symbol=symbol).order_by("-observed_at").values_list("price", flat=True))
    return list(reversed(prices[:count]))


def held_by_agent(account: Account, agent: str, symbol: str) -> Decimal:
    """The base quantity an agent's trades left in its account for this symbol (this P&L period)."""
    trades = Trade.objects.filter(account=account, period=account.period, agent=agent, symbol=symbol)
    held = trades.aggregate(total=MoneySum("base_delta"))["total"]
    return max(held or Decimal("0"), Decimal("0"))


DEMO_AGENTS = tuple(strategy.name for strategy in STRATEGIES) + (CONSENSUS_AGENT,)


def demo_account_name(agent: str) -> str:
    return f"Demo agent {agent}"


def demo_accounts(owner=None) -> dict[str, Account]:
    """Each demo agent's own account (owned by the demo login), so the leaderboard compares them."""
    accounts = Account.objects.filter(name__in=[demo_account_name(a) for a in DEMO_AGENTS], is_external=False)
    if owner is not None:
        accounts = accounts.filter(owner=owner)
    by_name = {account.name: account for account in accounts.order_by("id")}
    return {agent: by_name[demo_account_name(agent)] for agent in DEMO_AGENTS if demo_account_name(agent) in by_name}


def run_demo_agents(*, accounts: dict[str, Account] | None = None) -> dict[str, str]:
    """One round: sample prices, vote per symbol, and let each demo agent act on its own vote in its own account
    (the consensus agent on the combined vote); returns "agent symbol" -> what happened.

    An agent holds at most one position per symbol: it buys `DEMO_AGENT_ORDER_QUOTE` worth when its vote is BUY
    and it holds none, and sells all it holds when its vote is SELL. Anything else posts nothing, so the runs list
    shows decisions, not a heartbeat. Agents without an account (bootstrap_demo opens them) sit the round out.
    """
    accounts = demo_accounts() if accounts is None else accounts
    outcome: dict[str, str] = {}
    for row in papertrading_selectors.market_price_list(limit=None):
        record_price_sample(symbol=row.symbol, price=row.price, observed_at=row.updated_at)
    prune_price_samples()
    rules = {rule.symbol: rule for rule in papertrading_selectors.tradable_symbol_rules()}
    for symbol in sorted(rules):
        prices = recent_prices(symbol)
        votes = [strategy.vote(prices) for strategy in STRATEGIES]
        for verdict in [*votes, consensus(votes)]:
            account = accounts.get(verdict.agent)
            if account is not None:
                key = f"{verdict.agent} {symbol}"
                outcome[key] = _act(account, verdict, votes, rules[symbol], prices)
    return outcome


def _act(account: Account, verdict: Vote, votes: list[Vote], rule, prices: list[Decimal]) -> str:
    held = held_by_agent(account, verdict.agent, rule.symbol)
    sellable = round_to_step(held, rule.step_size, up=False)
    # Dust left by fees (less than a lot, or below the minimum order value) counts as flat.
    flat = not prices or sellable == 0 or sellable * prices[-1] < rule.min_notional
    size: dict[str, Decimal] = {}
    if verdict.decision == BUY and flat:
        size = {"quote_amount": settings.DEMO_AGENT_ORDER_QUOTE}
    elif verdict.decision == SELL and not flat:
        size = {"quantity": sellable}
    if not size:
        return f"{verdict.decision}: nothing to do (holding {format_decimal(held)})"
    try:
        result = submit_decision(
            account=account,
            agent=verdict.agent,
            symbol=rule.symbol,
            decision=verdict.decision,
            confidence=verdict.confidence,
            rationale=verdict.rationale,
            signals=[v.as_json() for v in votes] if verdict.agent == CONSENSUS_AGENT else [verdict.as_json()],
            posted_by=account.owner,
            **size,
        )
    except Exception as exc:  # one symbol's trouble (no price, below notional) must not stop the others
        logger.warning("Demo agent %s skipped %s: %s", verdict.agent, rule.symbol, exc)
        return f"{verdict.decision}: not posted ({exc})"
    return f"{verdict.decision}: run {result.run.run_id} {result.run.status}"
