"""On PostgreSQL, a statement that writes live events notifies the channel `paper_live` (delivered at commit, once
per transaction), which wakes every process's reader. Elsewhere the readers poll."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION live_event_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('paper_live', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER live_event_notify AFTER INSERT ON live_liveevent
    FOR EACH STATEMENT EXECUTE FUNCTION live_event_notify();
"""
DROP = """
DROP TRIGGER IF EXISTS live_event_notify ON live_liveevent;
DROP FUNCTION IF EXISTS live_event_notify();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("live", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
