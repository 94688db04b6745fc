from django.core.management.base import BaseCommand

from analysis.agents import demo_accounts, run_demo_agents


class Command(BaseCommand):
    help = (
        "Run one round of the built-in demo agents now (what the beat task does on its interval): each agent trades "
        "its own account; one line per agent and symbol."
    )

    def handle(self, *args, **options):
        accounts = demo_accounts()
        if not accounts:
            self.stdout.write("No demo agent has an account yet: run bootstrap_demo first.")
            return
        for agent_and_symbol, outcome in run_demo_agents(accounts=accounts).items():
            self.stdout.write(f"{agent_and_symbol}: {outcome}")
