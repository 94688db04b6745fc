"""The account switcher's choices for the page header, on every page that extends base.html."""

from dataclasses import dataclass, field

from django.utils.functional import SimpleLazyObject

from .accounts import accounts_visible_to
from .acting import request_account
from .errors import PaperTradingError
from .models import Account


@dataclass
class AccountChoice:
    account: Account
    label: str


@dataclass
class AccountGroup:
    label: str
    choices: list[AccountChoice] = field(default_factory=list)


@dataclass
class AccountSwitcher:
    acting: Account | None
    groups: list[AccountGroup]

    @property
    def count(self) -> int:
        return sum(len(group.choices) for group in self.groups)


def account_switcher(request) -> dict:
    """`account_switcher`: the accounts the user may act as and the one they act as now.

    Lazy, so pages that never show it (the admin, the login page, fragments) pay no query for it.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"account_switcher": SimpleLazyObject(lambda: build_switcher(request))}


def build_switcher(request) -> AccountSwitcher:
    user = request.user
    try:
        acting = request_account(request)
    except PaperTradingError:
        # No account could be opened (e.g. the testnet is unreachable); the page explains why itself.
        acting = None
    # Own accounts first, then other people's by name (staff only), then the external ones (staff only).
    own, others, external = AccountGroup("Your accounts"), AccountGroup("Other accounts"), AccountGroup("External")
    for account in accounts_visible_to(user):
        if account.is_external:
            external.choices.append(AccountChoice(account, account.name))
        elif account.owner_id == user.pk:
            own.choices.append(AccountChoice(account, account.name))
        else:
            owner = account.owner.get_username() if account.owner_id else "no owner"
            others.choices.append(AccountChoice(account, f"{account.name} ({owner})"))
    others.choices.sort(key=lambda choice: (choice.label.casefold(), choice.account.pk))
    return AccountSwitcher(acting=acting, groups=[group for group in (own, others, external) if group.choices])
