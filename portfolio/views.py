from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from . import selectors
from .charts import line_chart


@login_required
def index(request):
    """Positions, totals, the equity curve and realized P&L over time; htmx refreshes the live part alone."""
    summary = selectors.portfolio_summary()
    context = {"summary": summary, "positions": selectors.position_list()}
    if request.htmx:
        return render(request, "portfolio/partials/positions.html", context)
    # The curve ends at the portfolio's value now, so it moves before the next snapshot is taken.
    now = timezone.now()
    equity = [(s.taken_at, s.equity) for s in selectors.equity_curve()] + [(now, summary.equity)]
    realized = selectors.realized_pnl_curve()
    if realized:
        realized.append((now, realized[-1][1]))
    context.update(
        equity_chart=line_chart(equity, title="Equity"),
        realized_chart=line_chart(realized, title="Realized P&L", step=True, zero_line=True),
        agents=selectors.pnl_by_agent(),
        trades=selectors.trade_list()[:20],
    )
    return render(request, "portfolio/index.html", context)
