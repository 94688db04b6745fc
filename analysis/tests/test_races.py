"""Posts of one run_id racing each other (threads, each with its own PostgreSQL connection).

SQLite serialises every write, so these only say something on PostgreSQL; elsewhere they are skipped.
"""

import uuid

import pytest

from analysis.models import AnalysisRun
from conftest import api_client_for
from papertrading.balances import check_balances
from papertrading.models import PaperOrder
from papertrading.tests.support import prepare_race, run_together
from portfolio.models import Trade
from portfolio.services import client_order_id_for

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/analysis/runs"
POSTS = 8


@pytest.fixture(autouse=True)
def postgres_only(market):
    prepare_race()


def post_together(user, body: dict) -> list:
    """POST the same body from POSTS clients at once; returns (status, run_id) per post."""

    def post():
        response = api_client_for(user).post(URL, body, format="json")
        return response.status_code, response.data.get("run_id")

    return run_together(*[post] * POSTS)


def test_concurrent_buys_with_one_run_id_answer_one_201_and_make_one_run_and_one_order(agent_user):
    for _ in range(3):  # a few rounds, so a lost race cannot hide behind lucky timing
        run_id = str(uuid.uuid4())
        body = {"agent": "racer", "symbol": "BTCUSDT", "decision": "BUY", "quantity": "0.01", "run_id": run_id}

        results = post_together(agent_user, body)

        assert sorted(results) == [(200, run_id)] * (POSTS - 1) + [(201, run_id)], results
        run = AnalysisRun.objects.get(run_id=run_id)
        assert run.status == AnalysisRun.Status.EXECUTED
        order = PaperOrder.objects.get(run_id=run_id)
        assert order.client_order_id == client_order_id_for(run.run_id)
        assert Trade.objects.filter(run_id=run_id).count() == 1
    assert AnalysisRun.objects.count() == 3 and PaperOrder.objects.count() == 3
    assert check_balances() == []


def test_concurrent_holds_with_one_run_id_answer_one_201_and_store_one_run(agent_user):
    run_id = str(uuid.uuid4())
    body = {"agent": "racer", "symbol": "ETHUSDT", "decision": "HOLD", "run_id": run_id}

    results = post_together(agent_user, body)

    assert sorted(results) == [(200, run_id)] * (POSTS - 1) + [(201, run_id)], results
    assert AnalysisRun.objects.get().status == AnalysisRun.Status.SKIPPED
    assert PaperOrder.objects.count() == 0
