"""Accounts: opening one with its balances, its API keys, and which accounts a user may act as.

An account is the unit of money. Everything a trader or an agent touches (balances, orders, fills, the ledger,
runs, P&L) belongs to exactly one, and a key acts as its account and nothing else.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .balances import open_balances
from .errors import OrderValidationError
from .models import Account, ApiKey, Venue
from .money import ZERO, to_money

KEY_PREFIX = "ptk_"
VISIBLE_PREFIX_LENGTH = 12  # "ptk_" and 8 characters: enough to tell keys apart, useless to guess one
ASSET_PATTERN = re.compile(r"^[A-Z0-9]{1,10}$")
# A key's last use is written at most this often, so reading with a key costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AccountInputError(OrderValidationError):
    """Invalid input for an account (a message per field); HTTP 400."""


def hash_key(raw: str) -> str:
    """Keys are long random strings, so one round of SHA-256 is as safe as a slow hash and costs nothing."""
    return hashlib.sha256(raw.encode()).hexdigest()


def parse_starting_balances(value) -> dict[str, Decimal]:
    """{"USDT": "5000", "BTC": "0.1"} as exact amounts; AccountInputError with what is wrong."""
    if value is None:
        return {asset: to_money(amount) for asset, amount in settings.SIMULATOR_STARTING_BALANCES.items()}
    if not isinstance(value, dict):
        raise AccountInputError({"starting_balances": ['An object of asset to amount, e.g. {"USDT": "5000"}.']})
    balances, problems = {}, []
    for asset, amount in value.items():
        name = str(asset).strip().upper()
        if not ASSET_PATTERN.match(name):
            problems.append(f"{asset!r} is not an asset name (letters and digits, at most 10).")
            continue
        try:
            number = Decimal(str(amount)) if not isinstance(amount, (bool, float)) else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or number < 0:
            problems.append(f"{name}: {amount!r} is not an amount (a decimal string, zero or more).")
            continue
        if to_money(number) != number:
            problems.append(f"{name}: at most {settings.MONEY_DECIMAL_PLACES} decimals.")
            continue
        balances[name] = number
    if problems:
        raise AccountInputError({"starting_balances": problems})
    return balances


def check_name(owner, name: str, *, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise AccountInputError({"name": ["This field may not be blank."]})
    if len(name) > 100:
        raise AccountInputError({"name": ["At most 100 characters."]})
    taken = Account.objects.filter(owner=owner, name__iexact=name).exclude(pk=exclude)
    if owner is not None and taken.exists():
        raise AccountInputError({"name": [f"You already have an account named {name!r}."]})
    return name


@transaction.atomic
def create_account(
    *,
    owner,
    name: str,
    starting_balances: dict[str, Decimal],
    venue: str,
    prices: dict[str, Decimal],
    is_default: bool = False,
) -> Account:
    """Write the account and its balances, and announce it (the portfolio books the opening positions)."""
    from .signals import account_opened

    account = Account.objects.create(
        owner=owner,
        name=name,
        venue=venue,
        starting_balances={asset: str(amount) for asset, amount in starting_balances.items()},
        is_default=is_default,
        period_started_at=timezone.now(),
    )
    open_balances(account, starting_balances)
    account_opened.send(sender=Account, account=account, prices=prices)
    return account


def starting_balances_of(account: Account) -> dict[str, Decimal]:
    return {asset: Decimal(amount) for asset, amount in account.starting_balances.items()}


def external_account(venue: str) -> Account:
    """Where orders found on the exchange that no desk account placed are kept (one per venue, no owner)."""
    account = Account.objects.filter(venue=venue, is_external=True).first()
    if account is None:
        account, _ = Account.objects.get_or_create(
            venue=venue,
            is_external=True,
            defaults={"name": f"External ({Venue(venue).label})", "period_started_at": timezone.now()},
        )
    return account


# --- who may act as which account ----------------------------------------------------------------------------


def accounts_visible_to(user) -> QuerySet[Account]:
    """The accounts a user may see and act as: their own; staff see every account."""
    accounts = Account.objects.select_related("owner").order_by("id")
    if getattr(user, "is_staff", False):
        return accounts
    if not getattr(user, "is_authenticated", False):
        return accounts.none()
    return accounts.filter(owner=user)


def visible_account(user, account_id) -> Account:
    """The account `account_id` if `user` may act as it; Account.DoesNotExist otherwise (a 404: another user's
    account is indistinguishable from one that does not exist)."""
    try:
        pk = int(account_id)
    except (TypeError, ValueError):
        raise Account.DoesNotExist(account_id) from None
    return accounts_visible_to(user).get(pk=pk)


def stored_default_account(user) -> Account | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Account.objects.filter(owner=user, is_default=True).first()


# --- API keys ----------------------------------------------------------------------------------------------------


@dataclass
class IssuedKey:
    key: ApiKey
    raw: str  # shown once, never stored


def issue_api_key(account: Account, *, name: str = "", created_by=None) -> IssuedKey:
    if account.is_external:
        raise AccountInputError({"account": ["The external account cannot have keys."]})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        account=account,
        name=(name or "").strip()[:100],
        prefix=raw[:VISIBLE_PREFIX_LENGTH],
        key_hash=hash_key(raw),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    return IssuedKey(key, raw)


def revoke_api_key(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def key_for(raw: str) -> ApiKey | None:
    """The active key `raw` is, with its account and owner (one query); None for an unknown or revoked key."""
    key = ApiKey.objects.select_related("account", "account__owner").filter(key_hash=hash_key(raw)).first()
    if key is None or key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def holdings_value(balances: dict[str, Decimal], prices: dict[str, Decimal]) -> Decimal:
    """What these balances are worth in the valuation asset at these prices (assets without a price count zero)."""
    total = ZERO
    for asset, amount in balances.items():
        if asset == settings.PORTFOLIO_VALUATION_ASSET:
            total += amount
        elif asset in prices:
            total += to_money(amount * prices[asset])
    return total
