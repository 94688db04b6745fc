"""A run follows its order to the real outcome: executed on placement, failed when the order ends without a fill."""

import uuid
from decimal import Decimal as D

import pytest
from django.db import transaction

from analysis.models import AnalysisRun
from papertrading.models import PaperOrder
from papertrading.venues.base import ExecutionReport
from papertrading.venues.recording import apply_report

pytestmark = pytest.mark.django_db
Status = PaperOrder.Status


def run_with_unknown_order(account) -> tuple[AnalysisRun, PaperOrder]:
    """What a testnet timeout leaves: the run executed, its order sent but its outcome unknown."""
    run_id = uuid.uuid4()
    run = AnalysisRun.objects.create(
        account=account, run_id=run_id, agent="alpha", symbol="BTCUSDT", decision="BUY", quantity=D("0.01"),
        status=AnalysisRun.Status.EXECUTED, posted_by=account.owner,
    )  # fmt: skip
    order = PaperOrder.objects.create(
        account=account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01"), venue="testnet",
        client_order_id=f"run{run_id.hex}", run_id=run_id, status=Status.UNKNOWN,
    )  # fmt: skip
    return run, order


def settle(order: PaperOrder, report: ExecutionReport) -> None:
    with transaction.atomic():
        apply_report(PaperOrder.objects.select_for_update().get(pk=order.pk), report, source="sync")


def test_run_fails_when_sync_finds_its_unknown_order_was_never_placed(agent_account):
    run, order = run_with_unknown_order(agent_account)

    settle(order, ExecutionReport(status=Status.REJECTED, reject_code=-2013, reject_reason="Order does not exist."))

    run.refresh_from_db()
    assert (run.status, run.error_code, run.reason) == (AnalysisRun.Status.FAILED, -2013, "Order does not exist.")


def test_run_stays_executed_when_its_unknown_order_turns_out_filled(agent_account):
    run, order = run_with_unknown_order(agent_account)

    settle(
        order, ExecutionReport(status=Status.FILLED, executed_quantity=D("0.01"), cumulative_quote_quantity=D("680"))
    )

    run.refresh_from_db()
    assert (run.status, run.error_code, run.reason) == (AnalysisRun.Status.EXECUTED, None, "")


def test_run_fails_when_its_order_expires_unfilled(agent_account):
    run, order = run_with_unknown_order(agent_account)

    settle(order, ExecutionReport(status=Status.EXPIRED))

    run.refresh_from_db()
    assert run.status == AnalysisRun.Status.FAILED
    assert run.reason == "The order ended expired without a fill."


def test_an_order_of_another_account_with_the_same_run_id_leaves_the_run_alone(agent_account, rival_account):
    """run_ids are an account's own: another account's order ending unfilled is not this run's outcome."""
    run, _ = run_with_unknown_order(agent_account)
    stranger = PaperOrder.objects.create(
        account=rival_account, symbol="BTCUSDT", side="BUY", order_type="MARKET", quantity=D("0.01"),
        venue="testnet", client_order_id=f"run{run.run_id.hex}", run_id=run.run_id, status=Status.UNKNOWN,
    )  # fmt: skip

    settle(stranger, ExecutionReport(status=Status.REJECTED, reject_code=-2013, reject_reason="Order does not exist."))

    run.refresh_from_db()
    assert (run.status, run.error_code, run.reason) == (AnalysisRun.Status.EXECUTED, None, "")
