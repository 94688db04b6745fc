from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from papertrading.acting import request_account

from . import selectors


@login_required
def index(request):
    """Runs newest first with their orders and P&L, filtered by agent and symbol, and the agents' leaderboard."""
    agent = request.GET.get("agent", "").strip()
    symbol = request.GET.get("symbol", "").strip().upper()
    account = request_account(request)
    runs = selectors.run_list(account)
    if agent:
        runs = runs.filter(agent=agent)
    if symbol:
        runs = runs.filter(symbol=symbol)
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    page.object_list = selectors.attach_outcomes(account, page.object_list)
    context = {
        "page": page,
        "runs": page.object_list,
        "agent": agent,
        "symbol": symbol,
        "previous_query": page_query(agent, symbol, page.previous_page_number()) if page.has_previous() else "",
        "next_query": page_query(agent, symbol, page.next_page_number()) if page.has_next() else "",
    }
    if request.htmx:
        return render(request, "analysis/partials/runs.html", context)
    context.update(
        leaderboard=selectors.leaderboard(account),
        agents=selectors.agent_names(account),
        symbols=selectors.symbol_names(account),
    )
    return render(request, "analysis/index.html", context)


def page_query(agent: str, symbol: str, page: int) -> str:
    """The URL query of a page of runs under the current filter (empty filters left out)."""
    return urlencode({name: value for name, value in (("agent", agent), ("symbol", symbol)) if value} | {"page": page})
