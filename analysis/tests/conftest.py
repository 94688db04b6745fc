import pytest
from django.contrib.auth.models import Permission, User
from rest_framework.test import APIClient


@pytest.fixture
def agent_user(db) -> User:
    """An agent's login: may place orders (papertrading.add_paperorder) and post runs (analysis.add_analysisrun)."""
    user = User.objects.create_user(username="agent-bot", password="pw-agent-bot")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="papertrading", codename="add_paperorder"),
        Permission.objects.get(content_type__app_label="analysis", codename="add_analysisrun"),
    )
    return user


@pytest.fixture
def agent_api(agent_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent_user)
    return client
