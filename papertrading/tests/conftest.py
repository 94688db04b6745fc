from decimal import Decimal

import pytest


@pytest.fixture(autouse=True)
def _balances_check_themselves(request):
    """After every test that touched the database, the simulated account must match its own history."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    transactional = (
        "transactional_db" in names or "live_server" in names or bool(marker and marker.kwargs.get("transaction"))
    )
    if not (marker or names & {"db", "transactional_db"}):
        yield
        return
    # Requesting the database fixture here makes it outlive this fixture, so the check below may still query.
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from papertrading.balances import check_balances

    drifts = check_balances()
    assert not drifts, "balances drifted: " + "; ".join(map(str, drifts))


@pytest.fixture
def liquidity_on(settings):
    """The liquidity model on, seeded: a resting order fills a quarter of a synthetic 6700 USDT traded at each new
    price (0.025 BTC at 67000, less at random), so orders fill in slices."""
    settings.SIMULATOR_LIQUIDITY = True
    settings.SIMULATOR_SEED = 7
    settings.SIMULATOR_LIQUIDITY_SHARE = Decimal("0.25")
    settings.SIMULATOR_LIQUIDITY_VOLUME = Decimal("6700")
