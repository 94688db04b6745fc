"""Writes of the analysis pipeline: record an agent's decision and hand BUY/SELL to the portfolio manager."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from papertrading.errors import OrderValidationError
from papertrading.models import Account, PaperOrder
from papertrading.money import round_to_step
from portfolio.models import Trade
from portfolio.services import Decision, ExecutionResult, PortfolioManager

from .models import AnalysisRun, PriceSample

logger = logging.getLogger(__name__)
Status = AnalysisRun.Status
FAILED_ORDER_STATUSES = (PaperOrder.Status.REJECTED, PaperOrder.Status.EXPIRED)

# validate_order speaks in order fields; a decision's fields have other names.
ORDER_TO_DECISION_FIELDS = {"side": "decision", "order_type": "decision"}


@dataclass
class SubmitResult:
    run: AnalysisRun
    created: bool
    execution: ExecutionResult | None = None


def submit_decision(
    *,
    account: Account,
    agent: str,
    symbol: str,
    decision: str,
    quantity: Decimal | None = None,
    quote_amount: Decimal | None = None,
    confidence: Decimal | None = None,
    rationale: str = "",
    signals: list | None = None,
    run_id: uuid.UUID | None = None,
    posted_by=None,
    manager: PortfolioManager | None = None,
) -> SubmitResult:
    """Record a decision and execute it at once: BUY/SELL through the portfolio manager, HOLD recorded as skipped.

    Raises OrderValidationError (errors per decision field) when the decision could never become an order (unknown
    symbol, no or two sizes, size off the lot grid or below the minimum notional): then no run is stored. A venue
    refusal is an outcome, not an error: the run is stored as FAILED with the exchange's code and reason.
    A `run_id` already stored returns that run (created=False); one left RECEIVED by a crash is executed again,
    safely, since its order's client id derives from the run id. Of posts of one `run_id` racing each other, only
    the one whose insert wins answers created=True and executes; the others get that run (created=False).
    Runs belong to `account`: its run_ids are its own, and its decisions trade its money.
    """
    manager = manager or PortfolioManager(account=account)
    if run_id is not None and (existing := account.analysis_runs.filter(run_id=run_id).first()):
        if existing.status == Status.RECEIVED and existing.is_trade:
            return SubmitResult(existing, created=False, execution=_execute(existing, manager))
        return SubmitResult(existing, created=False)

    symbol = (symbol or "").upper()
    errors: dict[str, list[str]] = {}
    rule = manager.symbol_rule(symbol) if symbol else None
    if rule is None:
        errors["symbol"] = ["Invalid symbol."]
    if decision not in AnalysisRun.Decision.values:
        errors["decision"] = [f"Must be one of {', '.join(AnalysisRun.Decision.values)}."]
    is_trade = decision in (AnalysisRun.Decision.BUY, AnalysisRun.Decision.SELL)
    if is_trade and (quantity is None) == (quote_amount is None):
        errors["quantity"] = ["Give the size as either a base `quantity` or a `quote_amount`, not both."]
    if errors:
        raise OrderValidationError(errors)

    fields = dict(
        account=account,
        agent=agent,
        symbol=symbol,
        decision=decision,
        confidence=confidence,
        rationale=rationale,
        signals=signals or [],
        posted_by=posted_by if getattr(posted_by, "pk", None) else None,
        mode=manager.mode,
    )
    if run_id is not None:
        fields["run_id"] = run_id
    if not is_trade:
        fields.update(status=Status.SKIPPED, reason="HOLD: recorded, nothing to trade.", quantity=quantity)
        run, created = _create_run(fields)
        return SubmitResult(run, created=created)

    price = manager.market_price(symbol)
    size_field = "quote_amount" if quote_amount is not None else "quantity"
    if quote_amount is not None:
        if price is None:
            raise OrderValidationError({"quote_amount": [f"No market price for {symbol} yet; try again in a moment."]})
        # Sized at the price the order will fill at (the venue's slippage included) and snapped down, so the
        # trade's value in the quote asset never exceeds the amount asked.
        fill_price = manager.fill_price(symbol, decision) or price
        quantity = round_to_step(quote_amount / fill_price, rule.step_size, up=False)
        if quantity <= 0:
            raise OrderValidationError(
                {"quote_amount": [f"Buys less than one lot ({rule.step_size} {rule.base_asset}) at {fill_price}."]}
            )
    order_decision = Decision(
        run_id=uuid.uuid4(), agent=agent, symbol=symbol, side=decision, quantity=quantity, placed_by=posted_by
    )
    try:
        manager.check(order_decision, market_price=price)
    except OrderValidationError as exc:
        raise OrderValidationError(_decision_errors(exc.errors, size_field)) from exc

    fields.update(quantity=quantity, quote_amount=quote_amount, reference_price=price)
    run, created = _create_run(fields)
    if not created:
        return SubmitResult(run, created=False)  # the post that stored it executes it
    return SubmitResult(run, created=True, execution=_execute(run, manager))


def _decision_errors(errors: dict[str, list[str]], size_field: str) -> dict[str, list[str]]:
    mapped: dict[str, list[str]] = {}
    for name, messages in errors.items():
        target = size_field if name == "quantity" else ORDER_TO_DECISION_FIELDS.get(name, name)
        mapped.setdefault(target, []).extend(messages)
    return mapped


def _create_run(fields: dict) -> tuple[AnalysisRun, bool]:
    """Store the run; returns (run, created). created=False: a post of the same run_id stored it first."""
    try:
        # A savepoint, so the failed insert leaves a caller's transaction usable (PostgreSQL aborts it otherwise).
        with transaction.atomic():
            return AnalysisRun.objects.create(**fields), True
    except IntegrityError:
        # The same run_id posted twice at once passed the lookup in submit_decision: the first insert is the run.
        runs = AnalysisRun.objects.filter(account=fields["account"])
        existing = runs.filter(run_id=fields["run_id"]).first() if "run_id" in fields else None
        if existing is None:
            raise
        return existing, False


def _execute(run: AnalysisRun, manager: PortfolioManager) -> ExecutionResult:
    decision = Decision(
        run_id=run.run_id,
        agent=run.agent,
        symbol=run.symbol,
        side=run.decision,
        quantity=run.quantity,
        placed_by=run.posted_by,
    )
    result = manager.execute(decision)
    if result.ok:
        run.status, run.error_code, run.reason = Status.EXECUTED, None, ""
    else:
        run.status, run.error_code, run.reason = Status.FAILED, result.error_code, result.reason[:255]
        logger.info("Run %s failed: %s %s", run.run_id, result.error_code or "", result.reason)
    run.save(update_fields=["status", "error_code", "reason", "updated_at"])
    return result


def label_trades(*, trades: list[Trade]) -> int:
    """Name the agent on ledger rows of agent orders (a fill knows its run, not its agent); returns rows labelled."""
    run_ids = {t.run_id for t in trades if t.run_id and not t.agent}
    if not run_ids:
        return 0
    runs = AnalysisRun.objects.filter(account_id__in={t.account_id for t in trades}, run_id__in=run_ids)
    agents = {
        (account_id, run_id): agent for account_id, run_id, agent in runs.values_list("account_id", "run_id", "agent")
    }
    labelled = 0
    for trade in trades:
        agent = agents.get((trade.account_id, trade.run_id))
        if agent and not trade.agent:
            trade.agent = agent
            labelled += Trade.objects.filter(pk=trade.pk, agent="").update(agent=trade.agent)
    return labelled


def on_trades_recorded(sender, *, trades: list[Trade], **kwargs) -> None:
    label_trades(trades=trades)


def follow_order_outcome(*, order: PaperOrder, to_status: str) -> bool:
    """An executed run whose order later ended without a fill (rejected or expired) failed after all.

    The usual case: a testnet order whose outcome was unknown, which sync found was never placed. Returns whether
    a run changed.
    """
    if not order.run_id or order.executed_quantity or to_status not in FAILED_ORDER_STATUSES:
        return False
    reason = order.reject_reason or f"The order ended {to_status.lower()} without a fill."
    runs = AnalysisRun.objects.select_for_update().filter(
        account_id=order.account_id, run_id=order.run_id, status=Status.EXECUTED
    )
    changed = False
    # Saved one by one (there is one run per order), so post_save tells the webhooks and the live stream.
    for run in runs:
        run.status, run.error_code, run.reason = Status.FAILED, order.reject_code, reason[:255]
        run.save(update_fields=["status", "error_code", "reason", "updated_at"])
        changed = True
    return changed


def on_order_status_changed(sender, *, order: PaperOrder, to_status: str, **kwargs) -> None:
    follow_order_outcome(order=order, to_status=to_status)


def record_price_sample(*, symbol: str, price: Decimal, observed_at: datetime) -> bool:
    """Store one observed price; the same observation twice is stored once. Returns whether it was new."""
    _, created = PriceSample.objects.get_or_create(symbol=symbol, observed_at=observed_at, defaults={"price": price})
    return created


def on_market_price_saved(sender, instance, **kwargs) -> None:
    if not settings.DEMO_AGENTS_ENABLED:
        return  # only the demo agents read samples, and only their task prunes them
    record_price_sample(symbol=instance.symbol, price=instance.price, observed_at=instance.updated_at)


def prune_price_samples(*, keep: int | None = None) -> int:
    """Drop all but the newest `keep` samples of each symbol; returns how many went."""
    keep = settings.PRICE_SAMPLES_KEPT if keep is None else keep
    removed = 0
    for symbol in PriceSample.objects.values_list("symbol", flat=True).distinct():
        cutoff = (
            PriceSample.objects.filter(symbol=symbol).order_by("-observed_at").values_list("observed_at", flat=True)
        )[keep : keep + 1]
        if cutoff:
            removed += PriceSample.objects.filter(symbol=symbol, observed_at__lte=cutoff[0]).delete()[0]
    return removed


def run_belongs_to(account: Account, run_id: uuid.UUID) -> bool:
    """Registered with papertrading's order service: an order may carry only a run_id of its own account."""
    return AnalysisRun.objects.filter(account=account, run_id=run_id).exists()
