from django.db import migrations

from papertrading.migration_support import move_rows_into_default_account


def forwards(apps, schema_editor):
    move_rows_into_default_account(apps, "portfolio", "Trade", "Position", "EquitySnapshot")


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0002_accounts"), ("papertrading", "0008_move_rows_into_default_account")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
