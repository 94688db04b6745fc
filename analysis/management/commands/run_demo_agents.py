from django.core.management.base import BaseCommand

from analysis.agents import run_demo_agents


class Command(BaseCommand):
    help = "Run one round of the built-in demo agents now (what the beat task does on its interval)."

    def handle(self, *args, **options):
        for symbol, outcome in run_demo_agents().items():
            self.stdout.write(f"{symbol}: {outcome}")
