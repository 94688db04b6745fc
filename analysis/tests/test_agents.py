"""The demo agents on fixed price series: each strategy's vote, the consensus, and a round that trades."""

from decimal import Decimal as D

import pytest

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


def test_a_round_buys_on_an_up_trend_holds_while_long_and_sells_on_the_down_trend(market):
    PriceSample.objects.all().delete()  # forget the fixture's opening prices
    feed(market, STEP_UP)

    outcome = run_demo_agents.apply().get()

    run = AnalysisRun.objects.get()
    assert (run.agent, run.symbol, run.decision, run.status) == (CONSENSUS_AGENT, "BTCUSDT", "BUY", "executed")
    # 500 USDT at 68500 = 0.0072992... BTC, snapped down to the 0.00001 lot: 0.00729.
    assert (run.quote_amount, run.quantity) == (D("500"), D("0.00729"))
    assert [v["agent"] for v in run.signals] == ["ma-crossover", "mean-reversion"]
    assert PaperOrder.objects.get().run_id == run.run_id
    assert "executed" in outcome["BTCUSDT"]
    # Other symbols have one sample each: no votes, no runs.
    assert "nothing to do" in outcome["ETHUSDT"]

    run_demo_agents.apply()  # still up: the agent already holds BTC, so it posts nothing
    assert AnalysisRun.objects.count() == 1

    feed(market, STEP_DOWN[10:])
    run_demo_agents.apply()

    sell = AnalysisRun.objects.get(decision="SELL")
    # Bought 0.00729 less the 0.00000729 fee = 0.00728271; sells what fills the lot grid: 0.00728.
    assert (sell.status, sell.quantity) == ("executed", D("0.00728"))
    assert Trade.objects.filter(agent=CONSENSUS_AGENT).count() == 2
    assert Position.objects.get(symbol="BTCUSDT").quantity == D("0.00000271")


def test_task_does_nothing_when_demo_agents_are_disabled(market, settings):
    settings.DEMO_AGENTS_ENABLED = False
    feed(market, STEP_UP)

    assert run_demo_agents.apply().get() == {}
    assert not AnalysisRun.objects.exists()


def test_what_an_agent_holds_is_exact_whatever_the_database_adds_with(db):
    from django.utils import timezone

    from analysis.agents import held_by_agent
    from portfolio.services import record_trade

    for quantity in ("0.1", "0.2", "0.000337"):
        record_trade(
            symbol="BTCUSDT", side="BUY", quantity=D(quantity), price=D("100"), fee=D("0"),
            fee_asset="USDT", source="direct", executed_at=timezone.now(), agent="demo-consensus",
        )  # fmt: skip

    held = held_by_agent("demo-consensus", "BTCUSDT")

    assert held == D("0.300337") and held.as_tuple().exponent >= -8
