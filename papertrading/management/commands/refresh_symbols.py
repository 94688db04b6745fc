import json

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from papertrading.symbols import load_default_symbol_rules, load_symbol_rules


class Command(BaseCommand):
    help = "Update the symbol rules (tick size, step size, notional) from the exchange, a file, or the shipped data."

    def add_arguments(self, parser):
        parser.add_argument("symbols", nargs="*", help="Symbols to update (default: the ones already known).")
        parser.add_argument("--file", help="An exchangeInfo JSON file instead of the exchange.")
        parser.add_argument("--shipped", action="store_true", help="Reload the rules shipped with the project.")

    def handle(self, *args, symbols=(), file=None, shipped=False, **options):
        from papertrading.models import SymbolRule

        if shipped:
            rules = load_default_symbol_rules()
        else:
            wanted = [s.upper() for s in symbols] or list(SymbolRule.objects.values_list("symbol", flat=True))
            if file:
                with open(file) as handle:
                    info = json.load(handle)
            else:
                url = f"{settings.MARKET_DATA_BASE_URL}/api/v3/exchangeInfo"
                try:
                    response = requests.get(
                        url, params={"symbols": json.dumps(wanted, separators=(",", ":"))}, timeout=10
                    )
                    response.raise_for_status()
                except requests.RequestException as exc:
                    raise CommandError(f"Could not reach {url}: {exc}") from exc
                info = response.json()
            rules = load_symbol_rules(info, symbols=wanted)
        self.stdout.write(self.style.SUCCESS(f"Updated {len(rules)} symbol(s): {', '.join(r.symbol for r in rules)}"))
