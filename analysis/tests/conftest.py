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
