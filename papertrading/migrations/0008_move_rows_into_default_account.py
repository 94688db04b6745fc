from django.db import migrations
from django.db.models import F

from papertrading.migration_support import move_rows_into_default_account


def forwards(apps, schema_editor):
    move_rows_into_default_account(apps, "papertrading", "PaperOrder", "SimulatedBalance", "BalanceAdjustment")
    apps.get_model("papertrading", "PaperOrder").objects.filter(venue_order_ref=None).update(
        venue_order_ref=F("client_order_id")
    )


class Migration(migrations.Migration):
    dependencies = [("papertrading", "0007_accounts")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
