import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange_info.json"


def fill_iceberg_filters(apps, schema_editor):
    # Only the fields 0005 added, read straight from the shipped data: the others may hold fresher values.
    SymbolRule = apps.get_model("papertrading", "SymbolRule")
    for entry in json.loads(DATA.read_text())["symbols"]:
        filters = {f["filterType"]: f for f in entry.get("filters", [])}
        SymbolRule.objects.filter(symbol=entry["symbol"]).update(
            iceberg_parts=int(filters.get("ICEBERG_PARTS", {}).get("limit", 0)),
            iceberg_allowed=bool(entry.get("icebergAllowed", True)),
        )


class Migration(migrations.Migration):
    dependencies = [("papertrading", "0005_order_types_and_iceberg")]

    operations = [migrations.RunPython(fill_iceberg_filters, migrations.RunPython.noop)]
