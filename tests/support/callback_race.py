"""Two threads of one fresh process start py4j's callback server at once, then each has the JVM
call Python from a JVM thread of its own (etl.jvm's `Callable`, as a commit hands it over, run
by a Java executor: a new connection to the callback server). The server's start is slowed down, to widen the window
PySpark's `ensure_callback_server_started` leaves between starting it and telling the JVM its
port. Prints one JSON object: thread name -> "ok" or the JVM's error.

`python -m tests.support.callback_race [--pyspark]`: through etl.jvm.start_callback_server,
or (`--pyspark`) through PySpark's function itself.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from py4j.java_gateway import CallbackServer
from pyspark.java_gateway import ensure_callback_server_started
from pyspark.sql import SparkSession

from etl.jvm import _JavaCallable, start_callback_server

WINDOW_S = 0.5


def main() -> None:
    through_pyspark = "--pyspark" in sys.argv[1:]
    spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
    gateway = spark.sparkContext._gateway
    assert gateway.__dict__.get("_callback_server") is None, "the callback server must not run yet"
    started = CallbackServer.start

    def slow_start(server: CallbackServer) -> None:
        started(server)
        time.sleep(WINDOW_S)

    CallbackServer.start = slow_start  # type: ignore[method-assign]
    outcomes: dict[str, str] = {}

    def run(name: str, delay: float) -> None:
        time.sleep(delay)
        try:
            if through_pyspark:
                ensure_callback_server_started(gateway)
            else:
                start_callback_server(spark)
            answer = _JavaCallable(lambda: 42)
            executor = spark._jvm.java.util.concurrent.Executors.newSingleThreadExecutor()
            try:
                executor.submit(answer).get()
            finally:
                executor.shutdown()
            outcomes[name] = "ok" if answer.result == 42 else f"answered {answer.result!r}"
        except Exception as error:  # noqa: BLE001 - reported, the test judges it
            outcomes[name] = f"{type(error).__name__}: {error}"

    threads = [threading.Thread(target=run, args=(name, delay)) for name, delay in (("first", 0.0), ("second", 0.1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(outcomes))
    spark.stop()


if __name__ == "__main__":
    main()
