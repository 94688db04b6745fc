from django.db import migrations

from portfolio.metrics import fall_from, running_peak


def forwards(apps, schema_editor):
    """Walk each account's periods once, in time order, and store every snapshot's running peak and drawdown (the
    period's starting equity is not known here: the first snapshot starts the peak)."""
    EquitySnapshot = apps.get_model("portfolio", "EquitySnapshot")
    series = EquitySnapshot.objects.filter(peak=None).order_by("account_id", "period", "taken_at", "id")
    key, peak, changed = None, None, []
    for snapshot in series.iterator(chunk_size=2000):
        if (snapshot.account_id, snapshot.period) != key:
            key, peak = (snapshot.account_id, snapshot.period), None
        peak = running_peak(peak, snapshot.equity if peak is None else peak, snapshot.equity)
        snapshot.peak, snapshot.drawdown = peak, fall_from(peak, snapshot.equity)
        changed.append(snapshot)
        if len(changed) >= 2000:
            EquitySnapshot.objects.bulk_update(changed, ["peak", "drawdown"])
            changed = []
    EquitySnapshot.objects.bulk_update(changed, ["peak", "drawdown"])


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0005_equity_peak_and_drawdown")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
