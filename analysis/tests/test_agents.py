"""The demo agents on fixed price series: each strategy's vote, the consensus, and a round that trades."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command

from analysis.agents import CONSENSUS_AGENT, MeanReversion, MovingAverageCrossover, Vote, consensus
from analysis.models import AnalysisRun, PriceSample
from analysis.tasks import run_demo_agents
from papertrading.models import PaperOrder
from portfolio.models import Position, Trade

STEP_UP = [D("68000")] * 10 + [D("68500")] * 10  # a step up: trend turns up, the last price is not extreme
STEP_DOWN = STEP_UP[10:] + [D("68000")] * 10


def series(*values):
    return [D(str(v)) for v in values]


def test_ma_crossover_follows_the_trend_with_confidence_from_the_gap():
    strategy = MovingAverageCrossover(short=5, long=15)

    # MA5 68500, MA15 (5 x 68000 + 10 x 68500) / 15 = 68333.33: gap +0.2439 % -> BUY, confidence 0.2439.
    vote = strategy.vote(STEP_UP)
    assert (vote.decision, vote.confidence) == ("BUY", D("0.2439"))
    # MA5 68000, MA15 68166.67: gap -0.2445 % -> SELL.
    vote = strategy.vote(STEP_DOWN)
    assert (vote.decision, vote.confidence) == ("SELL", D("0.2445"))
    assert strategy.vote([D("100")] * 20).decision == "HOLD"
    assert strategy.vote(STEP_UP[:14]).decision == "HOLD"  # fewer prices than the long window


def test_mean_reversion_fades_prices_far_from_their_mean():
    strategy = MeanReversion(window=20, threshold=D("1.5"))
    calm = series(*([99, 101] * 10))[:-1]  # 19 prices swinging 99/101

    # A jump to 110: mean 100.45, population stdev 2.397, z = 3.98 -> SELL, confidence min(1, 3.98 / 3) = 1.
    vote = strategy.vote(calm + [D("110")])
    assert (vote.decision, vote.confidence) == ("SELL", D("1"))
    assert strategy.vote(calm + [D("90")]).decision == "BUY"
    # The step series: mean 68250, stdev 250, z = +1 or -1: within the threshold.
    assert strategy.vote(STEP_UP).decision == "HOLD"
    assert strategy.vote(STEP_DOWN).decision == "HOLD"
    assert strategy.vote([D("100")] * 20).decision == "HOLD"  # flat: no deviation


@pytest.mark.parametrize(
    ("votes", "decision", "confidence"),
    [
        ([("BUY", "0.6"), ("HOLD", "0")], "BUY", "0.3"),
        ([("BUY", "0.6"), ("BUY", "0.4")], "BUY", "0.5"),
        ([("SELL", "0.9"), ("BUY", "0.3")], "SELL", "0.3"),
        ([("BUY", "0.5"), ("SELL", "0.45")], "HOLD", "0"),  # net 0.05, under the 0.1 threshold
        ([("HOLD", "0"), ("HOLD", "0")], "HOLD", "0"),
    ],
)
def test_consensus_weighs_votes_by_confidence(votes, decision, confidence):
    verdict = consensus([Vote(f"agent-{i}", d, D(c), "") for i, (d, c) in enumerate(votes)])
    assert (verdict.agent, verdict.decision, verdict.confidence) == (CONSENSUS_AGENT, decision, D(confidence))


def feed(market, prices):
    for price in prices:
        market.set("BTCUSDT", price)


def test_a_round_buys_on_an_up_trend_holds_while_long_and_sells_on_the_down_trend(market, demo_agent_accounts):
    PriceSample.objects.all().delete()  # forget the fixture's opening prices
    feed(market, STEP_UP)
    trend, consensus_account = demo_agent_accounts["ma-crossover"], demo_agent_accounts[CONSENSUS_AGENT]

    outcome = run_demo_agents.apply().get()

    # The trend follower votes BUY, mean reversion HOLD, so the consensus is BUY: each buyer in its own account.
    assert AnalysisRun.objects.count() == 2
    run, trend_run = AnalysisRun.objects.get(agent=CONSENSUS_AGENT), AnalysisRun.objects.get(agent="ma-crossover")
    assert (run.agent, run.symbol, run.decision, run.status) == (CONSENSUS_AGENT, "BTCUSDT", "BUY", "executed")
    assert (trend_run.agent, trend_run.decision, trend_run.status) == ("ma-crossover", "BUY", "executed")
    assert (run.account, trend_run.account) == (consensus_account, trend)
    # 500 USDT at 68500 = 0.0072992... BTC, snapped down to the 0.00001 lot: 0.00729.
    assert (run.quote_amount, run.quantity) == (D("500"), D("0.00729"))
    assert [v["agent"] for v in run.signals] == ["ma-crossover", "mean-reversion"]
    assert [v["agent"] for v in trend_run.signals] == ["ma-crossover"]
    assert PaperOrder.objects.get(account=consensus_account).run_id == run.run_id
    assert "executed" in outcome[f"{CONSENSUS_AGENT} BTCUSDT"] and "executed" in outcome["ma-crossover BTCUSDT"]
    assert "nothing to do" in outcome["mean-reversion BTCUSDT"]
    # Other symbols have one sample each: no votes, no runs.
    assert "nothing to do" in outcome[f"{CONSENSUS_AGENT} ETHUSDT"]

    run_demo_agents.apply()  # still up: the agents already hold BTC, so they post nothing
    assert AnalysisRun.objects.count() == 2

    feed(market, STEP_DOWN[10:])
    run_demo_agents.apply()

    sell = AnalysisRun.objects.get(agent=CONSENSUS_AGENT, decision="SELL")
    # Bought 0.00729 less the 0.00000729 fee = 0.00728271; sells what fills the lot grid: 0.00728.
    assert (sell.status, sell.quantity) == ("executed", D("0.00728"))
    assert AnalysisRun.objects.get(agent="ma-crossover", decision="SELL").status == "executed"
    assert Trade.objects.filter(account=consensus_account, agent=CONSENSUS_AGENT).count() == 2
    # The 1 BTC the account opened with is not the agent's to sell: it keeps that, and the fee's dust.
    assert Position.objects.get(account=consensus_account, symbol="BTCUSDT").quantity == D("1.00000271")
    assert not AnalysisRun.objects.filter(account=demo_agent_accounts["mean-reversion"]).exists()


def test_an_agent_without_an_account_sits_the_round_out(market, demo_agent_accounts):
    PriceSample.objects.all().delete()
    feed(market, STEP_UP)
    demo_agent_accounts["ma-crossover"].delete()

    outcome = run_demo_agents.apply().get()

    assert not any(key.startswith("ma-crossover ") for key in outcome)
    assert list(AnalysisRun.objects.values_list("agent", "decision")) == [(CONSENSUS_AGENT, "BUY")]


def test_the_command_prints_one_line_per_agent_and_symbol(market, demo_agent_accounts):
    from papertrading.selectors import tradable_symbol_rules

    PriceSample.objects.all().delete()
    feed(market, STEP_UP)
    out = StringIO()

    call_command("run_demo_agents", stdout=out)

    lines = out.getvalue().splitlines()
    symbols = [rule.symbol for rule in tradable_symbol_rules()]
    assert len(lines) == 3 * len(symbols)
    assert {line.split(":")[0] for line in lines} == {f"{a} {s}" for a in demo_agent_accounts for s in symbols}
    assert next(line for line in lines if line.startswith(f"{CONSENSUS_AGENT} BTCUSDT: BUY: run ")).endswith(
        " executed"
    )


def test_the_command_says_when_no_demo_agent_has_an_account(market):
    out = StringIO()

    call_command("run_demo_agents", stdout=out)

    assert out.getvalue() == "No demo agent has an account yet: run bootstrap_demo first.\n"
    assert not AnalysisRun.objects.exists()


def test_task_does_nothing_when_demo_agents_are_disabled(market, settings):
    settings.DEMO_AGENTS_ENABLED = False
    feed(market, STEP_UP)

    assert run_demo_agents.apply().get() == {}
    assert not AnalysisRun.objects.exists()


def test_what_an_agent_holds_is_exact_whatever_the_database_adds_with(demo_agent_accounts):
    from django.utils import timezone

    from analysis.agents import held_by_agent
    from portfolio.services import record_trade

    account = demo_agent_accounts[CONSENSUS_AGENT]
    for quantity in ("0.1", "0.2", "0.000337"):
        record_trade(
            account=account, symbol="BTCUSDT", side="BUY", quantity=D(quantity), price=D("100"), fee=D("0"),
            fee_asset="USDT", source="direct", executed_at=timezone.now(), agent=CONSENSUS_AGENT,
        )  # fmt: skip

    held = held_by_agent(account, CONSENSUS_AGENT, "BTCUSDT")

    # The account's opening BTC is nobody's: only the agent's own trades count.
    assert held == D("0.300337") and held.as_tuple().exponent >= -8
