import json

from django.core.management.base import BaseCommand, CommandError

from papertrading.binance import BinanceError
from papertrading.prices import market_data_client
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
                client = market_data_client()
                try:
                    info = client.exchange_info(wanted, use_cache=False)
                except BinanceError as exc:
                    raise CommandError(f"Could not reach {client.base_url}: {exc}") from None
            rules = load_symbol_rules(info, symbols=wanted)
        self.stdout.write(self.style.SUCCESS(f"Updated {len(rules)} symbol(s): {', '.join(r.symbol for r in rules)}"))
