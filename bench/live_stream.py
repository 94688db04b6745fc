"""The live stream under load: 50 open streams while orders are placed at full speed, in both shapes that serve it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/paper_trading_bench .venv/bin/python bench/live_stream.py

For `make run`'s shape (runserver on a SQLite file) and the production shape (gunicorn's threaded workers,
config/gunicorn.py, on DATABASE_URL's PostgreSQL server, in a database `paper_trading_bench_live` it drops and
makes again), it starts the server on 127.0.0.1,
opens 10 accounts with an API key each, and prints:
- LIMIT orders per second placed over HTTP by 4 clients with no stream open, then with 50 open (5 per account,
  each receiving its account's events), and the ratio: 1.0 means the streams cost the site nothing;
- the time from sending a MARKET order to its event on each of the 5 streams of its account (p50, p95, max): it
  bounds commit-to-event from above;
- on PostgreSQL, database transactions per second while nothing happens, with 0 and with 50 streams open: the
  streams read nothing while they wait, the process's reader one indexed read per wake-up;
- the server's threads and memory with the streams open.
Figures, not pass/fail: run it by hand.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ACCOUNTS, STREAMS_PER_ACCOUNT, CLIENTS = 10, 5, 4
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
LATENCY_ORDERS = 50
POLL_SECONDS = 5  # DESK_POLL_SECONDS
RESTING = [("BTCUSDT", "0.001", "20000"), ("ETHUSDT", "0.01", "1000"), ("BNBUSDT", "0.1", "200")]

PREPARE = """
import json
from django.contrib.auth.models import Permission, User
from papertrading.accounts import issue_api_key
from papertrading.services import default_account_for
may_trade = Permission.objects.filter(
    content_type__app_label="papertrading", codename__in=["add_paperorder", "change_paperorder", "view_paperorder"]
)
keys = []
for i in range(%d):
    user = User.objects.create_user(f"bench{i}")
    user.user_permissions.set(may_trade)
    account = default_account_for(user)
    keys.append([account.pk, issue_api_key(account, name="bench").raw])
print(json.dumps(keys))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr)
    return done.stdout


def environment(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISK_", "LIVE_", "CELERY_"))}
    env.update(
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS="127.0.0.1",
        PAPER_TRADING_MODE="simulation",
        MARKET_DATA_SOURCE="synthetic",
        DEMO_AGENTS_ENABLED="false",
        SIMULATOR_STARTING_BALANCES="USDT=100000000,BTC=100,ETH=1000,BNB=10000",
    )
    return env


def reset_postgres(url: str) -> None:
    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start(shape: str, env: dict, port: int) -> subprocess.Popen:
    if shape == "runserver":
        command = [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        command = [PYTHON, "-m", "gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py"]
        env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "LIVE_MAX_STREAMS": "48"}
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"{shape} did not start")


def watch(port: int, keys: list[str], commands, answers) -> None:
    """A process of its own holding every open page's stream (one socket each, one thread, a selector), so reading
    them takes nothing from the order clients. Answers "opened" with how many streams sent their balances, and
    "arrivals" with {order id: [arrival time on each stream]}."""
    import selectors

    selector = selectors.DefaultSelector()
    buffers, opened, arrivals = {}, set(), {}
    for key in keys:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {key}\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = b""
    while True:
        if commands.poll():
            command = commands.recv()
            if command == "stop":
                break
            answers.send(len(opened) if command == "opened" else arrivals)
        for selected, _ in selector.select(timeout=0.05):
            sock = selected.fileobj
            chunk = sock.recv(65536)
            now = time.time()
            if not chunk:
                selector.unregister(sock)
                continue
            buffers[sock] += chunk
            # Events end with a blank line; chunked framing adds size lines, which no event line starts like.
            while b"\n\n" in buffers[sock]:
                block, buffers[sock] = buffers[sock].split(b"\n\n", 1)
                lines = block.decode(errors="replace").splitlines()
                name = next((line[7:] for line in lines if line.startswith("event: ")), None)
                data = next((line[6:] for line in lines if line.startswith("data: ")), None)
                if name == "balance":
                    opened.add(sock)
                elif name == "order" and data:
                    arrivals.setdefault(json.loads(data)["order"]["id"], []).append(now)


def poll(port: int, keys: list[str], seconds: float, stop, failures) -> None:
    """The pages as they were before the stream: each redraws its orders and balances every `seconds`."""

    def page(key: str, offset: float) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {key}"
        time.sleep(offset)
        while not stop.is_set():
            try:
                session.get(f"http://127.0.0.1:{port}/api/paper-trading/orders?page_size=25", timeout=30)
                session.get(f"http://127.0.0.1:{port}/api/paper-trading/account", timeout=30)
            except requests.RequestException:
                failures.value += 1  # a refused connection under load: the page tries again next time
            stop.wait(seconds)

    threads = [
        threading.Thread(target=page, args=(key, seconds * i / len(keys)), daemon=True) for i, key in enumerate(keys)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class Pollers:
    def __init__(self, port: int, keys: list[str]) -> None:
        import multiprocessing

        self.stop_event = multiprocessing.Event()
        self.failures = multiprocessing.Value("i", 0)
        self.process = multiprocessing.Process(
            target=poll, args=(port, keys, POLL_SECONDS, self.stop_event, self.failures)
        )
        self.process.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.process.join(40)


class Watchers:
    def __init__(self, port: int, keys: list[str]) -> None:
        import multiprocessing

        self.commands, child_commands = multiprocessing.Pipe()
        child_answers, self.answers = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=watch, args=(port, keys, child_commands, child_answers))
        self.process.start()

    def ask(self, command: str):
        self.commands.send(command)
        return self.answers.recv()

    def stop(self) -> None:
        self.commands.send("stop")
        self.process.join(10)


def place_for(base: str, keys: list, seconds: float) -> float:
    """LIMIT orders per second placed by CLIENTS clients, each on its own account."""
    placed = [0] * CLIENTS
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {keys[n][1]}"
        i = 0
        while time.monotonic() < stop:
            symbol, quantity, price = RESTING[i % len(RESTING)]
            order = {"symbol": symbol, "side": "BUY", "order_type": "LIMIT", "quantity": quantity, "price": price,
                     "time_in_force": "GTC"}  # fmt: skip
            if session.post(f"{base}/api/paper-trading/orders", json=order, timeout=30).status_code == 201:
                placed[n] += 1
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(placed) / seconds


def transactions_per_second(database_url: str, seconds: float) -> float | None:
    if not database_url.startswith("postgres"):
        return None
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    query = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        before = conn.execute(query, [name]).fetchone()[0]
        time.sleep(seconds)
        conn.execute("SELECT pg_stat_clear_snapshot()")
        after = conn.execute(query, [name]).fetchone()[0]
    return (after - before - 2) / seconds  # less this connection's own two reads


def server_footprint(server: subprocess.Popen) -> tuple[int, float]:
    """Threads and resident MiB of the server and its children."""
    pids = [server.pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
    ]
    threads, rss = 0, 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        fields = dict(line.split(":", 1) for line in status if ":" in line)
        threads += int(fields["Threads"].strip())
        rss += int(fields["VmRSS"].split()[0]) / 1024
    return threads, rss


def bench(shape: str, database_url: str) -> dict:
    env = environment(database_url)
    manage(env, "migrate", "--noinput")
    keys = json.loads(manage(env, "shell", "-c", PREPARE % ACCOUNTS).strip().splitlines()[-1])
    port = free_port()
    server = start(shape, env, port)
    base = f"http://127.0.0.1:{port}"
    figures: dict = {"shape": shape}
    try:
        place_for(base, keys, 2)  # warm up
        figures["idle_tps_0"] = transactions_per_second(database_url, 5)
        figures["orders_per_s_0"] = place_for(base, keys, SECONDS)

        pages = [key for _, key in keys for _ in range(STREAMS_PER_ACCOUNT)]
        pollers = Pollers(port, pages)
        time.sleep(POLL_SECONDS)
        figures["idle_tps_polling"] = transactions_per_second(database_url, 5)
        figures["orders_per_s_polling"] = place_for(base, keys, SECONDS)
        pollers.stop()
        figures["poll_failures"] = pollers.failures.value

        watchers = Watchers(port, pages)
        deadline = time.monotonic() + 30
        while (opened := watchers.ask("opened")) < ACCOUNTS * STREAMS_PER_ACCOUNT and time.monotonic() < deadline:
            time.sleep(0.2)
        figures["streams_open"] = opened
        figures["idle_tps_50"] = transactions_per_second(database_url, 5)
        figures["orders_per_s_50"] = place_for(base, keys, SECONDS)
        figures["threads"], figures["rss_mib"] = server_footprint(server)

        session = requests.Session()
        session.headers["Authorization"] = f"Token {keys[0][1]}"
        sent = {}
        for _ in range(LATENCY_ORDERS):
            started = time.time()
            answer = session.post(
                f"{base}/api/paper-trading/orders",
                json={"symbol": "BTCUSDT", "side": "BUY", "order_type": "MARKET", "quantity": "0.001"},
                timeout=30,
            )
            if answer.status_code != 201:
                raise SystemExit(f"a MARKET order was refused: {answer.status_code} {answer.text[:300]}")
            sent[answer.json()["id"]] = started
            time.sleep(0.1)
        time.sleep(2)
        arrivals = watchers.ask("arrivals")
        watchers.stop()
        latencies = sorted((at - sent[order]) * 1000 for order in sent for at in arrivals.get(order, []))
        figures["events_received"] = f"{len(latencies)} of {LATENCY_ORDERS * STREAMS_PER_ACCOUNT}"
        figures["latency_ms"] = {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(latencies[int(len(latencies) * 0.95) - 1], 1),
            "max": round(latencies[-1], 1),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
    figures["ratio"] = round(figures["orders_per_s_50"] / figures["orders_per_s_0"], 2)
    figures["ratio_polling"] = round(figures["orders_per_s_polling"] / figures["orders_per_s_0"], 2)
    return figures


def main() -> None:
    # A database of its own on DATABASE_URL's server, dropped and made again: never the one DATABASE_URL names.
    server = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database_url = server._replace(path="/paper_trading_bench_live").geturl()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(bench("runserver", f"sqlite:///{tmp}/bench.sqlite3"))
    reset_postgres(database_url)
    results.append(bench("gunicorn", database_url))
    print(f"{'':34} | {'make run (runserver, SQLite)':>30} | {'compose (gunicorn, PostgreSQL)':>30}")
    rows = [
        ("streams open", "streams_open"),
        ("LIMIT orders/s, no stream", "orders_per_s_0"),
        ("LIMIT orders/s, 50 pages polling", "orders_per_s_polling"),
        ("LIMIT orders/s, 50 streams", "orders_per_s_50"),
        ("ratio (50 polling / none)", "ratio_polling"),
        ("ratio (50 streams / none)", "ratio"),
        ("order → event on 5 streams, ms", "latency_ms"),
        ("events received", "events_received"),
        ("DB transactions/s idle, 0 streams", "idle_tps_0"),
        ("polls refused (connection reset)", "poll_failures"),
        ("DB transactions/s idle, 50 polling", "idle_tps_polling"),
        ("DB transactions/s idle, 50 streams", "idle_tps_50"),
        ("server threads (50 streams)", "threads"),
        ("server resident MiB", "rss_mib"),
    ]
    for label, key in rows:
        cells = []
        for figures in results:
            value = figures.get(key)
            if isinstance(value, float):
                value = f"{value:.1f}"
            elif isinstance(value, dict):
                value = " / ".join(f"{k} {v}" for k, v in value.items())
            cells.append("—" if value is None else str(value))
        print(f"{label:34} | {cells[0]:>30} | {cells[1]:>30}")


if __name__ == "__main__":
    main()
