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
