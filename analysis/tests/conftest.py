import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from conftest import api_client_for, make_user


@pytest.fixture
def agent_user(db) -> User:
    """An agent's login: may place orders (papertrading.add_paperorder) and post runs (analysis.add_analysisrun)."""
    return make_user("agent-bot", "add_paperorder", "analysis.add_analysisrun")


@pytest.fixture
def agent_api(agent_user) -> APIClient:
    return api_client_for(agent_user)


@pytest.fixture
def agent_account(agent_user):
    """The agent login's own (default) account: where `agent_api`'s runs go. It opens with the test settings'
    100000 USDT, 1 BTC and 10 ETH (booked as opening trades)."""
    from papertrading.services import default_account_for

    return default_account_for(agent_user)


@pytest.fixture
def demo_agent_accounts(market):
    """Each demo agent's own account, opened under the demo login as bootstrap_demo does: agent -> account."""
    from analysis.agents import DEMO_AGENTS, demo_account_name, demo_accounts
    from papertrading.services import open_account

    owner = make_user("demo")
    for agent in DEMO_AGENTS:
        open_account(owner=owner, name=demo_account_name(agent))
    return demo_accounts()
