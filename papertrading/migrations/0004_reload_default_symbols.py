import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"
# Only the fields 0003 added: the others may already hold fresher values from the exchange.
NEW_FIELDS = (
    "apply_max_notional_to_market",
    "market_min_quantity",
    "market_max_quantity",
    "market_step_size",
    "bid_multiplier_up",
    "bid_multiplier_down",
    "ask_multiplier_up",
    "ask_multiplier_down",
    "max_num_orders",
    "max_num_algo_orders",
)


def fill_new_filters(apps, schema_editor):
    from papertrading.symbols import parse_symbol

    SymbolRule = apps.get_model("papertrading", "SymbolRule")
    for entry in json.loads(DATA.read_text())["symbols"]:
        fields = parse_symbol(entry)
        SymbolRule.objects.filter(symbol=entry["symbol"]).update(**{name: fields[name] for name in NEW_FIELDS})


class Migration(migrations.Migration):
    dependencies = [("papertrading", "0003_symbolrule_market_lot_size_percent_price_order_counts")]

    operations = [migrations.RunPython(fill_new_filters, migrations.RunPython.noop)]
