"""Which account a request acts as.

In order: the API key's account (a key acts as its account and nothing else); the account an `X-Account: <id>`
header names (API) or the one chosen with the account switcher (pages), when the user may act as it; otherwise
the user's own default account. An account the user may not act as answers 404, like one that does not exist.
"""

from django.db.models import QuerySet
from django.http import Http404

from . import services
from .accounts import accounts_visible_to, visible_account
from .models import Account, ApiKey

ACCOUNT_HEADER = "HTTP_X_ACCOUNT"
SESSION_KEY = "paper_account_id"


def request_account(request) -> Account:
    cached = getattr(request, "_paper_account", None)
    if cached is not None:
        return cached
    requested = (request.META.get(ACCOUNT_HEADER) or "").strip()
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        account = auth.account
        if requested and requested != str(account.pk):
            raise Http404("No such account.")
    elif requested:
        account = account_in_request(request, requested)
    else:
        account = _chosen(request) or services.default_account_for(request.user)
    request._paper_account = account
    return account


def visible_accounts(request) -> QuerySet[Account]:
    """The accounts a request may see and act on: with an API key, the key's own account alone; otherwise the
    user's own accounts (staff: every account)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return Account.objects.select_related("owner").filter(pk=auth.account_id)
    return accounts_visible_to(request.user)


def account_in_request(request, account_id) -> Account:
    """The account `account_id` if the request may act on it; Http404 otherwise, like an account that does not
    exist."""
    try:
        return visible_accounts(request).get(pk=int(account_id))
    except (Account.DoesNotExist, TypeError, ValueError):
        raise Http404("No such account.") from None


def choose_account(request, account_id) -> Account:
    """Remember the account a person picked in the switcher (Http404 when they may not act as it)."""
    account = account_in_request(request, account_id)
    request.session[SESSION_KEY] = account.pk
    request._paper_account = account
    return account


def _chosen(request) -> Account | None:
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_KEY) if session is not None else None
    if chosen is None:
        return None
    try:
        return visible_account(request.user, chosen)
    except Account.DoesNotExist:
        session.pop(SESSION_KEY, None)
        return None
