import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"


def load(apps, schema_editor):
    # parse_symbol is a pure mapping of exchangeInfo to field values, safe to use with historical models.
    from papertrading.symbols import parse_symbol

    SymbolRule = apps.get_model("papertrading", "SymbolRule")
    for entry in json.loads(DATA.read_text())["symbols"]:
        fields = parse_symbol(entry)
        SymbolRule.objects.update_or_create(symbol=entry["symbol"], defaults=fields)


def unload(apps, schema_editor):
    apps.get_model("papertrading", "SymbolRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("papertrading", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
