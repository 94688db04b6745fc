import pytest


@pytest.fixture(autouse=True)
def _balances_check_themselves(request):
    """After every test that touched the database, the simulated account must match its own history."""
    yield
    if not {"db", "transactional_db"} & set(request.fixturenames):
        return
    from papertrading.balances import check_balances

    drifts = check_balances()
    assert not drifts, "balances drifted: " + "; ".join(map(str, drifts))
