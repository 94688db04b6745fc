"""A stand-in for time.time and time.sleep, shared by the Binance client and rate-limit tests."""


class FakeClock:
    """Stands in for time.time and time.sleep: sleeping advances the clock instantly."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
