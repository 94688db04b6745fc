from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from papertrading.acting import request_account

from . import selectors
from .charts import line_chart


@login_required
def index(request):
    """Positions, totals, the equity curve and realized P&L over time; htmx refreshes the live part alone."""
    account = request_account(request)
    summary = selectors.portfolio_summary(account)
    context = {"summary": summary, "positions": selectors.position_list(account)}
    if request.htmx:
        return render(request, "portfolio/partials/positions.html", context)
    # The curve ends at the portfolio's value now, so it moves before the next snapshot is taken.
    now = timezone.now()
    equity = [(s.taken_at, s.equity) for s in selectors.equity_curve(account)] + [(now, summary.equity)]
    realized = selectors.realized_pnl_curve(account)
    if realized:
        realized.append((now, realized[-1][1]))
    context.update(
        equity_chart=line_chart(equity, title="Equity"),
        realized_chart=line_chart(realized, title="Realized P&L", step=True, zero_line=True),
        agents=selectors.pnl_by_agent(account),
        trades=selectors.trade_list(account)[:20],
    )
    return render(request, "portfolio/index.html", context)


@login_required
def leaderboard(request):
    """Every account's figures in its current period, best return first, with its agents. Anyone signed in sees
    it; balances, positions and orders stay on their owner's pages."""
    context = {
        "standings": selectors.account_leaderboard(request.user),
        "valuation_asset": settings.PORTFOLIO_VALUATION_ASSET,
    }
    return render(request, "portfolio/leaderboard.html", context)
