import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"


def load(apps, schema_editor):
    # parse_symbol is a pure mapping of exchangeInfo to field values; it also maps filters added by later
    # migrations, so keep only the fields this historical model has (0004 fills the later ones).
    from papertrading.symbols import parse_symbol

    SymbolRule = apps.get_model("papertrading", "SymbolRule")
    known = {field.name for field in SymbolRule._meta.concrete_fields}
    for entry in json.loads(DATA.read_text())["symbols"]:
        fields = {name: value for name, value in parse_symbol(entry).items() if name in known}
        SymbolRule.objects.update_or_create(symbol=entry["symbol"], defaults=fields)


def unload(apps, schema_editor):
    apps.get_model("papertrading", "SymbolRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("papertrading", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
