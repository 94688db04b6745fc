from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from . import selectors


@login_required
def index(request):
    """Runs newest first with their orders and P&L, filtered by agent and symbol, and the agents' leaderboard."""
    agent = request.GET.get("agent", "").strip()
    symbol = request.GET.get("symbol", "").strip().upper()
    runs = selectors.run_list()
    if agent:
        runs = runs.filter(agent=agent)
    if symbol:
        runs = runs.filter(symbol=symbol)
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    page.object_list = selectors.attach_outcomes(page.object_list)
    context = {"page": page, "runs": page.object_list, "agent": agent, "symbol": symbol}
    if request.htmx:
        return render(request, "analysis/partials/runs.html", context)
    context.update(
        leaderboard=selectors.leaderboard(),
        agents=selectors.agent_names(),
        symbols=selectors.symbol_names(),
    )
    return render(request, "analysis/index.html", context)
